"""The calendar part of the admin API under ``/_emulator``: mailboxes, events, calendar scopes and after-faults
(localdev/README.md, "Admin API")."""
from __future__ import annotations

from urllib.parse import parse_qsl

from .directory import DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID
from .replies import Reply
from .state import EmulatorState

RESOURCES = ("mailboxes", "events", "calendar-scopes", "after-faults")


def handle(state: EmulatorState, method: str, segments: list[str], query: str, data: dict) -> Reply | None:
    """The answer of a calendar admin route, or None when the path is not one of them."""
    resource, rest = segments[0], segments[1:]
    if (method, resource) == ("GET", "mailboxes"):
        if rest:
            address = "/".join(rest)
            return Reply.json(200, {"address": address, "value": state.calendars.mailbox(address)})
        return Reply.json(200, {"value": [{"address": address, "messages": len(messages)}
                                          for address, messages in sorted(state.calendars.mailboxes().items())]})
    if rest:
        return None
    if (method, resource) == ("GET", "events"):
        wanted = dict(parse_qsl(query)).get("mailbox")
        user = state.directory.find_user(DEFAULT_TENANT_ID, wanted) if wanted else None
        mailbox = (user.object_id if user else wanted.lower()) if wanted else None
        return Reply.json(200, {"value": state.calendars.event_list(mailbox)})
    if resource == "calendar-scopes":
        if method == "GET":
            return Reply.json(200, {"value": state.calendars.calendar_scopes()})
        if method in ("POST", "DELETE"):
            tenant_id = data.get("tenant_id") or DEFAULT_TENANT_ID
            client_id = data.get("client_id") or DEFAULT_CLIENT_ID
            named = data.get("user")
            if not named:
                return Reply.json(400, {"error": "user is required (an object id, a UPN or '*')"})
            user = state.directory.find_user(tenant_id, named) if named != "*" else None
            target = user.object_id if user else named
            calendars = state.calendars
            (calendars.grant_calendar_scope if method == "POST" else calendars.revoke_calendar_scope)(tenant_id,
                                                                                                      client_id, target)
            return Reply.json(200, {"value": state.calendars.calendar_scopes()})
    if resource == "after-faults":
        if method == "GET":
            return Reply.json(200, {"value": state.calendars.after_faults()})
        if method == "POST":
            status = data.get("status", 503)
            state.calendars.inject_after(str(data.get("endpoint")), None if status is None else int(status),
                               drop=bool(data.get("drop")), count=int(data.get("count") or 1),
                               error_code=data.get("error_code"))
            return Reply.json(201, {"value": state.calendars.after_faults()})
        if method == "DELETE":
            state.calendars.clear_after_faults()
            return Reply.json(200, {"value": []})
    return None
