"""CPU per request with tracing off and with tracing on (an in-memory exporter), side by side.

    python -m bench.telemetry                     # 300 requests a path, 3 rounds of each mode: about 2 minutes
    python -m bench.telemetry --requests 100 --rounds 2 --json bench/results/telemetry.json

Each round runs each mode in a new process, the order alternating, so that one mode never has the warmer machine:
``off`` as the app runs with no exporter (no provider: OpenTelemetry is never imported, which the run checks) and
``on`` with the OpenTelemetry SDK's tracer provider and a ``SimpleSpanProcessor`` into an ``InMemorySpanExporter``,
and a meter provider with an in-memory reader, installed before the app loads (as the Functions worker installs the
Azure Monitor distro). The process starts an in-memory Azurite and the Graph emulator (``localdev.world``) and calls
the app's functions directly: ``create_meeting`` (the HTTP function: preamble, use case, a row read, Graph's
createOrGet, the entity-group transaction, the result message) for N new keys, then ``process_meeting_request`` (the
queue function) for N new keys. CPU is ``time.thread_time`` of the calling thread around each call: the app's own
work, not the emulator's (its threads) nor Azurite's (its process), nor the multipart encoding the Tables SDK does on
its own thread pool. The figures are medians over the rounds; exit code 1 when a check fails.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MODES = ("off", "on")


def _install_sdk() -> tuple[Any, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return exporter, reader


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def child(mode: str, requests: int) -> dict[str, Any]:
    """One mode in this process: the per-call CPU of both paths, as JSON-ready figures."""
    exporter = _install_sdk()[0] if mode == "on" else None
    started = time.perf_counter()
    import azure.functions as func
    from azure.functions.queue import QueueMessage

    import function_app
    from localdev.emulator import ALICE_UPN
    from localdev.host_common import BindingOut
    from localdev.world import LocalWorld
    from shared import bootstrap

    imported = time.perf_counter() - started
    loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
    run = uuid.uuid4().hex[:8]
    figures: dict[str, Any] = {"mode": mode, "requests": requests, "import_s": imported}
    with LocalWorld(app=function_app.app, suffix=run, overrides={"MONTHLY_MEETING_LIMIT": "0"}) as world:
        bootstrap.use(lambda: bootstrap.build_container(world.settings))

        def http(key: str) -> int:
            body = json.dumps({"organizerId": ALICE_UPN, "externalId": key, "subject": "Bench"}).encode()
            request = func.HttpRequest("POST", "http://127.0.0.1/api/meetings",
                                       headers={"Content-Type": "application/json"}, body=body)
            return function_app.create_meeting(request, BindingOut(), BindingOut(), BindingOut()).status_code

        def queue(key: str) -> int:
            body = json.dumps({"organizerId": ALICE_UPN, "externalId": key}).encode()
            results = BindingOut()
            function_app.process_meeting_request(QueueMessage(
                id=key, body=body, dequeue_count=1, insertion_time=datetime.now(timezone.utc)), results, BindingOut())
            told = results.get()
            return 201 if told and json.loads(told)["status"] == "created" else 500

        for index in range(10):  # warm-up: token, TLS and storage connections, the table, caches
            http(f"{run}-warm-{index}"), queue(f"{run}-warmq-{index}")
        for path, call in (("http", http), ("queue", queue)):
            cpu, wall, failed = [], [], 0
            spans_before = len(exporter.get_finished_spans()) if exporter else 0
            for index in range(requests):
                wall_start, cpu_start = time.perf_counter(), time.thread_time()
                status = call(f"{run}-{path}-{index}")
                cpu.append((time.thread_time() - cpu_start) * 1000)
                wall.append((time.perf_counter() - wall_start) * 1000)
                failed += status != 201
            spans = (len(exporter.get_finished_spans()) - spans_before) / requests if exporter else 0.0
            figures[path] = {"cpu_ms_p50": statistics.median(cpu), "cpu_ms_mean": statistics.fmean(cpu),
                             "cpu_ms_p95": _percentile(cpu, 0.95), "wall_ms_p50": statistics.median(wall),
                             "failed": failed, "spans_per_request": spans}
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))
    figures["opentelemetry_modules_at_import"] = len(loaded)
    figures["opentelemetry_modules_after"] = len([n for n in sys.modules if n.startswith("opentelemetry")])
    return figures


def _run_child(mode: str, requests: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.telemetry", "--child", mode, "--requests", str(requests)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the {mode} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(runs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The side-by-side table (medians over the rounds) and the failed checks."""
    def median(mode: str, path: str, figure: str) -> float:
        return statistics.median(r[path][figure] for r in runs if r["mode"] == mode)

    lines = ["| path | figure | tracing off | tracing on (in-memory exporter) | on − off | on ÷ off |",
             "| --- | --- | --- | --- | --- | --- |"]
    for path, what in (("http", "`create_meeting` (HTTP), new key"), ("queue", "`process_meeting_request`, new key")):
        for figure, label in (("cpu_ms_p50", "CPU ms p50"), ("cpu_ms_mean", "CPU ms mean"),
                              ("cpu_ms_p95", "CPU ms p95"), ("wall_ms_p50", "wall ms p50")):
            off, on = median("off", path, figure), median("on", path, figure)
            lines.append(f"| {what} | {label} | {off:.2f} | {on:.2f} | {on - off:+.2f} | {on / off:.3f} |")
        lines.append(f"| {what} | spans per request | 0 | {median('on', path, 'spans_per_request'):.1f} | | |")
    imports = {mode: statistics.median(r["import_s"] for r in runs if r["mode"] == mode) for mode in MODES}
    lines.append(f"| loading `function_app` | s | {imports['off']:.3f} | {imports['on']:.3f} (SDK loaded before) | | |")
    failed = [f"{r['mode']} {path}: {r[path]['failed']} requests failed" for r in runs for path in ("http", "queue")
              if r[path]["failed"]]
    failed += [f"off: OpenTelemetry was imported ({r['opentelemetry_modules_after']} modules)" for r in runs
               if r["mode"] == "off" and r["opentelemetry_modules_after"]]
    return "\n".join(lines), failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telemetry", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per path and run (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode (default 3)")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.requests)), flush=True)
        return 0
    runs, started = [], time.perf_counter()
    for round_ in range(args.rounds):
        for mode in (MODES if round_ % 2 == 0 else MODES[::-1]):
            runs.append(_run_child(mode, args.requests))
            print(f"round {round_ + 1} {mode}: http CPU p50 {runs[-1]['http']['cpu_ms_p50']:.2f} ms, "
                  f"queue CPU p50 {runs[-1]['queue']['cpu_ms_p50']:.2f} ms", file=sys.stderr, flush=True)
    table, failed = report(runs)
    print(table)
    print(f"\n{args.rounds} rounds × {args.requests} requests a path and mode; {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    for failure in failed:
        print(f"FAILED: {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
