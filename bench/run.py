"""Benchmarks against the same local world as tests/e2e: an in-memory Azurite, the HTTPS Graph/Entra emulator with
real MSAL, and the app served by the local Functions host. Loopback only.

    python -m bench.run [--meetings N] [--json PATH]

Measures validation, the create and repeat paths in process, HTTP end to end, the queue path, token requests, memory
across two create runs, and concurrent requests for the same keys. Prints a Markdown table; exits 1 when a check fails
(a repeat reached Graph, a key got two meetings or two rows, memory kept growing, ...). See bench/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import resource
import sys
import threading
import time
import timeit
import tracemalloc
import uuid
from collections import Counter, deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from localdev.emulator import ALICE_ID, BOB_ID
from localdev.world import LocalWorld
from shared import bootstrap
from shared.usecases import create_meeting, update_meeting
from shared.validation import validate_change, validate_request

from .compare.command import main as compare_sdk
from .common import REPO_ROOT, machine, meeting_body, take_json_messages

THREADS, SHARED_KEYS = 4, 50
# Second create run: what the app may keep. A leaked request alone is ~3 KiB of Python objects (a meeting more), so a
# leak shows as more than 0.5 KiB per meeting; one-off growth of caches, pools and dict tables is allowed up to 128 KiB.
MAX_APP_GROWTH_PER_MEETING = 512
ONE_OFF_GROWTH_ALLOWANCE = 128 * 1024
perf_counter = time.perf_counter


# ---- helpers -----------------------------------------------------------------------------------------------------

def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def rss_kib() -> int | None:
    """Current resident set size (Linux /proc), next to getrusage's peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class Checks:
    """Pass/fail facts the run must show; every one is printed, and any failure makes the exit code 1."""

    def __init__(self) -> None:
        self.results: dict[str, bool] = {}
        self.details: dict[str, str] = {}

    def expect(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results[name] = bool(ok)
        self.details[name] = detail
        return ok

    @property
    def ok(self) -> bool:
        return all(self.results.values())


# ---- the world ---------------------------------------------------------------------------------------------------

class World:
    """The local world (``localdev.world.LocalWorld``: in-memory Azurite, the emulator, the local host without queue
    workers) and one app container shared by the in-process service and the local host."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.local = stack.enter_context(LocalWorld(
            suffix=uuid.uuid4().hex[:8], visibility_timeout=0,
            overrides={"ALLOWED_ORGANIZERS": f"@contoso.example,{ALICE_ID},{BOB_ID}",
                       "CALENDAR_MODE": "enabled"}))  # step 3d; the emulator's default calendar scope: alice, bob
        self.emulator, self.host, self.env = self.local.emulator, self.local.host, self.local.settings
        container = bootstrap.build_container(self.env)
        bootstrap.use(lambda: container)
        stack.callback(bootstrap.use, lambda: bootstrap.build_container(os.environ))
        self.deps = bootstrap.get_container().deps
        self.host_json = json.loads((REPO_ROOT / "host.json").read_text())
        self.url = self.host.base_url + "/api/meetings"
        self.http = stack.enter_context(requests.Session())
        self.http.trust_env = False  # plain HTTP to the local host: no proxy
        # host.json messageEncoding "none": plain JSON text both ways.
        self.requests_queue = stack.enter_context(self.local.queue("MEETING_REQUESTS_QUEUE"))
        self.results_queue = stack.enter_context(self.local.queue("MEETING_RESULTS_QUEUE"))
        self.table = stack.enter_context(self.local.table())

    def graph_calls(self) -> int:
        return self.emulator.state.counters["create_or_get"]

    def take_results(self) -> list[dict[str, Any]]:
        """Every result message now in the results queue (received and deleted)."""
        return take_json_messages(self.results_queue)


# ---- measurements ------------------------------------------------------------------------------------------------

def bench_validation(world: World) -> dict[str, Any]:
    body = meeting_body("booking-42")
    timer = timeit.Timer(lambda: validate_request(body, queue=False))
    number = max(timer.autorange()[0], 10_000)
    best = min(timer.repeat(repeat=5, number=number))
    return {"parse_us": round(best / number * 1e6, 2), "parse_iterations": number * 5}


def submit_all(world: World, bodies: list[dict[str, Any]], expect: str, checks: Checks,
               name: str) -> tuple[list[float], float]:
    """create_meeting for each body (validated beforehand); latencies and wall time of the loop."""
    parsed = [validate_request(body, queue=False) for body in bodies]
    latencies, statuses = [], Counter()
    started = perf_counter()
    for index, request in enumerate(parsed):
        began = perf_counter()
        outcome = create_meeting(world.deps, request, source="http", correlation_id=f"{name}-{index}", final=True)
        latencies.append(perf_counter() - began)
        statuses[outcome.status] += 1
    wall = perf_counter() - started
    checks.expect(f"{name}: every outcome {expect}", statuses == Counter({expect: len(bodies)}), str(dict(statuses)))
    return latencies, wall


def latency_summary(prefix: str, latencies: list[float], wall: float, rate_name: str) -> dict[str, Any]:
    return {f"{prefix}_p50_ms": ms(percentile(latencies, 50)), f"{prefix}_p95_ms": ms(percentile(latencies, 95)),
            f"{prefix}_p99_ms": ms(percentile(latencies, 99)), f"{prefix}_max_ms": ms(max(latencies)),
            f"{prefix}_{rate_name}_per_s": round(len(latencies) / wall, 1)}


def bench_in_process(world: World, n: int, checks: Checks) -> dict[str, Any]:
    began = perf_counter()  # the first call acquires the token and opens the TLS and storage connections
    first = create_meeting(world.deps, validate_request(meeting_body("bench-warmup")), source="http",
                           correlation_id="bench-warmup", final=True)
    first_ms = ms(perf_counter() - began)
    checks.expect("warm-up request created", first.status == "created", first.status)
    bodies = [meeting_body(f"bench-create-{i}", i) for i in range(n)]
    rss0 = rss_kib()
    created, created_wall = submit_all(world, bodies, "created", checks, "create")
    rss1 = rss_kib()
    calls = world.graph_calls()
    repeated, repeated_wall = submit_all(world, bodies, "existing", checks, "repeat")
    checks.expect("repeat: no createOrGet call (answered from the table)", world.graph_calls() == calls,
                  f"{calls} -> {world.graph_calls()}")
    rss = {"create_rss_growth_kib_per_1000": round((rss1 - rss0) * 1000 / n, 1)} if rss0 and rss1 else {}
    return {"first_request_ms": first_ms, **rss, **latency_summary("create", created, created_wall, "meetings"),
            **latency_summary("repeat", repeated, repeated_wall, "requests")}


def bench_changes(world: World, n: int, checks: Checks) -> dict[str, Any]:
    """Passcode meetings by plain create (lease, create, record), then one subject change each (read, PATCH, record)."""
    creates_before = len(world.emulator.state.calls("create_meeting"))
    bodies = [{**meeting_body(f"bench-passcode-{i}", i), "joinMeetingIdSettings": {"isPasscodeRequired": True}}
              for i in range(n)]
    created, created_wall = submit_all(world, bodies, "created", checks, "plain create")
    checks.expect("plain create: one Graph create per key",
                  len(world.emulator.state.calls("create_meeting")) - creates_before == n)
    changes = [validate_change({"subject": f"Moved {i}"}, key={"organizerId": body["organizerId"],
                                                               "externalId": body["externalId"]})
               for i, body in enumerate(bodies)]
    latencies, statuses = [], Counter()
    patches_before = len(world.emulator.state.calls("update_meeting"))
    started = perf_counter()
    for index, change in enumerate(changes):
        began = perf_counter()
        statuses[update_meeting(world.deps, change, source="http", correlation_id=f"change-{index}").status] += 1
        latencies.append(perf_counter() - began)
    wall = perf_counter() - started
    checks.expect("update: every outcome updated", statuses == Counter({"updated": n}), str(dict(statuses)))
    checks.expect("update: one PATCH per change", len(world.emulator.state.calls("update_meeting")) - patches_before == n)
    return {**latency_summary("plain_create", created, created_wall, "meetings"),
            **latency_summary("update", latencies, wall, "changes")}


GUEST = "guest0@fabrikam.example"  # an attendee of every typical request (meeting_body)


def bench_calendar(world: World, n: int, checks: Checks) -> dict[str, Any]:
    """Calendar-backed meetings: the event (Outlook sends the invitations), the onlineMeeting behind it found by its
    join URL, the record; then the same N again, from the table."""
    state = world.emulator.state
    bodies = [{**meeting_body(f"bench-calendar-{i}", i), "calendar": True, "timeZone": "W. Europe Standard Time"}
              for i in range(n)]
    events_before = len(state.calls("create_event"))
    invited_before = {m["event_id"] for m in state.mailbox(GUEST) if m["kind"] == "invitation"}
    created, created_wall = submit_all(world, bodies, "created", checks, "calendar create")
    events_after = len(state.calls("create_event"))
    checks.expect("calendar create: one event per key", events_after - events_before == n,
                  f"{events_after - events_before} event creates for {n} keys")
    invited = {m["event_id"] for m in state.mailbox(GUEST) if m["kind"] == "invitation"} - invited_before
    checks.expect("calendar create: one invitation per meeting to an attendee", len(invited) == n,
                  f"{len(invited)} events invited {GUEST}")
    repeated, repeated_wall = submit_all(world, bodies, "existing", checks, "calendar repeat")
    checks.expect("calendar repeat: no event created", len(state.calls("create_event")) == events_after,
                  f"{events_after} -> {len(state.calls('create_event'))}")
    return {**latency_summary("calendar_create", created, created_wall, "meetings"),
            **latency_summary("calendar_repeat", repeated, repeated_wall, "requests")}


def post_all(world: World, bodies: list[dict[str, Any]], expect: int, checks: Checks,
             name: str) -> tuple[list[float], float]:
    """POST each body to the local host over one keep-alive session; latencies and wall time."""
    latencies, statuses = [], Counter()
    started = perf_counter()
    for body in bodies:
        began = perf_counter()
        response = world.http.post(world.url, json=body, timeout=30)
        latencies.append(perf_counter() - began)
        statuses[response.status_code] += 1
    wall = perf_counter() - started
    checks.expect(f"{name}: every answer {expect}", statuses == Counter({expect: len(bodies)}), str(dict(statuses)))
    return latencies, wall


def bench_http(world: World, n: int, checks: Checks) -> dict[str, Any]:
    bodies = [meeting_body(f"bench-http-{i}", i) for i in range(n)]
    created, created_wall = post_all(world, bodies, 201, checks, "HTTP create")
    calls = world.graph_calls()
    repeated, repeated_wall = post_all(world, bodies, 200, checks, "HTTP repeat")
    checks.expect("HTTP repeat: no createOrGet call", world.graph_calls() == calls, f"{calls} -> {world.graph_calls()}")
    results = world.take_results()  # the HTTP function emits a result per request, too
    checks.expect("HTTP: one result message per request", len(results) == 2 * n, str(len(results)))
    return {**latency_summary("http_create", created, created_wall, "requests"),
            **latency_summary("http_repeat", repeated, repeated_wall, "requests")}


def bench_queue(world: World, n: int, checks: Checks) -> dict[str, Any]:
    world.results_queue.clear_messages()
    correlation_ids = {f"bench-queue-{i}" for i in range(n)}
    started = perf_counter()
    for i in range(n):
        world.requests_queue.send_message(json.dumps({**meeting_body(f"bench-queue-{i}", i),
                                                      "correlationId": f"bench-queue-{i}"}))
    send = perf_counter() - started
    batch = world.host_json["extensions"]["queues"]["batchSize"]
    started = perf_counter()
    invocations = world.host.drain(max_rounds=math.ceil(n / batch) + 10)
    drain = perf_counter() - started
    results = world.take_results()
    checks.expect("queue: one invocation per message", invocations == n, str(invocations))
    checks.expect("queue: exactly N result messages, all created, one per correlationId",
                  len(results) == n and {r["correlationId"] for r in results} == correlation_ids
                  and all(r["status"] == "created" and r["source"] == "queue" for r in results),
                  f"{len(results)} results, {dict(Counter(r['status'] for r in results))}")
    return {"queue_send_ms_per_message": ms(send / n), "queue_drain_ms_per_message": ms(drain / n),
            "queue_messages_per_s": round(n / drain, 1)}


def retained_size(root: object) -> int:
    """Bytes held by root and everything it reaches through containers and localdev objects, each counted once.

    Used for the emulator's state: it runs in this process and keeps every meeting and request it saw (as Graph keeps
    them on Microsoft's side). Modules, functions, types and locks are counted but not followed."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            stack.extend(obj)
        elif type(obj).__module__.startswith("localdev."):
            if hasattr(obj, "__dict__"):
                stack.append(obj.__dict__)
            stack.extend(getattr(obj, slot) for cls in type(obj).__mro__ for slot in getattr(cls, "__slots__", ())
                         if hasattr(obj, slot))
    return total


def bench_memory(world: World, n: int, checks: Checks) -> dict[str, Any]:
    """Two create runs of n new meetings each; what each left behind, per 1,000 meetings.

    tracemalloc (one frame: deeper tracebacks slow the run several-fold) gives the Python heap's growth and the run's
    peak; the emulator's part of the growth is its state's own size, so the app's part is the difference. RSS comes
    from getrusage (peak) and /proc (current); it includes the emulator's state and tracemalloc's bookkeeping."""
    state = world.emulator.state
    out: dict[str, Any] = {}
    app_growth = 0

    def per_1000(size: float) -> float:
        return round(size / 1024 * 1000 / n, 1)

    tracemalloc.start(1)
    try:
        for run in (1, 2):
            bodies = [meeting_body(f"bench-mem{run}-{i}", i) for i in range(n)]
            gc.collect()
            with state.lock:
                emulator0 = retained_size(state)
            heap0, _ = tracemalloc.get_traced_memory()
            overhead0 = tracemalloc.get_tracemalloc_memory()
            tracemalloc.reset_peak()
            rss0, max0 = rss_kib(), max_rss_kib()
            submit_all(world, bodies, "created", checks, f"memory run {run}")
            _, peak = tracemalloc.get_traced_memory()
            rss1, max1 = rss_kib(), max_rss_kib()
            gc.collect()
            heap1, _ = tracemalloc.get_traced_memory()
            overhead1 = tracemalloc.get_tracemalloc_memory()
            with state.lock:
                emulator1 = retained_size(state)
            heap, emulator = heap1 - heap0, emulator1 - emulator0
            app_growth = heap - emulator
            out[f"mem_run{run}_tracemalloc_peak_kib"] = round((peak - heap0) / 1024, 1)
            out[f"mem_run{run}_heap_growth_kib_per_1000"] = per_1000(heap)
            out[f"mem_run{run}_emulator_growth_kib_per_1000"] = per_1000(emulator)
            out[f"mem_run{run}_app_growth_kib_per_1000"] = per_1000(app_growth)
            out[f"mem_run{run}_tracemalloc_overhead_growth_kib_per_1000"] = per_1000(overhead1 - overhead0)
            out[f"mem_run{run}_maxrss_growth_kib_per_1000"] = per_1000((max1 - max0) * 1024)
            if rss0 is not None and rss1 is not None:
                out[f"mem_run{run}_rss_growth_kib_per_1000"] = per_1000((rss1 - rss0) * 1024)
    finally:
        tracemalloc.stop()
    limit = max(MAX_APP_GROWTH_PER_MEETING * n, ONE_OFF_GROWTH_ALLOWANCE)
    checks.expect("memory: the second run's app growth is under 0.5 KiB per meeting (128 KiB floor)",
                  app_growth < limit, f"{app_growth / 1024:.1f} KiB for {n} meetings, limit {limit / 1024:.0f} KiB")
    return out


def bench_concurrency(world: World, n: int, checks: Checks) -> dict[str, Any]:
    """THREADS threads post the same SHARED_KEYS keys in the same order at once, n/THREADS requests each."""
    keys = [f"bench-shared-{k}" for k in range(SHARED_KEYS)]
    per_thread = max(n // THREADS, SHARED_KEYS)
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[Exception] = []

    def client() -> None:
        mine, seen = [], Counter()
        try:
            with requests.Session() as http:
                http.trust_env = False
                barrier.wait(timeout=30)
                for i in range(per_thread):
                    k = i % SHARED_KEYS
                    began = perf_counter()
                    response = http.post(world.url, json=meeting_body(keys[k], k), timeout=30)
                    mine.append(perf_counter() - began)
                    seen[response.status_code] += 1
        except Exception as exc:  # reported as a failed check, not as a stack trace from a thread
            failures.append(exc)
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    started = perf_counter()
    threads = [threading.Thread(target=client, name=f"bench-client-{t}") for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = perf_counter() - started

    key_set = set(keys)
    meetings = Counter((m["participants"]["organizer"]["identity"]["user"]["id"], m["externalId"])
                       for m in world.emulator.state.meetings if m["externalId"] in key_set)
    # Meeting rows (keys.meeting_row_key: "m|..."), not their index rows, which carry the same key's names.
    rows = [e for e in world.table.list_entities(select=["RowKey", "OrganizerKey", "ExternalId", "Status"])
            if e["RowKey"].startswith("m|") and e.get("ExternalId") in key_set]
    row_counts = Counter((e["OrganizerKey"], e["ExternalId"]) for e in rows)
    checks.expect("concurrency: no client error", not failures, repr(failures[:1]))
    checks.expect("concurrency: every answer 200, 201 or 409", set(statuses) <= {200, 201, 409}, str(dict(statuses)))
    checks.expect("concurrency: one meeting per key in the emulator",
                  len(meetings) == SHARED_KEYS and set(meetings.values()) == {1}
                  and {ext for _, ext in meetings} == key_set,
                  f"{len(meetings)} keys, {sum(meetings.values())} meetings")
    checks.expect("concurrency: one created row per key",
                  len(rows) == SHARED_KEYS and set(row_counts.values()) == {1}
                  and {e["ExternalId"] for e in rows} == key_set and all(e["Status"] == "created" for e in rows),
                  f"{len(rows)} rows for {len(row_counts)} keys")
    return {"concurrent_requests": len(latencies),
            "concurrent_statuses": {str(k): v for k, v in sorted(statuses.items())},
            "concurrent_p50_ms": ms(percentile(latencies, 50)), "concurrent_p95_ms": ms(percentile(latencies, 95)),
            "concurrent_requests_per_s": round(len(latencies) / wall, 1),
            "concurrent_keys_with_one_meeting": sum(1 for c in meetings.values() if c == 1),
            "concurrent_keys_with_one_row": sum(1 for c in row_counts.values() if c == 1)}


# ---- report ------------------------------------------------------------------------------------------------------

def table(r: dict[str, Any], n: int) -> str:
    """The results as a Markdown table."""
    def lat(prefix: str, rate: str, p99: bool = False) -> str:
        tail = f" / p99 {r[prefix + '_p99_ms']}" if p99 else ""
        rate_value = r[f"{prefix}_{rate}_per_s"]
        return f"p50 {r[prefix + '_p50_ms']} / p95 {r[prefix + '_p95_ms']}{tail} ms; {rate_value} {rate}/s"

    rows = [
        ("1 validation", "`validate_request`, 5 attendees",
         f"{r['parse_us']} µs per call (best of 5 × {r['parse_iterations'] // 5:,})"),
        ("2 create, in process", f"`create_meeting`, {n} new externalIds",
         f"{lat('create', 'meetings', p99=True)} (first request, with the token: {r['first_request_ms']} ms)"),
        ("3 repeat, in process", f"the same {n} again (from the table)", lat("repeat", "requests")),
        ("3b plain create", f"`create_meeting` with a passcode choice, {n} keys (lease, create, record)",
         lat("plain_create", "meetings")),
        ("3c update", f"`update_meeting`, a new subject for each of the {n} (read, PATCH, record)",
         lat("update", "changes")),
        ("3d calendar create", f"`create_meeting` with `calendar: true`, {n} keys (event, its onlineMeeting, record)",
         lat("calendar_create", "meetings")),
        ("3d calendar repeat", f"the same {n} again (from the table)", lat("calendar_repeat", "requests")),
        ("4 HTTP create", f"{n} POSTs over loopback", lat("http_create", "requests")),
        ("4 HTTP repeat", f"the same {n} POSTs again", lat("http_repeat", "requests")),
        ("5 queue", f"{n} messages, `host.drain()`",
         f"{r['queue_drain_ms_per_message']} ms per message ({r['queue_messages_per_s']}/s); "
         f"sending {r['queue_send_ms_per_message']} ms per message"),
        ("6 tokens", "token endpoint calls, whole run",
         f"{r['token_requests']} (for {r['graph_create_or_get_calls']:,} createOrGet calls)"),
    ]
    for run in (1, 2):
        m = {k.removeprefix(f"mem_run{run}_"): v for k, v in r.items() if k.startswith(f"mem_run{run}_")}
        rss = f", rss {m['rss_growth_kib_per_1000']:+} KiB" if "rss_growth_kib_per_1000" in m else ""
        rows.append((f"7 memory, create run {run}", f"{n} new meetings; growth per 1,000 meetings",
                     f"app {m['app_growth_kib_per_1000']:+} KiB (heap {m['heap_growth_kib_per_1000']:+} − emulator "
                     f"state {m['emulator_growth_kib_per_1000']:+}); peak {m['tracemalloc_peak_kib']} KiB; "
                     f"maxrss {m['maxrss_growth_kib_per_1000']:+} KiB{rss}"))
    statuses = ", ".join(f"{k}: {v}" for k, v in r["concurrent_statuses"].items())
    rows.append(("concurrency", f"{THREADS} threads × {r['concurrent_requests'] // THREADS} POSTs, {SHARED_KEYS} keys",
                 f"p50 {r['concurrent_p50_ms']} / p95 {r['concurrent_p95_ms']} ms; {statuses}; "
                 f"{r['concurrent_keys_with_one_meeting']}/{SHARED_KEYS} keys with one meeting, "
                 f"{r['concurrent_keys_with_one_row']}/{SHARED_KEYS} with one row"))
    return "\n".join(["| step | what | result |", "| --- | --- | --- |", *(f"| {a} | {b} | {c} |" for a, b, c in rows)])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--compare-sdk" in argv:  # the side-by-side with msgraph-sdk: bench/compare/command.py takes the other options
        return compare_sdk([arg for arg in argv if arg != "--compare-sdk"])
    parser = argparse.ArgumentParser(description="Benchmarks of the meeting broker against the local world.")
    parser.add_argument("--meetings", type=int, default=300, help="N, meetings per measured path (default 300)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here (bench/results/ is git-ignored)")
    parser.add_argument("--compare-sdk", action="store_true",
                        help="instead: the comparison with msgraph-sdk (python -m bench.compare --help)")
    args = parser.parse_args(argv)
    n = args.meetings
    if n < THREADS:
        parser.error(f"--meetings must be at least {THREADS}")
    checks = Checks()
    started = perf_counter()
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        world = World(stack)
        setup_s = perf_counter() - started
        steps: dict[str, float] = {}
        for step in (bench_validation, bench_in_process, bench_changes, bench_calendar, bench_http, bench_queue, bench_memory, bench_concurrency):
            began = perf_counter()
            results.update(step(world) if step is bench_validation else step(world, n, checks))
            steps[step.__name__.removeprefix("bench_")] = round(perf_counter() - began, 2)
        results["token_requests"] = world.emulator.state.counters["token"]
        results["graph_create_or_get_calls"] = world.graph_calls()
        checks.expect("tokens: one token request in the whole run", results["token_requests"] == 1,
                      str(results["token_requests"]))
    total_s = perf_counter() - started
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "meetings": n, "machine": machine(),
              "setup_s": round(setup_s, 2), "step_s": steps, "total_s": round(total_s, 2), "results": results,
              "checks": checks.results}

    print(f"Teams Meeting Broker benchmarks, N={n}, {report['date']}, {report['machine']['cores']} cores "
          f"({report['machine']['cpu']}), Python {report['machine']['python']}\n")
    print(table(results, n))
    print()
    for name, ok in checks.results.items():
        print(f"- [{'x' if ok else ' '}] {name}" + ("" if ok else f" ({checks.details[name]})"))
    print(f"\nseconds per step: {', '.join(f'{k} {v}' for k, v in steps.items())}")
    print(f"set-up {setup_s:.1f} s, whole run {total_s:.1f} s: {'all checks passed' if checks.ok else 'CHECKS FAILED'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
