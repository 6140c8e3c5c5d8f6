"""The HTTP adapter: each route parses its request, makes one use-case call and maps the outcome to an answer (and
the messages its output bindings send). Every POST /meetings answered here yields exactly one result message, except
a request accepted for async processing, whose result comes from the queue worker. Answers that carry a meeting
carry its record's ``ETag``; PATCH honours ``If-Match``.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

import azure.functions as func

from shared.bootstrap import Container
from shared.domain.calendar_event import event_summary
from shared.domain.errors import BrokerError, FieldError, RecordedFailure, ValidationFailed
from shared.entrypoints.http_io import Reply, correlation_id_of, json_answer, location, problem, read_json, wants_async
from shared.domain.records import MeetingRecord, Status
from shared.usecases import (Outcome, accept_meeting, cancel_meeting as cancel_use_case, create_meeting as create_or_get,
                       find_by_join_link, find_meeting, organizer_quota, unrecorded_failure,
                       update_meeting as change_meeting)
from shared.usecases import Context, refused, tombstone
from shared.domain.validation import validate_cancel, validate_change, validate_request
from shared.domain.clock import Clock

log = logging.getLogger(__name__)

ContainerFactory = Callable[[], Container]
JOIN_MEETING_ID = re.compile(r"[0-9 ]{1,40}", re.ASCII)


def create_meeting(req: func.HttpRequest, container_factory: ContainerFactory, clock: Clock) -> Reply:
    """POST /meetings: parse, make one use-case call, map its outcome. Every answer comes with one result message,
    except a 202, whose result the queue worker tells."""
    correlation_id = correlation_id_of(req)
    payload: Any = None
    unreadable: BrokerError | None = None
    try:
        payload = read_json(req)
    except BrokerError as error:
        unreadable = error
    try:
        deps = container_factory().deps
    except BrokerError as error:  # the app cannot work at all (settings, storage): the caller may retry
        log.error("app unavailable: %s", error.code)
        told = unrecorded_failure(payload, correlation_id=correlation_id, error=error, clock=clock, source="http")
        return Reply(problem(error, correlation_id=correlation_id), told.message)
    try:
        if unreadable is not None:
            raise unreadable
        request = validate_request(payload, api_version=deps.settings.api_version, queue=False,
                                   accept_language=req.headers.get("accept-language"))
    except BrokerError as error:
        return _reply(refused(deps, Context(correlation_id, "http", payload=payload), error), correlation_id)
    if wants_async(req):
        outcome = accept_meeting(deps, request, correlation_id=correlation_id)
    else:
        outcome = create_or_get(deps, request, source="http", correlation_id=correlation_id, final=True)
    named_tenant = request.tenant_id if request.tenant_id not in (None, deps.settings.tenant_id) else None
    return _reply(outcome, correlation_id, {"Location": location(request.organizer_id, request.external_id,
                                                                 named_tenant)})


def update_meeting(req: func.HttpRequest, container_factory: ContainerFactory, organizer_id: str | None,
                   external_id: str | None) -> Reply:
    """PATCH /meetings/{organizerId}/{externalId} (or the query form): the members given, applied to the meeting."""
    correlation_id = correlation_id_of(req)
    key = {"organizerId": organizer_id, "externalId": external_id, "tenantId": req.params.get("tenantId")}
    try:
        deps = container_factory().deps
    except BrokerError as error:
        return Reply(problem(error, correlation_id=correlation_id))
    payload: Any = None
    try:
        payload = read_json(req)
        change = validate_change(payload, key=key)
    except BrokerError as error:
        told = {**payload, **key} if isinstance(payload, dict) else key
        return _reply(refused(deps, Context(correlation_id, "http", payload=told), error), correlation_id)
    outcome = change_meeting(deps, change, source="http", correlation_id=correlation_id,
                             if_match=req.headers.get("if-match"))
    return _reply(outcome, correlation_id)


def cancel_meeting(req: func.HttpRequest, container_factory: ContainerFactory, organizer_id: str | None,
                   external_id: str | None) -> Reply:
    """DELETE /meetings/{organizerId}/{externalId}?mode=delete|lock[&comment=...] (or the query form): 204 once
    deleted (a tombstone stays), 200 with the locked meeting. ``comment`` goes to a calendar-backed meeting's
    attendees with the cancellation."""
    correlation_id = correlation_id_of(req)
    key = {"organizerId": organizer_id, "externalId": external_id, "tenantId": req.params.get("tenantId")}
    try:
        deps = container_factory().deps
    except BrokerError as error:
        return Reply(problem(error, correlation_id=correlation_id))
    try:
        cancel = validate_cancel({name: req.params[name] for name in ("mode", "comment") if name in req.params},
                                 key=key)
    except BrokerError as error:
        return _reply(refused(deps, Context(correlation_id, "http", payload=key), error), correlation_id)
    outcome = cancel_use_case(deps, cancel, source="http", correlation_id=correlation_id)
    if outcome.status == Status.CANCELLED:
        return Reply(func.HttpResponse(status_code=204, headers={"x-correlation-id": correlation_id}),
                     outcome.message)
    return _reply(outcome, correlation_id)


def _reply(outcome: Outcome, correlation_id: str, headers: dict[str, str] | None = None) -> Reply:
    """The HTTP answer to an outcome, and the messages its output bindings send."""
    if outcome.status == Status.FAILED:
        assert outcome.error is not None
        return Reply(problem(outcome.error, correlation_id=correlation_id), outcome.message)
    headers = {**(headers or {}), "x-correlation-id": correlation_id}
    if outcome.status == Status.ACCEPTED:
        body = {"status": Status.ACCEPTED, "correlationId": correlation_id}
        return Reply(json_answer(body, 202, {**headers, "Preference-Applied": "respond-async", "Retry-After": "1"}),
                     intake=outcome.intake)
    if outcome.record is not None and outcome.record.etag:
        headers["ETag"] = outcome.record.etag
    status = 201 if outcome.status == Status.CREATED else 200
    body = _meeting_body(outcome.meeting, outcome.not_applied, outcome.quota, outcome.event)
    return Reply(json_answer(body, status, headers), outcome.message)


def _meeting_body(meeting: dict[str, Any] | None, not_applied: tuple[str, ...] = (),
                  quota: dict[str, int] | None = None, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The onlineMeeting as Graph returned it, plus ``settingsNotApplied`` when Graph kept some option its own way,
    ``quota`` from 90% of the organizer's monthly limit, and ``event`` for a calendar-backed meeting."""
    body = dict(meeting or {})
    if event:
        body["event"] = dict(event)
    if not_applied:
        body["settingsNotApplied"] = list(not_applied)
    if quota:
        body["quota"] = dict(quota)
    return body


def get_meeting(req: func.HttpRequest, container_factory: ContainerFactory, organizer_id: str | None,
                external_id: str | None) -> func.HttpResponse:
    """GET by key (path or query), or by the join link a person pastes (``joinWebUrl`` or ``joinMeetingId``)."""
    correlation_id = correlation_id_of(req)
    links = {name: req.params[name] for name in ("joinWebUrl", "joinMeetingId") if req.params.get(name)}
    try:
        if links:
            if len(links) > 1 or organizer_id or external_id:
                raise ValidationFailed([FieldError(name, "look a meeting up by its key, its joinWebUrl or its "
                                                         "joinMeetingId: one of them") for name in links])
            if "joinMeetingId" in links and not JOIN_MEETING_ID.fullmatch(links["joinMeetingId"]):
                raise ValidationFailed([FieldError("joinMeetingId", "must be the digits of a join meeting id")])
            record = find_by_join_link(container_factory().deps, join_web_url=links.get("joinWebUrl"),
                                       join_meeting_id=links.get("joinMeetingId"),
                                       tenant_id=req.params.get("tenantId"))
            return record_response(record, correlation_id)
        missing = [name for name, value in (("organizerId", organizer_id), ("externalId", external_id)) if not value]
        if missing:
            raise ValidationFailed([FieldError(name, "is required") for name in missing])
        container = container_factory()
        record = find_meeting(container.deps, organizer_id or "", external_id or "", req.params.get("tenantId"))
    except BrokerError as error:
        return problem(error, correlation_id=correlation_id)
    return record_response(record, correlation_id)


def get_quota(req: func.HttpRequest, container_factory: ContainerFactory, organizer_id: str | None
              ) -> func.HttpResponse:
    """GET /organizers/{organizerId}/quota: the organizer's figures for the current UTC month."""
    correlation_id = correlation_id_of(req)
    try:
        if not organizer_id:
            raise ValidationFailed([FieldError("organizerId", "is required")])
        figures = organizer_quota(container_factory().deps, organizer_id, req.params.get("tenantId"))
    except BrokerError as error:
        return problem(error, correlation_id=correlation_id)
    return json_answer(figures, 200, {"x-correlation-id": correlation_id})


def record_response(record: MeetingRecord, correlation_id: str) -> func.HttpResponse:
    headers = {"x-correlation-id": correlation_id, **({"ETag": record.etag} if record.etag else {})}
    if record.has_meeting:
        return json_answer(_meeting_body(record.meeting, record.settings_not_applied,
                                         event=event_summary(record.event)), 200, headers)
    if record.cancelled:
        return problem(tombstone(record, status=410), correlation_id=correlation_id)
    if record.status == Status.PENDING:
        return json_answer({"status": Status.PENDING, "correlationId": record.correlation_id}, 202,
                           {**headers, "Retry-After": "1"})
    # A failed request: replay the problem it ended with, as the POST answered it.
    return problem(RecordedFailure(record.last_error or {}, state=record.status),
                   correlation_id=record.correlation_id or correlation_id)


def health(container_factory: ContainerFactory) -> func.HttpResponse:
    try:
        container = container_factory()
        container.repository.ping()
    except BrokerError as error:
        return problem(error, status=503)
    return json_answer({"status": "ok"}, 200)


def openapi_document() -> func.HttpResponse:
    from shared.entrypoints.openapi import document

    return json_answer(document(), 200)
