"""The measures of ``python -m bench.compare``, each in alternating blocks of the broker and the SDK against the same
emulator in the same run (``stats.schedule``). Each repetition's broker runs on a fresh storage world
(``CompareWorld.broker``). Every function returns plain data for the JSON file."""
from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

from localdev.bytecode import compile_app
from shared.usecases import create_meeting
from shared.domain.validation import validate_request

from ..common import REPO_ROOT, meeting_body
from .broker import Broker, StorageWait, cpu_delta
from .sdk_venv import WORKER, child_env, run_cold
from .stats import ideal_rate, schedule
from .world import ORGANIZERS, CompareWorld

perf_counter = time.perf_counter
LATENCY_KINDS = ("sdk", "floor", "graph", "whole", "http")
BROKER_KINDS = ("graph", "whole", "http")
Progress = Callable[[str], None]


class BlockFailed(RuntimeError):
    """A call of a measured block did not create its meeting: the numbers would not be comparable."""


def _organizer(i: int) -> str:
    return ORGANIZERS[i % len(ORGANIZERS)]


def sdk_block(world: CompareWorld, broker: Broker | None, n: int, prefix: str) -> list[float]:
    answer = world.sdk.ask("calls", n=n, prefix=prefix, organizers=ORGANIZERS)
    if answer["failed"]:
        raise BlockFailed(f"SDK block {prefix}: {answer['failed']} calls failed {answer['errors']}")
    return answer["latencies"]


def floor_block(world: CompareWorld, broker: Broker, n: int, prefix: str) -> list[float]:
    """The stand-in's floor for (a): the same createOrGet body through a bare ``requests.Session`` (no client code of
    either side: the body serialised, the answer parsed, nothing else)."""
    session, token = world.floor_session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    template, latencies = world.graph_body, []
    for i in range(n):
        url = f"{world.emulator.url}/v1.0/users/{_organizer(i)}/onlineMeetings/createOrGet"
        began = perf_counter()
        response = session.post(url, data=json.dumps({**template, "externalId": f"{prefix}-{i}"}), headers=headers,
                                timeout=30)
        response.json()
        latencies.append(perf_counter() - began)
        if response.status_code != 201:
            raise BlockFailed(f"floor block {prefix}: call {i} answered {response.status_code}")
    return latencies


def graph_block(world: CompareWorld, broker: Broker, n: int, prefix: str) -> list[float]:
    """The broker's Graph adapter alone: ``GraphClient.create_or_get`` with the body the broker sends."""
    deps, template, latencies = broker.deps, world.graph_body, []
    tenant = deps.settings.tenant_id
    for i in range(n):
        began = perf_counter()
        answer = deps.graph.create_or_get(tenant, _organizer(i), {**template, "externalId": f"{prefix}-{i}"},
                                          correlation_id=f"{prefix}-{i}")
        latencies.append(perf_counter() - began)
        if not answer.created:
            raise BlockFailed(f"graph block {prefix}: call {i} did not create")
    return latencies


def whole_block(world: CompareWorld, broker: Broker, n: int, prefix: str) -> list[float]:
    """The broker's whole request in process: validation, alias and row reads, Graph, the row write, the result."""
    deps, latencies = broker.deps, []
    bodies = [meeting_body(f"{prefix}-{i}", i) for i in range(n)]
    for i, body in enumerate(bodies):
        began = perf_counter()
        request = validate_request(body, api_version=deps.settings.api_version, queue=False)
        outcome = create_meeting(deps, request, source="http", correlation_id=f"{prefix}-{i}", final=True)
        message = outcome.message
        latencies.append(perf_counter() - began)
        if outcome.status != "created" or not message:
            raise BlockFailed(f"whole block {prefix}: request {i} ended {outcome.status}")
    return latencies


def http_block(world: CompareWorld, broker: Broker, n: int, prefix: str) -> list[float]:
    """POST /api/meetings through the local host over one keep-alive session (the result goes to the queue)."""
    latencies = []
    bodies = [meeting_body(f"{prefix}-{i}", i) for i in range(n)]
    for i, body in enumerate(bodies):
        began = perf_counter()
        response = broker.http.post(broker.url, json=body, timeout=60)
        latencies.append(perf_counter() - began)
        if response.status_code != 201:
            raise BlockFailed(f"http block {prefix}: request {i} answered {response.status_code}")
    return latencies


BLOCKS = {"sdk": sdk_block, "floor": floor_block, "graph": graph_block, "whole": whole_block, "http": http_block}


def latency_blocks(world: CompareWorld, reps: int, n: int, warmup: int, progress: Progress) -> dict[str, Any]:
    """(a)–(c) and (e): alternating blocks of n calls, each repetition on a fresh storage world after a warm-up of
    the broker's blocks (connections, table, alias); token requests counted per side, warm-ups included."""
    samples: dict[str, list[list[float]]] = {kind: [] for kind in LATENCY_KINDS}
    storage: dict[str, list[dict[str, float]]] = {kind: [] for kind in BROKER_KINDS}
    tokens, meetings = {"broker": 0, "sdk": 0}, {"broker": 0, "sdk": 0}
    order = schedule(reps, LATENCY_KINDS)
    cpu: list[dict[str, float]] = []

    def run(kind: str, broker: Broker, count: int, prefix: str, measured: bool) -> None:
        side = "sdk" if kind == "sdk" else "broker"
        before = world.emulator.counters()["token"]
        with StorageWait() as wait:
            latencies = BLOCKS[kind](world, broker, count, prefix)
        if kind != "floor":  # the floor is neither side: its one token and its calls count for neither
            tokens[side] += world.emulator.counters()["token"] - before
            meetings[side] += count
        if measured:
            samples[kind].append(latencies)
            if kind in BROKER_KINDS:
                storage[kind].append({"seconds_per_call": wait.seconds / count, "requests_per_call": wait.calls / count})

    for r, kinds in enumerate(order):
        with world.broker() as broker:
            for kind in LATENCY_KINDS if r == 0 else BROKER_KINDS:  # not measured: first calls on new connections
                run(kind, broker, warmup, f"warm{r}-{kind}", measured=False)
            cpu_before, began = world.cpu(broker), perf_counter()
            for kind in kinds:
                run(kind, broker, n, f"{kind}-{r}", measured=True)
            cpu.append(cpu_delta(cpu_before, world.cpu(broker), perf_counter() - began))
        progress(f"latency blocks: repetition {r + 1}/{reps} done ({', '.join(kinds)})")
    return {"order": order, "calls_per_block": n, "samples": samples, "tokens": tokens, "meetings": meetings,
            "storage_wait": storage, "cpu": cpu}


def cold_starts(world: CompareWorld, reps: int, sdk_python: Any, progress: Progress) -> dict[str, Any]:
    """(d): a new process until its first meeting is created, alternating broker and SDK. Both sides load bytecode:
    the SDK's packages as pip compiled them, the app's modules as the prepackage hook compiles them for its package
    (``localdev.bytecode``; a read-only package in Azure could not write them on a first start)."""
    runs: dict[str, list[dict[str, Any]]] = {"broker": [], "sdk": []}
    if not compile_app(REPO_ROOT):
        raise BlockFailed("cold start: the app's modules did not compile")
    order = schedule(reps, ("broker", "sdk"))
    with world.broker() as broker:
        broker_env = {**child_env(world.emulator.ca_bundle), **broker.settings}
        for r, sides in enumerate(order):
            for side in sides:
                if side == "broker":
                    result = run_cold([sys.executable, "-m", "bench.compare.broker_cold"],
                                      {"body": meeting_body(f"cold-broker-{r}", r)}, broker_env)
                else:
                    result = run_cold([str(sdk_python), str(WORKER), "cold"],
                                      world.sdk_config(organizer=_organizer(r), external_id=f"cold-sdk-{r}"),
                                      child_env(world.emulator.ca_bundle))
                if not result.get("created"):
                    raise BlockFailed(f"cold start of the {side}: no meeting created ({result})")
                runs[side].append(result)
            progress(f"cold starts: repetition {r + 1}/{reps} done")
    return {"order": order, "runs": runs}


def _queue_bodies(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{**meeting_body(f"{prefix}-{i}", i), "correlationId": f"{prefix}-{i}"} for i in range(n)]


def _sdk_concurrent(world: CompareWorld, n: int, prefix: str, concurrency: int) -> dict[str, Any]:
    before = world.cpu()
    answer = world.sdk.ask("concurrent", n=n, prefix=prefix, organizers=ORGANIZERS, concurrency=concurrency)
    return {**answer, "cpu": cpu_delta(before, world.cpu(), answer["wall"])}


def _queue_runs(world: CompareWorld, reps: int, n: int, label: str, deadline_s: float, traffic: dict[str, Any],
                progress: Progress) -> tuple[list[list[str]], dict[str, list[dict[str, Any]]], int]:
    """Alternating runs: the broker's queue workers on n messages, and the SDK with as many calls in flight."""
    runs: dict[str, list[dict[str, Any]]] = {"broker": [], "sdk": []}
    order = schedule(reps, ("broker", "sdk"))
    concurrency = 0
    try:
        for r, sides in enumerate(order):
            with world.broker() as broker:
                concurrency = broker.concurrency()
                broker.drain_results()  # warm: the results queue's connection
                for side in sides:
                    world.emulator.traffic(**traffic)  # rate limit: a full bucket for each run
                    if side == "broker":
                        result = broker.run_queue(_queue_bodies(f"{label}-{r}", n), deadline_s,
                                                  lambda: world.cpu(broker))
                    else:
                        result = _sdk_concurrent(world, n, f"sdk-{label}-{r}", concurrency)
                    result["throttled"] = world.emulator.admin("GET", "traffic")["throttled"]
                    runs[side].append(result)
            progress(f"{label}: repetition {r + 1}/{reps} done")
    finally:
        world.emulator.traffic()
    return order, runs, concurrency


def queue_at_latency(world: CompareWorld, reps: int, n: int, latency_s: float, progress: Progress) -> dict[str, Any]:
    """(f): n intake messages through the host's queue workers while every Graph answer takes latency_s; next to
    it the SDK with as many calls in flight as the host runs."""
    deadline = 3 * n * latency_s + 60
    order, runs, concurrency = _queue_runs(world, reps, n, f"queue{latency_s * 1000:.0f}ms", deadline,
                                           {"latency_ms": latency_s * 1000}, progress)
    return {"order": order, "latency_s": latency_s, "concurrency": concurrency, "messages": n,
            "ideal_per_s": ideal_rate(concurrency, latency_s), "runs": runs}


def rate_limited(world: CompareWorld, reps: int, rate: float, seconds: float, progress: Progress) -> dict[str, Any]:
    """(g): R × seconds intake messages through the queue workers while Graph admits R requests/s per app (429 +
    Retry-After beyond); the SDK (default retry handler) with as many calls in flight as the host runs."""
    n = int(rate * seconds)
    order, runs, concurrency = _queue_runs(world, reps, n, f"rate{rate:g}", 3 * seconds + 90,
                                           {"rate_limit": rate}, progress)
    return {"order": order, "rate": rate, "messages": n, "concurrency": concurrency, "runs": runs}
