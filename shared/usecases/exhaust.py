"""Use case: a queued request failed on every attempt: record it and emit the final ``retries_exhausted`` result under
the correlation id its sender knows, with the status of the last error (never 500).
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages
"""
from __future__ import annotations

from typing import Any

from shared import telemetry
from shared.domain.errors import BrokerError, RetriesExhausted
from shared.domain.meeting_request import MeetingRequest
from shared.domain.messages import payload_ids, result_message
from shared.domain.records import MeetingRecord, Status
from shared.domain.validation import validate_request
from shared.domain.clock import Clock
from shared.usecases.attempts import queued_correlation
from shared.usecases.callbacks import with_callback
from shared.usecases.context import Context, Deps, Outcome, from_table, log, refused
from shared.usecases.guards import tenant_of
from shared.usecases.record_outcome import record_error


def exhaust_request(deps: Deps, payload: Any, *, message_id: str, dequeue_count: int | None = None,
                    cause: BrokerError | None = None, poison: bool = False) -> Outcome:
    """The final outcome of an intake message whose retries ran out (``payload`` is its decoded JSON, None when it
    could not be decoded). ``message_id`` is the message's id; ``poison``: it is the poison queue's copy, whose id
    the sender never saw. ``cause``: the last attempt's error, when it was told (else the record's last error)."""
    with telemetry.span("usecase exhaust", {"broker.usecase": "exhaust", "broker.source": "queue"}) as span:
        done = _exhaust(deps, payload, message_id=message_id, dequeue_count=dequeue_count, cause=cause, poison=poison)
        span.set("broker.status", done.status)
        return done


def _exhaust(deps: Deps, payload: Any, *, message_id: str, dequeue_count: int | None, cause: BrokerError | None,
             poison: bool) -> Outcome:
    request: MeetingRequest | None = None
    try:
        request = validate_request(payload, api_version=deps.settings.api_version, queue=True)
    except BrokerError:
        pass
    record: MeetingRecord | None = None
    if request is not None:
        try:
            key = deps.records.key(tenant_of(deps, request.tenant_id), request.organizer_id, request.external_id)
            record = deps.records.get(key)
        except BrokerError as unreadable:  # storage down as well: the outcome is still told, just not recorded
            log.warning("retries exhausted; the record could not be read: %s", unreadable.code)
    correlation_id = ((request.correlation_id if request else None) or payload_ids(payload)["correlationId"]
                      or (queued_correlation(record, request) if poison else None) or message_id)
    context = Context(correlation_id, "queue", request, payload)
    if record is not None and record.has_meeting:
        return with_callback(deps, context, from_table(deps, context, record))  # it did succeed after all
    error = RetriesExhausted.after(cause if cause is not None else (record.last_error if record else None))
    stored = None
    if record is not None:
        try:
            stored = record_error(deps, record, error, final=True)
        except BrokerError:
            stored = record
    log.error("retries exhausted correlation=%s dequeue_count=%s", correlation_id, dequeue_count)
    failed = refused(deps, context, error)
    return with_callback(deps, context, Outcome(failed.status, failed.result, record=stored, error=error))


def unrecorded_exhaustion(payload: Any, *, message_id: str, cause: BrokerError, clock: Clock) -> Outcome:
    """The final outcome when the app cannot even load its settings: nothing can be recorded, but the result is still
    emitted (the output binding needs none of the app's own settings), so the request is not lost silently."""
    error = RetriesExhausted.after(cause)
    correlation_id = payload_ids(payload)["correlationId"] or message_id
    return unrecorded_failure(payload, correlation_id=correlation_id, error=error, clock=clock, source="queue")


def unrecorded_failure(payload: Any, *, correlation_id: str, error: BrokerError, clock: Clock,
                       source: str) -> Outcome:
    """A ``failed`` outcome told without the app's settings or storage."""
    ids = payload_ids(payload)
    result = result_message(correlation_id=correlation_id, tenant_id=ids["tenantId"],
                            organizer_id=ids["organizerId"], external_id=ids["externalId"], status=Status.FAILED,
                            meeting=None, error=error.as_result_error(), source=source, completed_at=clock())
    return Outcome(Status.FAILED, result, error=error)
