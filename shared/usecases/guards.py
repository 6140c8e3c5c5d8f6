"""The rules a request meets before any Graph call: tenant and organizer allowlists, the state a key must be in to be
changed, and calendar mode."""
from __future__ import annotations

import logging

from shared.domain.errors import (CalendarModeDisabled, MeetingCreateFailed, MeetingNotFound, MeetingPending,
                                  OrganizerNotAllowed, TenantNotAllowed)
from shared.domain.meeting_request import MeetingCancel, MeetingChange, MeetingRequest
from shared.domain.records import MeetingRecord, Status
from shared.usecases.context import Deps
from shared.usecases.keyed_write import tombstone

log = logging.getLogger("shared.usecases")
CALENDAR_MODE_OFF = ("calendar-backed meetings are off in this deployment: they need the application permission "
                     "Calendars.ReadWrite, which reaches every mailbox unless Exchange Online RBAC for Applications "
                     "scopes it. Turn them on with CALENDAR_MODE=enabled (azd env set CALENDAR_MODE enabled; azd "
                     "provision) and scope the app with infra/scripts/grant-calendar-scope.ps1")


def calendar_mode(deps: Deps, calendar: bool) -> None:
    """CalendarModeDisabled for a calendar-backed request or meeting while ``CALENDAR_MODE`` is off."""
    if calendar and not deps.settings.calendar_mode:
        raise CalendarModeDisabled(CALENDAR_MODE_OFF)


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


def changeable(row: MeetingRecord | None, organizer_id: str, *, doing: str) -> MeetingRecord:
    """The row of a key whose meeting can be changed, locked or cancelled; otherwise the final answer for it: 404
    nothing recorded, 410 cancelled, 409 ``meeting_create_failed`` (not retryable: waiting makes no meeting) or 409
    ``meeting_pending`` (retryable: its create is still under way)."""
    if row is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {organizer_id} and this externalId")
    if row.cancelled:
        raise tombstone(row, status=410)
    if row.has_meeting:
        return row
    if row.status == Status.FAILED:
        code = (row.last_error or {}).get("code") or "an error"
        raise MeetingCreateFailed(f"this key's create request failed ({code}) and has no meeting to {doing}; send the "
                                  "create again (POST) to make one")
    raise MeetingPending(f"this key has no meeting yet: {doing} it once its create request has succeeded")




def live_meeting(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None, *,
                 doing: str) -> MeetingRecord:
    """The record of a key whose meeting exists, for a lookup that goes on to Graph (attendance, transcripts): the
    allowlists, then 404 nothing recorded, 410 cancelled, 409 ``meeting_pending`` or ``meeting_create_failed``."""
    tenant = allowed_tenant(deps, tenant_id)
    allowed_organizer(deps, organizer_id)
    return changeable(deps.records.get(deps.records.key(tenant, organizer_id, external_id)), organizer_id,
                      doing=doing)
