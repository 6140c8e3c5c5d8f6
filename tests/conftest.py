"""Fixtures shared by every test layer. Real services only: Azurite from npm, the local Graph emulator."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Telemetry goes nowhere from the tests, whatever exporter or Application Insights the shell they run in names.
for _name in [name for name in os.environ if name.startswith("OTEL_")] + [
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"]:
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def azurite():
    """One in-memory Azurite for the whole session, on free loopback ports."""
    from localdev.azurite import Azurite

    with Azurite() as instance:
        yield instance


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """The HTTPS stand-in for Entra, the managed-identity endpoint and Graph, with its own CA."""
    from localdev.emulator import GraphEmulator

    with GraphEmulator(tmp_path_factory.mktemp("graph-emulator")) as emu:
        yield emu
