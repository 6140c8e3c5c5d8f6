"""The plan of the lifecycle races (phase 6 of ``bench.reliability``): for one world, which requests each key gets,
how each names its organizer, when each starts, and how Graph answers meanwhile (``GraphDelays``). Seeded."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from localdev.emulator import CAROL_ID, CAROL_UPN, DEFAULT_CLIENT_ID, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID

from .rig import PhaseWorld, Rig

QUEUE_OPS = ("create_queue", "queue_update", "queue_cancel", "queue_lock")
# (op, weight) of the requests after a key's first create
MIX = (("create", 1.5), ("create_async", 0.5), ("create_queue", 0.5), ("patch", 3), ("patch_if_match", 2),
       ("patch_pair", 1.2), ("lock", 1.2), ("queue_update", 1.5), ("queue_lock", 0.6))
ROTATION = ("patch_pair", "lock", "queue_update", "patch_if_match", "queue_lock", "patch")
LOBBY_SCOPES = ("everyone", "organization", "organizer")


@dataclass
class Organizer:
    oid: str
    upn: str
    role: str            # "lifecycle", "doomed" or "quota"


@dataclass
class Req:
    cid: str
    op: str
    key: str                                   # the externalId (unique in the run)
    organizer: Organizer
    name: str                                  # how this request names the organizer
    body: dict[str, Any] = field(default_factory=dict)
    late: bool = False                         # starts once the key's first create was answered
    offset: float = 0.0                        # live: seconds it waits before it starts
    group: str | None = None                   # a pair of PATCHes sent at once with one If-Match
    if_match: str | None = None
    answers: list[tuple[int, str, bool]] = field(default_factory=list)  # (status, code, retryable)
    final: int | None = None                   # the final HTTP status (None: gave up, or a queue message)
    final_body: Any = None
    sent: bool = False                         # queue: the message is on the queue
    started: float = 0.0
    ended: float = 0.0

    @property
    def queue(self) -> bool:
        return self.op in QUEUE_OPS


@dataclass
class Round:
    limit: int
    world: PhaseWorld
    reqs: list[Req]
    organizers: list[Organizer]
    keys: dict[str, Organizer]                 # lifecycle and doomed keys
    quota_keys: dict[str, Organizer]
    prefilled: dict[str, int]                  # quota organizer oid -> creates before the burst
    settled: bool = False
    quota_route: dict[str, Any] = field(default_factory=dict)  # oid -> GET /api/organizers/{oid}/quota body
    gave_up: list[Req] = field(default_factory=list)


class GraphDelays:
    """The emulator's fault plan for the races: most Graph calls answered after a random delay (the operation is done
    at once, the answer comes late), a few with 503 and ``Retry-After`` (the operation is not done)."""

    def __init__(self, state: Any, rng: random.Random, max_delay: float, fault_rate: float) -> None:
        self.state, self.rng, self.max_delay, self.fault_rate = state, rng, max_delay, fault_rate
        self.calls = self.delayed = self.refused = 0

    def __call__(self) -> Any:  # called under the emulator's lock
        self.calls += 1
        draw = self.rng.random()
        if draw < self.fault_rate:
            self.refused += 1
            return self.state.make_fault("graph", 503, retry_after="0.2")
        if draw < 0.75:
            self.delayed += 1
            return self.state.make_fault("graph", None, delay=self.rng.uniform(0.0, self.max_delay))
        return None


def _spell(rng: random.Random, organizer: Organizer) -> str:
    name = organizer.upn if rng.random() < 0.5 else organizer.oid
    return rng.choice((name, name.upper(), name.lower()))


def _new_organizer(rig: Rig, rng: random.Random, upn: str, role: str) -> Organizer:
    oid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    state = rig.emulator.state
    state.directory.add_user(DEFAULT_TENANT_ID, oid, upn, upn.split("@")[0])
    state.directory.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, oid)
    return Organizer(oid, upn, role)


def plan_round(rig: Rig, rng: random.Random, run: str, index: int, limit: int, key_count: int,
               world: PhaseWorld) -> Round:
    sizes = rig.sizes
    tag = f"ra{run}-{index}"
    per_organizer = max(1, limit // 2)  # a lifecycle organizer never comes near its limit by itself
    organizers: list[Organizer] = []
    keys: dict[str, Organizer] = {}
    reqs: list[Req] = []
    carol = Organizer(CAROL_ID, CAROL_UPN, "doomed")
    for k in range(key_count):
        key = f"{tag}-k{k}"
        if k % 7 == 6:
            keys[key] = carol
            reqs += _doomed_requests(rng, key, carol)
            continue
        if k % per_organizer == 0 or not organizers:
            organizers.append(_new_organizer(rig, rng, f"lc{run}r{index}o{k}@{DEFAULT_TENANT_DOMAIN}", "lifecycle"))
        organizer = keys[key] = organizers[-1]
        reqs += _lifecycle_requests(rng, key, organizer, sizes.race_ops, live=rig.clock.live, index=k)
    quota_keys: dict[str, Organizer] = {}
    prefilled: dict[str, int] = {}
    for q in range(2):
        organizer = _new_organizer(rig, rng, f"q{run}r{index}o{q}@{DEFAULT_TENANT_DOMAIN}", "quota")
        organizers.append(organizer)
        prefilled[organizer.oid] = rng.randint(0, limit - 1)
        burst = limit + sizes.race_quota_over
        for b in range(prefilled[organizer.oid] + burst):
            key = f"{tag}-q{q}-{b}"
            quota_keys[key] = organizer
            prefill = b < prefilled[organizer.oid]
            # the burst: every other request names the organizer by its UPN, which the broker has not seen yet
            name = organizer.oid if prefill else (organizer.upn if b % 2 else organizer.oid.upper())
            op = "create_queue" if q == 1 and not prefill and rng.random() < 0.35 else "create"
            req = Req(f"{key}-c", op, key, organizer, name, late=not prefill, group="prefill" if prefill else "burst")
            req.body = _create_body(req)
            reqs.append(req)
    return Round(limit, world, reqs, organizers, keys, quota_keys, prefilled)


def _create_body(req: Req) -> dict[str, Any]:
    return {"organizerId": req.name, "externalId": req.key, "subject": f"{req.key} as created"}


def _lifecycle_requests(rng: random.Random, key: str, organizer: Organizer, count: int, *, live: bool,
                        index: int = 0) -> list[Req]:
    """A key's requests: its first create with one or two more creates (and sometimes a change) started together;
    the rest from MIX once the first create was answered; half the keys get a DELETE (or a queue cancel) among them,
    so that it races the creates still in flight and the changes."""
    creates = ("create", "create", "create_async", "create_queue")
    early = ["create"] + [rng.choice(creates) for _ in range(rng.randint(1, 2))]  # the first one synchronous
    if rng.random() < 0.3:
        early.append(rng.choice(("patch", "lock", "queue_update")))
    late = [ROTATION[index % len(ROTATION)]]  # so that even a few keys see every kind of change
    late += rng.choices([op for op, _ in MIX], [w for _, w in MIX], k=max(0, count - len(early) - 1))
    if rng.random() < 0.5:
        late.append("delete" if rng.random() < 0.7 else "queue_cancel")
    ops = [(op, False) for op in early] + [(op, True) for op in late]
    by_upn = rng.random() < 0.5
    out: list[Req] = []
    for i, (op, is_late) in enumerate(ops):
        pair = op == "patch_pair"
        offset = rng.uniform(0.0, 0.4) if live and i else 0.0
        for j in range(2 if pair else 1):
            # The broker learns an organizer's UPN from a create that names it; a key first created by object id is
            # changed by object id (a change naming a UPN the broker has not learnt answers 404, by design).
            name = _spell(rng, organizer) if by_upn or (op.startswith("create") and i) else organizer.oid.upper()
            if i == 0:
                name = organizer.upn if by_upn else organizer.oid
            req = Req(f"{key}-r{i}{'ab'[j] if pair else ''}", "patch_if_match" if pair else op, key, organizer,
                      name, late=is_late, offset=offset, group=f"{key}-r{i}" if pair else None)
            req.body = _body(rng, req)
            out.append(req)
    return out


def _doomed_requests(rng: random.Random, key: str, organizer: Organizer) -> list[Req]:
    out = [Req(f"{key}-r0", "create", key, organizer, _spell(rng, organizer))]
    for i, op in enumerate(("patch", "patch", "delete", "lock", "queue_update", "queue_cancel"), 1):
        out.append(Req(f"{key}-r{i}", op, key, organizer, _spell(rng, organizer), late=True))
    for req in out:
        req.body = _body(rng, req)
    return out


def _body(rng: random.Random, req: Req) -> dict[str, Any]:
    if req.op.startswith("create"):
        return _create_body(req)
    if req.op in ("patch", "patch_if_match", "queue_update"):
        body: dict[str, Any] = {}
        draw = rng.random()
        if draw < 0.75:
            body["subject"] = f"{req.cid} subject"
        if draw > 0.5:
            body["lobbyBypassSettings"] = {"scope": rng.choice(LOBBY_SCOPES), "isDialInBypassEnabled": False}
        return body
    return {}
