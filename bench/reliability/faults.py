"""Phase 1 of ``bench.reliability``, the fault run: the requests of faults_plan sent by callers that retry as real ones
do, while the Graph faults and the outages of injection.py run; its ledger rows are faults_ledger's. See
bench/README.md, "1. Fault run".
"""
from __future__ import annotations

import base64
import contextlib
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from azure.core.exceptions import AzureError

from shared.adapters.graph.client import RetryPolicy

from .faults_ledger import SECTION, record
from .faults_plan import Req, plan_requests
from .injection import GraphFaults, Outages
from .ledger import Ledger
from .results import is_final
from .rig import PhaseWorld, Rig

MAX_ATTEMPTS = 200  # a caller gives up after this many answers (counted as lost)


# ---- callers ------------------------------------------------------------------------------------------------------

class Caller:
    def __init__(self, world: PhaseWorld, rig: Rig, outages: Outages) -> None:
        self.world, self.clock, self.outages = world, rig.clock, outages
        self.http500: list[str] = []
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
        return session

    def run(self, req: Req) -> None:
        self.outages.request_started()
        try:
            if req.channel == "queue":
                self._send(req)
            else:
                self._post(req)
        finally:
            self.outages.request_done()

    def _send(self, req: Req) -> None:
        text = json.dumps(req.body, ensure_ascii=False)
        if req.base64:
            text = base64.b64encode(text.encode("utf-8")).decode("ascii")
        for attempt in range(MAX_ATTEMPTS):
            try:
                self.world.intake.send_message(text)
                req.sent = True
                return
            except AzureError:  # the queue is down: the message was not sent; send it when it is back
                self._wait(min(2.0, 0.2 * 2 ** attempt))

    def _post(self, req: Req) -> None:
        headers = {"Content-Type": "application/json", "x-correlation-id": req.cid}
        if req.channel == "async":
            headers["Prefer"] = "respond-async"
        raw = json.dumps(req.body).encode("utf-8")
        for attempt in range(MAX_ATTEMPTS):
            try:
                answer = self._session().post(self.world.url + "/api/meetings", data=raw, headers=headers, timeout=90)
            except requests.RequestException as exc:
                req.answers.append(type(exc).__name__)
                self._wait(min(2.0, 0.2 * 2 ** attempt))
                continue
            req.answers.append(f"{answer.status_code} {_code(answer)}".strip())
            if answer.status_code == 500:
                self.http500.append(f"{req.cid} {answer.text[:160]}")
            if not _retryable(answer):
                req.final = answer.status_code
                return
            self._wait(_retry_after(answer) or min(2.0, 0.1 * 2 ** attempt))

    def _wait(self, seconds: float) -> None:
        self.outages.tick()
        self.clock.sleep(min(seconds, 5.0))
        self.outages.tick()


def _code(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("code") or body.get("status") or "") if isinstance(body, dict) else ""


def _retryable(answer: requests.Response) -> bool:
    if not answer.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    try:
        return answer.json().get("retryable") is True
    except ValueError:
        return False


def _retry_after(answer: requests.Response) -> float | None:
    try:
        return float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None


# ---- the run and its ledger ---------------------------------------------------------------------------------------

def fault_run(rig: Rig, ledger: Ledger, run: str) -> None:
    sizes, state = rig.sizes, rig.emulator.state
    rng = random.Random(sizes.seed)
    policy = RetryPolicy(read_timeout=sizes.read_timeout, connect_timeout=2.0, max_retry_after=2.0,
                         backoff_base=0.05)
    with contextlib.ExitStack() as stack:
        world = rig.world(stack, "faults", credential="client_secret", retry_policy=policy)
        faults = GraphFaults(state, random.Random(sizes.seed + 1), sizes.fault_rate, sizes.read_timeout)
        state.set_fault_plan("graph", faults)
        stack.callback(state.set_fault_plan, "graph", None)
        reqs = plan_requests(sizes.requests, rng, run)
        outages = Outages(rig, world, len(reqs))
        caller = Caller(world, rig, outages)
        started = time.monotonic()
        with ThreadPoolExecutor(sizes.clients, thread_name_prefix="caller") as pool:
            list(pool.map(caller.run, reqs))
        outages.finish()
        callers_done = time.monotonic() - started
        waiting = [r for r in reqs if r.channel == "queue" or r.final == 202]

        def done() -> bool:
            told = world.results.by_correlation()
            return all(any(is_final(x) for x in told.get(r.cid, [])) for r in waiting)

        settled = world.settle(done, sizes.settle)
        state.set_fault_plan("graph", None)
        ledger.note(SECTION, "wall time: callers done, everything settled",
                    f"{callers_done:.1f} s, {time.monotonic() - started:.1f} s")
        record(ledger, rig, world, reqs, faults, outages, caller.http500, settled, run)


