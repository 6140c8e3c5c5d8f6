"""Use case: change a recorded meeting to what the caller wants (PATCH /meetings/..., an intake ``update``, and a
repeated POST with other details when ``MEETING_CHANGES=apply``).

The stored meeting is compared with the change; only the members that differ are sent to Graph in one PATCH, and the
record keeps Graph's answer. Nothing differs: no Graph call. An option Graph kept its own value for (tenant policy)
is reported in ``settingsNotApplied`` instead of failing. A locked meeting is unlocked by a change that sets its
lobby or chat again; a cancelled one cannot change (its tombstone always wins over a concurrent change).
"""
from __future__ import annotations

import dataclasses

from ..cas import compare_and_set
from ..calendar_events import asked, event_patch, join_url_of
from ..errors import (BrokerError, CalendarModeDisabled, FieldError, MeetingKindDiffers, MeetingNotFound, MeetingPending,
                      PreconditionFailed, ValidationFailed)
from ..meeting_changes import attendees_of, not_applied, patch_for
from ..meeting_request import MeetingChange
from ..records import MeetingRecord, Status
from .common import CALENDAR_MODE_OFF, Context, Deps, Outcome, authorize, cancelled, keyed, log, outcome

UNLOCKING = ("lobbyBypassSettings", "allowMeetingChat")


def update_meeting(deps: Deps, change: MeetingChange, *, source: str, correlation_id: str,
                   if_match: str | None = None) -> Outcome:
    """``updated`` (Graph changed), ``existing`` (nothing to change), or ``failed``."""
    context = Context(correlation_id, source, change)
    try:
        tenant = authorize(deps, change)
        return keyed(deps, tenant, change.organizer_id, change.external_id,
                     lambda key: _update(deps, context, tenant, deps.repository.get(key), change, if_match))
    except BrokerError as error:
        log.warning("update failed code=%s correlation=%s", error.code, correlation_id)
        return outcome(deps, context, Status.FAILED, error=error)


def _update(deps: Deps, context: Context, tenant: str, record: MeetingRecord | None, change: MeetingChange,
            if_match: str | None) -> Outcome:
    if record is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {change.organizer_id} and this externalId")
    if record.cancelled:
        raise cancelled(record, status=410)
    if not record.has_meeting:
        raise MeetingPending("this key has no meeting yet: change it once its create request has succeeded")
    if change.event_members and not record.kind.calendar:
        raise MeetingKindDiffers(f"{', '.join(change.event_members)} belong to a calendar-backed meeting; this "
                                 "externalId's meeting is a standalone one")
    if record.kind.calendar and not deps.settings.calendar_mode:
        raise CalendarModeDisabled(CALENDAR_MODE_OFF)
    if if_match is not None and if_match != record.etag:
        raise PreconditionFailed("the meeting's record changed since the ETag in If-Match was read: read it again "
                                 "and repeat the change if it still applies")
    return apply_change(deps, context, tenant, record, change)


def apply_change(deps: Deps, context: Context, tenant: str, record: MeetingRecord, change: MeetingChange, *,
                 fingerprint: str | None = None) -> Outcome:
    """PATCH the differences between the recorded meeting and ``change``, and record Graph's answer (with
    ``fingerprint``, the request the meeting now matches, when a POST asked for it)."""
    meeting = record.meeting or {}
    attendees = change.attendees if change.attendees is not None else attendees_of(meeting)
    if change.settings.get("allowedPresenters") == "roleIsPresenter" and not any(
            isinstance(a, dict) and a.get("role") == "presenter" for a in attendees):
        raise ValidationFailed([FieldError("allowedPresenters", "roleIsPresenter needs at least one attendee with "
                                                                "role presenter")])
    organizer = record.organizer_object_id or record.key.organizer_key
    event, meeting_change = record.event, change
    if record.kind.calendar and record.event is not None:
        # Subject, times, attendees, body, location and recurrence are the event's (Outlook sends the attendees the
        # update); the onlineMeeting follows the event and keeps the options and presenters' roles.
        event_changes = event_patch(record.event, record.event_asked, subject=change.subject, start=change.start,
                                    end=change.end, attendee_list=change.attendees, members=change.event_members)
        if event_changes:
            event = deps.graph.update_event(tenant, organizer, str(record.event["id"]), event_changes,
                                            correlation_id=context.correlation_id)
            meeting = deps.graph.find_by_join_url(tenant, organizer, str(join_url_of(event) or record.join_web_url),
                                                  correlation_id=context.correlation_id) or meeting
        roles = change.attendees if change.attendees and any(
            isinstance(a, dict) and a.get("role", "attendee") != "attendee" for a in change.attendees) else None
        meeting_change = dataclasses.replace(change, subject=None, start=None, end=None, attendees=roles)
    patch = patch_for(meeting, meeting_change)
    unlocks = record.status == Status.LOCKED and any(name in change.settings for name in UNLOCKING)
    if not patch and not unlocks and event is record.event and meeting is record.meeting:
        return outcome(deps, context, Status.EXISTING, tenant=tenant, meeting=meeting, record=record,
                       not_applied=record.settings_not_applied)
    updated = deps.graph.update(tenant, organizer, str(record.meeting_id), patch,
                                correlation_id=context.correlation_id) if patch else meeting
    kept = not_applied(updated, change.settings)
    now = deps.clock()

    def store(current: MeetingRecord | None) -> MeetingRecord:
        if current is None:
            raise MeetingNotFound("the meeting's record was removed while it was being changed")
        if current.cancelled:  # cancelled meanwhile: the tombstone wins, the meeting is not brought back
            raise cancelled(current, status=410)
        event_asked = asked(change.event_members, current.event_asked) if event is not record.event \
            else current.event_asked
        return dataclasses.replace(current, meeting=updated, event=event, event_asked=event_asked,
                                   settings_not_applied=kept, last_error=None,
                                   status=Status.CREATED if unlocks else current.status,
                                   fingerprint=fingerprint or current.fingerprint,
                                   correlation_id=context.correlation_id, source=context.source, updated_at=now)

    written = compare_and_set(deps.repository, record.key, store, current=record)
    assert written is not None
    log.info("meeting updated members=%s correlation=%s", ",".join(sorted(patch)), context.correlation_id)
    return outcome(deps, context, Status.UPDATED, tenant=tenant, meeting=updated, record=written.record,
                   not_applied=kept)
