"""Phase 6 of ``bench.reliability``, the lifecycle races (issue 18, "Proof"): one world per monthly limit, the keys'
requests of ``races_plan`` played by callers that retry as real ones do, then every key examined (``races_ledger``).
See bench/README.md, "6. Lifecycle races"."""
from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import requests
from azure.core.exceptions import AzureError

from .ledger import Ledger
from .races_ledger import Findings, examine, record
from .races_plan import GraphDelays, Req, Round, plan_round
from .results import is_final
from .rig import PhaseWorld, Rig

MAX_ATTEMPTS = 40          # answers a caller takes for one request before it gives up
MAX_WAIT = 1.0             # the longest Retry-After a caller honours between two attempts


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
