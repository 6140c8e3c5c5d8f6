"""The broker's cold start for ``python -m bench.compare`` (measure (d)), a process of its own:
``python -m bench.compare.broker_cold`` with ``{"body": ...}`` on stdin imports function_app, builds the container from
the app settings in its environment, serves one ``POST /api/meetings`` by calling the HTTP function, and prints one
JSON line with the time of each stage. See bench/README.md, "(d) cold start".
"""
from __future__ import annotations

import time

perf_counter = time.perf_counter
STARTED = perf_counter()

import json  # noqa: E402 - timed from STARTED on
import sys  # noqa: E402

import azure.functions as func  # noqa: E402

PLATFORM = perf_counter()  # in Azure the Python worker has imported azure.functions before it loads the app

import function_app  # noqa: E402
from shared import bootstrap  # noqa: E402


class Out(func.Out):
    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, val: str) -> None:
        self.value = val

    def get(self) -> str | None:
        return self.value


def main() -> int:
    config = json.loads(sys.stdin.readline())
    imported = perf_counter()
    bootstrap.get_container()  # what the first invocation does first: settings, clients, the table made ready
    built = perf_counter()
    request = func.HttpRequest("POST", "http://127.0.0.1/api/meetings", headers={"Content-Type": "application/json"},
                               body=json.dumps(config["body"]).encode())
    response = function_app.create_meeting(request, Out(), Out(), Out())
    done = perf_counter()
    print(json.dumps({"import_s": imported - STARTED, "functions_import_s": PLATFORM - STARTED,
                      "setup_s": built - imported, "first_s": done - built,
                      "created": response.status_code == 201, "status": response.status_code}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
