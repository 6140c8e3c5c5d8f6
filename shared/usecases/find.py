"""Use case: look a meeting up by (tenant, organizer, externalId). Served from the table only, never from Graph."""
from __future__ import annotations

from ..errors import MeetingNotFound
from ..records import MeetingKey, MeetingRecord
from ..values import normalize_organizer
from .common import Deps, record_key, tenant_of


def find_meeting(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None = None) -> MeetingRecord:
    """The record, whatever its status; MeetingNotFound when nothing is recorded for the key."""
    tenant = tenant_of(deps.settings, tenant_id)
    key = record_key(deps, tenant, organizer_id, external_id)
    record = deps.repository.get(key)
    named = normalize_organizer(organizer_id)
    if record is None and key.organizer_key != named:
        record = deps.repository.get(MeetingKey(tenant, named, external_id))  # an accepted request, keyed by UPN
    if record is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {organizer_id} and this externalId")
    return record
