"""The measures of ``python -m bench.compare``, each in alternating blocks of the broker, the SDK's bare call and the
plain SDK implementation (the peer) against the same emulator in the same run (``stats.schedule``). Each repetition's
broker and peer run on a fresh storage world (``CompareWorld.broker``). Every function returns plain data for the
JSON file."""
from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

from localdev.bytecode import compile_app
from shared import bootstrap
from shared.domain.validation import validate_request
from shared.entrypoints import queue as worker
from shared.usecases import create_meeting

from ..common import REPO_ROOT, meeting_body
from .broker import Broker, StorageWait, cpu_delta
from .sdk_venv import WORKER, child_env, run_cold
from .stats import ideal_rate, schedule
from .world import ORGANIZERS, CompareWorld

perf_counter = time.perf_counter
LATENCY_KINDS = ("sdk", "peer", "floor", "graph", "whole", "http", "queue")
BROKER_KINDS = ("graph", "whole", "http", "queue")
WORKER_KINDS = ("sdk", "peer")  # run in the SDK's process, which reports its own CPU per block
REPEATS = 20  # keys of each repetition's whole block asked again: storage requests and Graph calls per repeat
Progress = Callable[[str], None]


class BlockFailed(RuntimeError):
    """A call of a measured block did not create its meeting: the numbers would not be comparable."""


def _organizer(i: int) -> str:
    return ORGANIZERS[i % len(ORGANIZERS)]


class Block(list):
    """The latencies of a block, and the CPU seconds its own process spent on it when that process says so."""

    cpu_s: float | None = None


def _worker_block(world: CompareWorld, job: str, n: int, prefix: str) -> Block:
    answer = world.sdk.ask("calls", n=n, prefix=prefix, organizers=ORGANIZERS, job=job)
    if answer["failed"]:
        raise BlockFailed(f"{job} block {prefix}: {answer['failed']} calls failed {answer['errors']}")
    block = Block(answer["latencies"])
    block.cpu_s = answer["cpu_s"]
    return block


def sdk_block(world: CompareWorld, broker: Broker | None, n: int, prefix: str) -> list[float]:
    """The SDK's bare createOrGet call."""
    return _worker_block(world, "sdk", n, prefix)


def peer_block(world: CompareWorld, broker: Broker | None, n: int, prefix: str) -> list[float]:
    """The plain SDK implementation: createOrGet, one row upserted, the result as JSON (``sdk_worker.Peer``)."""
    return _worker_block(world, "peer", n, prefix)


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


def queue_block(world: CompareWorld, broker: Broker, n: int, prefix: str) -> list[float]:
    """The queue function's body in process, as the worker's thread runs it: the message decoded and validated, the
    create, the result message (which the host, not the app, then sends)."""
    latencies = []
    bodies = [json.dumps({**meeting_body(f"{prefix}-{i}", i), "correlationId": f"{prefix}-{i}"}).encode()
              for i in range(n)]
    for i, body in enumerate(bodies):
        began = perf_counter()
        message = worker.process_request(body, message_id=f"{prefix}-{i}", dequeue_count=1,
                                         container_factory=bootstrap.get_container, clock=bootstrap.clock).result
        latencies.append(perf_counter() - began)
        if not message or '"status":"created"' not in message.replace(" ", ""):
            raise BlockFailed(f"queue block {prefix}: message {i} ended {message and message[:200]}")
    return latencies


BLOCKS = {"sdk": sdk_block, "peer": peer_block, "floor": floor_block, "graph": graph_block, "whole": whole_block,
          "http": http_block, "queue": queue_block}


def repeats(world: CompareWorld, broker: Broker, prefix: str, count: int) -> dict[str, float]:
    """The first ``count`` requests of a whole block asked again: storage requests and Graph calls per repeat."""
    deps = broker.deps
    before = world.emulator.counters()
    with StorageWait() as wait:
        for i in range(count):
            request = validate_request(meeting_body(f"{prefix}-{i}", i), api_version=deps.settings.api_version,
                                       queue=False)
            outcome = create_meeting(deps, request, source="http", correlation_id=f"{prefix}-again-{i}", final=True)
            if outcome.status != "existing":
                raise BlockFailed(f"repeat {prefix}-{i} ended {outcome.status}")
    after = world.emulator.counters()
    graph = sum(after[name] - before.get(name, 0) for name in after
                if name not in ("token", "identity", "discovery", "jwks"))  # Graph's endpoints, not Entra's
    return {"requests_per_call": wait.calls / count, "graph_calls_per_call": graph / count,
            "sent_bytes_per_call": wait.sent / count, "received_bytes_per_call": wait.received / count}


def latency_blocks(world: CompareWorld, reps: int, n: int, warmup: int, progress: Progress) -> dict[str, Any]:
    """(a)–(c) and (e): alternating blocks of n calls, each repetition on a fresh storage world after a warm-up of
    the broker's blocks (connections, table, alias); token requests counted per side, warm-ups included."""
    samples: dict[str, list[list[float]]] = {kind: [] for kind in LATENCY_KINDS}
    storage: dict[str, list[dict[str, float]]] = {kind: [] for kind in BROKER_KINDS}
    block_cpu: dict[str, list[dict[str, float]]] = {kind: [] for kind in LATENCY_KINDS}
    peer_storage: list[dict[str, Any]] = []
    repeated: list[dict[str, float]] = []
    tokens, meetings = {"broker": 0, "sdk": 0}, {"broker": 0, "sdk": 0}
    order = schedule(reps, LATENCY_KINDS)
    cpu: list[dict[str, float]] = []

    def run(kind: str, broker: Broker, count: int, prefix: str, measured: bool) -> None:
        side = "sdk" if kind in WORKER_KINDS else "broker"
        before, procs, own = world.emulator.counters()["token"], world.cpu(broker), time.process_time()
        with StorageWait() as wait:
            latencies = BLOCKS[kind](world, broker, count, prefix)
        own, procs_after = time.process_time() - own, world.cpu(broker)
        if kind != "floor":  # the floor is neither side: its one token and its calls count for neither
            tokens[side] += world.emulator.counters()["token"] - before
            meetings[side] += count
        if measured:
            samples[kind].append(list(latencies))
            worker_cpu = getattr(latencies, "cpu_s", None)
            block_cpu[kind].append({  # CPU seconds per call: the side's own process, Azurite, the emulator
                "own": (worker_cpu if worker_cpu is not None else own) / count,
                **{name: (procs_after[name] - procs[name]) / count  # type: ignore[operator]
                   for name in ("azurite", "emulator") if procs[name] is not None and procs_after[name] is not None}})
            if kind in BROKER_KINDS:
                storage[kind].append({"seconds_per_call": wait.seconds / count, "requests_per_call": wait.calls / count,
                                      "sent_bytes_per_call": wait.sent / count,
                                      "received_bytes_per_call": wait.received / count})

    for r, kinds in enumerate(order):
        with world.broker() as broker:
            for kind in LATENCY_KINDS if r == 0 else (*BROKER_KINDS, "peer"):  # not measured: new connections
                run(kind, broker, warmup, f"warm{r}-{kind}", measured=False)
            peer_storage.append(world.sdk.ask("probe", prefix=f"probe-{r}", organizers=ORGANIZERS))
            cpu_before, began = world.cpu(broker), perf_counter()
            for kind in kinds:
                run(kind, broker, n, f"{kind}-{r}", measured=True)
            cpu.append(cpu_delta(cpu_before, world.cpu(broker), perf_counter() - began))
            repeated.append(repeats(world, broker, f"whole-{r}", min(REPEATS, n)))
        progress(f"latency blocks: repetition {r + 1}/{reps} done ({', '.join(kinds)})")
    return {"order": order, "calls_per_block": n, "samples": samples, "tokens": tokens, "meetings": meetings,
            "storage_wait": storage, "cpu": cpu, "block_cpu": block_cpu, "peer_storage": peer_storage,
            "repeats": repeated}


def cold_starts(world: CompareWorld, reps: int, sdk_python: Any, progress: Progress) -> dict[str, Any]:
    """(d): a new process until its first meeting is created, alternating broker and SDK, and (d0) the floor under
    the broker's ("imports"): a new process that only imports the platform and the libraries the job needs. All load bytecode:
    the SDK's packages as pip compiled them, the app's modules as the prepackage hook compiles them for its package
    (``localdev.bytecode``; a read-only package in Azure could not write them on a first start)."""
    runs: dict[str, list[dict[str, Any]]] = {"broker": [], "sdk": []}
    if not compile_app(REPO_ROOT):
        raise BlockFailed("cold start: the app's modules did not compile")
    order = schedule(reps, ("broker", "sdk", "imports"))
    runs["imports"] = []
    with world.broker() as broker:
        broker_env = {**child_env(world.emulator.ca_bundle), **broker.settings}
        for r, sides in enumerate(order):
            for side in sides:
                if side == "broker":
                    result = run_cold([sys.executable, "-m", "bench.compare.broker_cold"],
                                      {"body": meeting_body(f"cold-broker-{r}", r)}, broker_env)
                elif side == "imports":  # (d0): the imports alone, in the broker's environment
                    result = run_cold([sys.executable, "-m", "bench.compare.import_floor"], {}, broker_env)
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


def _sdk_concurrent(world: CompareWorld, broker: Broker, job: str, n: int, prefix: str,
                    concurrency: int) -> dict[str, Any]:
    before = world.cpu(broker)
    answer = world.sdk.ask("concurrent", n=n, prefix=prefix, organizers=ORGANIZERS, concurrency=concurrency, job=job)
    return {**answer, "cpu": cpu_delta(before, world.cpu(broker), answer["wall"])}


def _queue_runs(world: CompareWorld, reps: int, n: int, label: str, deadline_s: float, traffic: dict[str, Any],
                progress: Progress) -> tuple[list[list[str]], dict[str, list[dict[str, Any]]], int]:
    """Alternating runs: the broker's queue workers on n messages, and the SDK's bare call and the peer's job with as
    many calls in flight."""
    runs: dict[str, list[dict[str, Any]]] = {"broker": [], "sdk": [], "peer": []}
    order = schedule(reps, ("broker", "sdk", "peer"))
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
                        result = _sdk_concurrent(world, broker, side, n, f"{side}-{label}-{r}", concurrency)
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
