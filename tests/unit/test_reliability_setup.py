"""``python -m bench.reliability`` on a fresh machine: schemathesis is installed (pip, from the user's package index)
before the local world exists, whose REQUESTS_CA_BUNDLE (the emulator's CA) no package index's certificate chains to."""
from __future__ import annotations

from dataclasses import replace

import pytest

import bench.reliability.command as reliability
from bench.reliability.rig import TEST


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


# ---- the lifecycle races' plan (bench/reliability/races_plan.py) -----------------------------------------------------

def _plan(seed: int):
    import random

    from bench.reliability.races_plan import Organizer, _doomed_requests, _lifecycle_requests

    rng = random.Random(seed)
    organizer = Organizer("0b0e5c1d-2f3a-4b5c-8d9e-0f1a2b3c4d5e", "lc@contoso.example", "lifecycle")
    keys = [_lifecycle_requests(rng, f"k{k}", organizer, 8, live=True, index=k) for k in range(40)]
    doomed = _doomed_requests(rng, "d", Organizer("c0", "carol@contoso.example", "doomed"))
    return keys, doomed


def test_the_races_plan_is_seeded_and_every_key_starts_with_a_synchronous_create():
    keys, doomed = _plan(7)
    again, _ = _plan(7)
    assert [[(r.cid, r.op, r.name, r.body, r.late, r.offset) for r in reqs] for reqs in keys] == \
        [[(r.cid, r.op, r.name, r.body, r.late, r.offset) for r in reqs] for reqs in again]
    for reqs in keys:
        assert reqs[0].op == "create" and not reqs[0].late and reqs[0].offset == 0
        assert any(r.op.startswith("create") and not r.late for r in reqs[1:]), "another create races the first"
        assert len({r.cid for r in reqs}) == len(reqs)
        if "@" not in reqs[0].name:  # created by object id: changed by object id
            assert all("@" not in r.name for r in reqs if not r.op.startswith("create"))
        for group in {r.group for r in reqs if r.group}:
            pair = [r for r in reqs if r.group == group]
            assert len(pair) == 2 and all(r.op == "patch_if_match" for r in pair)
            assert pair[0].late == pair[1].late and pair[0].offset == pair[1].offset
    ops = [r.op for reqs in keys for r in reqs]
    assert {"create_async", "create_queue", "patch", "patch_if_match", "lock", "delete", "queue_update",
            "queue_cancel", "queue_lock"} <= set(ops)
    deleted = sum(any(r.op in ("delete", "queue_cancel") for r in reqs) for reqs in keys)
    assert 10 <= deleted <= 30, "about half the keys are cancelled"
    assert doomed[0].op == "create" and all(r.late for r in doomed[1:])


def test_even_a_few_keys_see_every_kind_of_change():
    import random

    from bench.reliability.races_plan import Organizer, _lifecycle_requests

    rng, organizer = random.Random(3), Organizer("0b0e5c1d", "lc@contoso.example", "lifecycle")
    few = [_lifecycle_requests(rng, f"f{k}", organizer, 5, live=False, index=k) for k in range(6)]
    assert {"patch", "patch_if_match", "lock", "queue_update", "queue_lock"} <= {r.op for reqs in few for r in reqs}
    assert any(r.group for reqs in few for r in reqs), "an If-Match pair"
