"""The result messages of one world in ``bench.reliability``: received, parsed and deleted (in the background when
live), and which of them end their request."""
from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from azure.core.exceptions import AzureError
from azure.storage.queue import QueueClient


class Results:
    """Every result message of one world: received, parsed, deleted; in the background when live."""

    def __init__(self, queue: QueueClient, *, background: bool) -> None:
        self.queue = queue
        self.items: list[dict[str, Any]] = []
        self.unreadable: list[str] = []    # not JSON, or not UTF-8 text
        self.too_large = 0                 # over the 64 KiB a queue message holds
        self.redelivered = 0               # the same message received again (our delete had failed)
        self.receive_errors: list[str] = []  # receives that failed (an outage; or a message that jams the queue)
        # Byte-identical copies of one result (same completedAt): one send that reached the queue twice, because the
        # storage SDK retried it when the connection broke as Azurite stopped. Not a second result of the app.
        self.copies: list[str] = []
        self._texts: set[str] = set()
        self._seen: set[str] = set()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="results-collector", daemon=True) if background else None
        if self._thread:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                got = self._poll()
            except AzureError as exc:  # storage outage: try again
                self.receive_errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                got = 0
            if not got:
                self._stop.wait(0.2)

    def _poll(self) -> int:
        batch = list(self.queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=30))
        for message in batch:
            text = message.content or ""
            with self._lock:
                if message.id in self._seen:  # its delete failed (storage outage) and the queue delivered it again
                    self.redelivered += 1
                    self._delete(message)
                    continue
                self._seen.add(message.id)
                if text in self._texts:  # the very same result twice: a send retried by the storage SDK
                    self.copies.append(text[:160])
                    self._delete(message)
                    continue
                self._texts.add(text)
                if len(text.encode("utf-8", "surrogatepass")) > 64 * 1024:
                    self.too_large += 1
                try:
                    text.encode("utf-8")
                    self.items.append(json.loads(text))
                except (UnicodeEncodeError, ValueError):
                    self.unreadable.append(text[:200])
            self._delete(message)
        return len(batch)

    def _delete(self, message: Any) -> None:
        try:
            self.queue.delete_message(message)
        except AzureError:
            pass  # delivered again after its visibility timeout, and recognised by its id then

    def pending(self) -> int:
        return self.queue.get_queue_properties().approximate_message_count or 0

    def collect(self) -> None:
        """Take whatever is in the queue now (both modes)."""
        try:
            while self._poll():
                pass
        except AzureError as exc:
            self.receive_errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def by_correlation(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for item in self.items:
                grouped.setdefault(str(item.get("correlationId")), []).append(item)
        return grouped

    def statuses(self) -> Counter:
        with self._lock:
            return Counter(str(item.get("status")) for item in self.items)


def is_final(result: dict[str, Any]) -> bool:
    """A result that ends its request: anything but a failure the caller is told to retry."""
    return result.get("status") != "failed" or not bool((result.get("error") or {}).get("retryable"))
