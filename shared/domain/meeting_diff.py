"""A recorded meeting against what a caller wants it to be: the PATCH that takes it there, and what Graph kept.

Only the members a caller gives count: an absent member is "don't care", never a reset. Graph's PATCH rules
(https://learn.microsoft.com/graph/api/onlinemeeting-update): both times change together; the attendees are replaced
as a whole list. Standard library only.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from shared.domain.meeting_request import MeetingChange
from shared.domain.meeting_options import differing
from shared.domain.clock import format_datetime, parse_datetime
from shared.domain.identifiers import normalize_organizer


def patch_for(meeting: Mapping[str, Any], change: MeetingChange) -> dict[str, Any]:
    """The PATCH body that makes ``meeting`` what ``change`` asks for; empty when it already is."""
    patch: dict[str, Any] = {}
    if change.subject is not None and change.subject != meeting.get("subject"):
        patch["subject"] = change.subject
    if change.start is not None and change.end is not None and (
            _instant(meeting.get("startDateTime")) != change.start or _instant(meeting.get("endDateTime")) != change.end):
        patch["startDateTime"], patch["endDateTime"] = format_datetime(change.start), format_datetime(change.end)
    if change.attendees is not None and not _same_people(change.attendees, attendees_of(meeting)):
        patch["participants"] = {"attendees": change.attendees}
    patch.update(differing(change.settings, meeting))
    return patch


def not_applied(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The options Graph kept its own value for after being asked (a tenant policy can overrule a meeting)."""
    return tuple(differing(settings, meeting))


def attendees_of(meeting: Mapping[str, Any]) -> list[Any]:
    participants = meeting.get("participants")
    attendees = participants.get("attendees") if isinstance(participants, Mapping) else None
    return attendees if isinstance(attendees, list) else []


def _instant(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _same_people(wanted: list[Any], current: list[Any]) -> bool:
    """The same attendees with the same roles, in any order; one attendee named by UPN in one list and by object id
    (and UPN) in the other is the same person (Graph answers with both)."""
    if len(wanted) != len(current):
        return False
    remaining = [(_names(attendee), _role(attendee)) for attendee in current]
    for attendee in wanted:
        names, role = _names(attendee), _role(attendee)
        match = next((index for index, (other, other_role) in enumerate(remaining)
                      if names & other and role == other_role), None)
        if match is None:
            return False
        remaining.pop(match)
    return True


def _names(attendee: Any) -> set[str]:
    if not isinstance(attendee, Mapping):
        return set()
    identity = attendee.get("identity")
    user = identity.get("user") if isinstance(identity, Mapping) else None
    user_id = user.get("id") if isinstance(user, Mapping) else None
    return {normalize_organizer(name) for name in (attendee.get("upn"), user_id) if isinstance(name, str) and name}


def _role(attendee: Any) -> str:
    return str(attendee.get("role") or "attendee") if isinstance(attendee, Mapping) else "attendee"
