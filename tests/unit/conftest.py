"""Fixtures of the in-process function-app harness (tests/unit/harness.py)."""
from tests.unit.harness import functions, requeued, world  # noqa: F401 - pytest fixtures
