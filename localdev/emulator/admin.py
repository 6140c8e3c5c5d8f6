"""The emulator's admin API under ``/_emulator`` (JSON in, JSON out), the HTTP face of ``EmulatorState``; its routes
are listed in localdev/README.md, "Admin API" (the calendar ones are in ``event_admin``)."""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

from . import artifact_admin, event_admin
from .directory import DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, ONLINE_MEETINGS_ROLE
from .replies import Reply
from .state import FAULT_TARGETS, EmulatorState
from .traffic import admin as traffic_admin

_MISSING = object()


def _admin_error(status: int, message: str) -> Reply:
    return Reply.json(status, {"error": message})


def handle(state: EmulatorState, method: str, segments: list[str], query: str, body: bytes, *, url: str,
           seed: bool) -> Reply:
    """One admin call; ``url``: the emulator's address (shown by ``GET state``), ``seed``: whether reset seeds."""
    resource = "/".join(segments)
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        return _admin_error(400, "body must be JSON")
    if not isinstance(data, dict):
        return _admin_error(400, "body must be a JSON object")
    try:
        if (method, resource) == ("GET", "state"):
            meetings = state.online_meetings
            return Reply.json(200, {"url": url, "counters": state.counters, "meetings": meetings.meeting_count(),
                                    "requests": len(state.requests), "faults": state.faults(),
                                    "setting_policies": meetings.forced_settings(), "now": state.now()})
        if (method, resource) == ("GET", "meetings"):
            return Reply.json(200, {"value": state.meetings})
        if (method, resource) == ("GET", "requests"):
            return Reply.json(200, {"value": _calls(state, query)})
        if (method, resource) == ("GET", "users"):
            return Reply.json(200, {"value": state.directory.users()})
        if (method, resource) == ("POST", "faults"):
            target = data.get("target")
            if target not in FAULT_TARGETS:
                return _admin_error(400, f"target must be one of {list(FAULT_TARGETS)}")
            count = data.get("count", _MISSING)
            status = data.get("status")
            body_text = data.get("body")
            if body_text is not None and not isinstance(body_text, str):
                return _admin_error(400, "body must be a string or null")
            state.inject(
                target, None if status is None else int(status),
                count=1 if count is _MISSING else (None if count is None else int(count)),
                retry_after=data.get("retry_after"), body=body_text, delay=float(data.get("delay") or 0.0),
                error_code=data.get("error_code"),
            )
            return Reply.json(201, {"faults": state.faults()})
        if (method, resource) == ("DELETE", "faults"):
            state.clear_faults()
            return Reply.json(200, {"faults": []})
        if (method, resource) == ("POST", "users"):
            tenant_id = data.get("tenant_id") or DEFAULT_TENANT_ID
            for name in ("object_id", "upn"):
                if not data.get(name):
                    return _admin_error(400, f"{name} is required")
            user = state.directory.add_user(tenant_id, data["object_id"], data["upn"],
                                  data.get("display_name") or data["upn"])
            if data.get("policy"):
                state.directory.grant_policy(tenant_id, data.get("client_id") or DEFAULT_CLIENT_ID, user.object_id)
            return Reply.json(201, user.as_dict())
        if resource == "policies" and method in ("POST", "DELETE"):
            tenant_id = data.get("tenant_id") or DEFAULT_TENANT_ID
            client_id = data.get("client_id") or DEFAULT_CLIENT_ID
            user = data.get("user")
            if not user:
                return _admin_error(400, "user is required (an object id or '*')")
            directory = state.directory
            (directory.grant_policy if method == "POST" else directory.revoke_policy)(tenant_id, client_id, user)
            return Reply.json(200, {"tenant_id": tenant_id, "client_id": client_id, "user": user,
                                    "granted": method == "POST"})
        if resource == "setting-policies":
            return _setting_policies(state, method, data)
        if (method, resource) == ("POST", "apps"):
            for name in ("tenant_id", "client_id"):
                if not data.get(name):
                    return _admin_error(400, f"{name} is required")
            state.directory.register_app(data["tenant_id"], data["client_id"], secret=data.get("secret"),
                               certificate_pem=data.get("certificate_pem"),
                               federated_subjects=tuple(data.get("federated_subjects") or ()),
                               roles=tuple(data.get("roles", (ONLINE_MEETINGS_ROLE,))))
            return Reply.json(201, {"tenant_id": data["tenant_id"], "client_id": data["client_id"]})
        if (method, resource) == ("POST", "managed-identities"):
            for name in ("client_id", "principal_id"):
                if not data.get(name):
                    return _admin_error(400, f"{name} is required")
            state.directory.add_managed_identity(data["client_id"], data["principal_id"],
                                       data.get("tenant_id") or DEFAULT_TENANT_ID, tuple(data.get("roles") or ()))
            return Reply.json(201, {"client_id": data["client_id"], "principal_id": data["principal_id"]})
        if (method, resource) == ("POST", "clock"):
            return Reply.json(200, {"now": state.advance_clock(float(data.get("advance") or 0.0))})
        if resource == "traffic":
            return traffic_admin(state.traffic, method, data)
        if segments and segments[0] in event_admin.RESOURCES:  # calendars: mailboxes, events, scopes, after-faults
            answer = event_admin.handle(state, method, segments, query, data)
            if answer is not None:
                return answer
        if segments and segments[0] in artifact_admin.RESOURCES:  # occurrences, the artifact lists' page size
            answer = artifact_admin.handle(state, method, segments, data)
            if answer is not None:
                return answer
        if (method, resource) == ("POST", "reset"):
            state.reset(seed=seed)
            return Reply.json(200, {"reset": True, "seeded": seed})
    except (TypeError, ValueError) as exc:
        return _admin_error(400, str(exc))
    return _admin_error(404, f"no admin route {method} /_emulator/{resource}")


def _calls(state, query: str) -> list:
    filters = dict(parse_qsl(query))
    status = filters.get("status")
    return state.calls(filters.get("endpoint"), meeting_id=filters.get("meeting_id"),
                       organizer=filters.get("organizer"), method=filters.get("method"),
                       status=int(status) if status else None)


def _setting_policies(state, method: str, data: dict) -> Reply:
    if method == "GET":
        return Reply.json(200, {"value": state.online_meetings.forced_settings()})
    if method == "POST":
        if not data.get("setting") or "value" not in data:
            return _admin_error(400, "setting and value are required")
        state.online_meetings.force_setting(data["setting"], data["value"], organizer_id=data.get("organizer_id"))
        return Reply.json(201, {"value": state.online_meetings.forced_settings()})
    if method == "DELETE":
        state.online_meetings.clear_forced_settings(data.get("setting"))
        return Reply.json(200, {"value": state.online_meetings.forced_settings()})
    return _admin_error(405, "use GET, POST or DELETE")
