"""Use case: create a meeting, or get the one its (tenant, organizer, externalId) already has.

The row is claimed (``pending``) before Graph is called, so every accepted request has a durable record; Graph's
createOrGet is the source of truth for the meeting, and the table answers repeats without calling Graph.
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from ..cas import UNREAD, compare_and_set
from ..errors import AccessPolicyMissing, BrokerError
from ..meeting_request import MeetingRequest
from ..messages import to_message
from ..records import MeetingKey, MeetingRecord, Status
from ..values import organizer_object_id
from .common import Context, Deps, Outcome, authorize, from_table, log, outcome, record_error, record_key, refused

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
        tenant = authorize(deps.settings, request)
    except BrokerError as error:
        return refused(deps, context, error)
    try:
        return _create(deps, context, request, tenant, final=final)
    except BrokerError as error:  # storage outages while recording: the request stays retryable
        log.warning("request not recorded: %s correlation=%s externalId=%r", error.code, correlation_id,
                    request.external_id)
        return outcome(deps, context, Status.FAILED, tenant=tenant, error=error)


def _create(deps: Deps, context: Context, request: MeetingRequest, tenant: str, *, final: bool) -> Outcome:
    key = record_key(deps, tenant, request.organizer_id, request.external_id)
    record = deps.repository.get(key)
    if record and record.has_meeting and record.fingerprint == request.fingerprint:
        return from_table(deps, context, record)

    claimed = compare_and_set(deps.repository, key, lambda current: _claim(deps, context, current, key),
                              current=record)
    assert claimed is not None
    try:
        answer = deps.graph.create_or_get(tenant, request.organizer_id, request.graph_body(deps.clock()),
                                          correlation_id=context.correlation_id)
    except BrokerError as error:
        delay = None if final else _policy_delay(deps, claimed, error)
        if delay is not None:
            log.warning("no access policy yet for organizer %s; trying again in %s (grace window) correlation=%s",
                        request.organizer_id, delay, context.correlation_id)
            stored = record_error(deps, claimed, error, final=False)
            intake = to_message(request.as_payload(tenant_id=tenant, correlation_id=context.correlation_id))
            return Outcome(Status.DEFERRED, None, record=stored, error=error, retry_in=delay, intake=intake)
        final_failure = final or not error.retryable
        log.warning("createOrGet failed code=%s retryable=%s final=%s correlation=%s externalId=%r", error.code,
                    error.retryable, final_failure, context.correlation_id, request.external_id)
        stored = record_error(deps, claimed, error, final=final_failure)
        return outcome(deps, context, Status.FAILED, tenant=tenant, record=stored, error=error)

    stored = _store_meeting(deps, context, claimed, answer.meeting)
    status = Status.CREATED if answer.created else Status.EXISTING
    log.info("meeting %s correlation=%s externalId=%r", status, context.correlation_id, request.external_id)
    return outcome(deps, context, status, tenant=tenant, meeting=answer.meeting, record=stored)


def _claim(deps: Deps, context: Context, current: MeetingRecord | None, key: MeetingKey) -> MeetingRecord:
    """The row that records this attempt before Graph is called; a row that holds a meeting stays as it is."""
    request, now = context.request, deps.clock()
    assert request is not None
    if current is None:
        return MeetingRecord(
            key=key, status=Status.PENDING, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
            correlation_id=context.correlation_id, source=context.source, meeting=None, last_error=None, attempts=1,
            first_attempt_at=now, created_at=now, updated_at=now,
        )
    if current.status == Status.CREATED:
        return current  # a meeting exists; Graph will hand it back unchanged
    return dataclasses.replace(
        current, status=Status.PENDING, fingerprint=request.fingerprint, correlation_id=context.correlation_id,
        source=context.source, attempts=current.attempts + 1, first_attempt_at=current.first_attempt_at or now,
        updated_at=now,
    )


def _store_meeting(deps: Deps, context: Context, claimed: MeetingRecord, meeting: dict) -> MeetingRecord:
    """Record the meeting Graph answered with, under the organizer's object id."""
    request, now, key = context.request, deps.clock(), claimed.key
    assert request is not None
    target = key
    object_id = organizer_object_id(meeting)
    if object_id and object_id != key.organizer_key:
        # The caller named the organizer by UPN: remember the object id Graph answered with, so the UPN and the
        # object id lead to one row.
        deps.repository.put_alias(key.tenant_id, key.organizer_key, object_id)
        target = MeetingKey(key.tenant_id, object_id, key.external_id)

    def store(current: MeetingRecord | None) -> MeetingRecord:
        if current and current.status == Status.CREATED and current.meeting_id == meeting.get("id"):
            return current  # a concurrent request already recorded this very meeting: nothing to change
        base = current or dataclasses.replace(claimed, key=target, etag=None, created_at=now)
        return dataclasses.replace(
            base, status=Status.CREATED, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
            correlation_id=context.correlation_id, source=context.source, meeting=meeting, last_error=None,
            updated_at=now, attempts=max(base.attempts, claimed.attempts),
            first_attempt_at=base.first_attempt_at or now,
        )

    stored = compare_and_set(deps.repository, target, store, current=claimed if target == key else UNREAD)
    assert stored is not None
    if target != key:
        deps.repository.delete(key)  # the UPN-keyed pending row is superseded by the object-id row
    return stored


def _policy_delay(deps: Deps, record: MeetingRecord, error: BrokerError) -> timedelta | None:
    """Within the grace window after a request's first attempt, a 403 may be a grant that has not applied yet."""
    if not isinstance(error, AccessPolicyMissing) or record.status == Status.CREATED:
        return None
    now = deps.clock()
    remaining = (record.first_attempt_at or now) + deps.settings.access_policy_grace - now
    if remaining <= timedelta(0):
        return None
    growing = _POLICY_FIRST_DELAY * (2 ** max(0, record.attempts - 1))
    return max(min(growing, _POLICY_MAX_DELAY, remaining), timedelta(seconds=1))
