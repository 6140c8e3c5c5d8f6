"""Use case: who came to a meeting, person by person against the participants its request named (``GET
.../attendance``). Reports and their records come from Graph; the key's record says which meeting and who was
invited. The collection of the same after the meeting ends is ``collect_attendance.py``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.config.artifacts import ArtifactsMode
from shared.domain.attendance import attendance_view, fitted, invitees
from shared.domain.calendar_event import event_summary
from shared.domain.errors import BrokerError
from shared.domain.meeting_request import MeetingLookup
from shared.domain.messages import result_message
from shared.domain.records import MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, refused
from shared.usecases.guards import live_meeting

# Room for the attendance in a result message: a queue message holds 64 KiB, the rest of a result stays within 20 KB.
ATTENDANCE_BUDGET = 36_000


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


def attendance_result(record: MeetingRecord, attendance: dict[str, Any] | None, error: BrokerError | None, *,
                      correlation_id: str, source: str, now: datetime) -> dict[str, Any]:
    """The ``attendance`` result message of a key's meeting: the attendance as the GET answers it (cut to fit a queue
    message, ``attendanceTruncated``), ``attendanceUnavailable`` when Graph has no report (or could not be read)."""
    unavailable = attendance is None or not attendance["reports"]
    shown = attendance or {"organizerId": record.organizer_id, "externalId": record.key.external_id,
                           "tenantId": record.key.tenant_id, "reports": []}
    result = result_message(correlation_id=correlation_id, tenant_id=record.key.tenant_id,
                            organizer_id=record.organizer_id, external_id=record.key.external_id,
                            status=Status.ATTENDANCE, meeting=record.meeting,
                            error=error.as_result_error() if error else None, source=source, completed_at=now)
    result["attendance"], truncated = fitted(shown, ATTENDANCE_BUDGET)
    if truncated:
        result["attendanceTruncated"] = True
    if unavailable:
        result["attendanceUnavailable"] = True
    if record.event:
        result["event"] = event_summary(record.event)
    return result


def queued_attendance(deps: Deps, lookup: MeetingLookup, *, mode: ArtifactsMode, correlation_id: str) -> Outcome:
    """An intake message with ``action: attendance``: the key's attendance now, as an ``attendance`` result (or the
    lookup's refusal as ``failed``)."""
    context = Context(correlation_id, "queue", payload={"organizerId": lookup.organizer_id,
                                                       "externalId": lookup.external_id,
                                                       "tenantId": lookup.tenant_id})
    try:
        mode.require_attendance()
        record = live_meeting(deps, lookup.organizer_id, lookup.external_id, lookup.tenant_id, doing="report on")
        attendance = read_attendance(deps, record, organizer_id=lookup.organizer_id, correlation_id=correlation_id)
    except BrokerError as error:
        return refused(deps, context, error)
    result = attendance_result(record, attendance, None, correlation_id=correlation_id, source="queue",
                               now=deps.clock())
    return Outcome(Status.ATTENDANCE, result, meeting=record.meeting, record=record)
