"""The two queues of result callbacks (issue 21) as ``usecases.deliver`` uses them: the next attempt of a delivery
sent to MEETING_CALLBACKS_QUEUE, visible after the retry schedule's delay (an output binding cannot delay), and the
record of a delivery whose every attempt failed sent to MEETING_CALLBACKS_FAILED_QUEUE. Plain text, as host.json's
``messageEncoding: none`` has the trigger read it. A storage failure raises StorageUnavailable: the attempt's own
message is then not completed, and the host hands it out again."""
from __future__ import annotations

import threading
from typing import Any, Callable

from azure.core.exceptions import AzureError

from shared.domain.callbacks import CallbackDelivery
from shared.domain.errors import StorageUnavailable


class CallbackQueues:
    """``requeue(delivery, delay)``, ``dead_letter(text)`` and ``send(queue, text, doing)``; ``client_for(queue_name)``
    makes a queue client (on first use: most processes never retry a delivery)."""

    def __init__(self, client_for: Callable[[str], Any], queue: str, failed_queue: str) -> None:
        self._client_for = client_for
        self._queue, self._failed_queue = queue, failed_queue
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def requeue(self, delivery: CallbackDelivery, delay: int) -> None:
        """The next attempt, visible ``delay`` seconds from now (0: at once)."""
        self._send(self._queue, delivery.to_json(), delay or None, "re-queue the callback delivery")

    def dead_letter(self, text: str) -> None:
        self._send(self._failed_queue, text, None, "keep the failed callback delivery")

    def send(self, queue: str, text: str, doing: str) -> None:
        """``text`` to ``queue`` (of the same account), visible at once; StorageUnavailable naming what failed."""
        self._send(queue, text, None, doing)

    def _send(self, queue: str, text: str, delay: int | None, doing: str) -> None:
        with self._lock:
            client = self._clients.get(queue)
            if client is None:
                client = self._clients[queue] = self._client_for(queue)
        try:
            client.send_message(text, visibility_timeout=delay)
        except AzureError as exc:
            raise StorageUnavailable(f"could not {doing} ({type(exc).__name__})") from None
