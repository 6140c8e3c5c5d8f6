"""The broker's metrics, through OpenTelemetry's API while a meter provider is live in the process (nothing, and no
import, otherwise). Attributes are few and bounded (routes, statuses, operations, causes): never a key or an address.
The alert rules of infra/app/alerts.bicep query these names in Application Insights' ``customMetrics``.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable

REQUESTS = "broker.requests"                      # counter: route, source, status (+ http.response.status_code)
GRAPH_DURATION = "broker.graph.duration"          # histogram, s: operation, status
GRAPH_THROTTLED = "broker.graph.throttled"        # counter of 429 answers: operation
GRAPH_RETRY_WAIT = "broker.graph.retry_wait"      # counter, s waited in process before a retry: operation
GRAPH_FORBIDDEN = "broker.graph.forbidden"        # counter of 403 answers: operation, cause
QUOTA_HIGHEST = "broker.quota.highest_ratio"      # gauge: the highest used/limit among the organizers seen this month
MESSAGE_AGE = "broker.queue.message_age"          # histogram, s from enqueue to dequeue: queue
DEQUEUE_COUNT = "broker.queue.dequeue_count"      # histogram: queue
POISON_MESSAGES = "broker.queue.poison_messages"  # counter
RETRIES_EXHAUSTED = "broker.retries_exhausted"    # counter of retries_exhausted results: source
CALLBACKS = "broker.callbacks.deliveries"         # counter: outcome
METRIC_NAMES = (REQUESTS, GRAPH_DURATION, GRAPH_THROTTLED, GRAPH_RETRY_WAIT, GRAPH_FORBIDDEN, QUOTA_HIGHEST,
                MESSAGE_AGE, DEQUEUE_COUNT, POISON_MESSAGES, RETRIES_EXHAUSTED, CALLBACKS)
FORBIDDEN_CAUSES = ("access_policy", "permission", "calendar_scope")
METER_NAME = "teams_meeting_broker"

_lock = threading.Lock()
_made: tuple[Any, dict[str, Any]] | None = None   # (the provider, its instruments)
_quota: Callable[[], float | None] = lambda: None  # noqa: E731


def _instruments() -> dict[str, Any] | None:
    """The instruments on the live meter provider (made on first use), or None when no provider is set."""
    global _made
    metrics = sys.modules.get("opentelemetry.metrics")
    if metrics is None:
        return None
    provider = metrics.get_meter_provider()
    if isinstance(provider, metrics.NoOpMeterProvider) or type(provider).__name__ == "_ProxyMeterProvider":
        return None
    made = _made
    if made is not None and made[0] is provider:
        return made[1]
    with _lock:
        if _made is None or _made[0] is not provider:
            meter = provider.get_meter(METER_NAME)
            counter, histogram = meter.create_counter, meter.create_histogram
            _made = (provider, {
                REQUESTS: counter(REQUESTS, unit="{request}", description="Requests by route, source and outcome"),
                GRAPH_DURATION: histogram(GRAPH_DURATION, unit="s", description="Graph calls by operation, status"),
                GRAPH_THROTTLED: counter(GRAPH_THROTTLED, unit="{response}", description="Graph 429 answers"),
                GRAPH_RETRY_WAIT: counter(GRAPH_RETRY_WAIT, unit="s", description="Seconds waited before retries"),
                GRAPH_FORBIDDEN: counter(GRAPH_FORBIDDEN, unit="{response}", description="Graph 403s by cause"),
                MESSAGE_AGE: histogram(MESSAGE_AGE, unit="s", description="Queue message age at dequeue"),
                DEQUEUE_COUNT: histogram(DEQUEUE_COUNT, unit="{delivery}", description="Dequeue count of messages"),
                POISON_MESSAGES: counter(POISON_MESSAGES, unit="{message}", description="Poison messages handled"),
                RETRIES_EXHAUSTED: counter(RETRIES_EXHAUSTED, unit="{result}", description="retries_exhausted results"),
                CALLBACKS: counter(CALLBACKS, unit="{delivery}", description="Result callback attempts by outcome"),
                QUOTA_HIGHEST: meter.create_observable_gauge(
                    QUOTA_HIGHEST, callbacks=[_observe_quota], unit="1",
                    description="Highest share of the monthly meeting limit used by an organizer this process saw"),
            })
        return _made[1]


def _observe_quota(_options: Any) -> list[Any]:
    ratio = _quota()
    if ratio is None:
        return []
    from opentelemetry.metrics import Observation

    return [Observation(ratio)]


def _add(name: str, amount: float, attributes: dict[str, str | int]) -> None:
    instruments = _instruments()
    if instruments is not None:
        instruments[name].add(amount, attributes)


def _record(name: str, value: float, attributes: dict[str, str | int]) -> None:
    instruments = _instruments()
    if instruments is not None:
        instruments[name].record(value, attributes)


def request_done(route: str, source: str, status: str, http_status: int | None = None) -> None:
    """One request answered (``source`` http) or one message handled (queue, poison), by its outcome status."""
    attributes: dict[str, str | int] = {"route": route, "source": source, "status": str(status)}
    if http_status is not None:
        attributes["http.response.status_code"] = http_status
    _add(REQUESTS, 1, attributes)


def graph_answered(operation: str, status: int | str, seconds: float) -> None:
    """One Graph attempt: its HTTP status (or ``transport``) and how long it took."""
    _record(GRAPH_DURATION, seconds, {"operation": operation, "status": str(status)})
    if status == 429:
        _add(GRAPH_THROTTLED, 1, {"operation": operation})


def graph_waited(operation: str, seconds: float) -> None:
    """Seconds the worker waited in process (Retry-After or backoff) before retrying a Graph call."""
    _add(GRAPH_RETRY_WAIT, seconds, {"operation": operation})


def graph_forbidden(operation: str, cause: str) -> None:
    """A Graph 403 by its cause: ``access_policy``, ``permission`` or ``calendar_scope``."""
    _add(GRAPH_FORBIDDEN, 1, {"operation": operation, "cause": cause})


def message_dequeued(queue: str, age_seconds: float | None, dequeue_count: int) -> None:
    """A queue message handed to the worker (``queue``: intake or poison)."""
    if age_seconds is not None:
        _record(MESSAGE_AGE, max(0.0, age_seconds), {"queue": queue})
    _record(DEQUEUE_COUNT, dequeue_count, {"queue": queue})


def poison_message() -> None:
    _add(POISON_MESSAGES, 1, {})


def retries_exhausted(source: str) -> None:
    """A ``retries_exhausted`` result told (``source``: queue for the last attempt, poison for the poison trigger)."""
    _add(RETRIES_EXHAUSTED, 1, {"source": source})


def callback_delivered(outcome: str) -> None:
    """One result callback attempt by its outcome (delivered, requeued, dead_lettered, stopped, skipped)."""
    _add(CALLBACKS, 1, {"outcome": str(outcome)})


def watch_quota(source: Callable[[], float | None]) -> None:
    """Where the quota gauge reads its value (the process's quota book); the last one given wins."""
    global _quota
    _quota = source
    _instruments()  # the gauge exists from now on, while a provider is live
