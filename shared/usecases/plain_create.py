"""Use case, part of create: a meeting with a passcode choice, made by plain create (v1.0 Create onlineMeeting) under
the record's lease (``leased.py``). https://learn.microsoft.com/graph/api/application-post-onlinemeetings
"""
from __future__ import annotations

from shared.domain.errors import BrokerError
from shared.domain.meeting_diff import not_applied
from shared.domain.meeting_request import MeetingRequest
from shared.domain.records import Kind, MeetingKey, MeetingRecord
from shared.usecases.context import Context, Deps, Outcome, log
from shared.usecases.leased import Made, create_leased


def create_plain(deps: Deps, context: Context, request: MeetingRequest, tenant: str, key: MeetingKey,
                 record: MeetingRecord | None, *, final: bool) -> Outcome:
    def make(leased: MeetingRecord, retry: bool) -> Made:
        answer = deps.graph.create(tenant, request.organizer_id, request.create_body(deps.clock()),
                                   correlation_id=context.correlation_id, accept_language=request.accept_language)
        meeting = answer.meeting
        wanted = not_applied(meeting, request.settings)
        if wanted:  # Graph took the meeting but not every option with it: one PATCH for the rest
            meeting = deps.graph.update(tenant, request.organizer_id, meeting["id"],
                                        {name: request.settings[name] for name in wanted},
                                        correlation_id=context.correlation_id)
        return Made(meeting)

    def discard(made: Made) -> None:
        try:
            deps.graph.delete(tenant, request.organizer_id, str(made.meeting.get("id")),
                              correlation_id=context.correlation_id)
        except BrokerError as error:
            log.warning("the duplicate meeting could not be deleted (%s); it is orphaned in Graph correlation=%s",
                        error.code, context.correlation_id)

    return create_leased(deps, context, request, tenant, key, record, final=final, kind=Kind.CREATE,
                         make=make, discard=discard)
