"""Meeting artifacts of the emulator: the attendance report of an occurrence that ended (its records, one per
participant, with their join and leave intervals) and a transcript, and their Graph v1.0 JSON
(``meetingAttendanceReport``, ``attendanceRecord``, ``callTranscript``)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .meetings import TICKS_PER_SECOND, format_ticks

ARTIFACT_ROLE = "OnlineMeetingArtifact.Read.All"
TRANSCRIPT_ROLE = "OnlineMeetingTranscript.Read.All"
REPORTS_LISTED = 50  # "This method only returns up to 50 of the most recent reports."
# Graph endpoint names (recorded calls, counters) of the artifact routes.
ATTENDANCE_ENDPOINTS = ("list_attendance_reports", "get_attendance_report", "list_attendance_records")
TRANSCRIPT_ENDPOINTS = ("list_transcripts", "get_transcript", "get_transcript_content")
ARTIFACT_ENDPOINTS = ATTENDANCE_ENDPOINTS + TRANSCRIPT_ENDPOINTS


@dataclass
class AttendanceRecord:
    email: str | None
    display_name: str | None
    object_id: str | None    # the participant's user id when they are a user of the directory
    tenant_id: str | None
    role: str                # None, Attendee, Presenter, Organizer
    intervals: list[tuple[int, int]]  # (join, leave) in ticks
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def seconds(self) -> int:
        return sum(_seconds(join, leave) for join, leave in self.intervals)

    def render(self) -> dict[str, Any]:
        return {"id": self.id, "emailAddress": self.email, "totalAttendanceInSeconds": self.seconds,
                "role": self.role, "registrationId": None,
                "identity": {"id": self.object_id, "displayName": self.display_name, "tenantId": self.tenant_id},
                "attendanceIntervals": [{"joinDateTime": format_ticks(join), "leaveDateTime": format_ticks(leave),
                                         "durationInSeconds": _seconds(join, leave)} for join, leave in self.intervals]}


@dataclass
class AttendanceReport:
    meeting_id: str
    start_ticks: int
    end_ticks: int
    records: list[AttendanceRecord]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def render(self, *, with_records: bool) -> dict[str, Any]:
        return {"id": self.id, "totalParticipantCount": len(self.records),
                "meetingStartDateTime": format_ticks(self.start_ticks),
                "meetingEndDateTime": format_ticks(self.end_ticks),
                "attendanceRecords": [record.render() for record in self.records] if with_records else []}


@dataclass
class Transcript:
    meeting_id: str
    organizer_id: str
    tenant_id: str
    created_ticks: int
    end_ticks: int
    content: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    call_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    content_correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def render(self, content_url: str) -> dict[str, Any]:
        return {"id": self.id, "meetingId": self.meeting_id, "callId": self.call_id,
                "contentCorrelationId": self.content_correlation_id, "transcriptContentUrl": content_url,
                "createdDateTime": format_ticks(self.created_ticks), "endDateTime": format_ticks(self.end_ticks),
                "meetingOrganizer": {"application": None, "device": None, "user": {
                    "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": self.organizer_id,
                    "displayName": None, "userIdentityType": "aadUser", "tenantId": self.tenant_id}}}


def webvtt(lines: list[tuple[str, str]], start_ticks: int, end_ticks: int) -> str:
    """A WebVTT transcript in Teams' style (voice tags naming the speaker), spread over the occurrence."""
    cues = ["WEBVTT", ""]
    span = max(1, (end_ticks - start_ticks) // TICKS_PER_SECOND)
    step = max(1, span // max(1, len(lines)))
    for index, (speaker, text) in enumerate(lines):
        begin, until = index * step, min(span, (index + 1) * step)
        cues += [f"{_cue_time(begin)} --> {_cue_time(until)}", f"<v {speaker}>{text}</v>", ""]
    return "\n".join(cues)


def _cue_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}.000"


def _seconds(join: int, leave: int) -> int:
    return max(0, (leave - join) // TICKS_PER_SECOND)
