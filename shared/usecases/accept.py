"""Use case: accept a request for async processing (``Prefer: respond-async``).

The row is marked ``pending`` so a lookup answers 202 until the queue worker has processed the intake message this
returns; a request whose meeting is already recorded is answered from the table at once, as the sync path would.
"""
from __future__ import annotations

import dataclasses

from ..cas import compare_and_set
from ..errors import BrokerError
from ..meeting_request import MeetingRequest
from ..messages import to_message
from ..records import MeetingKey, MeetingRecord, Status
from .common import Context, Deps, Outcome, authorize, from_table, record_key, refused


def accept_meeting(deps: Deps, request: MeetingRequest, *, correlation_id: str, source: str = "http") -> Outcome:
    """``accepted`` with the intake message to queue; ``existing`` from the table; or ``failed``."""
    context = Context(correlation_id, source, request)
    try:
        tenant = authorize(deps.settings, request)
        key = record_key(deps, tenant, request.organizer_id, request.external_id)
        record = deps.repository.get(key)
        if record and record.has_meeting and record.fingerprint == request.fingerprint:
            return from_table(deps, context, record)
        compare_and_set(deps.repository, key, lambda current: _pending(deps, context, current, key), current=record)
    except BrokerError as error:
        return refused(deps, context, error)
    intake = to_message(request.as_payload(tenant_id=tenant, correlation_id=correlation_id))
    return Outcome(Status.ACCEPTED, None, intake=intake)


def _pending(deps: Deps, context: Context, current: MeetingRecord | None, key: MeetingKey) -> MeetingRecord:
    request, now = context.request, deps.clock()
    assert request is not None
    if current is None:
        return MeetingRecord(
            key=key, status=Status.PENDING, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
            correlation_id=context.correlation_id, source=context.source, meeting=None, last_error=None,
            attempts=0, first_attempt_at=None, created_at=now, updated_at=now,
        )
    if current.status == Status.CREATED:
        return current  # the meeting exists; the queue asks Graph about the new details
    return dataclasses.replace(current, status=Status.PENDING, fingerprint=request.fingerprint,
                               correlation_id=context.correlation_id, source=context.source, updated_at=now)
