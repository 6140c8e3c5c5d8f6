"""A hand-written fake of the Graph port, in process for unit tests: the documented semantics of createOrGet, plain
create, PATCH, DELETE, calendar events and meeting artifacts (attendance reports, transcripts); the emulator in
localdev/ is the HTTP-level stand-in."""
from __future__ import annotations

import copy
import itertools
import threading
from typing import Any

import requests

from shared.domain.errors import BrokerError, MeetingGone
from shared.ports import GraphAnswer, GraphPort
from shared.domain.clock import format_datetime, parse_datetime
from shared.domain.identifiers import normalize_organizer

ALICE_ID = "11111111-1111-4111-8111-111111111111"
BOB_ID = "22222222-2222-4222-8222-222222222222"
USERS = {"alice@contoso.example": ALICE_ID, "bob@contoso.example": BOB_ID}
SETTING_DEFAULTS: dict[str, Any] = {
    "allowedPresenters": "everyone", "allowMeetingChat": "enabled", "allowTeamworkReactions": True,
    "isEntryExitAnnounced": True, "recordAutomatically": False, "allowAttendeeToEnableCamera": True,
    "allowAttendeeToEnableMic": True, "allowRecording": True, "allowTranscription": True,
    "allowBreakoutRooms": True, "allowPowerPointSharing": True, "allowWhiteboard": True, "allowLiveShare": "enabled",
    "allowCopyingAndSharingMeetingContent": True, "allowParticipantsToChangeName": False,
    "allowedLobbyAdmitters": "organizerAndCoOrganizersAndPresenters",
    "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
    "watermarkProtection": {"isEnabledForContentSharing": False, "isEnabledForVideo": False},
    "meetingSpokenLanguageTag": None,
}


class FakeGraph(GraphPort):
    """Meetings keyed by id; createOrGet finds them by (tenant, organizer object id, externalId). ``fail_next``
    injects errors in order; ``forced`` settings are kept whatever a PATCH asks (a tenant policy)."""

    def __init__(self) -> None:
        self.meetings: dict[str, dict[str, Any]] = {}
        self.by_external_id: dict[tuple[str, str, str], str] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []       # createOrGet: (tenant, organizer, body)
        self.operations: list[tuple[str, str]] = []                  # every call: (operation, meeting id or "")
        self.fail_next: list[BrokerError] = []
        self.extra_members: dict[str, Any] = {}  # added to every meeting created from now on
        self.forced: dict[str, Any] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.mailbox: list[tuple[str, str, str]] = []   # (kind, attendee address, event id)
        self.crash_after_event_create = False          # raise (after the event exists) once, as a lost answer
        self.crash_after_event_create_with: BrokerError = MeetingGone("unused")
        self.reports: dict[str, list[dict[str, Any]]] = {}       # meeting id -> reports, each with its records
        self.transcript_items: dict[str, list[dict[str, Any]]] = {}  # meeting id -> transcripts, with "content"
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
                      accept_language: str | None = None) -> GraphAnswer:
        with self._lock:
            self.calls.append((tenant_id, organizer_id, body))
            self._step("createOrGet")
            key = (tenant_id, _object_id(organizer_id), body["externalId"])
            if key in self.by_external_id and self.by_external_id[key] in self.meetings:
                return GraphAnswer(copy.deepcopy(self.meetings[self.by_external_id[key]]), False, "req-existing")
            meeting = self._new(organizer_id, body)
            self.by_external_id[key] = meeting["id"]
            return GraphAnswer(copy.deepcopy(meeting), True, "req-new")

    def create(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
               accept_language: str | None = None) -> GraphAnswer:
        with self._lock:
            self._step("create")
            meeting = self._new(organizer_id, body)
            return GraphAnswer(copy.deepcopy(meeting), True, "req-create")

    def update(self, tenant_id: str, organizer_id: str, meeting_id: str, patch: dict[str, Any], *,
               correlation_id: str) -> dict[str, Any]:
        with self._lock:
            self._step("update", meeting_id)
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                raise MeetingGone("the meeting no longer exists in Microsoft Graph")
            for name, value in patch.items():
                if name == "participants":
                    meeting["participants"]["attendees"] = copy.deepcopy(value["attendees"])
                elif isinstance(value, dict) and isinstance(meeting.get(name), dict):
                    meeting[name] = {**meeting[name], **value}
                else:
                    meeting[name] = value
            meeting.update(copy.deepcopy(self.forced))
            return copy.deepcopy(meeting)

    def delete(self, tenant_id: str, organizer_id: str, meeting_id: str, *, correlation_id: str) -> bool:
        with self._lock:
            self._step("delete", meeting_id)
            return self.meetings.pop(meeting_id, None) is not None

    def meeting_by_join_url(self, tenant_id: str, organizer_id: str, join_web_url: str, *,
                            correlation_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._step("findByJoinUrl")
            found = [m for m in self.meetings.values() if m["joinWebUrl"] == join_web_url]
            return copy.deepcopy(found[0]) if found else None

    # ---- calendar events: transactionId deduplication, extended properties, invitations per attendee ----------

    def create_event(self, tenant_id: str, organizer_id: str, event: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        with self._lock:
            self._step("createEvent")
            for existing in self.events.values():
                if event.get("transactionId") and existing.get("transactionId") == event["transactionId"]:
                    return copy.deepcopy(existing)  # Graph ignores a repeated create with the same transactionId
            number = next(self._ids)
            start = event["start"]["dateTime"][:19] + "Z"  # the wall time, read as UTC: good enough for a fake
            meeting = self._new(organizer_id, {"externalId": None, "subject": event.get("subject"),
                                               "startDateTime": start, "endDateTime": start,
                                               "participants": {"attendees": [
                                                   {"upn": a["emailAddress"]["address"], "role": "attendee"}
                                                   for a in event.get("attendees", [])]}})
            stored = {**copy.deepcopy(event), "id": f"EV{number:04d}", "iCalUId": f"ical-{number}",
                      "webLink": f"https://outlook.example/ev/{number}",
                      "onlineMeeting": {"joinUrl": meeting["joinWebUrl"]},
                      "body": {"contentType": "html", "content": (event.get("body") or {}).get("content", "") +
                               f"<div>________________________________ <a href=\"{meeting['joinWebUrl']}\">Join</a>"
                               "</div>"}}
            self.events[stored["id"]] = stored
            for attendee in event.get("attendees", []):
                self.mailbox.append(("invitation", attendee["emailAddress"]["address"], stored["id"]))
            if self.crash_after_event_create:
                self.crash_after_event_create = False
                raise self.crash_after_event_create_with
            return copy.deepcopy(stored)

    def find_event(self, tenant_id: str, organizer_id: str, property_id: str, value: str, *,
                   correlation_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._step("findEvent")
            for event in self.events.values():
                if {"id": property_id, "value": value} in event.get("singleValueExtendedProperties", []):
                    return copy.deepcopy(event)
            return None

    def update_event(self, tenant_id: str, organizer_id: str, event_id: str, patch: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        with self._lock:
            self._step("updateEvent", event_id)
            event = self.events.get(event_id)
            if event is None or event.get("cancelled"):
                raise MeetingGone("the event no longer exists")
            event.update(copy.deepcopy(patch))
            if "subject" in patch:
                for meeting in self.meetings.values():
                    if meeting["joinWebUrl"] == event["onlineMeeting"]["joinUrl"]:
                        meeting["subject"] = patch["subject"]
            for attendee in event.get("attendees", []):
                self.mailbox.append(("update", attendee["emailAddress"]["address"], event_id))
            return copy.deepcopy(event)

    def cancel_event(self, tenant_id: str, organizer_id: str, event_id: str, comment: str | None, *,
                     correlation_id: str) -> bool:
        with self._lock:
            self._step("cancelEvent", event_id)
            event = self.events.get(event_id)
            if event is None or event.get("cancelled"):
                return False
            event["cancelled"] = True
            for attendee in event.get("attendees", []):
                self.mailbox.append(("cancellation", attendee["emailAddress"]["address"], event_id))
            return True

    # ---- meeting artifacts: what a test put there with end_occurrence / add_transcript --------------------------

    def attendance_reports(self, tenant_id: str, organizer_id: str, meeting_id: str, *,
                           correlation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._step("attendanceReports", meeting_id)
            self._existing(meeting_id)
            return [{**copy.deepcopy({k: v for k, v in report.items() if k != "attendanceRecords"}),
                     "attendanceRecords": []} for report in self.reports.get(meeting_id, [])]

    def attendance_records(self, tenant_id: str, organizer_id: str, meeting_id: str, report_id: str, *,
                           correlation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._step("attendanceRecords", meeting_id)
            self._existing(meeting_id)
            for report in self.reports.get(meeting_id, []):
                if report["id"] == report_id:
                    return copy.deepcopy(report["attendanceRecords"])
            raise MeetingGone("the attendance report no longer exists")

    def transcripts(self, tenant_id: str, organizer_id: str, meeting_id: str, *,
                    correlation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._step("transcripts", meeting_id)
            self._existing(meeting_id)
            return [{k: v for k, v in item.items() if k != "content"}
                    for item in self.transcript_items.get(meeting_id, [])]

    def transcript_content(self, tenant_id: str, organizer_id: str, meeting_id: str, transcript_id: str, *,
                           correlation_id: str) -> str:
        with self._lock:
            self._step("transcriptContent", meeting_id)
            self._existing(meeting_id)
            for item in self.transcript_items.get(meeting_id, []):
                if item["id"] == transcript_id:
                    return str(item["content"])
            raise MeetingGone("the transcript no longer exists")

    def end_occurrence(self, meeting_id: str, start: str, end: str,
                       people: list[tuple[str, str, int]]) -> dict[str, Any]:
        """A report of an occurrence that ended: one record per (address, role, seconds attended) in ``people``."""
        with self._lock:
            report = {"id": f"report-{next(self._ids)}", "meetingStartDateTime": start, "meetingEndDateTime": end,
                      "totalParticipantCount": len(people), "attendanceRecords": [
                          {"emailAddress": address, "role": role, "totalAttendanceInSeconds": seconds,
                           "identity": {"id": USERS.get(address.lower()), "displayName": address.split("@")[0]},
                           "attendanceIntervals": [{"joinDateTime": start, "leaveDateTime": end,
                                                    "durationInSeconds": seconds}]}
                          for address, role, seconds in people]}
            self.reports.setdefault(meeting_id, []).append(report)
            return copy.deepcopy(report)

    def add_transcript(self, meeting_id: str, content: str, created: str = "2026-03-01T10:00:00Z") -> str:
        with self._lock:
            transcript_id = f"transcript-{next(self._ids)}"
            self.transcript_items.setdefault(meeting_id, []).append(
                {"id": transcript_id, "createdDateTime": created, "endDateTime": created, "content": content})
            return transcript_id

    def _existing(self, meeting_id: str) -> None:
        if meeting_id not in self.meetings:
            raise MeetingGone("the meeting no longer exists in Microsoft Graph")

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.operations if name == operation)

    def _step(self, operation: str, meeting_id: str = "") -> None:
        self.operations.append((operation, meeting_id))
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _new(self, organizer_id: str, body: dict[str, Any]) -> dict[str, Any]:
        number, object_id = next(self._ids), _object_id(organizer_id)
        join = body.get("joinMeetingIdSettings") or {}
        meeting = {
            "id": f"MSo{number:04d}",
            "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{number}%40thread.v2/0",
            "subject": body.get("subject"),
            "startDateTime": format_datetime(parse_datetime(body["startDateTime"])),
            "endDateTime": format_datetime(parse_datetime(body["endDateTime"])),
            "externalId": body.get("externalId"),
            "joinMeetingIdSettings": {"joinMeetingId": f"{number:012d}",
                                      "passcode": "Pa55c0de" if join.get("isPasscodeRequired") else None,
                                      "isPasscodeRequired": bool(join.get("isPasscodeRequired"))},
            "participants": {"organizer": {"identity": {"user": {"id": object_id}}, "role": "presenter"},
                             "attendees": copy.deepcopy((body.get("participants") or {}).get("attendees", []))},
            **copy.deepcopy(SETTING_DEFAULTS),
            **{name: value for name, value in body.items() if name in SETTING_DEFAULTS},
            **copy.deepcopy(self.forced),
            **self.extra_members,
        }
        self.meetings[meeting["id"]] = meeting
        return meeting


def _object_id(organizer_id: str) -> str:
    return USERS.get(normalize_organizer(organizer_id), normalize_organizer(organizer_id))


def error_answer(status: int) -> requests.Response:
    """A Graph error answer as ``requests`` hands it over, for the adapter's reading of errors."""
    response = requests.Response()
    response.status_code = status
    response._content = b'{"error": {"code": "Forbidden", "message": "denied"}}'
    response.headers["request-id"] = "r-1"
    return response
