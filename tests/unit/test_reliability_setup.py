"""``python -m bench.reliability`` on a fresh machine: schemathesis is installed (pip, from the user's package index)
before the local world exists, whose REQUESTS_CA_BUNDLE (the emulator's CA) no package index's certificate chains to."""
from __future__ import annotations

from dataclasses import replace

import pytest

import bench.reliability as reliability
from bench.reliability_rig import TEST


class WorldStarted(Exception):
    pass


def _run_until_the_world_starts(monkeypatch, tmp_path, sizes, phases) -> list[str]:
    events: list[str] = []
    monkeypatch.setattr(reliability, "ensure_venv", lambda root: events.append("install"))

    def rig(*args, **kwargs):
        events.append("world")
        raise WorldStarted

    monkeypatch.setattr(reliability, "Rig", rig)
    with pytest.raises(WorldStarted):
        reliability.run(sizes, live=False, log_path=tmp_path / "run.log", phases=phases)
    return events


def test_schemathesis_is_installed_before_the_world_starts(monkeypatch, tmp_path):
    sizes = replace(TEST, schemathesis=15)
    assert _run_until_the_world_starts(monkeypatch, tmp_path, sizes, reliability.PHASES) == ["install", "world"]


@pytest.mark.parametrize("schemathesis, phases", [(0, reliability.PHASES), (15, ("faults", "bursts", "fuzz"))])
def test_nothing_is_installed_when_schemathesis_does_not_run(monkeypatch, tmp_path, schemathesis, phases):
    sizes = replace(TEST, schemathesis=schemathesis)
    assert _run_until_the_world_starts(monkeypatch, tmp_path, sizes, phases) == ["world"]
