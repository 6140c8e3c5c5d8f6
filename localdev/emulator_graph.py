"""Microsoft Graph stand-in: ``POST /{v1.0|beta}/users/{id}/onlineMeetings/createOrGet`` and
``GET /{v1.0|beta}/users/{id}/onlineMeetings/{meetingId}``.

Order of checks: injected fault, bearer token (401), OnlineMeetings.ReadWrite.All role (403), body (400), user in the
token's tenant (404), application access policy (403 "General"), createOrGet date rules (400).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Mapping
from urllib.parse import unquote

import jwt

from .emulator_meetings import HOUR_TICKS, InvalidDateTime, new_meeting, parse_datetime, render_meeting, \
    ticks_from_epoch
from .emulator_schemas import GraphSchemas
from .emulator_state import ONLINE_MEETINGS_ROLE, GRAPH_APP_ID, EmulatorState, Fault, Reply
from .emulator_tokens import SigningKey, graph_audiences, issuer

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


def classify(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    """('create_or_get' | 'get_meeting' | None, parts) for a Graph path (the raw, still-encoded path)."""
    segments = path.strip("/").split("/")
    parts: dict[str, str] = {"version": segments[0] if segments else ""}
    if len(segments) == 5 and segments[1].lower() == "users" and segments[3].lower() == "onlinemeetings":
        parts["user"] = unquote(segments[2])
        last = segments[4]
        if last.lower() in ("createorget", "microsoft.graph.createorget"):
            parts["action"] = "createOrGet"
            return ("create_or_get" if method == "POST" else None), parts
        parts["meeting_id"] = unquote(last)
        return ("get_meeting" if method == "GET" else None), parts
    return None, parts


def _authenticate(call: GraphCall, signing: SigningKey, headers: Mapping[str, str]) -> tuple[dict | None, Reply | None]:
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
    if not tenant_id or state.resolve_tenant(tenant_id) is None or claims.get("iss") != issuer(state, tenant_id):
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


def _prefers_unknown_enum_members(headers: Mapping[str, str]) -> bool:
    prefer = headers.get("prefer") or ""
    return any(part.strip().lower() == "include-unknown-enum-members" for part in prefer.split(","))


def handle(state: EmulatorState, signing: SigningKey, schemas: GraphSchemas, method: str, path: str,
           headers: Mapping[str, str], raw_body: bytes) -> Reply:
    call = GraphCall(state, headers)
    endpoint, parts = classify(method, path)
    if endpoint:
        state.count(endpoint)
    fault = state.take_fault("graph")
    claims: dict | None = None
    if fault is not None and fault.status is not None:
        reply = call.fault(fault)
    else:
        reply, claims = _handle(call, signing, schemas, method, path, endpoint, parts, headers, raw_body)
        if fault is not None:
            reply.delay = fault.delay
    if endpoint:
        _record(state, method, path, parts, endpoint, headers, raw_body, reply, claims, fault is not None)
    return reply


def _record(state: EmulatorState, method: str, path: str, parts: Mapping[str, str], endpoint: str,
            headers: Mapping[str, str], raw_body: bytes, reply: Reply, claims: dict | None, faulted: bool) -> None:
    recorded_headers = {k.lower(): v for k, v in headers.items()}
    if "authorization" in recorded_headers:
        scheme = recorded_headers["authorization"].partition(" ")[0] or "?"
        recorded_headers["authorization"] = f"{scheme} <redacted>"
    try:
        body = json.loads(raw_body) if raw_body else None
    except ValueError:
        body = None
    state.record_request({
        "method": method, "path": path, "version": parts.get("version"), "endpoint": endpoint,
        "user": parts.get("user"), "headers": recorded_headers, "body": body, "status": reply.status,
        "app_id": (claims or {}).get("appid"), "tenant_id": (claims or {}).get("tid"), "fault": faulted,
        "client_request_id": recorded_headers.get("client-request-id"),
    })


def _handle(call: GraphCall, signing: SigningKey, schemas: GraphSchemas, method: str, path: str, endpoint: str | None,
            parts: Mapping[str, str], headers: Mapping[str, str], raw_body: bytes) -> tuple[Reply, dict | None]:
    version = parts.get("version", "")
    if endpoint is None:
        if "action" in parts or "meeting_id" in parts:
            return call.error(405, None, f"The HTTP method '{method}' is not supported by this emulator route."), None
        tail = unquote(path.rstrip("/").rsplit("/", 1)[-1])
        return call.error(400, None, f"Resource not found for the segment '{tail}'."), None
    claims, failure = _authenticate(call, signing, headers)
    if failure is not None:
        return failure, None
    assert claims is not None
    if ONLINE_MEETINGS_ROLE not in (claims.get("roles") or []):
        return call.error(403, "Forbidden", "Insufficient privileges to complete the operation. The application "
                                            f"needs the {ONLINE_MEETINGS_ROLE} application permission."), claims
    body: dict[str, Any] = {}
    if endpoint == "create_or_get":
        body_or_error = _parse_body(call, schemas, version, raw_body)
        if isinstance(body_or_error, Reply):
            return body_or_error, claims
        body = body_or_error
    state = call.state
    tenant_id = str(claims["tid"]).lower()
    user = state.find_user(tenant_id, parts["user"])
    if user is None:
        return call.error(404, "NotFound", f"The user '{parts['user']}' was not found in the tenant."), claims
    app_id = str(claims["appid"])
    if not state.has_policy(tenant_id, app_id, user.object_id):
        return call.error(403, "General", "No application access policy found for this app."), claims
    include_unknown = _prefers_unknown_enum_members(headers)

    def render(meeting: Any, status: int) -> Reply:
        payload = render_meeting(meeting, version=version, include_unknown_enum_members=include_unknown,
                                 graph_root=state.base_url, user_segment=parts["user"])
        extra = {"Content-Type": ODATA_JSON}
        if include_unknown:
            extra["Preference-Applied"] = "include-unknown-enum-members"
        reply = Reply(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), call.headers(extra))
        return reply

    if endpoint == "get_meeting":
        meeting = state.find_meeting(parts["meeting_id"])
        if meeting is None or meeting.tenant_id != tenant_id or meeting.organizer_id != user.object_id:
            return call.error(404, "NotFound", "The online meeting was not found."), claims
        return render(meeting, 200), claims

    start_text, end_text = body.get("startDateTime"), body.get("endDateTime")
    if end_text and not start_text:
        return call.error(400, None, "endDateTime cannot be specified without startDateTime."), claims
    now_ticks = ticks_from_epoch(state.now())
    try:
        start = parse_datetime(start_text) if start_text else now_ticks
        end = parse_datetime(end_text) if end_text else start + HOUR_TICKS
    except InvalidDateTime as exc:
        return call.error(400, None, str(exc)), claims
    if end < start:
        return call.error(400, None, "endDateTime cannot be earlier than startDateTime."), claims
    participants = body.get("participants") or {}
    attendees = participants.get("attendees") or []

    def factory() -> Any:
        return new_meeting(
            tenant_id=tenant_id, organizer_id=user.object_id, organizer_upn=user.upn,
            organizer_name=user.display_name, external_id=body["externalId"], subject=body.get("subject"),
            start_ticks=start, end_ticks=end, created_ticks=now_ticks, attendees=attendees,
            chat_info=body.get("chatInfo"), app_id=app_id, version=version,
        )

    meeting, created = state.create_or_get_meeting((tenant_id, user.object_id, body["externalId"]), factory)
    return render(meeting, 201 if created else 200), claims


def _parse_body(call: GraphCall, schemas: GraphSchemas, version: str, raw_body: bytes) -> dict[str, Any] | Reply:
    if not raw_body.strip():
        return call.error(400, None, "Empty Payload. JSON content expected.")
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        return call.error(400, None, "Unable to read JSON request payload. Please ensure Content-Type header is set "
                                     "and payload is of valid JSON format.")
    if not isinstance(body, dict):
        return call.error(400, None, "The request body must be a JSON object.")
    if version == "v1.0" and "chatInfo" in body:
        return call.error(400, None, "The parameter 'chatInfo' is only supported in beta for createOrGet.")
    problem = schemas.create_or_get_body_error(body, version)
    if problem is not None:
        return call.error(400, None, f"Invalid request body: {problem}")
    return body
