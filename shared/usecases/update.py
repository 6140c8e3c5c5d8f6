"""Use case: change a recorded meeting to what the caller wants (PATCH /meetings/..., an intake ``update``, and a
repeated POST with other details when ``MEETING_CHANGES=apply``): one PATCH of the members that differ, under the
key's change claim, and the record keeps Graph's answer.
"""
from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from shared.domain.calendar_event import asked, event_patch, join_url_of
from shared.usecases.keyed_write import UNREAD, tombstone, unclaimed
from shared.domain.errors import (BrokerError, FieldError, MeetingKindDiffers, MeetingNotFound, PreconditionFailed,
                                  ValidationFailed)
from shared.domain.meeting_diff import attendees_of, not_applied, patch_for
from shared.domain.meeting_request import MeetingChange
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, log, outcome
from shared.usecases.guards import calendar_mode, changeable
from shared.usecases.collect_attendance import keep_attendance_due
from shared.usecases.shell import keyed_use_case

UNLOCKING = ("lobbyBypassSettings", "allowMeetingChat")


def update_meeting(deps: Deps, change: MeetingChange, *, source: str, correlation_id: str,
                   if_match: str | None = None) -> Outcome:
    """``updated`` (Graph changed), ``existing`` (nothing to change), or ``failed``."""
    context = Context(correlation_id, source, change)
    done = keyed_use_case(deps, context, lambda tenant, key: apply_change(deps, context, tenant, key, change,
                                                                          if_match=if_match), doing="update")
    return keep_attendance_due(deps, done) if done.status == Status.UPDATED else done


@dataclass(frozen=True)
class _Plan:
    """What a change needs, decided on the row as it is: the event's changes (calendar-backed), the onlineMeeting's
    change, and whether the meeting is unlocked."""

    event_changes: dict[str, Any]
    meeting_change: MeetingChange
    patch: dict[str, Any]
    unlocks: bool

    @property
    def needed(self) -> bool:
        return bool(self.event_changes or self.patch or self.unlocks)


def _plan(record: MeetingRecord, change: MeetingChange) -> _Plan:
    meeting = record.meeting or {}
    attendees = change.attendees if change.attendees is not None else attendees_of(meeting)
    if change.settings.get("allowedPresenters") == "roleIsPresenter" and not any(
            isinstance(a, dict) and a.get("role") == "presenter" for a in attendees):
        raise ValidationFailed([FieldError("allowedPresenters", "roleIsPresenter needs at least one attendee with "
                                                                "role presenter")])
    event_changes: dict[str, Any] = {}
    meeting_change = change
    if record.kind.calendar and record.event is not None:
        # Subject, times, attendees, body, location and recurrence are the event's (Outlook sends the attendees the
        # update); the onlineMeeting follows the event and keeps the options and presenters' roles.
        event_changes = event_patch(record.event, record.event_asked, subject=change.subject, start=change.start,
                                    end=change.end, attendee_list=change.attendees, members=change.event_members)
        roles = change.attendees if change.attendees and any(
            isinstance(a, dict) and a.get("role", "attendee") != "attendee" for a in change.attendees) else None
        meeting_change = dataclasses.replace(change, subject=None, start=None, end=None, attendees=roles)
    unlocks = record.status == Status.LOCKED and any(name in change.settings for name in UNLOCKING)
    return _Plan(event_changes, meeting_change, patch_for(meeting, meeting_change), unlocks)


def apply_change(deps: Deps, context: Context, tenant: str, key: MeetingKey, change: MeetingChange, *,
                 current: MeetingRecord | None = None, fingerprint: str | None = None,
                 if_match: str | None = None) -> Outcome:
    """Claim the key, PATCH the differences between the recorded meeting and ``change``, and record Graph's answer
    (with ``fingerprint``, the request the meeting now matches, when a POST asked for it). ``current``: the row as
    the caller just read it."""
    owner, now = uuid.uuid4().hex, deps.clock()
    plans: list[_Plan] = []

    def check(row: MeetingRecord | None) -> bool:
        record = changeable(row, change.organizer_id, doing="change")
        if change.event_members and not record.kind.calendar:
            raise MeetingKindDiffers(f"{', '.join(change.event_members)} belong to a calendar-backed meeting; this "
                                     "externalId's meeting is a standalone one")
        calendar_mode(deps, record.kind.calendar)
        if if_match is not None and if_match != record.etag:
            raise PreconditionFailed("the meeting's record changed since the ETag in If-Match was read: read it "
                                     "again and repeat the change if it still applies")
        plans.append(_plan(record, change))
        return plans[-1].needed

    claimed = deps.records.claim(key, check, owner=owner, now=now,
                                 current=current if current is not None else UNREAD)
    plan = plans[-1]
    if claimed.lease_owner != owner:  # nothing differs from Graph's last answer: no call, nothing written
        return outcome(deps, context, Status.EXISTING, tenant=tenant, meeting=claimed.meeting, record=claimed,
                       not_applied=claimed.settings_not_applied)
    try:
        event, updated = _send(deps, context, tenant, claimed, plan)
    except BrokerError:
        deps.records.release(key, owner)
        raise
    kept = not_applied(updated, change.settings)

    def store(row: MeetingRecord | None, _: MeetingKey) -> MeetingRecord:
        if row is None:
            raise MeetingNotFound("the meeting's record was removed while it was being changed")
        if row.cancelled:  # only after the claim expired: the tombstone wins, the meeting is not brought back
            raise tombstone(row, status=410)
        event_asked = asked(change.event_members, row.event_asked) if event is not claimed.event \
            else row.event_asked
        return dataclasses.replace(unclaimed(row, owner), meeting=updated, event=event, event_asked=event_asked,
                                   settings_not_applied=kept, last_error=None,
                                   status=Status.CREATED if plan.unlocks else row.status,
                                   fingerprint=fingerprint or row.fingerprint,
                                   correlation_id=context.correlation_id, source=context.source,
                                   updated_at=deps.clock())

    written = deps.records.write(key, store, current=claimed)
    assert written is not None
    log.info("meeting updated members=%s correlation=%s", ",".join(sorted({**plan.patch, **plan.event_changes})),
             context.correlation_id)
    return outcome(deps, context, Status.UPDATED, tenant=tenant, meeting=updated, record=written.record,
                   not_applied=kept)


def _send(deps: Deps, context: Context, tenant: str, record: MeetingRecord,
          plan: _Plan) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The change in Graph: the event (calendar-backed), then the onlineMeeting's PATCH of what still differs. The
    event and the meeting as Graph answered."""
    organizer = record.organizer_object_id or record.key.organizer_key
    event, meeting, patch = record.event, record.meeting or {}, plan.patch
    if plan.event_changes and record.event is not None:
        event = deps.graph.update_event(tenant, organizer, str(record.event["id"]), plan.event_changes,
                                        correlation_id=context.correlation_id)
        meeting = deps.graph.meeting_by_join_url(tenant, organizer, str(join_url_of(event) or record.join_web_url),
                                              correlation_id=context.correlation_id) or meeting
        patch = patch_for(meeting, plan.meeting_change)
    updated = deps.graph.update(tenant, organizer, str(record.meeting_id), patch,
                                correlation_id=context.correlation_id) if patch else meeting
    return event, updated
