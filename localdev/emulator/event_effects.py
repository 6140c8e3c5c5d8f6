"""What an organizer's event does beyond its own calendar: the mail its attendees receive, their copies of it, and the
Teams meeting a ``teamsForBusiness`` event carries. Called by ``graph_events`` while holding ``state.lock``."""
from __future__ import annotations

import copy
from typing import Any, Mapping

from .events import Event, join_block, new_ids, render_event, with_block
from .meetings import new_meeting
from .state import EmulatorState


def link_meeting(state: EmulatorState, event: Event, *, created_ticks: int, app_id: str, version: str,
                 language: str) -> None:
    """Outlook makes the Teams meeting of a teamsForBusiness event and writes its join block into the body."""
    meeting = new_meeting(
        tenant_id=event.tenant_id, organizer_id=event.organizer_id, organizer_upn=event.organizer_address,
        organizer_name=event.organizer_name, external_id=None, subject=event.subject, start_ticks=event.start_ticks,
        end_ticks=event.end_ticks, created_ticks=created_ticks,
        attendees=meeting_attendees(state, event, []), chat_info=None, app_id=app_id,
        version=version, created_with="event", language=language,
        passcode_required=bool(getattr(state, "require_passcode", False)))
    state.online_meetings.add_meeting(meeting)
    event.meeting_id, event.join_url = meeting.id, meeting.join_web_url
    event.conference_id = meeting.join_meeting_id
    event.body = with_block(event.body, join_block(meeting, event.body["contentType"]))


def meeting_attendees(state: EmulatorState, event: Event, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    roles = {str(a.get("upn") or "").lower(): a.get("role") or "attendee" for a in previous}
    people = []
    for attendee in event.attendees:
        address = attendee["emailAddress"]["address"]
        user = state.directory.find_user(event.tenant_id, address)
        people.append({"upn": address, "role": roles.get(address.lower(), "attendee"), "identity": {
            "application": None, "device": None,
            "user": {"id": user.object_id if user else None,
                     "displayName": user.display_name if user else attendee["emailAddress"]["name"],
                     "tenantId": event.tenant_id if user else None, "identityProvider": "AAD"}}})
    return people


def sync_meeting(state: EmulatorState, event: Event) -> None:
    meeting = state.online_meetings.find_meeting(event.meeting_id) if event.meeting_id else None
    if meeting is None:
        return
    meeting.subject = event.subject
    meeting.start_ticks, meeting.end_ticks = event.start_ticks, event.end_ticks
    meeting.attendees = meeting_attendees(state, event, meeting.attendees)


def significant(event: Event) -> tuple[Any, ...]:
    """What attendees hear of when it changes: subject, start, end, body, location, recurrence."""
    return (event.subject, event.start_ticks, event.start_zone, event.end_ticks, event.end_zone, dict(event.body),
            copy.deepcopy(event.location), copy.deepcopy(event.recurrence))


def notify(state: EmulatorState, event: Event, attendee: Mapping[str, Any], kind: str,
           comment: str | None = None) -> None:
    start, end = (render_event(event, graph_root="", version="v1.0", user_segment="", zone=None, expand=None)[name]
                  for name in ("start", "end"))
    state.calendars.deliver(attendee["emailAddress"]["address"], {
        "kind": kind, "from": event.organizer_address, "event_id": event.id, "iCalUId": event.ical_uid,
        "subject": event.subject, "start": start, "end": end, "body": dict(event.body), "comment": comment,
        "joinUrl": event.join_url, "sent": state.now()})


def sync_copy(state: EmulatorState, event: Event, attendee: Mapping[str, Any], *, cancelled: bool) -> None:
    """The copy of the event in the calendar of an attendee who is a user of the tenant."""
    user = state.directory.find_user(event.tenant_id, attendee["emailAddress"]["address"])
    if user is None or user.object_id == event.organizer_id:
        return
    copy_ = next((c for c in state.calendars.copies_of(event.id) if c.mailbox_id == user.object_id), None)
    if copy_ is None:
        if cancelled:
            return
        copy_id, _ = new_ids()
        copy_ = copy.deepcopy(event)
        copy_.id, copy_.mailbox_id, copy_.master_id, copy_.transaction_id = copy_id, user.object_id, event.id, None
        copy_.properties = {}
        state.calendars.store_event(copy_)
    else:
        for name in ("subject", "body", "start_ticks", "end_ticks", "start_zone", "end_zone", "attendees",
                     "location", "recurrence", "is_online", "provider", "meeting_id", "join_url", "conference_id"):
            setattr(copy_, name, copy.deepcopy(getattr(event, name)))
        copy_.touch(event.modified_ticks)
    if cancelled:
        copy_.is_cancelled = True
        copy_.subject = f"Canceled: {event.subject}"


def end(state: EmulatorState, event: Event, comment: str | None) -> None:
    """Cancel a meeting: every attendee hears once, their copies are marked cancelled, the event leaves the
    organizer's calendar (Deleted Items). The Teams meeting stays (its join link keeps working)."""
    for attendee in event.attendees:
        notify(state, event, attendee, "cancellation", comment)
        sync_copy(state, event, attendee, cancelled=True)
    state.calendars.remove_event(event.id)
