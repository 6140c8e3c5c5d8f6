"""How the local host runs invocations, as the Functions host and the Python worker do: one thread pool sized like the
worker's, and one listener per queue-triggered function that keeps at most batchSize + newBatchThreshold messages in
flight (localdev/README.md, "The local Functions host")."""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Mapping

from .host_common import FunctionSpec
from .host_queues import QueueService

log = logging.getLogger("localdev.host")
POOL_SIZE_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def worker_pool_size(env: Mapping[str, str]) -> int:
    """The Python worker's thread count: the setting (app settings first, then the process environment), else
    min(32, cpu count + 4)."""
    raw = env.get(POOL_SIZE_SETTING) or os.environ.get(POOL_SIZE_SETTING)
    if raw:
        size = int(raw)
        if size < 1:
            raise ValueError(f"{POOL_SIZE_SETTING} must be a positive integer, not {raw!r}")
        return size
    return min(32, (os.cpu_count() or 1) + 4)


class WorkerPool:
    """The invocation thread pool of one host."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="python-worker")
        # The host's side: writing outputs and settling messages after an invocation has returned.
        self._host = ThreadPoolExecutor(max_workers=size, thread_name_prefix="host-settle")

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        return self._executor.submit(function, *args)

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run on a pool thread and wait for the result (an HTTP invocation)."""
        return self.submit(function, *args).result()

    def settle(self, function: Callable[[], Any]) -> Future:
        """Run on the host's threads (a message's settling after its invocation)."""
        return self._host.submit(function)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)  # invocations first: each hands its settling to the host's threads
        self._host.shutdown(wait=True)


def process_batch_in_parallel(service: QueueService, spec: FunctionSpec, pool: WorkerPool) -> tuple[int, int]:
    """Lease one batch and process its messages concurrently on the pool; returns (received, invoked) when every
    one of them is settled."""
    client, messages = service.receive(spec)
    futures = [pool.submit(service.process, spec, client, message) for message in messages]
    wait(futures)
    return len(messages), sum(1 for future in futures if future.result())


class QueueListener(threading.Thread):
    """Background queue processing for one queue-triggered function (see the module docstring)."""

    MIN_INTERVAL = 0.1

    def __init__(self, service: QueueService, spec: FunctionSpec, pool: WorkerPool, max_interval: float,
                 stop: threading.Event) -> None:
        super().__init__(name=f"queue-{spec.name}", daemon=True)
        self._service, self._spec, self._pool = service, spec, pool
        self._max_interval, self._stopping = max_interval, stop
        self._changed = threading.Condition()
        self.in_flight = 0
        self.saturations = 0  # how often the listener stopped fetching to wait for room (observable by tests)

    def run(self) -> None:
        threshold = self._service.options.new_batch_threshold
        interval = self.MIN_INTERVAL
        while not self._stopping.is_set():
            with self._changed:
                if self.in_flight > threshold:
                    self.saturations += 1
                    self._changed.notify_all()
                while self.in_flight > threshold and not self._stopping.is_set():
                    self._changed.wait(timeout=1.0)  # woken by every settled message; the timeout re-checks stop
            if self._stopping.is_set():
                return
            try:
                client, messages = self._service.receive(self._spec)
            except Exception:  # storage unreachable: keep the host up and try again later
                log.exception("Polling %s for '%s' failed", self._spec.trigger["queueName"], self._spec.name)
                client, messages = None, []
            for message in messages:
                with self._changed:
                    self.in_flight += 1
                self._pool.submit(self._invoke, client, message)
            if messages:
                interval = self.MIN_INTERVAL
                continue
            self._stopping.wait(interval)
            interval = min(interval * 2, max(self._max_interval, self.MIN_INTERVAL))

    def wait_saturated(self, times: int, timeout: float) -> bool:
        """Wait until the listener has stopped fetching for lack of room ``times`` times in all."""
        with self._changed:
            return self._changed.wait_for(lambda: self.saturations >= times, timeout=timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no message is in flight (every one fetched so far is settled)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.in_flight == 0, timeout=timeout)

    def _invoke(self, client: Any, message: Any) -> None:
        try:
            _, settle = self._service.invoke(self._spec, client, message)
        except Exception:  # the host could not even run it: the lease runs out and the message comes back
            log.exception("Invoking '%s' for message %s failed", self._spec.name, message.id)
            self._settled()
            return
        self._pool.settle(lambda: self._settle(settle, message))

    def _settle(self, settle: Callable[[], None], message: Any) -> None:
        try:
            settle()
        except Exception:  # settling failed (storage down): the lease runs out and the message comes back
            log.exception("Settling message %s of '%s' failed", message.id, self._spec.name)
        finally:
            self._settled()

    def _settled(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()
