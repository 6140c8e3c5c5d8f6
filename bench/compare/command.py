"""The command that sets the broker side by side with msgraph-sdk and the plain SDK implementation:
``python -m bench.compare [--quick]``.

Also ``python -m bench.run --compare-sdk``. Runs the measures (a)-(g), (q) and (r) of measures.py in one CompareWorld,
writes the table, every sample and the chart to ``bench/results/compare-<UTC>.{md,json,png}`` and exits 1 when a goal
is not met. See bench/README.md, "Side by side with msgraph-sdk and the plain SDK implementation".
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..common import REPO_ROOT, machine
from .measures import BlockFailed, cold_starts, latency_blocks, queue_at_latency, rate_limited
from .report import build_rows, chart_data, report_markdown
from .sdk_venv import VenvError, ensure_venv, machine_ticks, render_chart, steal_percent
from .stats import markdown, missed
from .world import CompareWorld

MODES: dict[str, dict[str, Any]] = {
    # ~15 minutes on 2 cores once the venv exists (more when queue invocations fail: each waits out host.json's
    # 30-second visibility timeout)
    "full": {"reps": 5, "calls": 500, "warmup": 30, "cold_reps": 5, "queue_reps": 3, "queue_messages": 400,
             "rate_seconds": 10, "rates": (20, 50)},
    # a few minutes: the same measures on small sizes, 3 repetitions
    "quick": {"reps": 3, "calls": 100, "warmup": 10, "cold_reps": 3, "queue_reps": 3, "queue_messages": 100,
              "rate_seconds": 5, "rates": (20, 50)},
}
QUEUE_LATENCY_S = 0.1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small blocks, 3 repetitions (a few minutes)")
    parser.add_argument("--reps", type=int, help="repetitions of each alternating measure (at least 3)")
    parser.add_argument("--calls", type=int, help="calls per latency block")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results",
                        help="where compare-<UTC>.md/.json/.png go (default bench/results, git-ignored)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an app setting for the broker (repeatable), e.g. MONTHLY_MEETING_LIMIT=0")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.setting if "=" in item)
    if len(settings) != len(args.setting):
        parser.error("--setting takes NAME=VALUE")
    mode = dict(MODES["quick" if args.quick else "full"])
    if args.reps is not None:
        mode["reps"] = mode["cold_reps"] = mode["queue_reps"] = args.reps
    if args.calls is not None:
        mode["calls"] = args.calls
    if mode["reps"] < 3:
        parser.error("--reps must be at least 3 (min–max over fewer says little)")

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    def measured(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The measure's data, with the share of the machine's CPU time the hypervisor stole meanwhile."""
        before = machine_ticks()
        result = measure()
        return {**result, "steal_percent": steal_percent(before, machine_ticks())}

    started = time.perf_counter()
    try:
        sdk_python = ensure_venv()
    except VenvError as exc:
        print(f"compare-sdk: {exc}", file=sys.stderr)
        return 1
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / f"compare-{stamp}"
    data: dict[str, Any] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "mode": "quick" if args.quick else "full", "settings": mode, "app_settings": settings,
                            "machine": machine(),
                            "load_before": os.getloadavg()}
    run_ticks = machine_ticks()
    log_path = base.with_suffix(".log")
    try:
        with contextlib.ExitStack() as stack, log_path.open("w") as log:
            world = CompareWorld(stack, sdk_python, log, settings)
            data["sdk_versions"] = world.sdk.ready.get("versions")
            progress("world up: emulator, Azurite, local host, SDK worker")
            data["latency"] = measured(lambda: latency_blocks(world, mode["reps"], mode["calls"], mode["warmup"],
                                                              progress))
            data["cold"] = measured(lambda: cold_starts(world, mode["cold_reps"], sdk_python, progress))
            data["queue"] = measured(lambda: queue_at_latency(world, mode["queue_reps"], mode["queue_messages"],
                                                              QUEUE_LATENCY_S, progress))
            data["rates"] = [measured(lambda: rate_limited(world, mode["queue_reps"], rate, mode["rate_seconds"],
                                                           progress))
                             for rate in mode["rates"]]
    except BlockFailed as exc:
        print(f"compare-sdk: a measured block failed, no table: {exc} (log: {log_path})", file=sys.stderr)
        return 1
    data["load_after"] = os.getloadavg()
    data["steal_percent"] = steal_percent(run_ticks, machine_ticks())
    data["total_s"] = round(time.perf_counter() - started, 1)
    rows = build_rows(data)
    data["rows"] = rows
    data["chart"] = chart_data(data)
    table = markdown(rows)
    base.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    base.with_suffix(".md").write_text(report_markdown(data, table) + "\n")
    if not args.no_chart:
        render_chart(sdk_python, base.with_suffix(".json"), base.with_suffix(".png"))
    log_path.unlink(missing_ok=True) if log_path.stat().st_size == 0 else None
    print(report_markdown(data, table))
    print(f"\nwritten: {base.with_suffix('.md')}, .json" + ("" if args.no_chart else ", .png"))
    failed = missed(rows)
    if failed:
        print("goals not met: " + "; ".join(failed))
        return 1
    print(f"every goal met ({data['total_s']} s)")
    return 0

