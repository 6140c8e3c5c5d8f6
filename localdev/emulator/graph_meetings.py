"""Microsoft Graph ``onlineMeetings`` stand-in, v1.0 and beta, application tokens only: createOrGet, create, get,
update, delete and find by join URL (endpoints and order of checks: localdev/README.md, "Graph onlineMeetings");
events and meeting artifacts are handed to ``graph_events`` and ``graph_artifacts``."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, unquote

from . import graph_artifacts, graph_events
from .artifacts import ARTIFACT_ENDPOINTS
from .directory import ONLINE_MEETINGS_ROLE, User
from .events import EVENT_ENDPOINTS
from .graph_calls import GraphCall, authenticate, classify, record
from .meeting_bodies import BodyError, apply_changes, check_members, meeting_changes, parse_json_object
from .meetings import HOUR_TICKS, SETTING_DEFAULTS, InvalidDateTime, Meeting, new_meeting, parse_datetime, \
    ticks_from_epoch
from .rendering import negotiate_language, render_meeting
from .schemas import GraphSchemas
from .replies import Reply
from .state import EmulatorState
from .tokens import SigningKey

_JOIN_URL_FILTER = re.compile(r"^\s*joinWebUrl\s+eq\s+'(?P<url>(?:[^']|'')*)'\s*$", re.IGNORECASE)


@dataclass
class GraphRequest:
    """An authenticated, authorized onlineMeetings call of an organizer known to the tenant."""

    call: GraphCall
    schemas: GraphSchemas
    version: str
    parts: Mapping[str, str]
    headers: Mapping[str, str]
    query: str
    body: dict[str, Any] | None
    user: User
    app_id: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> EmulatorState:
        return self.call.state

    @property
    def include_unknown(self) -> bool:
        prefer = self.headers.get("prefer") or ""
        return any(part.strip().lower() == "include-unknown-enum-members" for part in prefer.split(","))

    def meeting_reply(self, meeting: Meeting, status: int) -> Reply:
        self.facts["meeting_id"] = meeting.id
        payload = render_meeting(meeting, version=self.version, include_unknown_enum_members=self.include_unknown,
                                 graph_root=self.state.base_url, user_segment=self.parts["user"],
                                 schemas=self.schemas)
        extra = {"Preference-Applied": "include-unknown-enum-members"} if self.include_unknown else {}
        return self.call.odata(status, payload, extra)

    def owned_meeting(self) -> Meeting | None:
        meeting = self.state.online_meetings.find_meeting(self.parts["meeting_id"])
        if meeting is None or meeting.tenant_id != self.user.tenant_id or meeting.organizer_id != self.user.object_id:
            return None
        return meeting

    def not_found(self) -> Reply:
        return self.call.error(404, "NotFound", "The online meeting was not found.")

    def is_directory_user(self, attendee: dict[str, Any]) -> bool:
        user_id = ((attendee.get("identity") or {}).get("user") or {}).get("id")
        upn = attendee.get("upn")
        return any(isinstance(key, str) and self.state.directory.find_user(self.user.tenant_id, key)
                   for key in (user_id, upn) if key)


def handle(state: EmulatorState, signing: SigningKey, schemas: GraphSchemas, method: str, path: str, query: str,
           headers: Mapping[str, str], raw_body: bytes) -> Reply:
    call = GraphCall(state, headers)
    endpoint, parts = classify(method, path)
    if endpoint:
        state.count(endpoint)
    fault = state.take_fault("graph")
    if fault is None or fault.status is None:  # rate-limit mode (traffic.py): a 429 as Graph throttles
        fault = state.traffic.throttle(headers) or fault
    claims: dict | None = None
    facts: dict[str, Any] = {}
    if fault is not None and fault.status is not None:
        reply = call.fault(fault)
    else:
        reply, claims = _handle(call, signing, schemas, method, path, query, endpoint, parts, headers, raw_body,
                                facts)
        if fault is not None:
            reply.delay = fault.delay
    if endpoint:
        record(state, method, path, query, parts, endpoint, headers, raw_body, reply, claims, fault is not None, facts)
    reply.delay += state.traffic.latency  # latency mode (traffic.py)
    return reply


def _handle(call: GraphCall, signing: SigningKey, schemas: GraphSchemas, method: str, path: str, query: str,
            endpoint: str | None, parts: Mapping[str, str], headers: Mapping[str, str], raw_body: bytes,
            facts: dict[str, Any]) -> tuple[Reply, dict | None]:
    version = parts.get("version", "")
    if endpoint is None:
        if "shape" in parts:
            return call.error(405, None, f"The HTTP method '{method}' is not supported by this emulator route."), None
        tail = unquote(path.rstrip("/").rsplit("/", 1)[-1])
        return call.error(400, None, f"Resource not found for the segment '{tail}'."), None
    claims, failure = authenticate(call, signing, headers)
    if failure is not None:
        return failure, None
    assert claims is not None
    if endpoint in EVENT_ENDPOINTS:  # Outlook calendars: their own permissions, no Teams access policy
        return graph_events.operate(call, endpoint, parts, headers, query, raw_body, claims, facts), claims
    if endpoint in ARTIFACT_ENDPOINTS:  # attendance and transcripts: their own permissions, the access policy
        return graph_artifacts.operate(call, endpoint, parts, path, query, claims, facts), claims
    if ONLINE_MEETINGS_ROLE not in (claims.get("roles") or []):
        return call.error(403, "Forbidden", "Insufficient privileges to complete the operation. The application "
                                            f"needs the {ONLINE_MEETINGS_ROLE} application permission."), claims
    try:
        body = _checked_body(schemas, version, endpoint, raw_body)
    except BodyError as exc:
        return call.error(400, None, str(exc)), claims
    state = call.state
    tenant_id = str(claims["tid"]).lower()
    user = state.directory.find_user(tenant_id, parts["user"])
    if user is None:
        return call.error(404, "NotFound", f"The user '{parts['user']}' was not found in the tenant."), claims
    facts["organizer"] = user.object_id
    app_id = str(claims["appid"])
    if not state.directory.has_policy(tenant_id, app_id, user.object_id):
        return call.error(403, "General", "No application access policy found for this app."), claims
    request = GraphRequest(call, schemas, version, parts, headers, query, body, user, app_id, facts)
    try:
        return _OPERATIONS[endpoint](request), claims
    except BodyError as exc:
        return call.error(400, None, str(exc)), claims


def _checked_body(schemas: GraphSchemas, version: str, endpoint: str, raw_body: bytes) -> dict[str, Any] | None:
    if endpoint not in ("create_or_get", "create_meeting", "update_meeting"):
        return None
    body = parse_json_object(raw_body)
    if endpoint == "create_or_get":
        if version == "v1.0" and "chatInfo" in body:
            raise BodyError("The parameter 'chatInfo' is only supported in beta for createOrGet.")
        problem = schemas.create_or_get_body_error(body, version)
        if problem is not None:
            raise BodyError(f"Invalid request body: {problem}")
    else:
        check_members(schemas, version, body, patch=endpoint == "update_meeting")
    return body


def _now_ticks(request: GraphRequest) -> int:
    return ticks_from_epoch(request.state.now())


def create_or_get(request: GraphRequest) -> Reply:
    body = request.body or {}
    start_text, end_text = body.get("startDateTime"), body.get("endDateTime")
    if end_text and not start_text:
        raise BodyError("endDateTime cannot be specified without startDateTime.")
    now_ticks = _now_ticks(request)
    try:
        start = parse_datetime(start_text) if start_text else now_ticks
        end = parse_datetime(end_text) if end_text else start + HOUR_TICKS
    except InvalidDateTime as exc:
        raise BodyError(str(exc)) from None
    if end < start:
        raise BodyError("endDateTime cannot be earlier than startDateTime.")
    user, attendees = request.user, (body.get("participants") or {}).get("attendees") or []

    def factory() -> Meeting:
        return new_meeting(
            tenant_id=user.tenant_id, organizer_id=user.object_id, organizer_upn=user.upn,
            organizer_name=user.display_name, external_id=body["externalId"], subject=body.get("subject"),
            start_ticks=start, end_ticks=end, created_ticks=now_ticks, attendees=attendees,
            chat_info=body.get("chatInfo"), app_id=request.app_id, version=request.version,
            language=negotiate_language(request.headers.get("accept-language")),
            passcode_required=request.state.require_passcode,
        )

    key = (user.tenant_id, user.object_id, body["externalId"])
    meeting, created = request.state.online_meetings.create_or_get_meeting(key, factory)
    return request.meeting_reply(meeting, 201 if created else 200)


def create_meeting(request: GraphRequest) -> Reply:
    user, now_ticks = request.user, _now_ticks(request)
    changes = meeting_changes(request.schemas, request.version, request.body or {}, organizer_id=user.object_id,
                              organizer_upn=user.upn, now_ticks=now_ticks,
                              is_directory_user=request.is_directory_user, meeting=None)
    assert changes.start_ticks is not None and changes.end_ticks is not None
    meeting = new_meeting(
        tenant_id=user.tenant_id, organizer_id=user.object_id, organizer_upn=user.upn,
        organizer_name=user.display_name, external_id=changes.external_id, subject=changes.subject,
        start_ticks=changes.start_ticks, end_ticks=changes.end_ticks, created_ticks=now_ticks,
        attendees=changes.attendees or [], chat_info=None, app_id=request.app_id, version=request.version,
        created_with="create", language=negotiate_language(request.headers.get("accept-language")),
        passcode_required=changes.passcode_required, settings={**SETTING_DEFAULTS, **changes.settings},
    )
    return request.meeting_reply(request.state.online_meetings.add_meeting(meeting), 201)


def get_meeting(request: GraphRequest) -> Reply:
    meeting = request.owned_meeting()
    return request.not_found() if meeting is None else request.meeting_reply(meeting, 200)


def update_meeting(request: GraphRequest) -> Reply:
    state, user = request.state, request.user
    with state.lock:
        meeting = request.owned_meeting()
        if meeting is None:
            return request.not_found()
        changes = meeting_changes(request.schemas, request.version, request.body or {}, organizer_id=user.object_id,
                                  organizer_upn=user.upn, now_ticks=_now_ticks(request),
                                  is_directory_user=request.is_directory_user, meeting=meeting)
        apply_changes(meeting, changes)
        state.online_meetings.apply_setting_policies(meeting)
        return request.meeting_reply(meeting, 200)


def delete_meeting(request: GraphRequest) -> Reply:
    with request.state.lock:
        meeting = request.owned_meeting()
        if meeting is None:
            return request.not_found()
        request.facts["meeting_id"] = meeting.id
        request.state.online_meetings.delete_meeting(meeting.id)
    return request.call.odata(204, None)


def list_meetings(request: GraphRequest) -> Reply:
    filters = [value for key, value in parse_qsl(request.query, keep_blank_values=True) if key.lower() == "$filter"]
    if not filters:
        raise BodyError("Filter expression expected: onlineMeetings can only be listed with "
                        "$filter=JoinWebUrl eq '{joinWebUrl}'.")
    match = _JOIN_URL_FILTER.match(filters[0])
    if match is None:
        raise BodyError("Unsupported $filter: only JoinWebUrl eq '{joinWebUrl}' is supported.")
    literal = match.group("url").replace("''", "'")
    user = request.user
    found = request.state.online_meetings.meetings_with_join_url(user.tenant_id, user.object_id, literal) or \
        request.state.online_meetings.meetings_with_join_url(user.tenant_id, user.object_id, unquote(literal))
    value = [render_meeting(m, version=request.version, include_unknown_enum_members=request.include_unknown,
                            graph_root=request.state.base_url, user_segment=request.parts["user"],
                            schemas=request.schemas) for m in found]
    for item in value:
        item.pop("@odata.context", None)
    context = f"{request.state.base_url}/{request.version}/$metadata#users('{request.parts['user']}')/onlineMeetings"
    return request.call.odata(200, {"@odata.context": context, "value": value})


_OPERATIONS: dict[str, Callable[[GraphRequest], Reply]] = {
    "create_or_get": create_or_get, "create_meeting": create_meeting, "get_meeting": get_meeting,
    "update_meeting": update_meeting, "delete_meeting": delete_meeting, "list_meetings": list_meetings,
}
