"""A result-callback receiver on 127.0.0.1, for local runs, the end-to-end tests and the benchmarks: each POST is
verified with the Standard Webhooks library as a receiver in the field would (``Webhook(secret).verify``), recorded,
and answered as the ``answer`` policy says (a status, after an optional delay; 0: the connection is closed without
an answer)."""
from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from standardwebhooks import Webhook, WebhookVerificationError

# (webhook-id, how many times this webhook-id was received, this time included) -> the status to answer
Answer = Callable[[str, int], int]


@dataclass(frozen=True)
class Received:
    webhook_id: str
    body: bytes
    verified: bool        # the signature verified with the receiver's secret
    status: int           # what the receiver answered
    path: str
    headers: dict[str, str]  # names lowercased


class CallbackReceiver(http.server.ThreadingHTTPServer):
    """Serves on 127.0.0.1 (a free port) until ``stop``; ``received`` lists every POST in arrival order and
    ``wait_for(predicate, timeout)`` waits (on a condition, not by polling) until the list satisfies it."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, secret: str, answer: Answer = lambda webhook_id, seen: 200, *, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.webhook = Webhook(secret)
        self.answer, self.delay = answer, delay
        self.received: list[Received] = []
        self._seen: dict[str, int] = {}
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self.serve_forever, name="callback-receiver", daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def record(self, headers: dict[str, str], body: bytes, verified: bool, path: str) -> int:
        webhook_id = headers.get("webhook-id", "")
        with self._changed:
            seen = self._seen[webhook_id] = self._seen.get(webhook_id, 0) + 1
            status = self.answer(webhook_id, seen)
            self.received.append(Received(webhook_id, body, verified, status, path, headers))
            self._changed.notify_all()
        return status

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.received), timeout=timeout)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> "CallbackReceiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: CallbackReceiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            self.server.webhook.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        if self.server.delay:
            time.sleep(self.server.delay)  # a receiver that takes its time (the benchmark's 100 ms)
        status = self.server.record(headers, body, verified, self.path)
        if status == 0:  # no answer at all: the sender sees the connection closed
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass
