"""``python -m localdev.emulator [--workdir DIR] [--port N] [--no-seed]``: run the emulator on its own until Ctrl-C.

Prints one JSON line with its addresses (never the identity header, which comes from
GRAPH_EMULATOR_IDENTITY_HEADER or is random)."""
from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from . import DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, GraphEmulator

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_WORKDIR = REPO_ROOT / ".localdev" / "graph-emulator"
IDENTITY_HEADER_ENV = "GRAPH_EMULATOR_IDENTITY_HEADER"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where the local CA/cert live")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-seed", action="store_true", help="start with an empty directory")
    args = parser.parse_args(argv)
    emulator = GraphEmulator(args.workdir, args.port, seed=not args.no_seed,
                             identity_header=os.environ.get(IDENTITY_HEADER_ENV) or None)
    emulator.start()
    # Addresses only: the identity header comes from the environment (or is random) and is never printed.
    print(json.dumps({"url": emulator.url, "ca_bundle": str(emulator.ca_bundle),
                      "identity_endpoint": emulator.identity_endpoint, "tenant_id": DEFAULT_TENANT_ID,
                      "client_id": DEFAULT_CLIENT_ID}), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
