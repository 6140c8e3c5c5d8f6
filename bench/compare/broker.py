"""The broker's side of a ``python -m bench.compare`` repetition: a LocalWorld (in-memory Azurite, the local Functions
host serving function_app.py) with the app container installed, its HTTP client and queues, and the queue run; plus
the instruments the measures use (time spent waiting on storage, CPU per process)."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import requests
from azure.core.exceptions import ResponseNotReadError
from azure.core.pipeline.transport import RequestsTransport

from localdev.host_workers import QueueListener
from localdev.world import LocalWorld
from shared.adapters.transport import Urllib3Transport
from shared.usecases import Deps

from ..common import take_json_messages

Cpu = Callable[[], dict[str, float | None]]


class Broker:
    """One repetition's broker world; a context manager that closes its clients (the LocalWorld is closed by the
    caller)."""

    def __init__(self, local: LocalWorld, deps: Deps) -> None:
        assert local.host is not None
        self.local, self.host, self.settings, self.deps = local, local.host, local.settings, deps
        self.http = requests.Session()
        self.http.trust_env = False  # plain HTTP to the local host: no proxy
        self.url = self.host.base_url + "/api/meetings"
        self.requests_queue = local.queue("MEETING_REQUESTS_QUEUE")
        self.results_queue = local.queue("MEETING_RESULTS_QUEUE")

    def __enter__(self) -> "Broker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.requests_queue.close()
        self.results_queue.close()

    def azurite_pid(self) -> int | None:
        process = getattr(self.local.azurite, "_process", None)
        return process.pid if process is not None else None

    def concurrency(self) -> int:
        """How many queue invocations the local host runs at once: its worker pool, with at most batchSize +
        newBatchThreshold messages in flight."""
        options = self.host.queues.options
        assert self.host.pool is not None
        return min(self.host.pool.size, options.batch_size + options.new_batch_threshold)

    def intake_spec(self) -> Any:
        name = self.settings["MEETING_REQUESTS_QUEUE"]
        return next(s for s in self.host.queue_functions if s.trigger["queueName"] == name)

    def drain_results(self) -> list[dict[str, Any]]:
        """Every result message now in the results queue (received and deleted)."""
        return take_json_messages(self.results_queue)

    def run_queue(self, bodies: list[dict[str, Any]], deadline_s: float, cpu: Cpu) -> dict[str, Any]:
        """Send the messages, then start a queue listener as the host runs it (batchSize, newBatchThreshold, the
        worker pool, host.json's visibility timeout for a failed invocation) and time it until every message's
        invocation has returned normally (its output written) or the deadline passes. Completion times are seconds
        from the listener's start; ``retried``: invocations that failed (the message came back after the
        visibility timeout)."""
        self.results_queue.clear_messages()
        for body in bodies:
            self.requests_queue.send_message(json.dumps(body))
        spec, queues, clock = self.intake_spec(), self.host.queues, time.perf_counter
        completions: list[float] = []
        invocations = [0]
        finished = threading.Condition()
        flush, invoke = queues.flush_outputs, queues.invoke

        def flush_and_count(function_spec: Any, outs: Any, result: Any) -> int:
            sent = flush(function_spec, outs, result)
            if function_spec.name == spec.name:
                with finished:
                    completions.append(clock() - started)
                    finished.notify_all()
            return sent

        def invoke_and_count(*args: Any) -> tuple[bool, Callable[[], None]]:
            invoked, settle = invoke(*args)
            with finished:
                invocations[0] += int(invoked)
            return invoked, settle

        stop = threading.Event()
        assert self.host.pool is not None
        listener = QueueListener(queues, spec, self.host.pool, 2.0, stop)
        queues.flush_outputs = flush_and_count  # type: ignore[method-assign]
        queues.invoke = invoke_and_count  # type: ignore[method-assign]
        cpu_before = cpu()
        started = clock()
        try:
            listener.start()
            with finished:
                finished.wait_for(lambda: len(completions) >= len(bodies), timeout=deadline_s)
            wall = max(completions) if len(completions) >= len(bodies) else clock() - started
        finally:
            stop.set()
            listener.join(timeout=60)
            del queues.flush_outputs, queues.invoke
        cpu_after = cpu()
        ids = {body["correlationId"] for body in bodies}
        final = {r["correlationId"]: r["status"] for r in self.drain_results() if r.get("correlationId") in ids}
        succeeded = sum(1 for cid in ids if final.get(cid) in ("created", "existing"))
        statuses = list(final.values())
        return {"wall": wall, "completions": sorted(completions), "failed": len(ids) - succeeded,
                "invocations": invocations[0], "retried": invocations[0] - len(completions),
                "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
                "cpu": cpu_delta(cpu_before, cpu_after, wall)}


def _body_size(request: Any) -> int:
    body = getattr(request, "body", None) or getattr(request, "content", None) or b""
    return len(body.encode() if isinstance(body, str) else body) if isinstance(body, (bytes, str)) else 0


class StorageWait:
    """While active: the time this process's Azure SDK clients (tables, queues: the app's transport over urllib3, and
    azure-core's requests transport that the local host's own clients use) spend waiting for Azurite to answer, how
    many requests they make, and their bytes (request bodies sent, response bodies as read by the SDK, counted on
    leaving). Graph and token calls go through other sessions and are not counted."""

    TRANSPORTS = (Urllib3Transport, RequestsTransport)

    def __init__(self) -> None:
        self.seconds, self.calls, self.sent, self.received = 0.0, 0, 0, 0
        self._responses: list[Any] = []
        self._lock = threading.Lock()
        self._sends: dict[type, Any] = {}

    def __enter__(self) -> "StorageWait":
        for transport in self.TRANSPORTS:
            self._sends[transport] = transport.send
            transport.send = self._timed(transport.send)  # type: ignore[method-assign]
        return self

    def _timed(self, send: Any) -> Any:
        clock, spans = time.perf_counter, self

        def timed(transport: Any, request: Any, **kwargs: Any) -> Any:
            began, response = clock(), None
            try:
                response = send(transport, request, **kwargs)
                return response
            finally:
                with spans._lock:
                    spans.seconds += clock() - began
                    spans.calls += 1
                    spans.sent += _body_size(request)
                    if response is not None:
                        spans._responses.append(response)

        return timed

    def __exit__(self, *exc: object) -> None:
        for transport, send in self._sends.items():
            transport.send = send  # type: ignore[method-assign]
        for response in self._responses:  # a body once read; a streamed one never read counts nothing
            try:
                content = response.content
            except ResponseNotReadError:
                continue
            self.received += len(content) if isinstance(content, bytes) else 0
        self._responses.clear()


def cpu_delta(before: dict[str, float | None], after: dict[str, float | None], wall: float) -> dict[str, float]:
    """Cores used by each process over ``wall`` seconds (CPU seconds / wall), and their total."""
    used = {name: round((after[name] - before[name]) / wall, 3) for name in before  # type: ignore[operator]
            if before[name] is not None and after.get(name) is not None and wall > 0}
    return {**used, "total": round(sum(used.values()), 3)}
