"""Use case: create a meeting, or get the one its (tenant, organizer, externalId) already has.

Graph's createOrGet is idempotent by externalId, so no row is claimed before the call: concurrent requests for one
key all get the same meeting from Graph and settle on one row through the conditional insert that records it
(the first writes, the others find the same meeting there and write nothing). A repeat whose meeting is recorded is
answered from the table without calling Graph. A failure is recorded too, so the row shows the last error and the
queue path can measure the access-policy grace window from the first attempt.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from ..cas import compare_and_set
from ..errors import AccessPolicyMissing, BrokerError
from ..meeting_request import MeetingRequest
from ..messages import to_message
from ..records import MeetingKey, MeetingRecord, Status
from ..values import organizer_object_id
from .common import (Context, Deps, Outcome, authorize, error_record, from_table, log, outcome, record_key,
                     refused)

# A fresh access-policy grant takes up to 30 minutes to apply; the queue path waits for it with growing delays.
_POLICY_FIRST_DELAY = timedelta(minutes=1)
_POLICY_MAX_DELAY = timedelta(minutes=10)


def create_meeting(deps: Deps, request: MeetingRequest, *, source: str, correlation_id: str,
                   final: bool) -> Outcome:
    """Create or get the meeting. Failures come back as a ``failed`` Outcome; with ``final`` false (the queue path)
    a retryable failure leaves the row pending (the adapter raises so the host retries), and a 403 within the
    access-policy grace window comes back ``deferred`` with a delayed intake copy."""
    context = Context(correlation_id, source, request)
    try:
        tenant = authorize(deps, request)
        body = request.graph_body(deps.clock())
    except BrokerError as error:
        return refused(deps, context, error)
    try:
        return _create(deps, context, request, tenant, body, final=final)
    except BrokerError as error:  # storage outages while reading or recording: the request stays retryable
        log.warning("request not recorded: %s correlation=%s externalId=%r", error.code, correlation_id,
                    request.external_id)
        return outcome(deps, context, Status.FAILED, tenant=tenant, error=error)


def _create(deps: Deps, context: Context, request: MeetingRequest, tenant: str, body: dict[str, Any], *,
            final: bool) -> Outcome:
    key = record_key(deps, tenant, request.organizer_id, request.external_id)
    record = deps.repository.get(key)
    if record and record.has_meeting and record.fingerprint == request.fingerprint:
        return from_table(deps, context, record)
    try:
        answer = deps.graph.create_or_get(tenant, request.organizer_id, body, correlation_id=context.correlation_id)
    except BrokerError as error:
        return _failed(deps, context, tenant, key, record, error, final=final)
    stored = _record_meeting(deps, context, key, record, answer.meeting)
    status = Status.CREATED if answer.created else Status.EXISTING
    log.info("meeting %s correlation=%s externalId=%r", status, context.correlation_id, request.external_id)
    return outcome(deps, context, status, tenant=tenant, meeting=answer.meeting, record=stored)


def _record_meeting(deps: Deps, context: Context, key: MeetingKey, record: MeetingRecord | None,
                    meeting: dict[str, Any]) -> MeetingRecord:
    """Record the meeting Graph answered with, under the organizer's object id (which the Graph adapter checked
    the answer names)."""
    request, now = context.request, deps.clock()
    assert request is not None
    object_id = organizer_object_id(meeting) or key.organizer_key
    target, current = key, record
    if object_id != key.organizer_key:
        # Named by a UPN whose object id was not known yet: learn it (which moves rows keyed by the UPN, the one
        # read above included) and record under the object id; the insert tells whether a row is already there.
        deps.organizers.learn(key.tenant_id, key.organizer_key, object_id)
        target, current = MeetingKey(key.tenant_id, object_id, key.external_id), None

    def store(row: MeetingRecord | None) -> MeetingRecord:
        if row and row.has_meeting and row.meeting_id == meeting.get("id"):
            return row  # a concurrent request already recorded this very meeting: nothing to change
        base = row or _new_record(target, context, now)
        return dataclasses.replace(
            base, status=Status.CREATED, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
            correlation_id=context.correlation_id, source=context.source, meeting=meeting, last_error=None,
            attempts=base.attempts + 1, first_attempt_at=base.first_attempt_at or now, updated_at=now,
        )

    stored = compare_and_set(deps.repository, target, store, current=current)
    assert stored is not None
    return stored


def _failed(deps: Deps, context: Context, tenant: str, key: MeetingKey, record: MeetingRecord | None,
            error: BrokerError, *, final: bool) -> Outcome:
    """Record the error on the row and tell the outcome: failed, pending for the queue's retry, or deferred."""
    now = deps.clock()
    attempts = (record.attempts if record else 0) + 1
    first_attempt = (record.first_attempt_at if record else None) or now
    has_meeting = bool(record and record.has_meeting)
    delay = None if final or has_meeting else _policy_delay(deps, error, first_attempt, attempts, now)
    final_failure = (final or not error.retryable) and delay is None
    status = Status.FAILED if final_failure else Status.PENDING

    def note(row: MeetingRecord | None) -> MeetingRecord:
        if row and row.has_meeting:  # a created row keeps its meeting whatever happens later
            return dataclasses.replace(row, last_error=error_record(error), updated_at=now)
        base = row or _new_record(key, context, now)
        assert context.request is not None
        return dataclasses.replace(
            base, status=status, fingerprint=context.request.fingerprint, correlation_id=context.correlation_id,
            source=context.source, last_error=error_record(error), attempts=base.attempts + 1,
            first_attempt_at=base.first_attempt_at or now, updated_at=now)

    stored = compare_and_set(deps.repository, key, note, current=record)
    assert stored is not None
    stored = deps.organizers.settle(stored)
    if delay is not None:
        log.warning("no access policy yet for organizer %s; trying again in %s (grace window) correlation=%s",
                    key.organizer_key, delay, context.correlation_id)
        assert context.request is not None
        intake = to_message(context.request.as_payload(tenant_id=tenant, correlation_id=context.correlation_id))
        return Outcome(Status.DEFERRED, None, record=stored, error=error, retry_in=delay, intake=intake)
    log.warning("createOrGet failed code=%s retryable=%s final=%s correlation=%s externalId=%r", error.code,
                error.retryable, final_failure, context.correlation_id, key.external_id)
    return outcome(deps, context, Status.FAILED, tenant=tenant, record=stored, error=error)


def _new_record(key: MeetingKey, context: Context, now: datetime) -> MeetingRecord:
    assert context.request is not None
    return MeetingRecord(
        key=key, status=Status.PENDING, fingerprint=context.request.fingerprint,
        organizer_id=context.request.organizer_id, correlation_id=context.correlation_id, source=context.source,
        meeting=None, last_error=None, attempts=0, first_attempt_at=now, created_at=now, updated_at=now,
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
