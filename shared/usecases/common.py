"""What every use case shares: its dependencies, the outcome it returns, and who the request is for.

A use case takes a ``Deps`` and its inputs, does one job, and returns one ``Outcome``: the status, the result message
that tells the world (``None`` while there is nothing to tell yet), and what the adapter needs to answer.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

from shared.domain.calendar_event import event_summary
from shared.usecases.keyed_write import Commit, compare_and_set, tombstone
from shared.domain.errors import (BrokerError, ConcurrentUpdate, MeetingCreateFailed, MeetingNotFound, MeetingPending,
                      OrganizerNotAllowed, TenantNotAllowed)
from shared.domain.meeting_request import MeetingCancel, MeetingChange, MeetingRequest
from shared.domain.messages import payload_ids, result_message, to_message
from shared.usecases.organizers import OrganizerDirectory
from shared.ports import GraphPort, TenantResolver
from shared.usecases.quota import QuotaBook
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.ports import AliasChanged, MeetingRepository
from shared.config.settings import Settings
from shared.domain.clock import Clock

log = logging.getLogger("shared.usecases")
CALENDAR_MODE_OFF = ("calendar-backed meetings are off in this deployment: they need the application permission "
                     "Calendars.ReadWrite, which reaches every mailbox unless Exchange Online RBAC for Applications "
                     "scopes it. Turn them on with CALENDAR_MODE=enabled (azd env set CALENDAR_MODE enabled; azd "
                     "provision) and scope the app with infra/scripts/grant-calendar-scope.ps1")
T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    """The ports and settings a use case works with; built once by ``shared.bootstrap``."""

    settings: Settings
    repository: MeetingRepository
    graph: GraphPort
    clock: Clock
    tenants: TenantResolver
    organizers: OrganizerDirectory
    quotas: QuotaBook
    sleep: Callable[[float], None] = time.sleep  # waiting for another request's lease (plain create)


@dataclass(frozen=True)
class Outcome:
    """What one request came to."""

    status: Status
    result: dict[str, Any] | None        # the result message; None while nothing is to be emitted yet
    meeting: dict[str, Any] | None = None
    record: MeetingRecord | None = None
    error: BrokerError | None = None
    retry_in: timedelta | None = None    # DEFERRED: when the delayed copy becomes visible
    intake: str | None = None            # ACCEPTED / DEFERRED: the intake message to queue
    not_applied: tuple[str, ...] = ()    # options Graph kept its own value for
    quota: dict[str, int] | None = None  # the organizer's figures, from 90% of the monthly limit

    @property
    def event(self) -> dict[str, Any] | None:
        """A calendar-backed meeting's event: ``{id, iCalUId, webLink}``."""
        return event_summary(self.record.event if self.record is not None else None)

    @property
    def message(self) -> str | None:
        """The result message as the results queue carries it."""
        return to_message(self.result) if self.result is not None else None

    @property
    def retryable_failure(self) -> bool:
        return self.error is not None and self.error.retryable


@dataclass(frozen=True)
class Context:
    """Who and what a result is about: the request (validated or not) and where it came from."""

    correlation_id: str
    source: str                                  # "http" or "queue"
    request: MeetingRequest | MeetingChange | MeetingCancel | None = None
    payload: Any = None                          # the raw payload, when the request did not validate

    def ids(self, default_tenant: str) -> tuple[str | None, str | None, str | None]:
        if self.request is not None:
            return self.request.tenant_id or default_tenant, self.request.organizer_id, self.request.external_id
        raw = payload_ids(self.payload)
        return raw["tenantId"] or default_tenant, raw["organizerId"], raw["externalId"]


def outcome(deps: Deps, context: Context, status: Status, *, tenant: str | None = None,
            meeting: dict[str, Any] | None = None, record: MeetingRecord | None = None,
            error: BrokerError | None = None, not_applied: tuple[str, ...] = (),
            quota: dict[str, int] | None = None) -> Outcome:
    """An outcome with its result message."""
    default_tenant, organizer_id, external_id = context.ids(deps.settings.tenant_id)
    result = result_message(
        correlation_id=context.correlation_id, tenant_id=tenant or default_tenant, organizer_id=organizer_id,
        external_id=external_id, status=status, meeting=meeting,
        error=error.as_result_error() if error else None, source=context.source, completed_at=deps.clock(),
    )
    if not_applied:
        result["settingsNotApplied"] = list(not_applied)
    if quota:
        result["quota"] = dict(quota)
    if record is not None and record.event:
        result["event"] = event_summary(record.event)
    return Outcome(status, result, meeting=meeting, record=record, error=error, not_applied=not_applied,
                   quota=quota)


def refused(deps: Deps, context: Context, error: BrokerError) -> Outcome:
    """A request that ends in ``error`` with nothing (more) stored: emitted as ``failed``."""
    return outcome(deps, context, Status.FAILED, error=error)


def tenant_of(deps: Deps, tenant_id: str | None) -> str:
    """The id of the tenant a request names (the app's own tenant by default), whatever name the caller used."""
    return deps.tenants.resolve(tenant_id or deps.settings.tenant_id)


def authorize(deps: Deps, request: MeetingRequest | MeetingChange | MeetingCancel) -> str:
    """The tenant id to act in; refuses tenants and organizers outside the allowlists before any Graph call."""
    tenant = allowed_tenant(deps, request.tenant_id)
    allowed_organizer(deps, request.organizer_id)
    return tenant


def allowed_tenant(deps: Deps, tenant_id: str | None) -> str:
    """The id of the tenant a request names (the app's own by default); TenantNotAllowed outside ALLOWED_TENANTS.
    Every route applies it, lookups included: what the app does not act on, it does not tell about either."""
    named = (tenant_id or deps.settings.tenant_id).lower()
    tenant = deps.tenants.resolve(named)
    if named not in deps.settings.allowed_tenants and tenant not in _allowed_tenant_ids(deps):
        raise TenantNotAllowed(f"tenant {named} is not in ALLOWED_TENANTS; the app does not act there")
    return tenant


def allowed_organizer(deps: Deps, organizer_id: str) -> None:
    """OrganizerNotAllowed for an organizer outside ALLOWED_ORGANIZERS."""
    if not deps.settings.allowed_organizers.allows(organizer_id):
        raise OrganizerNotAllowed(f"organizer {organizer_id} is not in ALLOWED_ORGANIZERS; the app does not act as "
                                  "them")


def _allowed_tenant_ids(deps: Deps) -> set[str]:
    allowed = set()
    for name in deps.settings.allowed_tenants:
        try:
            allowed.add(deps.tenants.resolve(name))
        except TenantNotAllowed:
            log.warning("ALLOWED_TENANTS names a tenant Entra does not know: %s", name)
    return allowed


def record_key(deps: Deps, tenant: str, organizer_id: str, external_id: str) -> MeetingKey:
    """Rows live under the organizer's object id; a UPN is translated with what Graph told us before."""
    return deps.organizers.key(tenant, organizer_id, external_id)


def keyed(deps: Deps, tenant: str, organizer_id: str, external_id: str, step: Callable[[MeetingKey], T]) -> T:
    """Run ``step`` on the request's row key; when the UPN's alias was learned meanwhile (a row keyed by the UPN can
    no longer be written), resolve the key again and run it on the object id's row."""
    for _ in range(3):
        key = record_key(deps, tenant, organizer_id, external_id)
        try:
            return step(key)
        except AliasChanged:
            deps.organizers.forget(tenant, key.organizer_key)
    raise ConcurrentUpdate(f"the organizer's alias kept changing for externalId {external_id!r}; retry")


cancelled = tombstone


def changeable(row: MeetingRecord | None, organizer_id: str, *, doing: str) -> MeetingRecord:
    """The row of a key whose meeting can be changed, locked or cancelled; otherwise the final answer for it: 404
    nothing recorded, 410 cancelled, 409 ``meeting_create_failed`` (not retryable: waiting makes no meeting) or 409
    ``meeting_pending`` (retryable: its create is still under way)."""
    if row is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {organizer_id} and this externalId")
    if row.cancelled:
        raise cancelled(row, status=410)
    if row.has_meeting:
        return row
    if row.status == Status.FAILED:
        code = (row.last_error or {}).get("code") or "an error"
        raise MeetingCreateFailed(f"this key's create request failed ({code}) and has no meeting to {doing}; send the "
                                  "create again (POST) to make one")
    raise MeetingPending(f"this key has no meeting yet: {doing} it once its create request has succeeded")


def from_table(deps: Deps, context: Context, record: MeetingRecord) -> Outcome:
    """A repeat of a request whose meeting is recorded: answered without calling Graph."""
    log.info("answered from the table correlation=%s externalId=%r", context.correlation_id,
             record.key.external_id)
    return outcome(deps, context, Status.EXISTING, tenant=record.key.tenant_id, meeting=record.meeting,
                   record=record, not_applied=record.settings_not_applied)


def record_error(deps: Deps, record: MeetingRecord, error: BrokerError, *, final: bool) -> MeetingRecord:
    """Keep the last error on the row; a created row keeps its meeting whatever happens later. Best effort: the
    outcome is told either way."""
    def note(current: MeetingRecord | None) -> MeetingRecord | Commit | None:
        if current is None or current.cancelled:
            return None
        status = current.status if current.has_meeting else (Status.FAILED if final else Status.PENDING)
        return dataclasses.replace(current, status=status, last_error=error.as_record_error(), updated_at=deps.clock())

    try:
        written = compare_and_set(deps.repository, record.key, note, current=record)
    except ConcurrentUpdate:
        return record
    return written.record if written is not None else record
