"""A small local stand-in for the Azure Functions host, for machines where Core Tools (`func start`) cannot be installed:
HTTP triggers, queue triggers and queue outputs of a Python v2 `func.FunctionApp`, on 127.0.0.1 (what it copies from
the host, and what not: localdev/README.md, "The local Functions host")."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Mapping

import azure.functions as func

from .host_common import BindingOut, FunctionSpec, LocalHostError, QueueOptions, build_specs, route_prefix
from .host_http import Route, Router, compile_route, make_server, to_wire
from .host_queues import QueueService, check_queue_specs
from .host_timers import LocalTimerRequest, TimerTicker
from .host_workers import QueueListener, WorkerPool, process_batch_in_parallel, worker_pool_size

__all__ = ["LocalFunctionsHost", "LocalHostError"]

STORAGE_SETTING = "AzureWebJobsStorage"


class LocalFunctionsHost:
    """Serves one FunctionApp's HTTP and queue functions locally; also a context manager (start on enter, stop on exit)."""

    log = logging.getLogger("localdev.host")

    def __init__(
        self,
        app: func.FunctionApp,
        *,
        env: Mapping[str, str],
        host_json: Mapping[str, Any],
        storage_connection_string: str,
        http_host: str = "127.0.0.1",
        http_port: int = 7071,
        visibility_timeout: float | None = None,
        polling_interval: float | None = None,
        lease_seconds: float | None = None,
        timer_interval: float | None = None,
    ) -> None:
        self._app = app
        self._env = dict(env)
        self._host_json = host_json
        self._storage = storage_connection_string
        self._http_address = (http_host, http_port)
        self._options = QueueOptions.from_host_json(host_json)
        self._visibility_timeout = self._options.visibility_timeout if visibility_timeout is None else visibility_timeout
        self._polling_interval = self._options.max_polling_interval if polling_interval is None else polling_interval
        self._specs: list[FunctionSpec] | None = None
        self._timer_interval = timer_interval  # None: timer functions run only when asked (run_timers)
        self.router = Router([])
        self.queues = QueueService(self._connection_for, self._options, self._visibility_timeout,
                                   lease_seconds=lease_seconds)
        self._server = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.pool: WorkerPool | None = None
        self.listeners: list[QueueListener] = []

    # --- set-up -------------------------------------------------------------------------------------------------
    @property
    def functions(self) -> list[FunctionSpec]:
        """The app's functions with resolved bindings (indexed once, on first use)."""
        if self._specs is None:
            specs = build_specs(self._app, self._env)
            check_queue_specs(specs)
            prefix = route_prefix(self._host_json)
            self.router = Router([compile_route(s, prefix) for s in specs if s.trigger_type == "httpTrigger"])
            self._specs = specs
        return self._specs

    @property
    def http_routes(self) -> list[Route]:
        self.functions  # noqa: B018 - indexes on first use
        return list(self.router.routes)

    @property
    def queue_functions(self) -> list[FunctionSpec]:
        return [spec for spec in self.functions if spec.trigger_type == "queueTrigger"]

    @property
    def timer_functions(self) -> list[FunctionSpec]:
        return [spec for spec in self.functions if spec.trigger_type == "timerTrigger"]

    def _connection_for(self, binding: Mapping[str, Any]) -> str:
        # A binding's `connection` names an app setting; AzureWebJobsStorage is the storage this host was given.
        name = binding.get("connection") or STORAGE_SETTING
        if name == STORAGE_SETTING:
            return self._storage
        for candidate in (name, f"AzureWebJobs{name}"):
            if self._env.get(candidate):
                return self._env[candidate]
        raise LocalHostError(f"binding {binding.get('name')}: connection setting {name!r} is not set")

    def start(self, run_queue_workers: bool = True) -> "LocalFunctionsHost":
        """Index the app, create trigger and output queues, start the HTTP server and (optionally) the queue pollers."""
        specs = self.functions
        for spec in specs:  # a clean Azurite works: create every queue the app reads or writes
            for binding in (spec.trigger, *spec.outputs):
                if binding["type"] in ("queueTrigger", "queue"):
                    self.queues.client(binding)
        self._stop.clear()
        self.pool = WorkerPool(worker_pool_size(self._env))
        self._server = make_server(self, *self._http_address)
        self._threads = [threading.Thread(target=self._server.serve_forever, name="local-host-http", daemon=True)]
        self.listeners = [QueueListener(self.queues, spec, self.pool, self._polling_interval, self._stop)
                          for spec in self.queue_functions] if run_queue_workers else []
        self._threads += self.listeners
        if run_queue_workers and self._timer_interval is not None and self.timer_functions:
            self._threads.append(TimerTicker(self.run_timers, self._timer_interval, self._stop))
        for thread in self._threads:
            thread.start()
        self.log.info("Local Functions host listening on %s (%d function(s), queue workers %s, %d worker threads)",
                      self.base_url, len(specs), "on" if run_queue_workers else "off", self.pool.size)
        return self

    @property
    def netloc(self) -> str:
        if self._server is None:
            raise LocalHostError("the host is not started")
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.netloc}"

    def stop(self) -> None:
        """Stop the listeners and the HTTP server, then wait for the invocations in flight."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.pool is not None:
            self.pool.shutdown()
        self._threads, self._server, self.pool, self.listeners = [], None, None, []

    def __enter__(self) -> "LocalFunctionsHost":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- queues -------------------------------------------------------------------------------------------------
    def drain(self, max_rounds: int = 100, *, parallel: bool = False) -> int:
        """Process trigger queues until none has a visible message; returns the number of function invocations.

        Each round receives up to batchSize messages from every trigger queue and settles them (delete, make visible
        again after the visibility timeout, or move to the poison queue). A round that finds no message ends the drain;
        with visibility_timeout=0 a failing message is retried in the next round until it is poisoned.
        Sequential by default: a batch's messages run one after another in the calling thread, in queue order.
        ``parallel=True``: a batch's messages run concurrently on the host's worker pool (as the real host runs them),
        and the round ends when all of them are settled. Use a started host, which owns the pool.
        """
        invocations = 0
        if parallel and self.pool is None:
            raise LocalHostError("drain(parallel=True) needs a started host (it runs on the host's worker pool)")
        for _ in range(max_rounds):
            received = 0
            for spec in self.queue_functions:
                got, invoked = (process_batch_in_parallel(self.queues, spec, self.pool) if parallel and self.pool
                                else self.queues.poll_once(spec))
                received += got
                invocations += invoked
            if received == 0:
                return invocations
        raise LocalHostError(f"queues still had visible messages after {max_rounds} drain rounds")

    # --- timers -------------------------------------------------------------------------------------------------
    def run_timers(self, name: str | None = None) -> int:
        """Run every timer function (or the one named) once, now, in the calling thread, and send its queue
        outputs; returns the number of messages sent. An exception the function raises propagates."""
        specs = [spec for spec in self.timer_functions if name is None or spec.name == name]
        if name is not None and not specs:
            raise LocalHostError(f"no timer function named {name!r}")
        sent = 0
        for spec in specs:
            outs = {b["name"]: BindingOut() for b in spec.outputs if b["name"] != "$return"}
            started = time.monotonic()
            result = spec.call({spec.trigger["name"]: LocalTimerRequest(), **outs})
            sent += self.queues.flush_outputs(spec, outs, result)
            self.log.info("Executed '%s' (Succeeded, Duration=%.0fms, %d message(s))", spec.name,
                          (time.monotonic() - started) * 1000, sent)
        return sent

    # --- HTTP ---------------------------------------------------------------------------------------------------
    def invoke_http(self, spec: FunctionSpec, request: func.HttpRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run an HTTP function: its response, or 500 with a plain JSON body (the traceback goes to the log only)."""
        invocation_id = str(uuid.uuid4())
        outs = {b["name"]: BindingOut() for b in spec.outputs if b["name"] != "$return"}
        started = time.monotonic()
        try:
            call = {spec.trigger["name"]: request, **outs}
            result = self.pool.run(spec.call, call) if self.pool is not None else spec.call(call)
            http_out = next((b for b in spec.outputs if b["type"] == "http"), None)
            if http_out is not None and http_out["name"] != "$return":
                result = outs[http_out["name"]].get()
            status, headers, body = to_wire(result)
            self.queues.flush_outputs(spec, outs, result)
        except Exception:
            self.log.exception("Executed '%s' (Failed, Id=%s, Duration=%.0fms) %s %s -> 500", spec.name,
                               invocation_id, (time.monotonic() - started) * 1000, request.method, _path(request.url))
            body = b'{"error": "function_failed", "invocationId": "%s"}' % invocation_id.encode()
            return 500, [("Content-Type", "application/json")], body
        self.log.info("Executed '%s' (Succeeded, Id=%s, Duration=%.0fms) %s %s -> %d (%d bytes)", spec.name,
                      invocation_id, (time.monotonic() - started) * 1000, request.method, _path(request.url), status,
                      len(body))
        return status, headers, body


def _path(url: str) -> str:
    # Query strings may carry personal data (organizerId=...): log the path only.
    return url.split("?", 1)[0]
