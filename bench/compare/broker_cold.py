"""The broker's cold start for ``python -m bench.compare``: a new process imports function_app, builds its container
from the app settings in its environment (as a Functions worker does on its first invocation) and serves one
``POST /api/meetings`` by calling the HTTP function itself; it prints one JSON line with the time of each stage.

    python -m bench.compare.broker_cold      # stdin: {"organizer", "external_id", "body"} (one line)

The token is a real one from the stand-in (MSAL: OpenID discovery, then the token endpoint); the table (made by the
benchmark's world, as the template makes it in Azure) is read and written as on any first request. The app's modules
load from the bytecode the prepackage hook compiles for the package (``localdev.bytecode``). The result message the
host would send is not sent.
"""
from __future__ import annotations

import time

perf_counter = time.perf_counter
STARTED = perf_counter()

import json  # noqa: E402 - timed from STARTED on
import sys  # noqa: E402

import azure.functions as func  # noqa: E402

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
    response = function_app.create_meeting(request, Out(), Out())
    done = perf_counter()
    print(json.dumps({"import_s": imported - STARTED, "setup_s": built - imported, "first_s": done - built,
                      "created": response.status_code == 201, "status": response.status_code}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
