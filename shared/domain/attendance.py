"""What happened in a meeting, in the caller's terms: Graph's attendance reports mapped against the participants the
request named (who came, for how long, and who did not), the transcripts as the broker lists them, and when the
attendance of a meeting is collected after it ends. Standard library only.

Graph: ``attendanceReports`` lists a meeting's reports without their records; each report's ``attendanceRecords``
holds one record per participant (``emailAddress``, ``identity`` {id, displayName}, ``role``,
``totalAttendanceInSeconds``, ``attendanceIntervals``). https://learn.microsoft.com/graph/api/attendancerecord-list
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

from shared.domain.clock import parse_datetime

# When a meeting's attendance is collected: its end plus the delay (Teams writes the report once the meeting has
# ended), again with growing waits while no report exists, and for the last time at its end plus the window.
DEFAULT_DELAY = timedelta(minutes=10)
DEFAULT_WINDOW = timedelta(hours=48)
FIRST_RETRY = timedelta(minutes=10)
LONGEST_RETRY = timedelta(hours=6)


@dataclass(frozen=True)
class Invitee:
    """A participant the request named: as it named them (a UPN as given, else the object id), and every address
    and object id a record of them may carry, lower-cased."""

    named: str
    addresses: frozenset[str]
    object_ids: frozenset[str]

    def knows(self, record: Mapping[str, Any]) -> bool:
        """Whether an attendance record is this participant's (UPNs and addresses compared case-insensitively)."""
        address, object_id = _record_address(record), _record_object_id(record)
        return (bool(address) and address in self.addresses) or (bool(object_id) and object_id in self.object_ids)


def invitees(meeting: Mapping[str, Any] | None, event: Mapping[str, Any] | None = None) -> tuple[Invitee, ...]:
    """The participants a key's request named, in its order, each once: the meeting's ``participants.attendees``
    (every role: attendees and presenters) and, for a calendar-backed meeting, the event's attendees. The organizer
    is not among them unless named as an attendee."""
    found: list[Invitee] = []
    for named, addresses, object_ids in [*_meeting_people(meeting), *_event_people(event)]:
        merged = False
        for index, known in enumerate(found):
            if addresses & known.addresses or object_ids & known.object_ids:
                found[index] = Invitee(known.named, known.addresses | addresses, known.object_ids | object_ids)
                merged = True
                break
        if not merged and named:
            found.append(Invitee(named, addresses, object_ids))
    return tuple(found)


def attendee(record: Mapping[str, Any], people: Sequence[Invitee]) -> dict[str, Any]:
    """One attendance record as the broker answers it, ``invited`` when the request named this person."""
    identity, intervals = _object(record.get("identity")), _list(record.get("attendanceIntervals"))
    return {
        "emailAddress": _kept(record.get("emailAddress")),
        "displayName": _kept(identity.get("displayName")),
        "role": _kept(record.get("role")),
        "totalAttendanceInSeconds": _number(record.get("totalAttendanceInSeconds")),
        "intervals": [{"joinDateTime": _kept(interval.get("joinDateTime")),
                       "leaveDateTime": _kept(interval.get("leaveDateTime")),
                       "durationInSeconds": _number(interval.get("durationInSeconds"))}
                      for interval in intervals if isinstance(interval, Mapping)],
        "invited": any(person.knows(record) for person in people),
    }


def report_view(report: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
                people: Sequence[Invitee]) -> dict[str, Any]:
    """One report: its times and count, its attendees, and the absentees (each participant the request named who has
    no record in it, as the request named them)."""
    valid = [record for record in records if isinstance(record, Mapping)]
    return {
        "id": _kept(report.get("id")),
        "meetingStartDateTime": _kept(report.get("meetingStartDateTime")),
        "meetingEndDateTime": _kept(report.get("meetingEndDateTime")),
        "totalParticipantCount": _number(report.get("totalParticipantCount")),
        "attendees": [attendee(record, people) for record in valid],
        "absentees": [person.named for person in people if not any(person.knows(record) for record in valid)],
    }


def attendance_view(*, organizer_id: str, external_id: str, tenant_id: str,
                    reports: Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
                    people: Sequence[Invitee]) -> dict[str, Any]:
    """The answer to ``GET .../attendance``: every report (with its records) mapped, newest first."""
    views = [report_view(report, records, people) for report, records in reports]
    return {"organizerId": organizer_id, "externalId": external_id, "tenantId": tenant_id,
            "reports": newest_first(views)}


def newest_first(reports: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Reports by start time, newest first; a report whose start cannot be read comes last."""
    def order(report: Mapping[str, Any]) -> tuple[int, float, str]:
        started = _moment(report.get("meetingStartDateTime"))
        return (0, -started.timestamp(), str(report.get("id"))) if started else (1, 0.0, str(report.get("id")))
    return [dict(report) for report in sorted(reports, key=order)]


def transcript_list(items: Iterable[Mapping[str, Any]], url_of: Callable[[str], str]) -> dict[str, Any]:
    """The answer to ``GET .../transcripts``: each transcript's id and times, and where the broker serves its text."""
    listed = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"]:
            listed.append({"id": item["id"], "createdDateTime": _kept(item.get("createdDateTime")),
                           "endDateTime": _kept(item.get("endDateTime")), "contentUrl": url_of(item["id"])})
    return {"transcripts": listed}


# ----------------------------------------------------------------------------------------------- when to collect

def first_due(end: datetime, delay: timedelta = DEFAULT_DELAY) -> datetime:
    """When a meeting that ends at ``end`` is first collected."""
    return end + delay


def deadline(end: datetime, window: timedelta = DEFAULT_WINDOW) -> datetime:
    """The last time a meeting's attendance is looked for; after it, the result says it is unavailable."""
    return end + window


def retry_at(end: datetime, now: datetime, attempts: int, *, window: timedelta = DEFAULT_WINDOW,
             at_least: float | None = None) -> datetime | None:
    """When to look again after ``attempts`` looks found nothing (or failed): waits double from FIRST_RETRY up to
    LONGEST_RETRY, at least ``at_least`` seconds (a Retry-After), the last look at the deadline; None once the
    deadline has passed (give up)."""
    limit = deadline(end, window)
    if now >= limit:
        return None
    wait = min(FIRST_RETRY * (2 ** max(0, min(attempts - 1, 16))), LONGEST_RETRY)
    if at_least is not None:
        wait = max(wait, timedelta(seconds=at_least))
    return min(now + wait, limit)


# ----------------------------------------------------------------------------------------------- in a message

def fitted(attendance: Mapping[str, Any], budget: int) -> tuple[dict[str, Any], bool]:
    """The attendance as a result message can carry it in ``budget`` bytes of JSON (UTF-8), and whether it had to
    be cut: first the attendees' intervals go, then the attendees, then the absentees (a member that was cut is
    left out, not emptied), then the oldest reports. The GET route answers all of it."""
    reports = [dict(report) for report in attendance.get("reports") or []]
    for level in range(4):
        cut = {**attendance, "reports": [_cut(report, level) for report in reports]}
        if _size(cut) <= budget:
            return cut, level > 0
    while cut["reports"] and _size(cut) > budget:
        cut["reports"].pop()
    return cut, True


def _cut(report: Mapping[str, Any], level: int) -> dict[str, Any]:
    kept = dict(report)
    if level == 1:
        kept["attendees"] = [{name: value for name, value in person.items() if name != "intervals"}
                             for person in report.get("attendees") or []]
    if level >= 2:
        kept.pop("attendees", None)
    if level >= 3:
        kept.pop("absentees", None)
    return kept


def _size(document: Mapping[str, Any]) -> int:
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace"))


# ----------------------------------------------------------------------------------------------- reading Graph

_Person = tuple[str, frozenset[str], frozenset[str]]  # as named, addresses, object ids


def _meeting_people(meeting: Mapping[str, Any] | None) -> list[_Person]:
    people: list[_Person] = []
    for person in _list(_object(_object(meeting).get("participants")).get("attendees")):
        if not isinstance(person, Mapping):
            continue
        upn = _text(person.get("upn")).strip()
        object_id = _text(_object(_object(person.get("identity")).get("user")).get("id")).strip()
        people.append((upn or object_id, frozenset({upn.lower()} - {""}), frozenset({object_id.lower()} - {""})))
    return people


def _event_people(event: Mapping[str, Any] | None) -> list[_Person]:
    people: list[_Person] = []
    for person in _list(_object(event).get("attendees")):
        address = _text(_object(_object(person).get("emailAddress")).get("address")).strip()
        if address:
            people.append((address, frozenset({address.lower()}), frozenset()))
    return people


def _record_address(record: Mapping[str, Any]) -> str:
    return _text(record.get("emailAddress")).strip().lower()


def _record_object_id(record: Mapping[str, Any]) -> str:
    identity = record.get("identity")
    return _text(identity.get("id")).strip().lower() if isinstance(identity, Mapping) else ""


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _kept(value: Any) -> str | None:
    """A string member as Graph gave it; anything else (absent, null, another type) is null."""
    return value if isinstance(value, str) else None


def _number(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _moment(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None
