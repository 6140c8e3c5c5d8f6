"""Use case: a queued create request is tried again; the key's record keeps the message id its sender knows, so that
a poison copy (which has a new id) files its result under it. Nothing on a first attempt; best effort.
"""
from __future__ import annotations

import dataclasses

from shared.domain.errors import BrokerError
from shared.domain.meeting_request import MeetingRequest
from shared.domain.records import MeetingKey, MeetingRecord
from shared.usecases.context import Context, Deps, log
from shared.usecases.guards import authorize
from shared.usecases.record_outcome import new_record

SOURCE = "queue"


def note_attempt(deps: Deps, request: MeetingRequest, *, message_id: str,
                 dequeue_count: int) -> MeetingRecord | None:
    """On a retry (``dequeue_count`` > 1) of a create request that names no ``correlationId``, keep ``message_id``
    as its record's correlation id; the record as stored, or None when nothing was (or could be) written."""
    if dequeue_count <= 1 or request.correlation_id:  # a first attempt; or the poison copy carries the id itself
        return None
    try:
        tenant = authorize(deps, request)
        context = Context(message_id, SOURCE, request)
        return _note(deps, context, request, deps.records.key(tenant, request.organizer_id, request.external_id))
    except BrokerError as unwritten:  # the attempt itself will meet (and tell) the same problem
        log.info("attempt %d of message %s: correlation not kept (%s)", dequeue_count, message_id, unwritten.code)
        return None


def _note(deps: Deps, context: Context, request: MeetingRequest, key: MeetingKey) -> MeetingRecord | None:
    def change(current: MeetingRecord | None, key: MeetingKey) -> MeetingRecord:
        if current is None:  # every earlier attempt died before writing: the key is pending from now on
            return dataclasses.replace(new_record(key, context, request, deps.clock()), first_attempt_at=None)
        if current.has_meeting or current.cancelled or current.fingerprint != request.fingerprint:
            return current  # another request's record, or one that is settled: not this attempt's to claim
        if (current.correlation_id, current.source) == (context.correlation_id, SOURCE):
            return current  # said already (a handled failure recorded it): no write
        return dataclasses.replace(current, correlation_id=context.correlation_id, source=SOURCE,
                                   updated_at=deps.clock())

    written = deps.records.write(key, change)
    return written.record if written is not None else None


def queued_correlation(record: MeetingRecord | None, request: MeetingRequest | None) -> str | None:
    """The correlation id a queue attempt of this same request (same fingerprint) kept on the key's record."""
    if record is None or request is None or record.source != SOURCE or not record.correlation_id:
        return None
    return record.correlation_id if record.fingerprint == request.fingerprint else None
