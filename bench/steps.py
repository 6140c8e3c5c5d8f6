"""Steps 1 to 6 and the concurrency step of ``python -m bench.run`` (bench/run.py), with the world they run in and
the checks they record; step 7, memory, is bench/memory.py. Each step returns its figures as a dict."""
from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
import timeit
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from localdev.emulator import ALICE_ID, BOB_ID
from localdev.world import LocalWorld
from shared import bootstrap
from shared.usecases import create_meeting, update_meeting
from shared.domain.validation import validate_change, validate_request

from .common import REPO_ROOT, meeting_body, take_json_messages

THREADS, SHARED_KEYS = 4, 50
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
    invited_before = {m["event_id"] for m in state.calendars.mailbox(GUEST) if m["kind"] == "invitation"}
    created, created_wall = submit_all(world, bodies, "created", checks, "calendar create")
    events_after = len(state.calls("create_event"))
    checks.expect("calendar create: one event per key", events_after - events_before == n,
                  f"{events_after - events_before} event creates for {n} keys")
    invited = {m["event_id"] for m in state.calendars.mailbox(GUEST) if m["kind"] == "invitation"} - invited_before
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
