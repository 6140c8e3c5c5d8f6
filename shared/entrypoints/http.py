"""The HTTP adapter: each route parses its request, makes one use-case call and maps the outcome to an answer (and
the messages its output bindings send). Every route runs in one preamble (``_route``): its correlation id, the app's
dependencies, and any error it lets through answered as a problem. Every POST /meetings answered here yields exactly
one result message, except a request accepted for async processing, whose result comes from the queue worker.
Answers that carry a meeting carry its record's ``ETag``; PATCH honours ``If-Match``. With INTAKE_SIGNING_SECRETS
set, every write (POST, PATCH, DELETE) is verified in the preamble first (``signatures``): 401, and nothing else.
What POST /meetings uses is imported at the top; every other route imports its use case in its body, and signed
intake its verifier once secrets are set: a new instance loads the code of the requests it serves (the cold start).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Concatenate, ParamSpec

import azure.functions as func

from shared.bootstrap import Container, clock as process_clock
from shared.domain.calendar_event import event_summary
from shared.domain.clock import Clock
from shared.domain.errors import BrokerError, FieldError, RecordedFailure, SignatureInvalid, ValidationFailed
from shared.domain.records import MeetingRecord, Status
from shared.domain.validation import validate_cancel, validate_change, validate_request
from shared.entrypoints.told import Told
from shared.entrypoints.http_io import (Reply, correlation_id_of, given_correlation_id, json_answer, location, problem,
                                       read_json, wants_async)
from shared.usecases.accept import accept_meeting
from shared.usecases.callbacks import refused
from shared.usecases.context import Context, Deps, Outcome
from shared.usecases.create import create_meeting as create_or_get
from shared.usecases.exhaust import unrecorded_failure
from shared.usecases.keyed_write import tombstone
from shared import telemetry

if TYPE_CHECKING:
    from shared.entrypoints.signatures import IntakeVerifier

log = logging.getLogger(__name__)

ContainerFactory = Callable[[], Container]
JOIN_MEETING_ID = re.compile(r"[0-9 ]{1,40}", re.ASCII)
P = ParamSpec("P")


@dataclass
class _Call:
    """One request as a route sees it: its correlation id, its JSON body (read once, when asked for) and the app's
    dependencies, built when the route needs them (a lookup checks its parameters first)."""

    req: func.HttpRequest
    correlation_id: str
    container_factory: ContainerFactory
    status: str | None = None  # the outcome's, once the route has one (metrics)

    def deps(self) -> Deps:
        return self.container_factory().deps

    @functools.cached_property
    def _body(self) -> tuple[Any, BrokerError | None]:
        try:
            return read_json(self.req), None
        except BrokerError as error:
            return None, error

    def json(self) -> Any:
        """The JSON body; raises why it cannot be read."""
        payload, unreadable = self._body
        if unreadable is not None:
            raise unreadable
        return payload

    @property
    def payload(self) -> Any:
        """The JSON body, or None when it cannot be read."""
        return self._body[0]

    def key(self, organizer_id: str | None, external_id: str | None) -> dict[str, str | None]:
        return {"organizerId": organizer_id, "externalId": external_id, "tenantId": self.req.params.get("tenantId")}

    def reply(self, outcome: Outcome, headers: dict[str, str] | None = None) -> Reply:
        self.status = outcome.status
        return _reply(outcome, self.correlation_id, headers)

    def refused(self, deps: Deps, error: BrokerError, payload: Any) -> Reply:
        """A request that broke a rule: its problem, told as ``failed`` with nothing stored."""
        return self.reply(refused(deps, Context(self.correlation_id, "http", payload=payload), error))


Route = Callable[Concatenate[func.HttpRequest, ContainerFactory, P], Reply]


def _route(work: Callable[Concatenate[_Call, P], Reply],
           unrecorded: Callable[Concatenate[_Call, BrokerError, P], str | None] | None = None) -> Route[P]:
    """The preamble of every route: a route ``(call, *args)`` served as ``(req, container_factory, *args)``. An error
    the route lets through (the app cannot work: settings, storage; a lookup refused) is answered as a problem, with
    the result message ``unrecorded`` makes of it (none by default). The request's span and metric, and the
    ``traceparent`` of every message it writes, are made here too."""
    @functools.wraps(work)
    def route(req: func.HttpRequest, container_factory: ContainerFactory, /, *args: P.args,
              **kwargs: P.kwargs) -> Reply:
        call = _Call(req, correlation_id_of(req), container_factory)
        try:
            call = _signed(call)
        except SignatureInvalid as unsigned:  # before anything else: no Graph call, no row, no message
            return Reply(problem(unsigned, correlation_id=call.correlation_id))
        with telemetry.serving(req.method, work.__name__, req.headers) as span:
            span.set("broker.correlation_id", call.correlation_id)
            try:
                reply = work(call, *args, **kwargs)
            except BrokerError as error:
                told = unrecorded(call, error, *args, **kwargs) if unrecorded is not None else None
                reply = Reply(problem(error, correlation_id=call.correlation_id), told)
            except Exception:
                telemetry.request_done(work.__name__, "http", Status.FAILED, 500)
                raise
            code = reply.response.status_code
            status = call.status or (Status.FAILED if code >= 400 else "ok")
            span.set("http.response.status_code", code)
            span.set("broker.status", status)
            if code >= 500:
                span.fail(str(code))
            telemetry.request_done(work.__name__, "http", status, code)
            outputs = Told(reply.result, reply.callback).stamped()
            return dataclasses.replace(reply, result=outputs.result, intake=telemetry.stamp("intake", reply.intake),
                                       callback=outputs.callback)
    return route


WRITES = frozenset({"POST", "PATCH", "DELETE"})


@functools.lru_cache(maxsize=4)
def _verifier(secrets: tuple[str, ...]) -> IntakeVerifier:
    from shared.entrypoints.signatures import IntakeVerifier

    return IntakeVerifier(secrets, clock=process_clock)


def _signed(call: _Call) -> _Call:
    """A write, verified when INTAKE_SIGNING_SECRETS is set (SignatureInvalid otherwise); its correlation id the
    webhook-id when the caller names none. Settings that cannot load are the route's to answer."""
    if call.req.method.upper() not in WRITES:
        return call
    try:
        secrets = call.deps().settings.callbacks.intake_signing_secrets
    except BrokerError:
        return call
    if not secrets:
        return call
    from shared.entrypoints.signatures import correlation_id

    webhook_id = _verifier(secrets).verify(call.req.headers, call.req.get_body() or b"")
    return dataclasses.replace(call, correlation_id=correlation_id(given_correlation_id(call.req), webhook_id))


def _telling(unrecorded: Callable[Concatenate[_Call, BrokerError, P], str | None]
             ) -> Callable[[Callable[Concatenate[_Call, P], Reply]], Route[P]]:
    """``_route`` for a route that tells every failure on the results queue, those it lets through included."""
    return lambda work: _route(work, unrecorded)


def _told_unrecorded(call: _Call, error: BrokerError, clock: Clock) -> str | None:
    """POST /meetings when the app cannot work at all (settings, storage): told, with nothing recorded; the caller
    may retry."""
    log.error("app unavailable: %s", error.code)
    return unrecorded_failure(call.payload, correlation_id=call.correlation_id, error=error, clock=clock,
                              source="http").message


@_telling(_told_unrecorded)
def create_meeting(call: _Call, clock: Clock) -> Reply:
    """POST /meetings: parse, make one use-case call, map its outcome. Every answer comes with one result message,
    except a 202, whose result the queue worker tells."""
    deps = call.deps()
    try:
        request = validate_request(call.json(), api_version=deps.settings.api_version, queue=False,
                                   accept_language=call.req.headers.get("accept-language"))
    except BrokerError as error:
        return call.refused(deps, error, call.payload)
    if wants_async(call.req):
        outcome = accept_meeting(deps, request, correlation_id=call.correlation_id)
    else:
        outcome = create_or_get(deps, request, source="http", correlation_id=call.correlation_id, final=True)
    named_tenant = request.tenant_id if request.tenant_id not in (None, deps.settings.tenant_id) else None
    return call.reply(outcome, {"Location": location(request.organizer_id, request.external_id, named_tenant)})


@_route
def update_meeting(call: _Call, organizer_id: str | None, external_id: str | None) -> Reply:
    """PATCH /meetings/{organizerId}/{externalId} (or the query form): the members given, applied to the meeting."""
    from shared.usecases.update import update_meeting as change_meeting

    deps = call.deps()
    key = call.key(organizer_id, external_id)
    try:
        change = validate_change(call.json(), key=key)
    except BrokerError as error:
        payload = call.payload
        return call.refused(deps, error, {**payload, **key} if isinstance(payload, dict) else key)
    return call.reply(change_meeting(deps, change, source="http", correlation_id=call.correlation_id,
                                     if_match=call.req.headers.get("if-match")))


@_route
def cancel_meeting(call: _Call, organizer_id: str | None, external_id: str | None) -> Reply:
    """DELETE /meetings/{organizerId}/{externalId}?mode=delete|lock[&comment=...] (or the query form): 204 once
    deleted (a tombstone stays), 200 with the locked meeting. ``comment`` goes to a calendar-backed meeting's
    attendees with the cancellation."""
    from shared.usecases.cancel import cancel_meeting as cancel_use_case

    deps = call.deps()
    key = call.key(organizer_id, external_id)
    params = call.req.params
    try:
        cancel = validate_cancel({name: params[name] for name in ("mode", "comment") if name in params}, key=key)
    except BrokerError as error:
        return call.refused(deps, error, key)
    outcome = cancel_use_case(deps, cancel, source="http", correlation_id=call.correlation_id)
    if outcome.status == Status.CANCELLED:
        call.status = outcome.status
        return Reply(func.HttpResponse(status_code=204, headers={"x-correlation-id": call.correlation_id}),
                     outcome.message, callback=outcome.callback)
    return call.reply(outcome)


def _reply(outcome: Outcome, correlation_id: str, headers: dict[str, str] | None = None) -> Reply:
    """The HTTP answer to an outcome, and the messages its output bindings send."""
    if outcome.status == Status.FAILED:
        assert outcome.error is not None
        return Reply(problem(outcome.error, correlation_id=correlation_id), outcome.message, callback=outcome.callback)
    headers = {**(headers or {}), "x-correlation-id": correlation_id}
    if outcome.status == Status.ACCEPTED:
        body = {"status": Status.ACCEPTED, "correlationId": correlation_id}
        return Reply(json_answer(body, 202, {**headers, "Preference-Applied": "respond-async", "Retry-After": "1"}),
                     intake=outcome.intake)
    if outcome.record is not None and outcome.record.etag:
        headers["ETag"] = outcome.record.etag
    status = 201 if outcome.status == Status.CREATED else 200
    body = _meeting_body(outcome.meeting, outcome.not_applied, outcome.quota, outcome.event)
    return Reply(json_answer(body, status, headers), outcome.message, callback=outcome.callback)


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


@_route
def get_meeting(call: _Call, organizer_id: str | None, external_id: str | None) -> Reply:
    """GET by key (path or query), or by the join link a person pastes (``joinWebUrl`` or ``joinMeetingId``)."""
    from shared.usecases.find import find_by_join_link, find_meeting

    params = call.req.params
    links = {name: params[name] for name in ("joinWebUrl", "joinMeetingId") if params.get(name)}
    if links:
        if len(links) > 1 or organizer_id or external_id:
            raise ValidationFailed([FieldError(name, "look a meeting up by its key, its joinWebUrl or its "
                                                     "joinMeetingId: one of them") for name in links])
        if "joinMeetingId" in links and not JOIN_MEETING_ID.fullmatch(links["joinMeetingId"]):
            raise ValidationFailed([FieldError("joinMeetingId", "must be the digits of a join meeting id")])
        record = find_by_join_link(call.deps(), join_web_url=links.get("joinWebUrl"),
                                   join_meeting_id=links.get("joinMeetingId"), tenant_id=params.get("tenantId"))
    else:
        record = find_meeting(call.deps(), *_required_key(organizer_id, external_id), params.get("tenantId"))
    return Reply(record_response(record, call.correlation_id))


@_route
def get_quota(call: _Call, organizer_id: str | None) -> Reply:
    """GET /organizers/{organizerId}/quota: the organizer's figures for the current UTC month."""
    from shared.usecases.find import organizer_quota

    if not organizer_id:
        raise ValidationFailed([FieldError("organizerId", "is required")])
    figures = organizer_quota(call.deps(), organizer_id, call.req.params.get("tenantId"))
    return Reply(json_answer(figures, 200, {"x-correlation-id": call.correlation_id}))


def _required_key(organizer_id: str | None, external_id: str | None) -> tuple[str, str]:
    missing = [name for name, value in (("organizerId", organizer_id), ("externalId", external_id)) if not value]
    if missing:
        raise ValidationFailed([FieldError(name, "is required") for name in missing])
    return organizer_id or "", external_id or ""


@_route
def get_attendance(call: _Call, organizer_id: str | None, external_id: str | None) -> Reply:
    """GET .../attendance (path or query form): every attendance report of the key's meeting, person by person
    against the participants its request named."""
    from shared.usecases.attendance import meeting_attendance

    key = _required_key(organizer_id, external_id)
    deps = call.deps()
    body = meeting_attendance(deps, *key, call.req.params.get("tenantId"), mode=deps.settings.artifacts.mode,
                              correlation_id=call.correlation_id)
    return Reply(json_answer(body, 200, {"x-correlation-id": call.correlation_id}))


@_route
def get_transcripts(call: _Call, organizer_id: str | None, external_id: str | None,
                    url_of: Callable[[str], str] | None = None) -> Reply:
    """GET .../transcripts (path or query form): the transcripts of a calendar-backed meeting, each with the
    broker's own ``contentUrl`` (``url_of``: the route of the same form; by default the path form's)."""
    from shared.usecases.transcripts import meeting_transcripts

    key = _required_key(organizer_id, external_id)
    deps = call.deps()
    body = meeting_transcripts(deps, *key, call.req.params.get("tenantId"), mode=deps.settings.artifacts.mode,
                               url_of=url_of, correlation_id=call.correlation_id)
    return Reply(json_answer(body, 200, {"x-correlation-id": call.correlation_id}))


def find_transcripts(req: func.HttpRequest, container_factory: ContainerFactory, organizer_id: str | None,
                     external_id: str | None) -> Reply:
    """GET /meetings/transcripts?organizerId=...&externalId=...: as ``get_transcripts``, each ``contentUrl`` the
    query form of the transcript's route too."""
    from shared.usecases.transcripts import transcript_query_url

    url_of = transcript_query_url(organizer_id or "", external_id or "", req.params.get("tenantId"))
    return get_transcripts(req, container_factory, organizer_id, external_id, url_of)


@_route
def get_transcript(call: _Call, organizer_id: str | None, external_id: str | None,
                   transcript_id: str | None) -> Reply:
    """GET .../transcripts/{transcriptId} (path or query form): the transcript's WebVTT text."""
    from shared.usecases.transcripts import transcript_text

    key = _required_key(organizer_id, external_id)
    if not transcript_id:
        raise ValidationFailed([FieldError("transcriptId", "is required")])
    deps = call.deps()
    text = transcript_text(deps, *key, transcript_id, call.req.params.get("tenantId"),
                           mode=deps.settings.artifacts.mode, correlation_id=call.correlation_id)
    return Reply(func.HttpResponse(text.encode("utf-8"), status_code=200, mimetype="text/vtt", charset="utf-8",
                                   headers={"x-correlation-id": call.correlation_id}))


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
    """GET /health (anonymous, outside the preamble: no correlation id): 200 once the table answers, else 503."""
    try:
        container = container_factory()
        container.repository.ping()
    except BrokerError as error:
        return problem(error, status=503)
    return json_answer({"status": "ok"}, 200)


def openapi_document() -> func.HttpResponse:
    from shared.entrypoints.openapi import document

    return json_answer(document(), 200)
