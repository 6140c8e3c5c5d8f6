"""The floor under the broker's cold start for ``python -m bench.compare`` (row (d0)), a process of its own:
``python -m bench.compare.import_floor`` imports what any Functions app that does the broker's job with the libraries
it must use has to import before its first request (azure.functions, which the Python worker loads with the app;
msal, with requests under it; the Tables SDK with azure-core) and nothing of the app, then prints one JSON line in
broker_cold.py's form. Its time against the SDK's cold start is the smallest ratio (d) could reach.
"""
from __future__ import annotations

import time

perf_counter = time.perf_counter
STARTED = perf_counter()

import json  # noqa: E402 - timed from STARTED on
import sys  # noqa: E402

import azure.functions  # noqa: E402,F401

PLATFORM = perf_counter()

import msal  # noqa: E402,F401 - imports requests
import azure.data.tables  # noqa: E402,F401 - imports azure-core and urllib3


def main() -> int:
    sys.stdin.readline()  # the config line run_cold sends; nothing in it is used
    imported = perf_counter()
    print(json.dumps({"import_s": imported - STARTED, "functions_import_s": PLATFORM - STARTED, "setup_s": 0.0,
                      "first_s": 0.0, "created": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
