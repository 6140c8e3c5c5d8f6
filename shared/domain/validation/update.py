"""The rules a change to a recorded meeting must pass (PATCH /meetings/..., an intake message with ``action`` update).

Graph's PATCH rules (https://learn.microsoft.com/graph/api/onlinemeeting-update): both times change together; the
attendees are replaced as a whole list; the organizer cannot change; ``joinMeetingIdSettings`` cannot change.
"""
from __future__ import annotations

from typing import Any

from shared.domain.meeting_request import DEFAULT_DURATION, MeetingCancel, MeetingChange, MeetingLookup
from shared.domain.meeting_options import SETTINGS
from shared.domain.errors import ValidationFailed
from shared.domain.messages import TRACEPARENT
from shared.domain.calendar_event import EVENT_MEMBERS
from shared.domain.validation.calendar import check_event_members
from shared.domain.validation.checks import Checker, check_participants, check_presenters, check_settings, check_times
from shared.domain.validation.create import KEY_MEMBERS, MAX_SUBJECT, check_key, start_checking

CHANGE_MEMBERS = ("subject", "startDateTime", "endDateTime", "participants", *SETTINGS, *EVENT_MEMBERS)
CANCEL_MODES = ("delete", "lock")


def validate_change(payload: Any, *, queue: bool = False, key: dict[str, str | None] | None = None) -> MeetingChange:
    """Check a change; ``key`` names the meeting when it comes from the URL (HTTP), else the payload names it."""
    check = start_checking(payload)
    allowed = CHANGE_MEMBERS + (KEY_MEMBERS + ("correlationId", "action", TRACEPARENT) if queue else ())
    if "joinMeetingIdSettings" in payload:
        check.add("joinMeetingIdSettings", "cannot change once the meeting is created (Graph's rule): ask for a new "
                                           "externalId to get a meeting with another passcode setting")
    check.unknown({name: value for name, value in payload.items() if name != "joinMeetingIdSettings"}, allowed, "")
    organizer, external_id, tenant, correlation_id = check_key(check, {**payload, **(key or {})}, queue=queue)
    if not any(name in payload for name in CHANGE_MEMBERS):
        check.add("(body)", f"must change at least one of {', '.join(CHANGE_MEMBERS[:4])} or a meeting option")
    subject = check.string(payload, "subject", "", max_len=MAX_SUBJECT, nullable=False)
    start, end = check_times(check, payload, both_or_none=True, default_duration=DEFAULT_DURATION)
    attendees = _attendees(check, payload.get("participants")) if "participants" in payload else None
    settings = check_settings(check, payload)
    if attendees is not None:
        check_presenters(check, settings, attendees)
    event = check_event_members(check, payload)
    if check.errors:
        raise ValidationFailed(check.errors)
    assert organizer is not None and external_id is not None
    return MeetingChange(organizer_id=organizer, external_id=external_id, tenant_id=tenant,
                         correlation_id=correlation_id, subject=subject, start=start, end=end, attendees=attendees,
                         settings=settings, event_members=event)


def _attendees(check: Checker, participants: Any) -> list[dict[str, Any]] | None:
    if not isinstance(participants, dict) or set(participants) - {"attendees"}:
        check.add("participants", "must be {\"attendees\": [...]}: the organizer cannot change")
        return None
    check_participants(check, participants)
    attendees = participants.get("attendees")
    if not isinstance(attendees, list):
        check.add("participants.attendees", "is required: the whole new list of attendees")
        return None
    return attendees


def validate_cancel(payload: Any, *, queue: bool = False, key: dict[str, str | None] | None = None) -> MeetingCancel:
    """A cancel: the key (from the URL over HTTP, from the message on the queue) and ``mode`` delete or lock."""
    check = start_checking(payload)
    check.unknown(payload, KEY_MEMBERS + ("correlationId", "action", "mode", "comment", TRACEPARENT) if queue
                  else ("mode", "comment"), "")
    organizer, external_id, tenant, correlation_id = check_key(check, {**payload, **(key or {})}, queue=queue)
    mode = payload.get("mode") or "delete"
    if mode not in CANCEL_MODES:
        check.add("mode", f"must be one of {', '.join(CANCEL_MODES)}")
    comment = check.string(payload, "comment", "", max_len=2000)
    if check.errors:
        raise ValidationFailed(check.errors)
    assert organizer is not None and external_id is not None
    return MeetingCancel(organizer_id=organizer, external_id=external_id, tenant_id=tenant,
                         correlation_id=correlation_id, mode=mode, comment=comment)


def validate_lookup(payload: Any) -> MeetingLookup:
    """A queued question about a recorded meeting (``action: attendance``): the key and a correlation id."""
    check = start_checking(payload)
    check.unknown(payload, KEY_MEMBERS + ("correlationId", "action", TRACEPARENT), "")
    organizer, external_id, tenant, correlation_id = check_key(check, payload, queue=True)
    if check.errors:
        raise ValidationFailed(check.errors)
    assert organizer is not None and external_id is not None
    return MeetingLookup(organizer_id=organizer, external_id=external_id, tenant_id=tenant,
                         correlation_id=correlation_id)
