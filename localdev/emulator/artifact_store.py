"""Meeting artifacts of the emulator (``ArtifactStore``, ``EmulatorState.artifacts``): the attendance reports of
occurrences a test or the local run ended, with the participants it named, and transcripts; and the page size of
Graph's artifact lists (localdev/README.md, "Meeting artifacts")."""
from __future__ import annotations

import copy
import threading
from typing import Any, Iterable, Mapping

from .artifacts import AttendanceRecord, AttendanceReport, Transcript, webvtt
from .directory import Directory
from .meeting_store import MeetingStore
from .meetings import InvalidDateTime, Meeting, parse_datetime

DEFAULT_PAGE_SIZE = 50


class ArtifactStore:
    """Reports and transcripts by meeting id; guarded by ``lock`` (the state's, which every store shares). Reads the
    meetings and the directory to fill in organizers, roles and identities."""

    def __init__(self, lock: threading.RLock, meetings: MeetingStore, directory: Directory) -> None:
        self.lock = lock
        self._meetings = meetings
        self._directory = directory
        self.clear()

    def clear(self) -> None:
        """Forget every report and transcript; the page size goes back to its default."""
        with self.lock:
            self._reports: dict[str, list[AttendanceReport]] = {}
            self._transcripts: dict[str, list[Transcript]] = {}
            self.page_size = DEFAULT_PAGE_SIZE

    def set_page_size(self, size: int) -> None:
        """How many items a page of an artifact list holds (``@odata.nextLink`` leads on): lower it to make a short
        list page."""
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1000:
            raise ValueError("page_size must be a whole number from 1 to 1000")
        with self.lock:
            self.page_size = size

    # ----------------------------------------------------------------------------------------------- occurrences
    def end_occurrence(self, meeting_id: str, *, start: str | None = None, end: str | None = None,
                       attendees: Iterable[Mapping[str, Any]] = (), transcript: str | bool | None = None
                       ) -> dict[str, Any]:
        """An occurrence of the meeting ended: its attendance report (one record per attendee named, newest report
        first in the lists), and a transcript when asked (``True``: one made up from the attendees; a string: that
        WebVTT text). Times default to the meeting's scheduled ones. Attendees: ``{"address", "name"?, "role"?,
        "intervals"?: [{"join", "leave"}, ...]}`` (default: present throughout). Returns the report as Graph
        renders it, with its records; ValueError for an unknown meeting or a time that is not one."""
        with self.lock:
            meeting = self._meetings.find_meeting(meeting_id)
            if meeting is None:
                raise ValueError(f"no meeting {meeting_id!r}")
            start_ticks = _ticks(start, "start") if start else meeting.start_ticks
            end_ticks = _ticks(end, "end") if end else meeting.end_ticks
            if end_ticks < start_ticks:
                raise ValueError("end must not be earlier than start")
            records = [self._record(meeting, attendee, start_ticks, end_ticks) for attendee in attendees]
            report = AttendanceReport(meeting.id, start_ticks, end_ticks, records)
            self._reports.setdefault(meeting.id, []).append(report)
            if transcript:
                content = transcript if isinstance(transcript, str) else webvtt(
                    [(record.display_name or record.email or "Someone", f"Hello from {record.email or 'a guest'}.")
                     for record in records], start_ticks, end_ticks)
                self._transcripts.setdefault(meeting.id, []).append(
                    Transcript(meeting.id, meeting.organizer_id, meeting.tenant_id, end_ticks, end_ticks, content))
            return report.render(with_records=True)

    def _record(self, meeting: Meeting, attendee: Mapping[str, Any], start: int, end: int) -> AttendanceRecord:
        if not isinstance(attendee, Mapping):
            raise ValueError("each attendee must be an object")
        address = attendee.get("address") or attendee.get("emailAddress") or attendee.get("upn")
        if address is not None and not isinstance(address, str):
            raise ValueError("an attendee's address must be a string")
        user = self._directory.find_user(meeting.tenant_id, address) if address else None
        intervals = [(_ticks(_member(i, "join", 0), "join"), _ticks(_member(i, "leave", 1), "leave"))
                     for i in attendee.get("intervals") or []] or [(start, end)]
        if any(leave < join for join, leave in intervals):
            raise ValueError("an interval's leave must not be earlier than its join")
        return AttendanceRecord(
            email=address, display_name=attendee.get("name") or (user.display_name if user else address),
            object_id=user.object_id if user else None, tenant_id=meeting.tenant_id if user else None,
            role=str(attendee.get("role") or _role(meeting, address, user.object_id if user else None)),
            intervals=intervals)

    # ----------------------------------------------------------------------------------------------- reading
    def reports(self, meeting_id: str) -> list[AttendanceReport]:
        """The meeting's reports, newest first (the stored objects: read them under the lock)."""
        with self.lock:
            return sorted(self._reports.get(meeting_id, []), key=lambda report: -report.end_ticks)

    def report(self, meeting_id: str, report_id: str) -> AttendanceReport | None:
        with self.lock:
            return next((r for r in self._reports.get(meeting_id, []) if r.id == report_id), None)

    def transcripts(self, meeting_id: str) -> list[Transcript]:
        """The meeting's transcripts, newest first."""
        with self.lock:
            return sorted(self._transcripts.get(meeting_id, []), key=lambda item: -item.created_ticks)

    def transcript(self, meeting_id: str, transcript_id: str) -> Transcript | None:
        with self.lock:
            return next((t for t in self._transcripts.get(meeting_id, []) if t.id == transcript_id), None)

    def summary(self) -> dict[str, Any]:
        """What ``GET /_emulator/artifacts`` shows: the page size and each meeting's reports and transcripts."""
        with self.lock:
            return {"page_size": self.page_size,
                    "reports": {mid: [r.render(with_records=False) for r in reports]
                                for mid, reports in self._reports.items()},
                    "transcripts": {mid: [t.id for t in items] for mid, items in self._transcripts.items()}}


def _role(meeting: Meeting, address: str | None, object_id: str | None) -> str:
    if object_id and object_id == meeting.organizer_id:
        return "Organizer"
    for person in copy.deepcopy(meeting.attendees):
        if address and str(person.get("upn") or "").lower() == address.lower():
            return "Presenter" if person.get("role") in ("presenter", "coorganizer") else "Attendee"
    return "Attendee"


def _member(interval: Any, name: str, index: int) -> Any:
    if isinstance(interval, Mapping):
        return interval.get(name)
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        return interval[index]
    raise ValueError("an interval is {\"join\", \"leave\"} or [join, leave]")


def _ticks(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 date-time with an offset")
    try:
        return parse_datetime(value)
    except InvalidDateTime as exc:
        raise ValueError(f"{name}: {exc}") from None
