"""Use case: who came to a meeting, person by person against the participants its request named (``GET
.../attendance``). Reports and their records come from Graph; the key's record says which meeting and who was
invited. The collection of the same after the meeting ends is ``collect_attendance.py``."""
from __future__ import annotations

from typing import Any

from shared.config.artifacts import ArtifactsMode
from shared.domain.attendance import attendance_view, invitees
from shared.domain.records import MeetingRecord
from shared.usecases.context import Deps
from shared.usecases.guards import live_meeting


def meeting_attendance(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None = None, *,
                       mode: ArtifactsMode, correlation_id: str = "") -> dict[str, Any]:
    """The attendance of a key's meeting: every report Graph has, newest first (``reports: []`` before the meeting
    has ended). 403 ``artifacts_disabled`` before anything else when MEETING_ARTIFACTS does not cover attendance;
    then the lookup's rules (404, 410, 409)."""
    mode.require_attendance()
    record = live_meeting(deps, organizer_id, external_id, tenant_id, doing="report on")
    return read_attendance(deps, record, organizer_id=organizer_id, correlation_id=correlation_id)


def read_attendance(deps: Deps, record: MeetingRecord, *, organizer_id: str, correlation_id: str) -> dict[str, Any]:
    """Graph's reports of the record's meeting, each with its records (one call for the list, one per report, each
    read to its last page), mapped against the participants the record's request named."""
    tenant, organizer = record.key.tenant_id, record.organizer_object_id or record.key.organizer_key
    meeting_id = str(record.meeting_id)
    reports = deps.graph.attendance_reports(tenant, organizer, meeting_id, correlation_id=correlation_id)
    pairs = [(report, deps.graph.attendance_records(tenant, organizer, meeting_id, report["id"],
                                                    correlation_id=correlation_id))
             for report in reports if isinstance(report.get("id"), str) and report["id"]]
    return attendance_view(organizer_id=organizer_id, external_id=record.key.external_id, tenant_id=tenant,
                           reports=pairs, people=invitees(record.meeting, record.event))
