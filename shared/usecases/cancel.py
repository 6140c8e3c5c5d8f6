"""Use case: end a meeting's life. ``delete`` removes it in Graph and keeps a tombstone; ``lock`` keeps it but lets
nobody new in (lobby for the organizer only, no dial-in bypass, chat off), the way schools lock links students keep
reusing; a later change that sets the lobby or chat again unlocks it.

The tombstone (status ``cancelled``, ``cancelledAt``, the meeting's id and join URL kept) answers lookups with 410
and new requests for the key with 409: a cancelled key stays cancelled. It always wins over a concurrent change.
Graph's 404 on DELETE counts as done; a second DELETE answers 204 again with no Graph call. After a DELETE the join
link keeps working for people who have it (Graph's known behaviour), so lock first when that matters.
https://learn.microsoft.com/graph/api/onlinemeeting-delete
"""
from __future__ import annotations

import dataclasses

from ..cas import compare_and_set
from ..errors import BrokerError, CalendarModeDisabled, MeetingNotFound, MeetingPending
from ..meeting_request import MeetingCancel
from ..meeting_settings import differing
from ..records import MeetingKey, MeetingRecord, Status
from .common import CALENDAR_MODE_OFF, Context, Deps, Outcome, authorize, cancelled, keyed, log, outcome

LOCKED_SETTINGS = {"lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
                   "allowMeetingChat": "disabled"}


def cancel_meeting(deps: Deps, cancel: MeetingCancel, *, source: str, correlation_id: str) -> Outcome:
    """``cancelled`` (deleted, or already a tombstone), ``locked``, or ``failed``."""
    context = Context(correlation_id, source, cancel)
    try:
        tenant = authorize(deps, cancel)
        return keyed(deps, tenant, cancel.organizer_id, cancel.external_id,
                     lambda key: _cancel(deps, context, tenant, key, cancel))
    except BrokerError as error:
        log.warning("cancel failed code=%s correlation=%s", error.code, correlation_id)
        return outcome(deps, context, Status.FAILED, error=error)


def _cancel(deps: Deps, context: Context, tenant: str, key: MeetingKey, cancel: MeetingCancel) -> Outcome:
    record = deps.repository.get(key)
    if record is None:
        raise MeetingNotFound(f"no meeting is recorded for organizer {cancel.organizer_id} and this externalId")
    if record.cancelled:
        if cancel.mode == "lock":
            raise cancelled(record, status=410)
        return outcome(deps, context, Status.CANCELLED, tenant=tenant, meeting=record.meeting, record=record)
    if not record.has_meeting:
        raise MeetingPending("this key has no meeting yet: cancel it once its create request has succeeded")
    if record.kind.calendar and not deps.settings.calendar_mode:
        raise CalendarModeDisabled(CALENDAR_MODE_OFF)
    organizer = record.organizer_object_id or record.key.organizer_key
    now = deps.clock()
    if cancel.mode == "lock":
        patch = differing(LOCKED_SETTINGS, record.meeting or {})
        meeting = deps.graph.update(tenant, organizer, str(record.meeting_id), patch,
                                    correlation_id=context.correlation_id) if patch else record.meeting

        def lock(current: MeetingRecord | None) -> MeetingRecord:
            if current is None:
                raise MeetingNotFound("the meeting's record was removed while it was being locked")
            if current.cancelled:  # deleted meanwhile: the tombstone wins
                raise cancelled(current, status=410)
            return dataclasses.replace(current, status=Status.LOCKED, meeting=meeting, updated_at=now,
                                       correlation_id=context.correlation_id, source=context.source)

        written = compare_and_set(deps.repository, key, lock, current=record)
        assert written is not None
        log.info("meeting locked correlation=%s externalId=%r", context.correlation_id, key.external_id)
        return outcome(deps, context, Status.LOCKED, tenant=tenant, meeting=meeting, record=written.record)

    if record.kind.calendar and record.event is not None:  # the attendees receive the cancellation
        gone_already = not deps.graph.cancel_event(tenant, organizer, str(record.event["id"]), cancel.comment,
                                                   correlation_id=context.correlation_id)
    else:
        gone_already = not deps.graph.delete(tenant, organizer, str(record.meeting_id),
                                             correlation_id=context.correlation_id)

    def bury(current: MeetingRecord | None) -> MeetingRecord | None:
        if current is None or current.cancelled:
            return current
        return dataclasses.replace(current, status=Status.CANCELLED, cancelled_at=now, lease_owner=None,
                                   lease_expires_at=None, updated_at=now, correlation_id=context.correlation_id,
                                   source=context.source)

    written = compare_and_set(deps.repository, key, bury, current=record)
    tombstone = written.record if written is not None else record
    log.info("meeting cancelled%s correlation=%s externalId=%r", " (already gone in Graph)" if gone_already else "",
             context.correlation_id, key.external_id)
    return outcome(deps, context, Status.CANCELLED, tenant=tenant, meeting=tombstone.meeting, record=tombstone)
