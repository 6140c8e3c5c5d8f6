"""Use case: accept a request for async processing (``Prefer: respond-async``).

The row is marked ``pending`` so a lookup answers 202 until the queue worker has processed the intake message this
returns; a request whose meeting is already recorded is answered from the table at once, as the sync path would.
The intake message is checked against the queue's size limit before anything is written: a 202 promises a result.
"""
from __future__ import annotations

import dataclasses

from shared.domain.errors import PayloadTooLarge
from shared.domain.jsontext import MAX_QUEUE_MESSAGE_BYTES, fits_queue, queue_message_size
from shared.domain.meeting_request import MeetingRequest
from shared.domain.messages import to_message
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, from_table, refused
from shared.usecases.keyed_write import tombstone
from shared.usecases.record_outcome import new_record
from shared.usecases.shell import keyed_use_case


class _Answered(Exception):
    """The table answers the request itself: its meeting is recorded (or its key cancelled)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("answered from the table")
        self.outcome = outcome


def accept_meeting(deps: Deps, request: MeetingRequest, *, correlation_id: str, source: str = "http") -> Outcome:
    """``accepted`` with the intake message to queue; ``existing`` from the table; or ``failed``."""
    context = Context(correlation_id, source, request)
    intakes: list[str] = []

    def checks(tenant: str) -> None:
        request.graph_body(deps.clock())  # every derived value is valid before the request is promised a result
        intake = to_message(request.as_payload(tenant_id=tenant, correlation_id=correlation_id))
        if not fits_queue(intake):
            raise PayloadTooLarge(
                f"queued, this request would be {queue_message_size(intake)} bytes; a queue message holds at most "
                f"{MAX_QUEUE_MESSAGE_BYTES} bytes: send it without Prefer: respond-async")
        intakes.append(intake)

    def step(tenant: str, key: MeetingKey) -> Outcome:
        try:
            deps.records.write(key, lambda row, key: _pending(deps, context, request, row, key))
        except _Answered as answered:
            return answered.outcome
        return Outcome(Status.ACCEPTED, None, intake=intakes[-1])

    return keyed_use_case(deps, context, step, checks=checks, doing="accept")


def _pending(deps: Deps, context: Context, request: MeetingRequest, current: MeetingRecord | None,
             key: MeetingKey) -> MeetingRecord:
    """The key marked pending; ``_Answered`` when the table answers the request itself."""
    now = deps.clock()
    if current is not None and current.cancelled:
        raise _Answered(refused(deps, context, tombstone(current, status=409)))
    if current is not None and current.has_meeting and current.fingerprint == request.fingerprint:
        raise _Answered(from_table(deps, context, current))
    if current is None:
        return dataclasses.replace(new_record(key, context, request, now), first_attempt_at=None)
    if current.has_meeting:
        return current  # the meeting exists; the queue asks about the new details
    return dataclasses.replace(current, status=Status.PENDING, fingerprint=request.fingerprint,
                               correlation_id=context.correlation_id, source=context.source, updated_at=now)
