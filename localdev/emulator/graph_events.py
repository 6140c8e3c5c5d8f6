"""Microsoft Graph ``events`` stand-in (a user's default calendar), v1.0 and beta, application tokens only: the
request context and the six operations (endpoints and order of checks: localdev/README.md, "Outlook events")."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from .directory import User
from .event_bodies import apply_changes, bad, parse_object, read_changes, recurrence_zone
from .event_effects import end, link_meeting, notify, significant, sync_copy, sync_meeting
from .events import EVENT_WRITES, Event, EventError, new_ids, property_key, render_event, zone_of
from .graph_calls import GRAPH_ERROR_MESSAGES, GraphCall
from .meetings import ticks_from_epoch
from .rendering import negotiate_language
from .replies import DroppedReply, Reply
from .state import EmulatorState

_ANY = re.compile(
    r"^\s*singleValueExtendedProperties/any\(\s*(?P<v>\w+)\s*:\s*(?P=v)/id\s+eq\s+'(?P<id>(?:[^']|'')*)'\s+and\s+"
    r"(?:(?P=v)/value\s+(?P<op>eq|ne)\s+'(?P<value>(?:[^']|'')*)'|"
    r"(?P<fn>contains|startswith)\(\s*(?P=v)/value\s*,\s*'(?P<arg>(?:[^']|'')*)'\s*\))\s*\)\s*$", re.IGNORECASE)
_EXPAND = re.compile(r"^\s*singleValueExtendedProperties\s*(?:\(\s*\$filter\s*=\s*id\s+eq\s+"
                     r"'(?P<id>(?:[^']|'')*)'\s*\))?\s*$", re.IGNORECASE)
_PREFER_ZONE = re.compile(r'outlook\.timezone\s*=\s*"?(?P<zone>[^";,]+)"?', re.IGNORECASE)
NOT_ORGANIZER = "Your request can't be completed. You need to be an organizer to cancel a meeting."


@dataclass
class EventRequest:
    call: GraphCall
    version: str
    parts: Mapping[str, str]
    headers: Mapping[str, str]
    query: str
    raw_body: bytes
    user: User
    app_id: str
    facts: dict[str, Any]

    @property
    def state(self) -> EmulatorState:
        return self.call.state

    def params(self) -> dict[str, str]:
        return {k.lower(): v for k, v in parse_qsl(self.query, keep_blank_values=True)}

    def preferred_zone(self) -> str | None:
        match = _PREFER_ZONE.search(self.headers.get("prefer") or "")
        if match is None:
            return None
        try:
            zone_of(match.group("zone").strip())
        except EventError:
            return None
        return match.group("zone").strip()

    def expand(self) -> tuple[str, ...] | None:
        value = self.params().get("$expand")
        if value is None:
            return None
        match = _EXPAND.match(value)
        if match is None:
            raise bad(f"Parsing OData Select and Expand failed: the emulator expands only "
                      f"singleValueExtendedProperties($filter=id eq '...'), not '{value}'.", "BadRequest")
        return (property_key(match.group("id").replace("''", "'")),) if match.group("id") is not None else ("*",)

    def render(self, event: Event, zone: str | None, *, context: bool = True) -> dict[str, Any]:
        return render_event(event, graph_root=self.state.base_url, version=self.version,
                            user_segment=self.parts["user"], zone=zone, expand=self.expand(), context=context)

    def read(self, zone: str | None, event: Event, status: int = 200) -> Reply:
        """The event as an answer; ``zone``: None (the zones it was created in), "UTC", or "prefer" (the zone of
        ``Prefer: outlook.timezone``, else UTC)."""
        self.facts.update(event_id=event.id, meeting_id=event.meeting_id)
        preferred = self.preferred_zone() if zone == "prefer" else None
        payload = self.render(event, preferred or ("UTC" if zone == "prefer" else zone))
        extra = {"Preference-Applied": f'outlook.timezone="{preferred}"'} if preferred else {}
        return self.call.odata(status, payload, extra)

    def own_event(self) -> Event:
        event = self.state.calendars.find_event(self.parts["event_id"])
        if event is None or event.tenant_id != self.user.tenant_id or event.mailbox_id != self.user.object_id:
            raise EventError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    def now_ticks(self) -> int:
        return ticks_from_epoch(self.state.now())

    def link_meeting(self, event: Event) -> None:
        """The Teams meeting of a teamsForBusiness event, made by this call (``event_effects.link_meeting``)."""
        link_meeting(self.state, event, created_ticks=self.now_ticks(), app_id=self.app_id, version=self.version,
                     language=negotiate_language(self.headers.get("accept-language")))


def operate(call: GraphCall, endpoint: str, parts: Mapping[str, str], headers: Mapping[str, str], query: str,
            raw_body: bytes, claims: Mapping[str, Any], facts: dict[str, Any]) -> Reply:
    """One authenticated events call (see the module docstring for the order of checks)."""
    state = call.state
    tenant_id = str(claims["tid"]).lower()
    user = state.directory.find_user(tenant_id, parts["user"])
    if user is None:
        return call.error(404, "ErrorInvalidUser", f"The requested user '{parts['user']}' is invalid.")
    facts["organizer"] = user.object_id
    app_id = str(claims["appid"])
    if not state.calendars.may_use_calendar(tenant_id, app_id, user.object_id, claims.get("roles") or (),
                                  write=endpoint in EVENT_WRITES):
        return call.error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    request = EventRequest(call, parts.get("version", ""), parts, headers, query, raw_body, user, app_id, facts)
    try:
        reply = _OPERATIONS[endpoint](request)
    except EventError as exc:
        return call.error(exc.status, exc.code, exc.message)
    after = state.calendars.take_after_fault(endpoint) if 200 <= reply.status < 300 else None
    if after is None:
        return reply
    facts["after_fault"] = True
    if after.drop:
        return DroppedReply(0)
    return call.error(after.status or 503, after.error_code,
                      GRAPH_ERROR_MESSAGES.get(after.status or 503, "Injected by the emulator."))


# ----------------------------------------------------------------------------------------------- operations
def create_event(request: EventRequest) -> Reply:
    changes = read_changes(parse_object(request.raw_body), create=True)
    state, user, now = request.state, request.user, request.now_ticks()
    assert changes.start is not None and changes.end is not None
    if changes.end[0] < changes.start[0]:
        raise bad("The end of an event cannot be earlier than its start.")
    with state.lock:
        if changes.transaction_id:
            existing = state.calendars.event_by_transaction(user.tenant_id, user.object_id, changes.transaction_id)
            if existing is not None:  # Graph ignores the repeated create: no second event, no second invitation
                request.facts["repeated_transaction"] = True
                return request.read(None, existing, 201)
        event_id, ical = new_ids()
        event = Event(id=event_id, tenant_id=user.tenant_id, mailbox_id=user.object_id, organizer_id=user.object_id,
                      organizer_address=user.upn, organizer_name=user.display_name, ical_uid=ical,
                      created_ticks=now, modified_ticks=now, start_ticks=changes.start[0], end_ticks=changes.end[0],
                      start_zone=changes.start[1], end_zone=changes.end[1], subject=changes.subject or "",
                      body=changes.body or {"contentType": "text", "content": ""},
                      attendees=[a for a in changes.attendees or []
                                 if a["emailAddress"]["address"].lower() != user.upn.lower()],
                      location=changes.location, recurrence=changes.recurrence, transaction_id=changes.transaction_id,
                      properties={property_key(p["id"]): p for p in changes.properties}, extra=changes.echoed)
        if changes.is_online:
            event.is_online, event.provider = True, changes.provider or "teamsForBusiness"
            if event.provider == "teamsForBusiness":
                request.link_meeting(event)
        elif changes.provider:
            event.provider = changes.provider
        recurrence_zone(event)
        state.calendars.store_event(event)
        for attendee in event.attendees:
            notify(state, event, attendee, "invitation")
            sync_copy(state, event, attendee, cancelled=False)
        return request.read(None, event, 201)


def list_events(request: EventRequest) -> Reply:
    params, state = request.params(), request.state
    wanted: Callable[[Event], bool] = lambda event: True  # noqa: E731
    if params.get("$filter") is not None:
        match = _ANY.match(params["$filter"])
        if match is None:
            raise bad("Unsupported $filter: the emulator filters events only by singleValueExtendedProperties/Any(ep: "
                      "ep/id eq '...' and ep/value eq|ne '...' | contains(ep/value, '...') | startswith(ep/value, "
                      "'...')).", "BadRequest")
        wanted = _property_filter(match)
    zone = request.preferred_zone()
    with state.lock:
        found = [e for e in state.calendars.calendar(request.user.tenant_id, request.user.object_id) if wanted(e)]
        value = [request.render(e, zone or "UTC", context=False) for e in found]
    if len(found) == 1:  # the record names the event a lookup found
        request.facts.update(event_id=found[0].id, meeting_id=found[0].meeting_id)
    context = f"{state.base_url}/{request.version}/$metadata#users('{request.parts['user']}')/events"
    extra = {"Preference-Applied": f'outlook.timezone="{zone}"'} if zone else {}
    return request.call.odata(200, {"@odata.context": context, "value": value}, extra)


def get_event(request: EventRequest) -> Reply:
    with request.state.lock:
        return request.read("prefer", request.own_event())


def update_event(request: EventRequest) -> Reply:
    changes = read_changes(parse_object(request.raw_body), create=False)
    state = request.state
    with state.lock:
        event = request.own_event()
        if changes.transaction_id is not None and changes.transaction_id != event.transaction_id:
            raise bad("The transactionId of an event cannot be changed after it is created.")
        start = changes.start[0] if changes.start is not None else event.start_ticks
        if (changes.end[0] if changes.end is not None else event.end_ticks) < start:
            raise bad("The end of an event cannot be earlier than its start.")
        before = significant(event)
        old_people = {a["emailAddress"]["address"].lower(): a for a in event.attendees}
        apply_changes(event, changes)
        event.touch(request.now_ticks())
        if not event.is_organizer:  # an attendee's own copy: nobody else hears of it
            return request.read("UTC", event)
        if changes.is_online and not event.meeting_id and event.provider == "teamsForBusiness":
            request.link_meeting(event)
        sync_meeting(state, event)
        new_people = {a["emailAddress"]["address"].lower(): a for a in event.attendees}
        changed = significant(event) != before
        for address, attendee in new_people.items():
            if address not in old_people:
                notify(state, event, attendee, "invitation")
            elif changed:
                notify(state, event, attendee, "update")
            sync_copy(state, event, attendee, cancelled=False)
        for address, attendee in old_people.items():
            if address not in new_people:
                notify(state, event, attendee, "cancellation")
                sync_copy(state, event, attendee, cancelled=True)
        return request.read("UTC", event)


def cancel_event(request: EventRequest) -> Reply:
    body = parse_object(request.raw_body, empty_ok=True)
    comment = next((v for k, v in body.items() if k.lower() == "comment"), None)
    if comment is not None and not isinstance(comment, str):
        raise bad("The parameter 'comment' must be a string.")
    with request.state.lock:
        event = request.own_event()
        if not event.is_organizer:
            raise EventError(400, "ErrorCalendarIsNotOrganizer", NOT_ORGANIZER)
        request.facts.update(event_id=event.id, meeting_id=event.meeting_id)
        end(request.state, event, comment)
    return request.call.odata(202, None)


def delete_event(request: EventRequest) -> Reply:
    with request.state.lock:
        event = request.own_event()
        request.facts.update(event_id=event.id, meeting_id=event.meeting_id)
        if event.is_organizer:  # deleting a meeting in the organizer's calendar cancels it for the attendees
            end(request.state, event, None)
        else:
            request.state.calendars.remove_event(event.id)  # an attendee's own copy: only it goes
    return request.call.odata(204, None)


_OPERATIONS: dict[str, Callable[[EventRequest], Reply]] = {
    "create_event": create_event, "list_events": list_events, "get_event": get_event, "update_event": update_event,
    "cancel_event": cancel_event, "delete_event": delete_event,
}


# ----------------------------------------------------------------------------------------------- helpers
def _property_filter(match: re.Match[str]) -> Callable[[Event], bool]:
    key = property_key(match.group("id").replace("''", "'"))
    op = (match.group("op") or match.group("fn")).lower()
    wanted = (match.group("value") if match.group("op") else match.group("arg")).replace("''", "'").lower()
    tests: dict[str, Callable[[str], bool]] = {
        "eq": lambda v: v == wanted, "ne": lambda v: v != wanted, "contains": lambda v: wanted in v,
        "startswith": lambda v: v.startswith(wanted)}

    def matches(event: Event) -> bool:
        prop = event.properties.get(key)
        return prop is not None and tests[op](prop["value"].lower())  # values compare case-insensitively

    return matches
