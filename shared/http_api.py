"""The HTTP adapter: turns Functions HTTP requests into service calls and outcomes into responses.

Errors are RFC 9457 problem details (``application/problem+json``) with a stable ``code``
(https://www.rfc-editor.org/rfc/rfc9457). Every POST /meetings answered here yields exactly one result message,
except a request accepted for async processing, whose result comes from the queue worker.
"""
from __future__ import annotations

import json
import logging
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, urlencode

import azure.functions as func

from . import jsontext
from .bootstrap import Container
from .errors import (
    BrokerError,
    FieldError,
    PayloadTooLarge,
    RecordedFailure,
    UnsupportedMediaType,
    ValidationFailed,
)
from .records import MeetingRecord, Status
from .usecases import Outcome, accept_meeting, create_meeting as create_or_get, find_meeting, unrecorded_failure
from .usecases.common import Context, refused
from .validation import MAX_BODY_BYTES, validate_request
from .values import Clock, safe_text

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
MAX_DETAIL = 4000
MAX_RETRY_AFTER = 3600
ContainerFactory = Callable[[], Container]
_CORRELATION = re.compile(r"[\x21-\x7e]{1,200}")
_PATH_SAFE = re.compile(r"[^/\\#?%\s]+")


@dataclass(frozen=True)
class Reply:
    """An HTTP response plus what the function's output bindings must send."""

    response: func.HttpResponse
    result: str | None = None   # to the results queue
    intake: str | None = None   # to the requests queue (async)


def _json(body: Any, status: int, headers: dict[str, str] | None = None, mimetype: str = "application/json"
          ) -> func.HttpResponse:
    # Lone surrogates cannot be UTF-8: only Graph's own answers could carry one (requests with one are refused).
    text = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
    return func.HttpResponse(text, status_code=status, headers=headers or {},
                             mimetype=mimetype, charset="utf-8")


def problem(error: BrokerError, *, correlation_id: str | None = None, status: int | None = None
            ) -> func.HttpResponse:
    status = status or error.status
    body: dict[str, Any] = {
        "type": f"urn:teams-meeting-broker:problem:{error.code}",
        "title": error.title,
        "status": status,
        "detail": safe_text(error.detail, MAX_DETAIL),
        "code": error.code,
        "retryable": error.retryable,
    }
    if correlation_id:
        body["correlationId"] = correlation_id
    if error.errors:
        body["errors"] = [e.as_dict() for e in error.errors]
    body.update(error.extra)
    headers = {}
    if correlation_id:
        headers["x-correlation-id"] = correlation_id
    if error.retry_after is not None or status in (429, 503):
        headers["Retry-After"] = str(retry_after_seconds(error.retry_after))
    return _json(body, status, headers, mimetype=PROBLEM_JSON)


def retry_after_seconds(value: float | None) -> int:
    """Whole seconds for a Retry-After header: at least 1, at most MAX_RETRY_AFTER, whatever Graph said."""
    if value is None or not math.isfinite(value):
        return 1
    return max(1, min(MAX_RETRY_AFTER, math.ceil(value)))


def correlation_id_of(req: func.HttpRequest) -> str:
    given = (req.headers.get("x-correlation-id") or "").strip()
    return given if _CORRELATION.fullmatch(given) else str(uuid.uuid4())


def read_json(req: func.HttpRequest) -> Any:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (64 KiB)")
    content_type = (req.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {safe_text(content_type, 100)!r} is not supported; send "
                                   "application/json")
    return jsontext.parse_utf8(body)


def location(organizer_id: str, external_id: str, tenant_id: str | None = None) -> str:
    """Where the meeting can be read back; the query form when the externalId cannot travel in a path segment."""
    extra = {"tenantId": tenant_id} if tenant_id else {}
    if _PATH_SAFE.fullmatch(external_id) and _PATH_SAFE.fullmatch(organizer_id):
        suffix = f"?{urlencode(extra)}" if extra else ""
        return f"/api/meetings/{quote(organizer_id, safe='@')}/{quote(external_id, safe='')}{suffix}"
    return "/api/meetings?" + urlencode({"organizerId": organizer_id, "externalId": external_id, **extra})


def _wants_async(req: func.HttpRequest) -> bool:
    prefer = req.headers.get("prefer") or ""
    return any(part.split(";")[0].strip().lower() == "respond-async" for part in prefer.split(","))


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
        request = validate_request(payload, api_version=deps.settings.api_version, queue=False)
    except BrokerError as error:
        return _reply(refused(deps, Context(correlation_id, "http", payload=payload), error), correlation_id)
    if _wants_async(req):
        outcome = accept_meeting(deps, request, correlation_id=correlation_id)
    else:
        outcome = create_or_get(deps, request, source="http", correlation_id=correlation_id, final=True)
    named_tenant = request.tenant_id if request.tenant_id not in (None, deps.settings.tenant_id) else None
    where = location(request.organizer_id, request.external_id, named_tenant)
    return _reply(outcome, correlation_id, {"Location": where})


def _reply(outcome: Outcome, correlation_id: str, headers: dict[str, str] | None = None) -> Reply:
    """The HTTP answer to an outcome, and the messages its output bindings send."""
    if outcome.status == Status.FAILED:
        assert outcome.error is not None
        return Reply(problem(outcome.error, correlation_id=correlation_id), outcome.message)
    headers = {**(headers or {}), "x-correlation-id": correlation_id}
    if outcome.status == Status.ACCEPTED:
        body = {"status": Status.ACCEPTED, "correlationId": correlation_id}
        return Reply(_json(body, 202, {**headers, "Preference-Applied": "respond-async", "Retry-After": "1"}),
                     intake=outcome.intake)
    status = 201 if outcome.status == Status.CREATED else 200
    return Reply(_json(outcome.meeting, status, headers), outcome.message)


def get_meeting(req: func.HttpRequest, container_factory: ContainerFactory, organizer_id: str | None,
                external_id: str | None) -> func.HttpResponse:
    correlation_id = correlation_id_of(req)
    try:
        missing = [name for name, value in (("organizerId", organizer_id), ("externalId", external_id)) if not value]
        if missing:
            raise ValidationFailed([FieldError(name, "is required") for name in missing])
        container = container_factory()
        record = find_meeting(container.deps, organizer_id or "", external_id or "", req.params.get("tenantId"))
    except BrokerError as error:
        return problem(error, correlation_id=correlation_id)
    return record_response(record, correlation_id)


def record_response(record: MeetingRecord, correlation_id: str) -> func.HttpResponse:
    headers = {"x-correlation-id": correlation_id}
    if record.has_meeting:
        return _json(record.meeting, 200, headers)
    if record.status == Status.PENDING:
        return _json({"status": Status.PENDING, "correlationId": record.correlation_id}, 202,
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
    return _json({"status": "ok"}, 200)


def openapi_document() -> func.HttpResponse:
    from .openapi import document

    return _json(document(), 200)
