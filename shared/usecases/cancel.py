"""Use case: end a meeting's life. ``delete`` removes it in Graph and keeps a tombstone; ``lock`` keeps it but lets
nobody new in (lobby for the organizer only, no dial-in bypass, chat off); a later change that sets the lobby or chat
again unlocks it. https://learn.microsoft.com/graph/api/onlinemeeting-delete
"""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from shared.usecases.keyed_write import tombstone, unclaimed
from shared.domain.errors import BrokerError, MeetingNotFound
from shared.domain.meeting_request import MeetingCancel
from shared.domain.meeting_options import differing
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, log, outcome
from shared.usecases.guards import calendar_mode, changeable
from shared.usecases.shell import keyed_use_case

LOCKED_SETTINGS = {"lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
                   "allowMeetingChat": "disabled"}


def cancel_meeting(deps: Deps, cancel: MeetingCancel, *, source: str, correlation_id: str) -> Outcome:
    """``cancelled`` (deleted, or already a tombstone), ``locked``, or ``failed``."""
    context = Context(correlation_id, source, cancel)
    return keyed_use_case(deps, context, lambda tenant, key: _cancel(deps, context, tenant, key, cancel),
                          doing="cancel")


def _cancel(deps: Deps, context: Context, tenant: str, key: MeetingKey, cancel: MeetingCancel) -> Outcome:
    owner, now = uuid.uuid4().hex, deps.clock()
    patches: list[dict[str, Any]] = []

    def check(row: MeetingRecord | None) -> bool:
        if row is not None and row.cancelled and cancel.mode == "delete":
            return False  # a second DELETE: done already, no Graph call
        record = changeable(row, cancel.organizer_id, doing="cancel" if cancel.mode == "delete" else "lock")
        calendar_mode(deps, record.kind.calendar)
        if cancel.mode == "delete":
            return True
        patches.append(differing(LOCKED_SETTINGS, record.meeting or {}))
        return bool(patches[-1]) or record.status != Status.LOCKED

    claimed = deps.records.claim(key, check, owner=owner, now=now)
    if claimed.lease_owner != owner:  # cancelled already, or locked already as asked
        status = Status.CANCELLED if claimed.cancelled else Status.LOCKED
        return outcome(deps, context, status, tenant=tenant, meeting=claimed.meeting, record=claimed)
    organizer = claimed.organizer_object_id or claimed.key.organizer_key
    try:
        if cancel.mode == "lock":
            return _lock(deps, context, tenant, claimed, patches[-1], owner)
        if claimed.kind.calendar and claimed.event is not None:  # the attendees receive the cancellation
            gone_already = not deps.graph.cancel_event(tenant, organizer, str(claimed.event["id"]), cancel.comment,
                                                       correlation_id=context.correlation_id)
        else:
            gone_already = not deps.graph.delete(tenant, organizer, str(claimed.meeting_id),
                                                 correlation_id=context.correlation_id)
    except BrokerError:
        deps.records.release(key, owner)
        raise

    def bury(current: MeetingRecord | None, _: MeetingKey) -> MeetingRecord | None:
        if current is None or current.cancelled:
            return current
        return dataclasses.replace(current, status=Status.CANCELLED, cancelled_at=deps.clock(), lease_owner=None,
                                   lease_expires_at=None, updated_at=deps.clock(),
                                   correlation_id=context.correlation_id, source=context.source)

    written = deps.records.write(key, bury, current=claimed)
    buried = written.record if written is not None else claimed
    log.info("meeting cancelled%s correlation=%s externalId=%r", " (already gone in Graph)" if gone_already else "",
             context.correlation_id, key.external_id)
    return outcome(deps, context, Status.CANCELLED, tenant=tenant, meeting=buried.meeting, record=buried)


def _lock(deps: Deps, context: Context, tenant: str, claimed: MeetingRecord, patch: dict[str, Any],
          owner: str) -> Outcome:
    organizer = claimed.organizer_object_id or claimed.key.organizer_key
    meeting = deps.graph.update(tenant, organizer, str(claimed.meeting_id), patch,
                                correlation_id=context.correlation_id) if patch else claimed.meeting

    def lock(current: MeetingRecord | None, _: MeetingKey) -> MeetingRecord:
        if current is None:
            raise MeetingNotFound("the meeting's record was removed while it was being locked")
        if current.cancelled:  # only after the claim expired: the tombstone wins
            raise tombstone(current, status=410)
        return dataclasses.replace(unclaimed(current, owner), status=Status.LOCKED, meeting=meeting,
                                   updated_at=deps.clock(), correlation_id=context.correlation_id,
                                   source=context.source)

    written = deps.records.write(claimed.key, lock, current=claimed)
    assert written is not None
    log.info("meeting locked correlation=%s externalId=%r", context.correlation_id, claimed.key.external_id)
    return outcome(deps, context, Status.LOCKED, tenant=tenant, meeting=meeting, record=written.record)
