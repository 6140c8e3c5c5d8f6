"""`python -m localdev run [--port 7071] [--fresh] [--trace console|otlp]`: the app on local stand-ins, for machines
without Core Tools.

Starts Azurite (persisted in .localdev/azurite), the local Graph emulator when no tenant is configured, and the local
Functions host serving function_app.py on 127.0.0.1; writes .localdev/env.json for other local tools; Ctrl-C stops all.
Result callbacks may go to a receiver on this machine (127.0.0.1 and ::1 listed, plain http allowed for them), signed
with the secret in .localdev/callback-signing-secret, made on the first run. With Core Tools installed, `func start`
is the real way to run the app.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from shared.domain.callbacks import new_signing_secret

from .host import LocalHostError
from .settings_file import is_configured, is_placeholder, merged_settings
from .world import APP_DEFAULTS, LocalWorld

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where Azurite's data, the emulator's CA and env.json live; LOCALDEV_STATE_DIR moves it (the tests use a temp dir).
STATE_DIR = Path(os.environ.get("LOCALDEV_STATE_DIR") or REPO_ROOT / ".localdev")
ENV_FILE = STATE_DIR / "env.json"
CALLBACK_SECRET_FILE = STATE_DIR / "callback-signing-secret"
log = logging.getLogger("localdev")


class _Shutdown(BaseException):
    """SIGTERM or SIGINT arrived: unwind and stop everything."""


EMULATOR_DEFAULTS = {"CALENDAR_MODE": "enabled", "MEETING_ARTIFACTS": "attendanceAndTranscripts",
                     "ATTENDANCE_DELAY_MINUTES": "1"}
TIMER_SECONDS = 15.0

def _on_signal(signum: int, _frame: Any) -> None:
    # Ignore further signals while stopping, so a second Ctrl-C cannot orphan Azurite.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Shutdown(signum)


def _banner(world: LocalWorld) -> str:
    host, emulator = world.host, world.emulator
    assert host is not None
    lines = ["", "Teams Meeting Broker is running locally (local Functions host; `func start` is the way with Core Tools).",
             "", "HTTP functions:"]
    for route in sorted(host.http_routes, key=lambda r: r.template):
        lines.append(f"  {route.spec.name}: [{','.join(sorted(route.methods))}] {host.base_url}{route.display_path}")
    queue_functions = host.queue_functions
    if queue_functions:
        lines += ["", "Queue functions:"]
        lines += [f"  {spec.name}: queue {spec.trigger['queueName']}" for spec in queue_functions]
    lines += ["", f"Storage: Azurite; connection string and endpoints in {_shown(ENV_FILE)}"]
    allowed = world.settings.get("CALLBACK_ALLOWED_HOSTS")
    if allowed:
        kept = CALLBACK_SECRET_FILE.exists() and CALLBACK_SECRET_FILE.read_text(encoding="utf-8").strip() == \
            world.settings.get("CALLBACK_SIGNING_SECRETS")
        lines.append(f"Result callbacks: to {allowed}; signed with CALLBACK_SIGNING_SECRETS"
                     + (f" (kept in {_shown(CALLBACK_SECRET_FILE)})" if kept else ""))
    if emulator is not None:
        lines.append(f"Graph emulator: {emulator.url} (CA {emulator.ca_bundle})")
    lines += ["", "Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def run(port: int, fresh: bool) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with contextlib.ExitStack() as stack:
        try:
            if fresh:
                shutil.rmtree(STATE_DIR / "azurite", ignore_errors=True)
            if str(REPO_ROOT) not in sys.path:
                sys.path.insert(0, str(REPO_ROOT))
            # The app reads its settings lazily (first request) from the environment: the world exports them.
            # Against the emulator, calendar-backed meetings are on (its app may write alice's and bob's calendars),
            # and so are attendance and transcripts, collected a minute after an occurrence ends (the timer runs every
            # TIMER_SECONDS here, not every five minutes).
            defaults = {**APP_DEFAULTS, **({} if is_configured("GRAPH_TENANT_ID") else EMULATOR_DEFAULTS)}
            world = LocalWorld(app=_import_app, settings=with_local_callbacks(merged_settings(defaults)),
                               state_dir=STATE_DIR,
                               persist_storage=True, export_settings=True, http_port=port, queue_workers=True,
                               timer_interval=TIMER_SECONDS)
            try:
                stack.enter_context(world)
            except OSError as exc:
                raise SystemExit(f"cannot listen on 127.0.0.1:{port} ({exc}); choose another with --port") from exc
            except LocalHostError as exc:
                raise SystemExit(f"the local host cannot serve function_app.py: {exc}") from exc
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            ENV_FILE.write_text(json.dumps(world.describe(), indent=2) + "\n", encoding="utf-8")
            stack.callback(ENV_FILE.unlink, missing_ok=True)
            print(_banner(world), flush=True)
            threading.Event().wait()
        except (_Shutdown, KeyboardInterrupt):
            print("\nStopping...", flush=True)
    return 0


def with_local_callbacks(settings: dict[str, str]) -> dict[str, str]:
    """Local runs only: callbacks to this machine's loopback addresses unless the settings name other hosts, signed
    with the secret the settings name, else one kept in the state folder (made once, readable by its owner only)."""
    settings = dict(settings)
    if "CALLBACK_ALLOWED_HOSTS" not in settings:
        settings["CALLBACK_ALLOWED_HOSTS"] = "127.0.0.1,::1"
    if is_placeholder(settings.get("CALLBACK_SIGNING_SECRETS", "")):
        if not CALLBACK_SECRET_FILE.exists():
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            CALLBACK_SECRET_FILE.touch(mode=0o600)
            CALLBACK_SECRET_FILE.write_text(new_signing_secret() + "\n", encoding="utf-8")
        settings["CALLBACK_SIGNING_SECRETS"] = CALLBACK_SECRET_FILE.read_text(encoding="utf-8").strip()
    return settings


def _import_app() -> Any:
    """function_app as a normal import (after the world exported the settings)."""
    return importlib.import_module("function_app").app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the app locally on Azurite (and the Graph emulator)")
    run_parser.add_argument("--port", type=int, default=7071, help="HTTP port on 127.0.0.1 (default 7071)")
    run_parser.add_argument("--fresh", action="store_true", help="wipe the persisted Azurite data first")
    run_parser.add_argument("--trace", choices=("console", "otlp"),
                            help="show each request's trace: spans printed as they end, or sent to the OTLP endpoint "
                                 "OTEL_EXPORTER_OTLP_ENDPOINT names (default http://localhost:4318)")
    args = parser.parse_args(argv)
    if args.trace:  # read by the app when it loads (shared/adapters/telemetry.py), as in Azure app settings
        os.environ["OTEL_TRACES_EXPORTER"] = args.trace
    return run(args.port, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
