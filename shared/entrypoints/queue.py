"""The queue adapter: one intake message in, at most one result message out (and its delivery to a callbackUrl). A
permanent failure is told at once; a transient one raises so the host retries, and the last attempt tells the final
``retries_exhausted`` result itself.
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from shared.bootstrap import Container
from shared.entrypoints.told import Told
from shared.domain.errors import BrokerError, MalformedJson, RetriesExhausted
from shared.domain.jsontext import parse, parse_utf8
from shared.domain.messages import payload_ids, traceparent_of
from shared.domain.records import Status
from shared.usecases.attempts import note_attempt
from shared.usecases.callbacks import refused
from shared.usecases.context import Context, Deps, Outcome
from shared.usecases.create import create_meeting
from shared.usecases.exhaust import exhaust_request, unrecorded_exhaustion, unrecorded_failure
from shared.domain.validation import validate_cancel, validate_change, validate_lookup, validate_request
from shared.domain.clock import Clock
from shared import telemetry

log = logging.getLogger(__name__)

# host.json extensions.queues.maxDequeueCount (a test keeps the two equal).
MAX_DEQUEUE_COUNT = 5


def decode_message(body: bytes) -> Any:
    """The JSON of an intake message. host.json reads messages as plain text (``messageEncoding: none``) so that no
    message can fail decoding in the host and skip this code; base64-encoded JSON (the Functions default that many
    producers use) is accepted too. The two cannot be confused: plain JSON text is never valid base64."""
    what = "the message"
    try:
        return parse_utf8(body.strip(), what=what)
    except MalformedJson as not_json:
        try:
            decoded = base64.b64decode(body.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise not_json from None
        return parse(decoded, what=what)


def process_request(body: bytes, *, message_id: str, dequeue_count: int,
                    container_factory: Callable[[], Container], clock: Clock,
                    inserted_at: datetime | None = None) -> Told:
    """Handle one intake message; what it comes to (nothing when deferred), or raise a retryable error. Its span
    continues the trace its ``traceparent`` names; every message it writes carries its own."""
    try:
        payload, unreadable = decode_message(body), None
    except MalformedJson as error:
        payload, unreadable = None, error
    with _consuming("intake", "process_meeting_request", payload, message_id, dequeue_count, inserted_at, clock) \
            as told:
        return told(*_request(payload, unreadable, message_id, dequeue_count, container_factory, clock))


def _request(payload: Any, unreadable: MalformedJson | None, message_id: str, dequeue_count: int,
             container_factory: Callable[[], Container], clock: Clock) -> tuple[Outcome | None, str]:
    """The outcome of one intake message and its status (for metrics)."""
    last_attempt = dequeue_count >= MAX_DEQUEUE_COUNT
    if unreadable is not None:
        return _refused(container_factory, unreadable, payload, message_id, clock), Status.FAILED
    try:
        container = container_factory()
    except BrokerError as error:  # the app cannot work (settings): retried, and told on the last attempt
        if not last_attempt:
            raise
        log.error("retries exhausted under %s, message %s", error.code, message_id)
        return _exhausted(unrecorded_exhaustion(payload, message_id=message_id, cause=error, clock=clock), "queue")
    deps = container.deps
    try:
        outcome = _process(deps, payload, message_id, dequeue_count)
    except BrokerError as error:
        log.warning("queue message %s refused: %s", message_id, error.code)
        correlation_id = payload_ids(payload)["correlationId"] or message_id
        return refused(deps, Context(correlation_id, "queue", payload=payload), error), Status.FAILED
    if outcome.status == Status.DEFERRED:
        assert outcome.retry_in is not None and outcome.intake is not None
        # A new copy that becomes visible after the delay (the trigger's own retry delay is fixed by host.json);
        # this message then completes without a result: the copy will produce it.
        container.requeue(telemetry.stamp("intake", outcome.intake) or outcome.intake, outcome.retry_in)
        return None, Status.DEFERRED
    if outcome.retryable_failure:
        assert outcome.error is not None
        if last_attempt:
            return _exhausted(exhaust_request(deps, payload, message_id=message_id, dequeue_count=dequeue_count,
                                              cause=outcome.error), "queue")
        log.warning("queue message %s will be retried (attempt %d): %s", message_id, dequeue_count,
                    outcome.error.code)
        raise outcome.error
    return outcome, outcome.status


@contextlib.contextmanager
def _consuming(queue: str, route: str, payload: Any, message_id: str, dequeue_count: int,
               inserted_at: datetime | None, clock: Clock) -> Iterator[Callable[[Outcome | None, str], Told]]:
    """The span and metrics of one queue message; yields ``told(outcome, status)``, which stamps the result."""
    ids = payload_ids(payload)
    if inserted_at is not None and inserted_at.tzinfo is None:
        inserted_at = inserted_at.replace(tzinfo=timezone.utc)
    telemetry.message_dequeued(queue, (clock() - inserted_at).total_seconds() if inserted_at else None, dequeue_count)
    with telemetry.consuming(queue, traceparent_of(payload), {"broker.route": route,
                                                             "broker.dequeue_count": dequeue_count}) as span:
        span.set("broker.correlation_id", ids["correlationId"] or message_id)

        def told(outcome: Outcome | None, status: str) -> Told:
            span.set("broker.status", status)
            telemetry.request_done(route, queue, status)
            return Told.of(outcome).stamped()
        try:
            yield told
        except Exception:  # raised for the host to retry (the span notes the error's code)
            telemetry.request_done(route, queue, "retry")
            raise


def _process(deps: Deps, payload: Any, message_id: str, dequeue_count: int) -> Outcome:
    """The use case the message's ``action`` names (``create`` by default); a message that breaks its rules
    raises ValidationFailed."""
    action = payload.get("action") if isinstance(payload, dict) else None
    if action == "update":  # the other actions' use cases load with their first message, as the HTTP routes'
        from shared.usecases.update import update_meeting

        change = validate_change(payload, queue=True)
        return update_meeting(deps, change, source="queue", correlation_id=change.correlation_id or message_id)
    if action == "cancel":
        from shared.usecases.cancel import cancel_meeting

        cancel = validate_cancel(payload, queue=True)
        return cancel_meeting(deps, cancel, source="queue", correlation_id=cancel.correlation_id or message_id)
    if action == "attendance":
        from shared.usecases.attendance import queued_attendance

        lookup = validate_lookup(payload)
        return queued_attendance(deps, lookup, mode=deps.settings.artifacts.mode,
                                 correlation_id=lookup.correlation_id or message_id)
    request = validate_request(payload, api_version=deps.settings.api_version, queue=True)
    # A retry keeps this message's id on the key's record, for the poison trigger should this attempt die untold.
    note_attempt(deps, request, message_id=message_id, dequeue_count=dequeue_count)
    return create_meeting(deps, request, source="queue", correlation_id=request.correlation_id or message_id,
                          final=False)


def _refused(container_factory: Callable[[], Container], error: BrokerError, payload: Any, message_id: str,
             clock: Clock) -> Outcome:
    """A message that is not JSON at all: told at once, even when the app's settings cannot load."""
    log.warning("queue message %s refused: %s", message_id, error.code)
    try:
        deps = container_factory().deps
    except BrokerError:
        return unrecorded_failure(payload, correlation_id=message_id, error=error, clock=clock, source="queue")
    return refused(deps, Context(message_id, "queue", payload=payload), error)


def process_poison(body: bytes, *, message_id: str, dequeue_count: int, container_factory: Callable[[], Container],
                   clock: Clock, inserted_at: datetime | None = None) -> Told:
    """A message the host gave up on: emit its final result. Never raises, whatever the body."""
    payload = None
    try:
        payload = decode_message(body)
    except BrokerError:
        pass
    telemetry.poison_message()
    with _consuming("poison", "process_poison_request", payload, message_id, dequeue_count, inserted_at, clock) \
            as told:
        try:
            outcome = exhaust_request(container_factory().deps, payload, message_id=message_id,
                                      dequeue_count=dequeue_count, poison=True)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: tell the outcome whatever went wrong
            cause = exc if isinstance(exc, BrokerError) else RetriesExhausted(f"unexpected {type(exc).__name__}")
            log.error("retries exhausted, message %s not recorded: %s", message_id, type(exc).__name__)
            outcome = unrecorded_exhaustion(payload, message_id=message_id, cause=cause, clock=clock)
        return told(*_exhausted(outcome, "poison"))


def _exhausted(outcome: Outcome, source: str) -> tuple[Outcome, str]:
    """The final result of a message whose retries ran out (counted, unless it succeeded after all)."""
    if outcome.status == Status.FAILED:
        telemetry.retries_exhausted(source)
    return outcome, outcome.status
