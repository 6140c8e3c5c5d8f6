"""`python -m localdev run [--port 7071] [--fresh]`: the app on local stand-ins, for machines without Core Tools.

Starts Azurite (persisted in .localdev/azurite), the local Graph emulator when no tenant is configured, and the local
Functions host serving function_app.py on 127.0.0.1; writes .localdev/env.json for other local tools; Ctrl-C stops all.
With Core Tools installed, `func start` is the real way to run the app.
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

from .azurite import Azurite
from .host import LocalFunctionsHost
from .settings_file import LOCAL_SETTINGS, is_configured, merged_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where Azurite's data, the emulator's CA and env.json live; LOCALDEV_STATE_DIR moves it (the tests use a temp dir).
STATE_DIR = Path(os.environ.get("LOCALDEV_STATE_DIR") or REPO_ROOT / ".localdev")
ENV_FILE = STATE_DIR / "env.json"
APP_DEFAULTS = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "MEETINGS_TABLE": "meetings",
    "MEETING_REQUESTS_QUEUE": "meeting-requests",
    "MEETING_RESULTS_QUEUE": "meeting-results",
}
log = logging.getLogger("localdev")


class _Shutdown(BaseException):
    """SIGTERM or SIGINT arrived: unwind and stop everything."""


def _on_signal(signum: int, _frame: Any) -> None:
    # Ignore further signals while stopping, so a second Ctrl-C cannot orphan Azurite.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Shutdown(signum)


def _uses_development_storage(value: str | None) -> bool:
    return not value or value.replace(" ", "").rstrip(";").lower() == "usedevelopmentstorage=true"


def _start_graph_emulator(stack: contextlib.ExitStack, settings: dict[str, str]) -> Any:
    """Start the local Graph/identity emulator and point the app's GRAPH_* settings at it."""
    try:
        from .graph_emulator import GraphEmulator
    except ImportError as exc:
        raise SystemExit(
            f"No GRAPH_TENANT_ID is configured and the local Graph emulator cannot be loaded ({exc}). Set GRAPH_* in "
            f"{LOCAL_SETTINGS.name} or the environment to use a real tenant."
        ) from exc
    emulator = GraphEmulator(STATE_DIR / "emulator", port=0).start()
    stack.callback(emulator.stop)
    emulator_settings = emulator.app_settings()
    settings.setdefault("ALLOWED_ORGANIZERS", emulator_settings.pop("ALLOWED_ORGANIZERS"))
    settings.update({"REQUESTS_CA_BUNDLE": str(emulator.ca_bundle), **emulator_settings})
    return emulator


def _write_env_file(host: LocalFunctionsHost, azurite: Azurite, settings: dict[str, str], emulator: Any) -> None:
    """Where everything listens, for the README's snippets and the e2e tests; removed again on exit."""
    document = {
        "baseUrl": host.base_url,
        "storageConnectionString": settings["AzureWebJobsStorage"],
        "azuriteQueueEndpoint": azurite.endpoint("queue"),
        "azuriteTableEndpoint": azurite.endpoint("table"),
        "meetingRequestsQueue": settings["MEETING_REQUESTS_QUEUE"],
        "meetingResultsQueue": settings["MEETING_RESULTS_QUEUE"],
        "meetingsTable": settings["MEETINGS_TABLE"],
        "graphEmulatorUrl": emulator.url if emulator else None,
        "caBundle": str(emulator.ca_bundle) if emulator else None,
        "graphBaseUrl": settings.get("GRAPH_BASE_URL"),
        "authorityHost": settings.get("GRAPH_AUTHORITY_HOST"),
    }
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    ENV_FILE.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _banner(host: LocalFunctionsHost, emulator: Any) -> str:
    lines = ["", "Teams Meeting Broker is running locally (local Functions host; `func start` is the way with Core Tools).",
             "", "HTTP functions:"]
    for route in sorted(host.http_routes, key=lambda r: r.template):
        lines.append(f"  {route.spec.name}: [{','.join(sorted(route.methods))}] {host.base_url}{route.display_path}")
    queue_functions = host.queue_functions
    if queue_functions:
        lines += ["", "Queue functions:"]
        lines += [f"  {spec.name}: queue {spec.trigger['queueName']}" for spec in queue_functions]
    lines += ["", f"Storage: Azurite; connection string and endpoints in {_shown(ENV_FILE)}"]
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
            azurite = Azurite(location=STATE_DIR / "azurite").start()
            stack.callback(azurite.stop)

            settings = merged_settings(APP_DEFAULTS)
            emulator = None
            if not is_configured("GRAPH_TENANT_ID"):
                emulator = _start_graph_emulator(stack, settings)
            if _uses_development_storage(settings.get("AzureWebJobsStorage")):
                settings["AzureWebJobsStorage"] = azurite.connection_string

            # The app reads its settings lazily (first request), so they must be in the environment before import.
            os.environ.update(settings)
            if str(REPO_ROOT) not in sys.path:
                sys.path.insert(0, str(REPO_ROOT))
            app = importlib.import_module("function_app").app
            host_json = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
            host = LocalFunctionsHost(app, env=settings, host_json=host_json,
                                      storage_connection_string=settings["AzureWebJobsStorage"], http_port=port)
            try:
                host.start(run_queue_workers=True)
            except OSError as exc:
                raise SystemExit(f"cannot listen on 127.0.0.1:{port} ({exc}); choose another with --port") from exc
            stack.callback(host.stop)

            _write_env_file(host, azurite, settings, emulator)
            stack.callback(ENV_FILE.unlink, missing_ok=True)
            print(_banner(host, emulator), flush=True)
            threading.Event().wait()
        except (_Shutdown, KeyboardInterrupt):
            print("\nStopping...", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the app locally on Azurite (and the Graph emulator)")
    run_parser.add_argument("--port", type=int, default=7071, help="HTTP port on 127.0.0.1 (default 7071)")
    run_parser.add_argument("--fresh", action="store_true", help="wipe the persisted Azurite data first")
    args = parser.parse_args(argv)
    return run(args.port, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
