"""Use case, part of create: a calendar-backed meeting, an Outlook event with its Teams meeting, so that Outlook
sends the invitations. One event per key: the record's lease, the event's ``transactionId``, and an extended
property by which a retry finds an event an earlier attempt made. https://learn.microsoft.com/graph/api/user-post-events
"""
from __future__ import annotations

from shared.domain.calendar_event import EXTERNAL_ID_PROPERTY, event_body, join_url_of
from shared.domain.errors import GraphUnavailable
from shared.domain.meeting_diff import patch_for
from shared.domain.meeting_request import MeetingChange, MeetingRequest
from shared.domain.records import Kind, MeetingKey, MeetingRecord
from shared.usecases.context import Context, Deps, Outcome, log
from shared.usecases.leased import Made, create_leased


def create_calendar(deps: Deps, context: Context, request: MeetingRequest, tenant: str, key: MeetingKey,
                    record: MeetingRecord | None, *, final: bool) -> Outcome:
    organizer = request.organizer_id

    def make(leased: MeetingRecord, retry: bool) -> Made:
        event = leased.event
        if event is None and retry:  # an earlier attempt may have made the event: find it before creating one
            event = deps.graph.find_event(tenant, organizer, EXTERNAL_ID_PROPERTY, request.external_id,
                                          correlation_id=context.correlation_id)
            if event is not None:
                log.info("found the event an earlier attempt made correlation=%s externalId=%r",
                         context.correlation_id, request.external_id)
        if event is None:
            start, end = request.times(deps.clock())
            event = deps.graph.create_event(tenant, organizer, event_body(
                subject=request.subject, start=start, end=end, participants=request.participants,
                members=request.event_members, tenant_id=tenant, organizer_key=key.organizer_key,
                external_id=request.external_id), correlation_id=context.correlation_id)
        join_url = join_url_of(event)
        meeting = deps.graph.meeting_by_join_url(tenant, organizer, join_url, correlation_id=context.correlation_id) \
            if join_url else None
        if meeting is None:  # the event exists; a retry finds it by its extended property and looks again
            raise GraphUnavailable("the event was created but its Teams meeting cannot be read yet")
        attendees = (request.participants or {}).get("attendees")
        presenters = [a for a in attendees or [] if isinstance(a, dict) and a.get("role", "attendee") != "attendee"]
        wanted = MeetingChange(organizer_id=organizer, external_id=request.external_id, settings=request.settings,
                               attendees=attendees if presenters else None)
        patch = patch_for(meeting, wanted)
        if patch:  # the options, and presenters' roles, the event could not carry
            meeting = deps.graph.update(tenant, organizer, meeting["id"], patch, correlation_id=context.correlation_id)
        return Made(meeting, event)

    def discard(made: Made) -> None:
        # The transactionId makes a second event unlikely. One is not cancelled: the cancellation would reach the
        # same attendees as the recorded event's invitation and read as the meeting being off.
        log.warning("a second event may exist for this key (event id %s); it is left in the calendar "
                    "correlation=%s", str((made.event or {}).get("id"))[:80], context.correlation_id)

    return create_leased(deps, context, request, tenant, key, record, final=final, kind=Kind.CALENDAR,
                         make=make, discard=discard)
