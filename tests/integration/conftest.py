"""Fixtures for tests of the emulator itself: one emulator per module, on a clock the test moves."""
from __future__ import annotations

import pytest

from localdev.graph_emulator import GraphEmulator
from tests.support import Clock


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def clocked_emulator(tmp_path_factory, clock):
    """A fresh emulator for the module whose token lifetimes follow ``clock``; reset it between tests."""
    with GraphEmulator(tmp_path_factory.mktemp("graph-emulator"), now=clock) as emu:
        yield emu
