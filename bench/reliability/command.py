"""The reliability proof's command, nothing lost under hostile input and concurrency: ``python -m bench.reliability``.

    python -m bench.reliability [--quick] [--requests N] [--fuzz-http N] [...] [--skip PHASE] [--keep-log]

Runs the phases in one rig (faults, bursts, fuzz, schemathesis, races; log hygiene last, whatever ran), prints the
ledger, writes it with the log to bench/results/, exits 1 when a check fails. See bench/README.md, "Reliability".
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import hypothesis

from ..common import REPO_ROOT
from .bursts import bursts
from .faults import fault_run
from .fuzz import fuzz
from .ledger import Ledger
from .logs import LogCapture, check as check_logs
from .races import races
from .rig import FULL, QUICK, RealTime, Rig, Sizes, SteppedTime
from .schema import ensure_venv, schemathesis

RESULTS = REPO_ROOT / "bench" / "results"
PHASES = ("faults", "bursts", "fuzz", "schemathesis", "races")


def run(sizes: Sizes, *, live: bool = True, log_path: Path, phases: tuple[str, ...] = PHASES,
        progress: Callable[[str], None] = lambda text: None) -> Ledger:
    """Run the phases against a fresh local world; the ledger of what was found. ``live``: queue workers and real
    time (the command); otherwise host.drain() and stepped time (the fast test)."""
    ledger = Ledger()
    if "schemathesis" in phases and sizes.schemathesis > 0:
        # Installed (on first use) before the world starts: pip sees the user's own environment as it is, not the
        # variables the world sets for the app (the world's REQUESTS_CA_BUNDLE keeps the user's CAs, but pip needs
        # none of the world).
        ensure_venv(REPO_ROOT)
    clock = RealTime() if live else SteppedTime()
    run_id = uuid.uuid4().hex[:6]
    with LogCapture(log_path) as capture, tempfile.TemporaryDirectory(prefix="reliability-") as state_dir, \
            contextlib.ExitStack() as stack:
        rig = Rig(stack, sizes, clock, Path(state_dir))
        rig.failed = capture.failed.counts
        steps: list[tuple[str, Callable[[], None]]] = [
            ("faults", lambda: fault_run(rig, ledger, run_id)),
            ("bursts", lambda: bursts(rig, ledger, run_id)),
            ("fuzz", lambda: fuzz(rig, ledger, run_id)),
            ("schemathesis", lambda: schemathesis(rig, ledger, REPO_ROOT)),
            ("races", lambda: races(rig, ledger, run_id)),
        ]
        seconds = {}
        for name, step in steps:
            if name in phases:
                began = time.monotonic()
                progress(f"{name} ...")
                step()
                seconds[name] = round(time.monotonic() - began, 1)
        issued = rig.emulator.state.issued_secrets()
        identity_header = rig.emulator.identity_header
        stack.close()
        progress("log hygiene ...")
        check_logs(ledger, capture, issued, identity_header, capture.failed.counts)
    for name, value in seconds.items():
        ledger.note("Wall time", f"phase {name} (s)", value)
    return ledger


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a couple of minutes)")
    for field in fields(Sizes):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=None,
                            help=f"default {getattr(FULL, field.name)} ({getattr(QUICK, field.name)} with --quick)")
    parser.add_argument("--skip", action="append", default=[], choices=PHASES, help="leave a phase out")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the ledger and the log go")
    parser.add_argument("--keep-log", action="store_true",
                        help="keep the DEBUG log of the run (kept anyway when a log-hygiene check fails)")
    return parser.parse_args(argv)


def _revision() -> str:
    """The commit of the app, and whether its files differ from it (read-only git commands)."""
    def git(*words: str) -> str:
        try:
            return subprocess.run(["git", *words], cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "shared", "function_app.py", "host.json")
    return commit + (f" + {len(changed.splitlines())} uncommitted file(s) of the app" if changed else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    sizes = replace(sizes, **{f.name: getattr(args, f.name) for f in fields(Sizes) if getattr(args, f.name) is not None})
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / f"reliability-{stamp}.log"
    began = time.monotonic()
    ledger = run(sizes, log_path=log_path, phases=tuple(p for p in PHASES if p not in args.skip),
                 progress=lambda text: print(f"[{time.monotonic() - began:6.1f} s] {text}", file=sys.stderr,
                                             flush=True))
    wall = time.monotonic() - began
    ledger.note("Wall time", "whole run (s)", round(wall, 1))
    head = (f"## Reliability ledger, {stamp}\n\n`python -m bench.reliability"
            f"{' ' + ' '.join(argv if argv is not None else sys.argv[1:])}` on {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, hypothesis {hypothesis.__version__}; app at {_revision()}; sizes: "
            f"{', '.join(f'{f.name}={getattr(sizes, f.name)}' for f in fields(Sizes))}\n")
    verdict = "all checks passed" if ledger.ok else f"{len(ledger.failed)} check(s) FAILED"
    text = f"{head}\n{ledger.markdown()}\n\n{verdict}; whole run {wall:.0f} s\n"
    print(text)
    hygiene_failed = any(row.section.startswith("5.") for row in ledger.failed)
    if not (args.keep_log or hygiene_failed):
        log_path.unlink(missing_ok=True)  # scanned and clean; hundreds of MB at full size (--keep-log keeps it)
    (args.out / f"reliability-{stamp}.md").write_text(text, encoding="utf-8")
    (args.out / f"reliability-{stamp}.json").write_text(json.dumps(
        {"date": stamp, "sizes": {f.name: getattr(sizes, f.name) for f in fields(Sizes)}, "ok": ledger.ok,
         "wall_s": round(wall, 1), "rows": ledger.as_json()}, indent=2) + "\n", encoding="utf-8")
    return 0 if ledger.ok else 1

