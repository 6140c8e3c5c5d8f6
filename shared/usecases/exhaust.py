"""Use case: a queued request failed on every attempt and the host moved it to the poison queue.

Record it and emit the final ``retries_exhausted`` result under the correlation id its sender knows, naming the last
error; a request whose meeting was recorded after all (e.g. by a concurrent request) is told ``existing``.
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages
"""
from __future__ import annotations

from typing import Any

from ..errors import BrokerError, RetriesExhausted
from ..meeting_request import MeetingRequest
from ..messages import payload_ids, result_message
from ..records import MeetingRecord, Status
from ..validation import validate_request
from ..values import Clock
from .common import Context, Deps, Outcome, from_table, log, record_error, record_key, refused, tenant_of


def exhaust_request(deps: Deps, payload: Any, *, message_id: str, dequeue_count: int | None = None) -> Outcome:
    """The final outcome of a poisoned intake message (``payload`` is its decoded JSON, None when undecodable)."""
    request: MeetingRequest | None = None
    try:
        request = validate_request(payload, api_version=deps.settings.api_version, queue=True)
    except BrokerError:
        pass
    correlation_id = (request.correlation_id if request else None) or payload_ids(payload)["correlationId"] \
        or message_id
    context = Context(correlation_id, "queue", request, payload)
    record: MeetingRecord | None = None
    if request is not None:
        tenant = tenant_of(deps.settings, request.tenant_id)
        record = deps.repository.get(record_key(deps, tenant, request.organizer_id, request.external_id))
        if record is not None and record.has_meeting:
            return from_table(deps, context, record)  # it did succeed after all
    last = record.last_error if record else None
    reason = f"; last error: {last.get('code')}: {last.get('message')}" if last else ""
    error = RetriesExhausted(f"the request failed on every attempt and was moved to the poison queue{reason}")
    stored = record_error(deps, record, error, final=True) if record is not None else None
    log.error("retries exhausted correlation=%s dequeue_count=%s", correlation_id, dequeue_count)
    failed = refused(deps, context, error)
    return Outcome(failed.status, failed.result, record=stored, error=error)


def unrecorded_exhaustion(payload: Any, *, message_id: str, cause: BrokerError, clock: Clock) -> Outcome:
    """The final outcome when the app cannot even load its settings: nothing can be recorded, but the result is still
    emitted (the output binding needs none of the app's own settings), so the request is not lost silently."""
    ids = payload_ids(payload)
    error = RetriesExhausted(f"the request failed on every attempt; last error: {cause.code}: {cause.detail}")
    result = result_message(correlation_id=ids["correlationId"] or message_id, tenant_id=ids["tenantId"],
                            organizer_id=ids["organizerId"], external_id=ids["externalId"], status=Status.FAILED,
                            meeting=None, error=error.as_result_error(), source="queue", completed_at=clock())
    return Outcome(Status.FAILED, result, error=error)
