"""Use cases: create-or-get a meeting, accept one for later, look one up, and close one whose retries ran out.

Every request that passes validation and policy is recorded in the table and ends in exactly one result message.
Graph's createOrGet is the source of truth; the table makes repeats cheap and gives every request a durable record.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from .domain import (
    MeetingRequest,
    organizer_object_id,
    payload_ids,
    result_message,
    to_message,
    validate_request,
)
from .errors import (
    AccessPolicyMissing,
    BrokerError,
    ConcurrentUpdate,
    MeetingNotFound,
    OrganizerNotAllowed,
    RetriesExhausted,
    TenantNotAllowed,
)
from .graph import GraphClient
from .repository import CREATED, FAILED, PENDING, MeetingKey, MeetingRecord, MeetingRepository, RecordExists, RecordModified
from .settings import Settings

log = logging.getLogger(__name__)

CREATED_OUTCOME, EXISTING_OUTCOME, FAILED_OUTCOME = "created", "existing", "failed"
DEFERRED_OUTCOME = "deferred"  # queue path only: try again later, nothing emitted yet
_WRITE_ATTEMPTS = 5
# A fresh access-policy grant takes up to 30 minutes to apply; the queue path waits for it with growing delays.
_POLICY_FIRST_DELAY = timedelta(minutes=1)
_POLICY_MAX_DELAY = timedelta(minutes=10)


@dataclass(frozen=True)
class Outcome:
    """What processing one request came to, and the result message that tells the world."""

    status: str                      # created | existing | failed | deferred
    result: dict[str, Any] | None
    meeting: dict[str, Any] | None = None
    record: MeetingRecord | None = None
    error: BrokerError | None = None
    retry_in: timedelta | None = None  # deferred: when to try again

    @property
    def message(self) -> str:
        """The result message as the results queue carries it."""
        assert self.result is not None
        return to_message(self.result)

    @property
    def retryable_failure(self) -> bool:
        return self.error is not None and self.error.retryable


@dataclass(frozen=True)
class Acceptance:
    """An async request: either queued (pending) or already answered from the table."""

    record: MeetingRecord
    already_created: bool


def _error_record(error: BrokerError) -> dict[str, Any]:
    return {**error.as_result_error(), "status": error.status}


class MeetingService:
    def __init__(self, settings: Settings, repository: MeetingRepository, graph: GraphClient,
                 clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._repo = repository
        self._graph = graph
        self._clock = clock

    # ---- parsing shared by both entry points --------------------------------------------------------------------

    def parse(self, payload: Any, *, queue: bool) -> MeetingRequest:
        return validate_request(payload, api_version=self._settings.api_version, queue=queue)

    def tenant_of(self, request: MeetingRequest) -> str:
        return request.tenant_id or self._settings.tenant_id

    def authorize(self, request: MeetingRequest) -> str:
        """The tenant to act in; refuses tenants and organizers outside the allowlists before any Graph call."""
        tenant = self.tenant_of(request)
        if tenant not in self._settings.allowed_tenants:
            raise TenantNotAllowed(f"tenant {tenant} is not in ALLOWED_TENANTS; the app does not act there")
        if not self._settings.allowed_organizers.allows(request.organizer_id):
            raise OrganizerNotAllowed(
                f"organizer {request.organizer_id} is not in ALLOWED_ORGANIZERS; the app does not act as them")
        return tenant

    def _key(self, tenant: str, organizer_id: str, external_id: str) -> MeetingKey:
        """Rows live under the organizer's object id; a UPN is translated with what Graph told us before."""
        organizer = organizer_id.strip().lower()
        if "@" in organizer:
            organizer = self._repo.get_alias(tenant, organizer) or organizer
        return MeetingKey(tenant, organizer, external_id)

    def _result(self, status: str, *, correlation_id: str, tenant: str | None, request: MeetingRequest | None,
                source: str, meeting: dict[str, Any] | None = None, error: BrokerError | None = None,
                organizer_id: str | None = None, external_id: str | None = None) -> dict[str, Any]:
        return result_message(
            correlation_id=correlation_id,
            tenant_id=tenant,
            organizer_id=request.organizer_id if request else organizer_id,
            external_id=request.external_id if request else external_id,
            status=status,
            meeting=meeting,
            error=error.as_result_error() if error else None,
            source=source,
            completed_at=self._clock(),
        )

    def refused(self, error: BrokerError, *, correlation_id: str, source: str, payload: Any = None,
                request: MeetingRequest | None = None) -> Outcome:
        """A request refused before any work (invalid, or outside policy): emitted, not stored."""
        ids = payload_ids(payload)
        tenant = (request.tenant_id if request else ids["tenantId"]) or self._settings.tenant_id
        result = self._result(FAILED_OUTCOME, correlation_id=correlation_id, tenant=tenant, request=request,
                              source=source, error=error, organizer_id=ids["organizerId"],
                              external_id=ids["externalId"])
        return Outcome(FAILED_OUTCOME, result, error=error)

    # ---- create or get -------------------------------------------------------------------------------------------

    def submit(self, request: MeetingRequest, *, source: str, correlation_id: str,
               transient_is_final: bool) -> Outcome:
        """Create or get the meeting. Failures come back as a failed Outcome; with ``transient_is_final`` false a
        retryable failure is left pending (the caller raises so the queue retries) instead of being recorded final."""
        try:
            tenant = self.authorize(request)
        except BrokerError as error:
            return self.refused(error, correlation_id=correlation_id, source=source, request=request)
        try:
            return self._submit(request, tenant, source=source, correlation_id=correlation_id,
                                transient_is_final=transient_is_final)
        except BrokerError as error:  # storage outages while recording: nothing stored, the request is retryable
            log.warning("request not recorded: %s correlation=%s externalId=%r", error.code, correlation_id,
                        request.external_id)
            result = self._result(FAILED_OUTCOME, correlation_id=correlation_id, tenant=tenant, request=request,
                                  source=source, error=error)
            return Outcome(FAILED_OUTCOME, result, error=error)

    def _submit(self, request: MeetingRequest, tenant: str, *, source: str, correlation_id: str,
                transient_is_final: bool) -> Outcome:
        key = self._key(tenant, request.organizer_id, request.external_id)
        record = self._repo.get(key)
        if record and record.status == CREATED and record.fingerprint == request.fingerprint and record.meeting:
            return self.from_table(request, record, source=source, correlation_id=correlation_id)

        record = self._claim(key, record, request, correlation_id=correlation_id, source=source)
        try:
            answer = self._graph.create_or_get(tenant, request.organizer_id, request.graph_body(self._clock()),
                                               correlation_id=correlation_id)
        except BrokerError as error:
            delay = None if transient_is_final else self._policy_delay(record, error)
            if delay is not None:
                log.warning("no access policy yet for organizer %s; trying again in %s (grace window) "
                            "correlation=%s", request.organizer_id, delay, correlation_id)
                stored = self._record_error(record, error, final=False)
                return Outcome(DEFERRED_OUTCOME, None, record=stored, error=error, retry_in=delay)
            return self._failed(record, request, error, tenant=tenant, source=source, correlation_id=correlation_id,
                                final=transient_is_final or not error.retryable)

        stored = self._store_meeting(key, record, request, answer.meeting, correlation_id=correlation_id,
                                     source=source)
        status = CREATED_OUTCOME if answer.created else EXISTING_OUTCOME
        log.info("meeting %s correlation=%s externalId=%r", status, correlation_id, request.external_id)
        result = self._result(status, correlation_id=correlation_id, tenant=tenant, request=request, source=source,
                              meeting=answer.meeting)
        return Outcome(status, result, meeting=answer.meeting, record=stored)

    def _policy_delay(self, record: MeetingRecord, error: BrokerError) -> timedelta | None:
        """Within the grace window after a request's first attempt, a 403 may be a grant that has not applied yet."""
        if not isinstance(error, AccessPolicyMissing) or record.status == CREATED:
            return None
        now = self._clock()
        remaining = (record.first_attempt_at or now) + self._settings.access_policy_grace - now
        if remaining <= timedelta(0):
            return None
        growing = _POLICY_FIRST_DELAY * (2 ** max(0, record.attempts - 1))
        delay = min(growing, _POLICY_MAX_DELAY, remaining)
        return max(delay, timedelta(seconds=1))

    def from_table(self, request: MeetingRequest, record: MeetingRecord, *, source: str,
                   correlation_id: str) -> Outcome:
        """A repeat of a request whose meeting is recorded: answered without calling Graph."""
        log.info("answered from the table correlation=%s externalId=%r", correlation_id, request.external_id)
        result = self._result(EXISTING_OUTCOME, correlation_id=correlation_id, tenant=record.key.tenant_id,
                              request=request, source=source, meeting=record.meeting)
        return Outcome(EXISTING_OUTCOME, result, meeting=record.meeting, record=record)

    def _claim(self, key: MeetingKey, record: MeetingRecord | None, request: MeetingRequest, *,
               correlation_id: str, source: str) -> MeetingRecord:
        """Record the attempt before calling Graph, so every accepted request has a durable row."""
        now = self._clock()
        for _ in range(_WRITE_ATTEMPTS):
            if record is None:
                fresh = MeetingRecord(
                    key=key, status=PENDING, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
                    correlation_id=correlation_id, source=source, meeting=None, last_error=None, attempts=1,
                    first_attempt_at=now, created_at=now, updated_at=now,
                )
                try:
                    return self._repo.insert(fresh)
                except RecordExists as exists:  # a concurrent request got there first: build on its row
                    record = exists.existing
                    continue
            if record.status == CREATED:
                return record  # a meeting exists; Graph will hand it back unchanged
            changed = dataclasses.replace(
                record, status=PENDING, fingerprint=request.fingerprint, correlation_id=correlation_id,
                source=source, attempts=record.attempts + 1, first_attempt_at=record.first_attempt_at or now,
                updated_at=now,
            )
            try:
                return self._repo.replace(changed)
            except RecordModified:
                record = self._repo.get(key)
        raise ConcurrentUpdate(f"the row for externalId {key.external_id!r} kept changing; retry")

    def _store_meeting(self, key: MeetingKey, record: MeetingRecord, request: MeetingRequest,
                       meeting: dict[str, Any], *, correlation_id: str, source: str) -> MeetingRecord:
        tenant = key.tenant_id
        object_id = organizer_object_id(meeting)
        target = key
        if object_id and object_id != key.organizer_key:
            # The caller named the organizer by UPN: remember the object id Graph answered with, so the UPN and the
            # object id lead to one row.
            self._repo.put_alias(tenant, key.organizer_key, object_id)
            target = MeetingKey(tenant, object_id, key.external_id)
        now = self._clock()
        current = record if target == key else self._repo.get(target)
        for _ in range(_WRITE_ATTEMPTS):
            if current and current.status == CREATED and (current.meeting or {}).get("id") == meeting.get("id"):
                stored = current  # a concurrent request already recorded this very meeting: nothing to change
                break
            base = current or dataclasses.replace(record, key=target, etag=None, created_at=now)
            stored = dataclasses.replace(
                base, status=CREATED, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
                correlation_id=correlation_id, source=source, meeting=meeting, last_error=None, updated_at=now,
                attempts=max(base.attempts, record.attempts), first_attempt_at=base.first_attempt_at or now,
            )
            try:
                stored = self._repo.replace(stored) if current else self._repo.insert(stored)
                break
            except RecordExists as exists:
                current = exists.existing
            except RecordModified:
                current = self._repo.get(target)
        else:
            raise ConcurrentUpdate(f"the row for externalId {target.external_id!r} kept changing; retry")
        if target != key:
            self._repo.delete(key)  # the UPN-keyed pending row is superseded by the object-id row
        return stored

    def _failed(self, record: MeetingRecord, request: MeetingRequest, error: BrokerError, *, tenant: str,
                source: str, correlation_id: str, final: bool) -> Outcome:
        log.warning("createOrGet failed code=%s retryable=%s final=%s correlation=%s externalId=%r", error.code,
                    error.retryable, final, correlation_id, request.external_id)
        stored = self._record_error(record, error, final=final)
        result = self._result(FAILED_OUTCOME, correlation_id=correlation_id, tenant=tenant, request=request,
                              source=source, error=error)
        return Outcome(FAILED_OUTCOME, result, record=stored, error=error)

    def _record_error(self, record: MeetingRecord, error: BrokerError, *, final: bool) -> MeetingRecord:
        """Keep the last error on the row; a created row keeps its meeting whatever happens later."""
        current: MeetingRecord | None = record
        for _ in range(_WRITE_ATTEMPTS):
            if current is None:
                return record
            status = current.status if current.status == CREATED else (FAILED if final else PENDING)
            changed = dataclasses.replace(current, status=status, last_error=_error_record(error),
                                          updated_at=self._clock())
            try:
                return self._repo.replace(changed)
            except RecordModified:
                current = self._repo.get(current.key)
        return record

    # ---- async intake --------------------------------------------------------------------------------------------

    def accept(self, request: MeetingRequest, *, correlation_id: str, source: str = "http") -> Acceptance:
        """Record a pending row for a request that the queue will process (answers from the table when done)."""
        tenant = self.authorize(request)
        key = self._key(tenant, request.organizer_id, request.external_id)
        record = self._repo.get(key)
        if record and record.status == CREATED and record.fingerprint == request.fingerprint and record.meeting:
            return Acceptance(record, already_created=True)
        if record and record.status == CREATED:
            return Acceptance(record, already_created=False)
        now = self._clock()
        for _ in range(_WRITE_ATTEMPTS):
            try:
                if record is None:
                    record = self._repo.insert(MeetingRecord(
                        key=key, status=PENDING, fingerprint=request.fingerprint, organizer_id=request.organizer_id,
                        correlation_id=correlation_id, source=source, meeting=None, last_error=None, attempts=0,
                        first_attempt_at=None, created_at=now, updated_at=now,
                    ))
                elif record.status != CREATED:
                    record = self._repo.replace(dataclasses.replace(
                        record, status=PENDING, fingerprint=request.fingerprint, correlation_id=correlation_id,
                        source=source, updated_at=now))
                return Acceptance(record, already_created=False)
            except RecordExists as exists:
                record = exists.existing
            except RecordModified:
                record = self._repo.get(key)
        raise ConcurrentUpdate(f"the row for externalId {key.external_id!r} kept changing; retry")

    # ---- lookups -------------------------------------------------------------------------------------------------

    def find(self, organizer_id: str, external_id: str, tenant_id: str | None = None) -> MeetingRecord:
        tenant = (tenant_id or self._settings.tenant_id).lower()
        key = self._key(tenant, organizer_id, external_id)
        record = self._repo.get(key)
        if record is None and key.organizer_key != organizer_id.strip().lower():
            record = self._repo.get(MeetingKey(tenant, organizer_id.strip().lower(), external_id))
        if record is None:
            raise MeetingNotFound(f"no meeting is recorded for organizer {organizer_id} and this externalId")
        return record

    # ---- poison --------------------------------------------------------------------------------------------------

    def exhausted(self, body: str, *, correlation_id: str, dequeue_count: int | None = None) -> Outcome:
        """A queued request failed on every attempt: record and emit a final ``retries_exhausted``."""
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        request: MeetingRequest | None = None
        try:
            request = self.parse(payload, queue=True)
        except BrokerError:
            pass
        correlation_id = (request.correlation_id if request and request.correlation_id else correlation_id)
        last = None
        record: MeetingRecord | None = None
        if request is not None:
            tenant = self.tenant_of(request)
            record = self._repo.get(self._key(tenant, request.organizer_id, request.external_id))
            last = record.last_error if record else None
            if record and record.status == CREATED and record.meeting:
                # It did succeed after all (e.g. the result was stored by a concurrent request).
                result = self._result(EXISTING_OUTCOME, correlation_id=correlation_id, tenant=tenant,
                                      request=request, source="queue", meeting=record.meeting)
                return Outcome(EXISTING_OUTCOME, result, meeting=record.meeting, record=record)
        reason = f"; last error: {last.get('code')}: {last.get('message')}" if last else ""
        error = RetriesExhausted(f"the request failed on every attempt and was moved to the poison queue{reason}")
        stored = None
        if request is not None and record is not None:
            stored = self._record_error(record, error, final=True)
        log.error("retries exhausted correlation=%s dequeue_count=%s", correlation_id, dequeue_count)
        outcome = self.refused(error, correlation_id=correlation_id, source="queue", payload=payload, request=request)
        return dataclasses.replace(outcome, record=stored)

