"""Phase 6 of ``bench.reliability``: lifecycle races (issue 18, "Proof").

For each monthly limit in ``Sizes.race_limits`` (one world each, ``MONTHLY_MEETING_LIMIT`` set to it), while the
emulator answers Graph calls after random delays (and a few with 503 ``Retry-After``):

* **lifecycle keys**: each hit by overlapping requests in a seeded random mix: creates (HTTP sync, HTTP
  ``respond-async``, queue), PATCH with and without ``If-Match`` (the ETag read by a GET first), pairs of PATCHes sent
  at once with the same ``If-Match``, ``DELETE ?mode=lock``, ``DELETE``, and queue ``update`` / ``cancel`` (delete or
  lock). A key's first create starts together with one or two more creates (and sometimes a change); the
  others start once the first create has been answered (after a random offset when live), half the keys with a
  DELETE or a queue cancel among them. The organizers are named by UPN or by object id.
* **doomed keys**: for an organizer without an access policy (carol): the create fails for good (403), then PATCHes,
  DELETEs, a lock and queue changes race each other; each must be told a final answer at once.
* **quota organizers**: two fresh organizers per world, filled by object id to a seeded count below the limit, then a
  burst of ``limit + race_quota_over`` creates of new keys released together, half naming the organizer by a UPN the
  broker has never seen and half by object id (the second organizer's burst partly through the queue).

Callers behave like real ones: a retryable answer (409 ``change_in_progress`` / ``request_in_progress``, 502, 503,
...) is retried with the same body, ``If-Match`` and correlation id, after its ``Retry-After`` (at most 1 s), at most
``MAX_ATTEMPTS`` times; a queue message is sent once. The checks are in ``races_ledger``.
"""
from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from azure.core.exceptions import AzureError

from localdev.emulator import CAROL_ID, CAROL_UPN, DEFAULT_CLIENT_ID, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID

from .ledger import Ledger
from .results import is_final
from .rig import PhaseWorld, Rig

MAX_ATTEMPTS = 40          # answers a caller takes for one request before it gives up
MAX_WAIT = 1.0             # the longest Retry-After a caller honours between two attempts
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
    state.add_user(DEFAULT_TENANT_ID, oid, upn, upn.split("@")[0])
    state.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, oid)
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


# ---- callers ------------------------------------------------------------------------------------------------------

class Caller:
    def __init__(self, rig: Rig, world: PhaseWorld, sent: threading.Event) -> None:
        self.rig, self.world, self.clock, self.sent = rig, world, rig.clock, sent
        self._local = threading.local()

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
        return session

    def path(self, req: Req) -> str:
        return f"{self.world.url}/api/meetings/{quote(req.name, safe='')}/{quote(req.key, safe='')}"

    def etag(self, req: Req) -> str | None:
        try:
            answer = self.session().get(self.path(req), timeout=60)
        except requests.RequestException:
            return None
        return answer.headers.get("ETag") if answer.status_code == 200 else None

    def run(self, req: Req) -> None:
        req.started = time.monotonic()
        try:
            if req.queue:
                self._send(req)
            else:
                self._http(req)
        finally:
            req.ended = time.monotonic()

    def _send(self, req: Req) -> None:
        action = {"create_queue": "create", "queue_update": "update", "queue_cancel": "cancel",
                  "queue_lock": "cancel"}[req.op]
        message = {"action": action, "organizerId": req.name, "externalId": req.key, "correlationId": req.cid,
                   **req.body}
        if req.op == "queue_lock":
            message["mode"] = "lock"
        for attempt in range(5):
            try:
                self.world.intake.send_message(json.dumps(message))
                req.sent = True
                self.sent.set()
                return
            except AzureError:
                self.clock.sleep(0.2 * 2 ** attempt)

    def _http(self, req: Req) -> None:
        headers = {"x-correlation-id": req.cid}
        url, method, data = self.path(req), "PATCH", None
        if req.op in ("create", "create_async"):
            url, method = self.world.url + "/api/meetings", "POST"
            if req.op == "create_async":
                headers["Prefer"] = "respond-async"
        elif req.op == "lock":
            url, method = url + "?mode=lock", "DELETE"
        elif req.op == "delete":
            method = "DELETE"
        if method != "DELETE":
            headers["Content-Type"] = "application/json"
            data = json.dumps(req.body).encode("utf-8")
        if req.if_match:
            headers["If-Match"] = req.if_match
        for attempt in range(MAX_ATTEMPTS):
            try:
                answer = self.session().request(method, url, data=data, headers=headers, timeout=90)
            except requests.RequestException as exc:
                req.answers.append((0, type(exc).__name__, True))
                self.clock.sleep(min(MAX_WAIT, 0.05 * 2 ** attempt))
                continue
            body = _json(answer)
            problem = answer.headers.get("content-type", "").startswith("application/problem+json")
            code = str(body.get("code") or "") if problem and isinstance(body, dict) else ""
            retryable = problem and isinstance(body, dict) and body.get("retryable") is True
            req.answers.append((answer.status_code, code, retryable))
            if not retryable:
                req.final, req.final_body = answer.status_code, body
                return
            self.clock.sleep(min(MAX_WAIT, _retry_after(answer) or 0.05 * 2 ** min(attempt, 4)))


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json() if answer.content else None
    except ValueError:
        return None


def _retry_after(answer: requests.Response) -> float | None:
    try:
        return float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None


class Drainer:
    """Stepped mode: processes the intake queue while the callers run (woken by every send), so that queue changes
    race the HTTP ones as they do under the live host's workers. Live: nothing (the workers run)."""

    def __init__(self, world: PhaseWorld, live: bool) -> None:
        self.world, self.wake, self.stop = world, threading.Event(), threading.Event()
        self.thread = None if live else threading.Thread(target=self._run, name="races-drainer", daemon=True)
        if self.thread:
            self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.wake.wait()
            self.wake.clear()
            with contextlib.suppress(Exception):  # settle() drains again and the ledger tells what is missing
                self.world.host.drain(max_rounds=500, parallel=True)

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout=120)


def _play(rig: Rig, rnd: Round) -> None:
    """Each key's requests: the early ones together with its first create, the late ones once that create answered;
    a few keys at once. The quota organizers: their prefill one by one, then each burst released together."""
    sizes = rig.sizes
    drainer = Drainer(rnd.world, rig.clock.live)
    caller = Caller(rig, rnd.world, drainer.wake)
    try:
        by_key: dict[str, list[Req]] = {}
        for req in rnd.reqs:
            by_key.setdefault(req.key, []).append(req)
        lifecycle = [k for k in by_key if k in rnd.keys]
        with ThreadPoolExecutor(max(1, sizes.race_parallel_keys), thread_name_prefix="races-key") as pool:
            list(pool.map(lambda key: _play_key(caller, rig, by_key[key]), lifecycle))
        for req in [r for r in rnd.reqs if r.group == "prefill"]:
            caller.run(req)
        for oid in {o.oid for o in rnd.quota_keys.values()}:
            burst = [r for r in rnd.reqs if r.group == "burst" and r.organizer.oid == oid]
            _at_once(burst, caller.run)
    finally:
        drainer.close()


def _play_key(caller: Caller, rig: Rig, reqs: list[Req]) -> None:
    created = threading.Event()
    first = reqs[0]
    groups: dict[str, list[Req]] = {}
    for req in reqs[1:]:
        groups.setdefault(req.group or req.cid, []).append(req)

    def start_first() -> None:
        try:
            caller.run(first)
        finally:
            created.set()

    def start(group: list[Req]) -> None:
        lead = group[0]
        if lead.late or first.organizer.role == "doomed":
            created.wait(timeout=300)
        rig.clock.sleep(lead.offset)
        if lead.op == "patch_if_match":
            tag = caller.etag(lead)
            for req in group:
                req.if_match = tag
        if len(group) > 1:
            _at_once(group, caller.run)
        else:
            caller.run(lead)

    threads = [threading.Thread(target=start_first, name="races-first")]
    threads += [threading.Thread(target=start, args=(g,), name="races-op") for g in groups.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _at_once(reqs: list[Req], work: Any) -> None:
    barrier = threading.Barrier(len(reqs))

    def one(req: Req) -> None:
        barrier.wait()
        work(req)

    threads = [threading.Thread(target=one, args=(r,), name="races-burst") for r in reqs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ---- the phase ------------------------------------------------------------------------------------------------------

def races(rig: Rig, ledger: Ledger, run: str) -> None:
    from .races_ledger import Findings, examine, record

    sizes, state = rig.sizes, rig.emulator.state
    rng = random.Random(sizes.seed + 6)
    limits = [int(x) for x in str(sizes.race_limits).split(",") if x.strip()]
    rounds: list[Round] = []
    findings = Findings()
    for index, limit in enumerate(limits):
        share = sizes.race_keys // len(limits) + (index < sizes.race_keys % len(limits))
        with contextlib.ExitStack() as stack:
            world = rig.world(stack, f"races{limit}", credential="managed_identity_fic",
                              overrides={"MONTHLY_MEETING_LIMIT": str(limit), "ALLOWED_ORGANIZERS": "*"})
            rnd = plan_round(rig, rng, run, index, limit, share, world)
            delays = GraphDelays(state, random.Random(sizes.seed + 60 + index), sizes.race_delay,
                                 sizes.race_fault_rate)
            state.set_fault_plan("graph", delays)
            stack.callback(state.set_fault_plan, "graph", None)
            _play(rig, rnd)
            state.set_fault_plan("graph", None)
            waiting = [r for r in rnd.reqs if r.queue and r.sent or r.final is not None]

            def done() -> bool:
                told = rnd.world.results.by_correlation()
                return all(any(is_final(x) for x in told.get(r.cid, [])) for r in waiting)

            rnd.settled = rnd.world.settle(done, sizes.settle)
            for organizer in rnd.organizers:
                answer = rnd.world.http.get(f"{rnd.world.url}/api/organizers/{organizer.oid}/quota", timeout=60)
                rnd.quota_route[organizer.oid] = _json(answer) if answer.status_code == 200 else {
                    "status": answer.status_code}
            examine(findings, rig, rnd, delays)
            rounds.append(rnd)
    record(ledger, findings, rounds, limits)
