"""Use case: look a meeting up by (tenant, organizer, externalId). Served from the table only, never from Graph."""
from __future__ import annotations

from ..errors import MeetingNotFound
from ..records import MeetingRecord
from .common import Deps, record_key, tenant_of


def find_meeting(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None = None) -> MeetingRecord:
    """The record, whatever its status; MeetingNotFound when nothing is recorded for the key."""
    record = deps.repository.get(record_key(deps, tenant_of(deps, tenant_id), organizer_id, external_id))
    if record is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {organizer_id} and this externalId")
    return record
