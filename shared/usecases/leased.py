"""Use case, part of create: a create Graph does not make idempotent by itself (plain create, an Outlook event), made
idempotent by a lease in the record; the first meeting recorded for a key is the one it ever returns.
"""
from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from shared.domain.calendar_event import asked
from shared.usecases.keyed_write import LEASE, tombstone
from shared.domain.errors import BrokerError, RequestInProgress
from shared.domain.meeting_diff import not_applied
from shared.domain.meeting_request import MeetingRequest
from shared.domain.records import Kind, MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, from_table, log, outcome, refused
from shared.usecases.record_outcome import UNRECORDABLE, failed, new_record, record_meeting

# How long a concurrent request waits for the lease holder before answering request_in_progress.
WAITS = (0.1, 0.2, 0.4, 0.8, 1.5, 2.0)


class _Held(Exception):
    def __init__(self, record: MeetingRecord) -> None:
        super().__init__("the key is leased by another request")
        self.record = record


@dataclass(frozen=True)
class Made:
    """What a create under the lease made: the onlineMeeting, and the event behind it when calendar-backed."""

    meeting: dict[str, Any]
    event: dict[str, Any] | None = None


def create_leased(deps: Deps, context: Context, request: MeetingRequest, tenant: str, key: MeetingKey,
                  record: MeetingRecord | None, *, final: bool, kind: Kind,
                  make: Callable[[MeetingRecord, bool], Made], discard: Callable[[Made], None]) -> Outcome:
    """Hold the key with a lease, take the meeting's place under the monthly limit, ``make`` the meeting (told whether
    the row was there before: an earlier attempt may have made it already), record it; a meeting someone else recorded
    first wins and ours is ``discard``-ed. Only the lease holder takes a place: requests that wait for it count
    nothing."""
    owner, now = uuid.uuid4().hex, deps.clock()
    found = [record is not None]

    def lease(current: MeetingRecord | None, key: MeetingKey) -> MeetingRecord:
        found[0] = current is not None
        if current is not None and (current.has_meeting or current.cancelled):
            return current
        if current is not None and current.leased_by_other(owner, now):
            raise _Held(current)
        base = current or new_record(key, context, request, now)
        leased = dataclasses.replace(base, status=Status.PENDING, kind=kind, fingerprint=request.fingerprint,
                                     correlation_id=context.correlation_id, source=context.source,
                                     lease_owner=owner, lease_expires_at=now + LEASE, updated_at=now)
        return leased  # keyed by a UPN whose object id was learned meanwhile: the lease is decided there

    try:
        written = deps.records.write(key, lease, current=record)
    except _Held as held:
        return _wait_for_holder(deps, context, request, key, held.record)
    assert written is not None
    leased, key = written.record, written.record.key
    if leased.has_meeting or leased.cancelled:
        return from_table(deps, context, leased) if leased.has_meeting else refused(
            deps, context, tombstone(leased, status=409))
    try:
        ticket = deps.quotas.admit(tenant, key.organizer_key, key.external_id)
    except BrokerError as error:  # at the limit: the lease is released with the failure recorded
        return failed(deps, context, request, tenant, key, leased, error, final=final, lease_owner=owner)
    try:
        made = make(leased, found[0])
    except BrokerError as error:
        deps.quotas.give_back(ticket)
        return failed(deps, context, request, tenant, key, leased, error, final=final, lease_owner=owner)
    try:
        stored = record_meeting(deps, context, request, key, leased, made.meeting,
                                not_applied(made.meeting, request.settings), kind=kind, ticket=ticket, created=True,
                                event=made.event, event_asked=asked(request.event_members) if made.event else None)
    except UNRECORDABLE as error:  # cancelled meanwhile, or no place left: the meeting was removed again
        return failed(deps, context, request, tenant, key, None, error, final=True, lease_owner=owner)
    if stored.meeting_id != made.meeting.get("id"):
        deps.quotas.give_back(ticket)
        log.warning("a concurrent request recorded this key's meeting first; discarding the one just made (meeting "
                    "id %s) correlation=%s", str(made.meeting.get("id"))[:80], context.correlation_id)
        discard(made)
        return from_table(deps, context, stored)
    log.info("meeting created (%s) correlation=%s externalId=%r", kind, context.correlation_id, request.external_id)
    return outcome(deps, context, Status.CREATED, tenant=tenant, meeting=made.meeting, record=stored,
                   not_applied=stored.settings_not_applied,
                   quota=deps.quotas.figures(stored.key.tenant_id, stored.key.organizer_key))


def _wait_for_holder(deps: Deps, context: Context, request: MeetingRequest, key: MeetingKey,
                     held: MeetingRecord) -> Outcome:
    """Another request holds the key: wait briefly for its meeting; answer it, or tell the caller to retry. The key
    is resolved again each time: a holder that learns the organizer's object id moves the row there."""
    for wait in WAITS:
        deps.sleep(wait)
        current = deps.records.get(deps.records.key(key.tenant_id, request.organizer_id, key.external_id))
        if current is not None and current.has_meeting:
            return from_table(deps, context, current)
        if current is None or current.lease_owner != held.lease_owner:
            break  # released (its create failed) or taken over: the caller's retry decides anew
    remaining = (held.lease_expires_at - deps.clock()).total_seconds() if held.lease_expires_at else 1.0
    error = RequestInProgress("another request for this externalId is creating its meeting; retry shortly",
                              retry_after=max(1.0, min(remaining, LEASE.total_seconds())))
    return outcome(deps, context, Status.FAILED, tenant=key.tenant_id, error=error)
