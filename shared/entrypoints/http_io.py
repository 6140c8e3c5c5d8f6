"""HTTP on the wire: reading bodies and headers with limits, writing JSON answers and RFC 9457 problem details
(``application/problem+json``, with a stable ``code``: https://www.rfc-editor.org/rfc/rfc9457)."""
from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import azure.functions as func

from shared.domain import jsontext
from shared.domain.errors import BrokerError, PayloadTooLarge, UnsupportedMediaType
from shared.domain.validation import MAX_BODY_BYTES
from shared.domain.identifiers import safe_text

PROBLEM_JSON = "application/problem+json"
MAX_DETAIL = 4000
MAX_RETRY_AFTER = 32 * 24 * 3600  # a quota answers until the next month; Graph's waits are capped in graph.py
_CORRELATION = re.compile(r"[\x21-\x7e]{1,200}")
_PATH_SAFE = re.compile(r"[^/\\#?%\s]+")


@dataclass(frozen=True)
class Reply:
    """An HTTP response plus what the function's output bindings must send."""

    response: func.HttpResponse
    result: str | None = None   # to the results queue
    intake: str | None = None   # to the requests queue (async)
    callback: str | None = None  # the result's delivery, to the callbacks queue


def json_answer(body: Any, status: int, headers: dict[str, str] | None = None, mimetype: str = "application/json"
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
    return json_answer(body, status, headers, mimetype=PROBLEM_JSON)


def retry_after_seconds(value: float | None) -> int:
    """Whole seconds for a Retry-After header: at least 1, at most MAX_RETRY_AFTER, whatever Graph said."""
    if value is None or not math.isfinite(value):
        return 1
    return max(1, min(MAX_RETRY_AFTER, math.ceil(value)))


def correlation_id_of(req: func.HttpRequest) -> str:
    return given_correlation_id(req) or str(uuid.uuid4())


def given_correlation_id(req: func.HttpRequest) -> str | None:
    """The caller's own correlation id (``x-correlation-id``), when it sent a usable one."""
    given = (req.headers.get("x-correlation-id") or "").strip()
    return given if _CORRELATION.fullmatch(given) else None


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


def wants_async(req: func.HttpRequest) -> bool:
    prefer = req.headers.get("prefer") or ""
    return any(part.split(";")[0].strip().lower() == "respond-async" for part in prefer.split(","))
