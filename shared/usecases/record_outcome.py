"""How every create path ends: the meeting Graph answered with recorded under the organizer's object id (with the
learned alias and the organizer's counter, in one write), or the failure recorded with what the queue path needs to
try again (attempts, the first attempt's time, the grace window).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from shared.domain.errors import (AccessPolicyMissing, BrokerError, ConcurrentUpdate, MeetingCancelled,
                                  OrganizerQuotaExceeded)
from shared.domain.identifiers import organizer_object_id
from shared.domain.meeting_request import MeetingRequest
from shared.domain.messages import to_message
from shared.domain.records import Kind, MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, log, outcome
from shared.usecases.keyed_write import Commit
from shared.usecases.quota import Ticket

# What stops a meeting Graph made from being recorded; the meeting is removed again (``record_meeting``).
UNRECORDABLE = (MeetingCancelled, OrganizerQuotaExceeded)
# A fresh access-policy grant takes up to 30 minutes to apply; the queue path waits for it with growing delays.
_POLICY_FIRST_DELAY = timedelta(minutes=1)
_POLICY_MAX_DELAY = timedelta(minutes=10)


def record_meeting(deps: Deps, context: Context, request: MeetingRequest, key: MeetingKey,
                   record: MeetingRecord | None, meeting: dict[str, Any], not_applied: tuple[str, ...], *,
                   kind: Kind, ticket: Ticket, created: bool, event: dict[str, Any] | None = None,
                   event_asked: dict[str, str] | None = None) -> MeetingRecord:
    """Record the meeting Graph answered with, under the organizer's object id (which the Graph adapter checked the
    answer names), with the learned alias and the organizer's counter. A row that already holds a meeting keeps it
    when it is this one, and for plain create whatever it is (the first meeting recorded for a key is the one it ever
    returns).

    A meeting that cannot be recorded must not stay live: when the key was cancelled meanwhile (its tombstone wins,
    ``MeetingCancelled``) or the organizer has no place left under the monthly limit (``OrganizerQuotaExceeded``,
    for an organizer whose object id this answer named first), it is deleted in Graph (a calendar-backed one
    cancelled, so its attendees learn it is off) and the error raised."""
    now = deps.clock()
    object_id = organizer_object_id(meeting) or key.organizer_key
    target = MeetingKey(key.tenant_id, object_id, key.external_id)

    def store(row: MeetingRecord | None, target: MeetingKey) -> MeetingRecord | Commit:
        if row and row.has_meeting and (row.meeting_id == meeting.get("id") or kind != Kind.CREATE_OR_GET):
            return row  # a concurrent request already recorded this key's meeting: nothing to change
        base = row or new_record(target, context, request, now)
        stored = dataclasses.replace(
            base, status=Status.CREATED, kind=kind, fingerprint=request.fingerprint,
            organizer_id=request.organizer_id, correlation_id=context.correlation_id, source=context.source,
            meeting=meeting, event=event if event is not None else base.event,
            event_asked=event_asked if event is not None else base.event_asked, last_error=None,
            settings_not_applied=not_applied, attempts=base.attempts + 1,
            first_attempt_at=base.first_attempt_at or now, lease_owner=None, lease_expires_at=None,
            updated_at=now, callback_url=request.callback_url or base.callback_url,
            collect_attendance=request.collect_attendance or base.collect_attendance)
        counted = deps.quotas.counted(ticket, target.tenant_id, target.organizer_key, target.external_id,
                                      created=created)
        return Commit(stored, quota=counted)

    try:  # under a new key, the insert tells whether a row is there
        written = deps.records.write(target, store, current=record if target == key else None,
                                     learns=key.organizer_key,
                                     on_quota_changed=lambda: deps.quotas.refresh(target.tenant_id, object_id))
    except UNRECORDABLE as error:
        log.warning("the meeting Graph answered cannot be recorded (%s); removing it correlation=%s externalId=%r",
                    error.code, context.correlation_id, key.external_id)
        _undo(deps, context, key.tenant_id, object_id, meeting, event)
        deps.quotas.give_back(ticket)
        raise
    assert written is not None
    deps.quotas.written(written.quota)
    if not created:
        deps.quotas.give_back(ticket)  # a reserved place for a meeting that existed already
    return written.record


def _undo(deps: Deps, context: Context, tenant: str, organizer: str, meeting: dict[str, Any],
          event: dict[str, Any] | None) -> None:
    """Remove a meeting that must not stay live. Best effort: a failure is logged with the meeting's id."""
    try:
        if event is not None and event.get("id"):
            deps.graph.cancel_event(tenant, organizer, str(event["id"]), None, correlation_id=context.correlation_id)
        else:
            deps.graph.delete(tenant, organizer, str(meeting.get("id")), correlation_id=context.correlation_id)
    except BrokerError as error:
        log.error("a meeting that must not stay live could not be removed (%s); meeting id %s is orphaned in Graph "
                  "correlation=%s", error.code, str(meeting.get("id"))[:80], context.correlation_id)


def failed(deps: Deps, context: Context, request: MeetingRequest, tenant: str, key: MeetingKey,
           record: MeetingRecord | None, error: BrokerError, *, final: bool, lease_owner: str | None = None) -> Outcome:
    """Record the error on the row (releasing this request's lease) and tell the outcome: failed, pending for the
    queue's retry, or deferred within the access-policy grace window."""
    now = deps.clock()
    attempts = (record.attempts if record else 0) + 1
    first_attempt = (record.first_attempt_at if record else None) or now
    has_meeting = bool(record and record.has_meeting)
    delay = None if final or has_meeting else _policy_delay(deps, error, first_attempt, attempts, now)
    final_failure = (final or not error.retryable) and delay is None
    status = Status.FAILED if final_failure else Status.PENDING

    def note(row: MeetingRecord | None, key: MeetingKey) -> MeetingRecord | None:
        if row and (row.has_meeting or row.cancelled):  # a meeting (or its tombstone) stays whatever happens later
            return dataclasses.replace(row, last_error=error.as_record_error(), updated_at=now,
                                       callback_url=row.callback_url if row.cancelled
                                       else request.callback_url or row.callback_url)
        base = row or new_record(key, context, request, now)
        if lease_owner is not None and base.lease_owner == lease_owner:  # let the next request create
            base = dataclasses.replace(base, lease_owner=None, lease_expires_at=None)
        return dataclasses.replace(
            base, status=status, fingerprint=request.fingerprint, correlation_id=context.correlation_id,
            source=context.source, last_error=error.as_record_error(), attempts=base.attempts + 1,
            first_attempt_at=base.first_attempt_at or now, updated_at=now,
            callback_url=request.callback_url or base.callback_url)

    written = deps.records.write(key, note, current=record)
    assert written is not None
    if delay is not None:
        log.warning("no access policy yet for organizer %s; trying again in %s (grace window) correlation=%s",
                    written.record.key.organizer_key, delay, context.correlation_id)
        intake = to_message(request.as_payload(tenant_id=tenant, correlation_id=context.correlation_id))
        return Outcome(Status.DEFERRED, None, record=written.record, error=error, retry_in=delay, intake=intake)
    log.warning("create failed code=%s retryable=%s final=%s correlation=%s externalId=%r", error.code,
                error.retryable, final_failure, context.correlation_id, key.external_id)
    return outcome(deps, context, Status.FAILED, tenant=tenant, record=written.record, error=error)


def new_record(key: MeetingKey, context: Context, request: MeetingRequest, now: datetime) -> MeetingRecord:
    return MeetingRecord(
        key=key, status=Status.PENDING, fingerprint=request.fingerprint,
        organizer_id=request.organizer_id, correlation_id=context.correlation_id, source=context.source,
        meeting=None, last_error=None, attempts=0, first_attempt_at=now, created_at=now, updated_at=now,
        kind=Kind.CALENDAR if request.calendar else Kind.CREATE if request.plain_create else Kind.CREATE_OR_GET,
        collect_attendance=request.collect_attendance,
    )


def _policy_delay(deps: Deps, error: BrokerError, first_attempt: datetime, attempts: int,
                  now: datetime) -> timedelta | None:
    """Within the grace window after a request's first attempt, a 403 may be a grant that has not applied yet."""
    if not isinstance(error, AccessPolicyMissing):
        return None
    remaining = first_attempt + deps.settings.access_policy_grace - now
    if remaining <= timedelta(0):
        return None
    growing = _POLICY_FIRST_DELAY * (2 ** max(0, attempts - 1))
    return max(min(growing, _POLICY_MAX_DELAY, remaining), timedelta(seconds=1))


def record_error(deps: Deps, record: MeetingRecord, error: BrokerError, *, final: bool) -> MeetingRecord:
    """Keep the last error on the row; a created row keeps its meeting whatever happens later. Best effort: the
    outcome is told either way."""
    def note(current: MeetingRecord | None, _: MeetingKey) -> MeetingRecord | None:
        if current is None or current.cancelled:
            return None
        status = current.status if current.has_meeting else (Status.FAILED if final else Status.PENDING)
        return dataclasses.replace(current, status=status, last_error=error.as_record_error(), updated_at=deps.clock())

    try:
        written = deps.records.write(record.key, note, current=record)
    except ConcurrentUpdate:
        return record
    return written.record if written is not None else record
