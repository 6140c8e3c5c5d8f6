"""Use case: accept a request for async processing (``Prefer: respond-async``).

The row is marked ``pending`` so a lookup answers 202 until the queue worker has processed the intake message this
returns; a request whose meeting is already recorded is answered from the table at once, as the sync path would.
The intake message is checked against the queue's size limit before anything is written: a 202 promises a result.
"""
from __future__ import annotations

import dataclasses

from shared.usecases.keyed_write import Commit, compare_and_set
from shared.domain.errors import BrokerError, PayloadTooLarge
from shared.domain.jsontext import MAX_QUEUE_MESSAGE_BYTES, fits_queue, queue_message_size
from shared.domain.meeting_request import MeetingRequest
from shared.domain.messages import to_message
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.usecases.common import Context, Deps, Outcome, authorize, cancelled, from_table, keyed, refused
from shared.usecases.record_outcome import new_record


def accept_meeting(deps: Deps, request: MeetingRequest, *, correlation_id: str, source: str = "http") -> Outcome:
    """``accepted`` with the intake message to queue; ``existing`` from the table; or ``failed``."""
    context = Context(correlation_id, source, request)
    try:
        tenant = authorize(deps, request)
        request.graph_body(deps.clock())  # every derived value is valid before the request is promised a result
        intake = to_message(request.as_payload(tenant_id=tenant, correlation_id=correlation_id))
        if not fits_queue(intake):
            raise PayloadTooLarge(
                f"queued, this request would be {queue_message_size(intake)} bytes; a queue message holds at most "
                f"{MAX_QUEUE_MESSAGE_BYTES} bytes: send it without Prefer: respond-async")
        answered = keyed(deps, tenant, request.organizer_id, request.external_id,
                         lambda key: _record_pending(deps, context, request, key))
    except BrokerError as error:
        return refused(deps, context, error)
    return answered or Outcome(Status.ACCEPTED, None, intake=intake)


def _record_pending(deps: Deps, context: Context, request: MeetingRequest, key: MeetingKey) -> Outcome | None:
    """Mark the key pending; an Outcome when the table answers the request itself (its meeting, or cancelled)."""
    record = deps.repository.get(key)
    if record is not None and record.cancelled:
        return refused(deps, context, cancelled(record, status=409))
    if record is not None and record.has_meeting and record.fingerprint == request.fingerprint:
        return from_table(deps, context, record)
    compare_and_set(deps.repository, key, lambda current: _pending(deps, context, request, current, key),
                    current=record)
    return None


def _pending(deps: Deps, context: Context, request: MeetingRequest, current: MeetingRecord | None,
             key: MeetingKey) -> MeetingRecord | Commit:
    now = deps.clock()
    if current is None:
        fresh = dataclasses.replace(new_record(key, context, request, now), first_attempt_at=None)
        return Commit(fresh, alias=deps.organizers.placeholder(key))  # see shared.usecases.organizers
    if current.has_meeting or current.cancelled:
        return current  # the meeting exists; the queue asks about the new details
    return dataclasses.replace(current, status=Status.PENDING, fingerprint=request.fingerprint,
                               correlation_id=context.correlation_id, source=context.source, updated_at=now)
