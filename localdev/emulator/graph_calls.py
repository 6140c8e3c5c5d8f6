"""Plumbing of every Graph call: the per-request context (ids, headers, Graph-shaped errors and injected faults),
classification of onlineMeetings paths, bearer-token checks, and the record of each call."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any, Mapping
from urllib.parse import unquote

import jwt

from .directory import GRAPH_APP_ID
from .replies import Fault, Reply
from .state import EmulatorState
from .tokens import SigningKey, graph_audiences, issuer

VERSIONS = ("v1.0", "beta")
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
GRAPH_ERROR_CODES = {
    400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
    503: "ServiceNotAvailable", 504: "GatewayTimeout", 507: "InsufficientStorage",
}
GRAPH_ERROR_MESSAGES = {
    429: "Too many requests. Please retry after the time given in the Retry-After header.",
    500: "An internal server error occurred.",
    502: "Bad gateway.",
    503: "The service is temporarily unavailable. Please try again later.",
    504: "The gateway timed out.",
    507: "Insufficient storage.",
}
# (method, path shape) -> endpoint name; "item" is /users/{id}/onlineMeetings/{meetingId}.
_ENDPOINTS = {("POST", "collection"): "create_meeting", ("GET", "collection"): "list_meetings",
              ("POST", "createOrGet"): "create_or_get", ("GET", "item"): "get_meeting",
              ("PATCH", "item"): "update_meeting", ("DELETE", "item"): "delete_meeting"}
# Below one meeting, its artifacts: (shape of the segments after the meeting id) -> endpoint name (GET only).
_ARTIFACT_ENDPOINTS = {("attendancereports",): "list_attendance_reports",
                       ("attendancereports", "*"): "get_attendance_report",
                       ("attendancereports", "*", "attendancerecords"): "list_attendance_records",
                       ("transcripts",): "list_transcripts", ("transcripts", "*"): "get_transcript",
                       ("transcripts", "*", "content"): "get_transcript_content"}
_KEYED = re.compile(r"^(?P<name>[A-Za-z]+)\('(?P<key>[^']*)'\)$")  # OData key syntax: users('{id}')
# The same for /users/{id}/events (or /calendar/events): "event" is .../events/{eventId}, "cancel" .../cancel.
_EVENT_ENDPOINTS = {("POST", "events"): "create_event", ("GET", "events"): "list_events",
                    ("GET", "event"): "get_event", ("PATCH", "event"): "update_event",
                    ("DELETE", "event"): "delete_event", ("POST", "cancel"): "cancel_event"}


class GraphCall:
    """Per-request context: ids for headers and error bodies."""

    def __init__(self, state: EmulatorState, headers: Mapping[str, str]) -> None:
        self.state = state
        self.request_id = str(uuid.uuid4())
        self.client_request_id = headers.get("client-request-id") or self.request_id
        self.when = dt.datetime.fromtimestamp(state.now(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        merged = {
            "request-id": self.request_id,
            "client-request-id": self.client_request_id,
            "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Local", "Slice": "E",
                                                              "Ring": "5", "ScaleUnit": "000",
                                                              "RoleInstance": "emulator"}}),
            "Cache-Control": "no-cache",
        }
        merged.update(extra or {})
        return merged

    def error(self, status: int, code: str | None, message: str, extra: Mapping[str, str] | None = None) -> Reply:
        body = {"error": {
            "code": GRAPH_ERROR_CODES.get(status, "UnknownError") if code is None else code,
            "message": message,
            "innerError": {"date": self.when, "request-id": self.request_id,
                           "client-request-id": self.client_request_id},
        }}
        return Reply.json(status, body, self.headers(extra))

    def odata(self, status: int, payload: Any, extra: Mapping[str, str] | None = None) -> Reply:
        """A Graph success answer: compact JSON with the OData content type and the call's headers."""
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = self.headers({"Content-Type": ODATA_JSON, **(extra or {})} if payload is not None else extra)
        return Reply(status, body, headers)

    def unauthorized(self, message: str) -> Reply:
        challenge = (f'Bearer realm="", authorization_uri="{self.state.base_url}/common/oauth2/authorize", '
                     f'client_id="{GRAPH_APP_ID}"')
        return self.error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})

    def fault(self, fault: Fault) -> Reply:
        extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        status = fault.status or 200
        if fault.body is not None or status < 400:
            reply = Reply(status, fault.body or b"", self.headers({"Content-Type": ODATA_JSON, **extra}))
        else:
            message = GRAPH_ERROR_MESSAGES.get(status, "Injected by the emulator.")
            reply = self.error(status, fault.error_code, message, extra)
        reply.delay = fault.delay
        return reply


def authenticate(call: GraphCall, signing: SigningKey, headers: Mapping[str, str]) -> tuple[dict | None, Reply | None]:
    value = (headers.get("authorization") or "").strip()
    if not value:
        return None, call.unauthorized("Access token is empty.")
    scheme, _, raw = value.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        return None, call.unauthorized("Access token is empty.")
    if raw.count(".") != 2:
        return None, call.unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
    try:
        claims = signing.verify(raw)
    except jwt.PyJWTError:
        return None, call.unauthorized("Access token validation failure. Invalid signature.")
    state = call.state
    if claims.get("aud") not in graph_audiences(state):
        return None, call.unauthorized("Access token validation failure. Invalid audience.")
    tenant_id = str(claims.get("tid") or "")
    if not tenant_id or state.directory.resolve_tenant(tenant_id) is None \
            or claims.get("iss") != issuer(state, tenant_id):
        return None, call.unauthorized("Access token validation failure. Invalid issuer.")
    now = state.now()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp <= now:
        return None, call.unauthorized("Lifetime validation failed, the token is expired.")
    if isinstance(nbf, (int, float)) and nbf > now:
        return None, call.unauthorized("Lifetime validation failed, the token is not yet valid.")
    if claims.get("idtyp") != "app" or not claims.get("appid"):
        return None, call.unauthorized("Access token validation failure. An app-only token is required.")
    return claims, None


def classify(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    """(endpoint name or None, parts) for a Graph path (the raw, still-encoded path). parts: version, and for an
    onlineMeetings path user and shape ("collection", "createOrGet", "item"), meeting_id for an item; for an artifact
    path below a meeting user, meeting_id, shape "artifact" and report_id or transcript_id; for an events path user and
    shape ("events", "event", "cancel"), event_id for the last two. Segments in OData key syntax (``users('{id}')``,
    as Teams writes some next-page links) count as two."""
    segments = [part for segment in path.strip("/").split("/") for part in _unkeyed(segment)]
    parts: dict[str, str] = {"version": segments[0] if segments else ""}
    if len(segments) in (6, 7, 8) and segments[1].lower() == "users" and segments[3].lower() == "onlinemeetings":
        shape = tuple("*" if index == 1 else s.lower() for index, s in enumerate(segments[5:]))
        endpoint = _ARTIFACT_ENDPOINTS.get(shape)
        if endpoint is None:
            return None, parts
        parts.update(user=unquote(segments[2]), meeting_id=unquote(segments[4]), shape="artifact")
        if len(segments) > 6:
            parts["report_id" if shape[0] == "attendancereports" else "transcript_id"] = unquote(segments[6])
        return endpoint if method == "GET" else None, parts
    if len(segments) in (4, 5) and segments[1].lower() == "users" and segments[3].lower() == "onlinemeetings":
        parts["user"] = unquote(segments[2])
        if len(segments) == 4:
            parts["shape"] = "collection"
        elif segments[4].lower() in ("createorget", "microsoft.graph.createorget"):
            parts["shape"] = "createOrGet"
        else:
            parts["shape"] = "item"
            parts["meeting_id"] = unquote(segments[4])
        return _ENDPOINTS.get((method, parts["shape"])), parts
    if len(segments) >= 4 and segments[1].lower() == "users" and segments[3].lower() == "calendar":
        segments = segments[:3] + segments[4:]  # the default calendar's events are the mailbox's events
    if 4 <= len(segments) <= 6 and segments[1].lower() == "users" and segments[3].lower() == "events" and (
            len(segments) < 6 or segments[5].lower() in ("cancel", "microsoft.graph.cancel")):
        parts["user"] = unquote(segments[2])
        parts["shape"] = ("events", "event", "cancel")[len(segments) - 4]
        if len(segments) > 4:
            parts["event_id"] = unquote(segments[4])
        return _EVENT_ENDPOINTS.get((method, parts["shape"])), parts
    return None, parts


def _unkeyed(segment: str) -> list[str]:
    match = _KEYED.match(segment)
    return [match.group("name"), match.group("key")] if match else [segment]


def record(state: EmulatorState, method: str, path: str, query: str, parts: Mapping[str, str], endpoint: str,
           headers: Mapping[str, str], raw_body: bytes, reply: Reply, claims: dict | None, faulted: bool,
           facts: Mapping[str, Any]) -> None:
    """Record one Graph call; ``facts`` adds what the handler learnt (organizer object id, meeting id)."""
    recorded_headers = {k.lower(): v for k, v in headers.items()}
    if "authorization" in recorded_headers:
        scheme = recorded_headers["authorization"].partition(" ")[0] or "?"
        recorded_headers["authorization"] = f"{scheme} <redacted>"
    try:
        body = json.loads(raw_body) if raw_body else None
    except ValueError:
        body = None
    state.record_request({
        "method": method, "path": path, "query": query, "version": parts.get("version"), "endpoint": endpoint,
        "user": parts.get("user"), "organizer": facts.get("organizer"),
        "meeting_id": facts.get("meeting_id") or parts.get("meeting_id"),
        "event_id": facts.get("event_id") or parts.get("event_id"), "headers": recorded_headers, "body": body,
        "status": reply.status, "app_id": (claims or {}).get("appid"), "tenant_id": (claims or {}).get("tid"),
        "fault": faulted, "client_request_id": recorded_headers.get("client-request-id"),
        "accept_language": recorded_headers.get("accept-language"),
    })
