"""The latency, memory and concurrency benchmark's command, ``python -m bench.run [--meetings N] [--json PATH]``.

Runs the steps of steps.py and memory.py in one local world (bench/README.md: what each step measures), prints a
Markdown table and the checks, and exits 1 when a check fails. ``--compare-sdk`` runs ``python -m bench.compare``
instead, with the other options.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .common import machine
from .compare.command import main as compare_sdk
from .memory import bench_memory
from .steps import (SHARED_KEYS, THREADS, Checks, World, bench_calendar, bench_changes, bench_concurrency, bench_http,
                    bench_in_process, bench_queue, bench_validation, perf_counter)


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
