"""Use cases: look a meeting up (by its key, or by the join link a person pastes), and an organizer's quota.
Served from the table only, never from Graph."""
from __future__ import annotations

from typing import Any

from shared.domain.errors import MeetingNotFound
from shared.usecases.quota import month_of, next_month_start
from shared.domain.records import MeetingRecord
from shared.domain.clock import format_datetime
from shared.usecases.context import Deps
from shared.usecases.guards import allowed_organizer, allowed_tenant


def find_meeting(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None = None) -> MeetingRecord:
    """The record, whatever its status (a tombstone included); MeetingNotFound when nothing is recorded. Tenants
    and organizers outside the allowlists are refused as they are for a create."""
    tenant = allowed_tenant(deps, tenant_id)
    allowed_organizer(deps, organizer_id)
    record = deps.records.get(deps.records.key(tenant, organizer_id, external_id))
    if record is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {organizer_id} and this externalId")
    return record


def find_by_join_link(deps: Deps, *, join_web_url: str | None = None, join_meeting_id: str | None = None,
                      tenant_id: str | None = None) -> MeetingRecord:
    """The record whose meeting has this join URL (matched after normalising its encoding) or join meeting id; a
    meeting of an organizer outside ALLOWED_ORGANIZERS is not told about."""
    tenant = allowed_tenant(deps, tenant_id)
    if join_web_url is not None:
        record = deps.repository.record_by_join_url(tenant, join_web_url)
    else:
        record = deps.repository.record_by_join_meeting_id(tenant, join_meeting_id or "")
    if record is None:
        raise MeetingNotFound("no meeting recorded by this broker has this join link")
    allowed_organizer(deps, record.organizer_id)
    return record


def organizer_quota(deps: Deps, organizer_id: str, tenant_id: str | None = None) -> dict[str, Any]:
    """The organizer's figures for the current UTC month."""
    tenant = allowed_tenant(deps, tenant_id)
    allowed_organizer(deps, organizer_id)
    organizer = deps.organizers.resolve(tenant, organizer_id)
    now = deps.clock()
    used = deps.repository.get_quota(tenant, organizer, month_of(now)).used
    limit = deps.settings.monthly_meeting_limit
    return {"organizerId": organizer_id, "tenantId": tenant, "month": month_of(now), "used": used,
            "limit": limit or None, "remaining": max(0, limit - used) if limit else None,
            "resetsAt": format_datetime(next_month_start(now))}
