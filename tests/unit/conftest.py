"""Fixtures of the unit tests: the in-process function-app harness (tests/unit/harness.py) and the fakes the use
case tests share (a fresh fake Graph, in-memory repository and manual clock per test)."""
import pytest

from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository
from tests.unit.harness import functions, requeued, world  # noqa: F401 - pytest fixtures
from tests.unit.test_usecases import Clock


@pytest.fixture
def graph():
    return FakeGraph()


@pytest.fixture
def repo():
    return InMemoryMeetingRepository()


@pytest.fixture
def clock():
    return Clock()
