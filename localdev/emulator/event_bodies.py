"""Request bodies of the event endpoints: which members a create or an update may carry and of what type, read into
the changes they ask for (``EventChanges``) and applied to an event (the rules: localdev/README.md, "Outlook
events")."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from .events import Event, EventError, property_key, ticks_of

# Members stored and echoed as given.
ECHOED = ("reminderMinutesBeforeStart", "isReminderOn", "importance", "sensitivity", "showAs", "categories",
          "isAllDay", "allowNewTimeProposals", "responseRequested", "hideAttendees")
WRITABLE = ("subject", "body", "start", "end", "attendees", "location", "locations", "recurrence", "isOnlineMeeting",
            "onlineMeetingProvider", "transactionId", "singleValueExtendedProperties", *ECHOED)
IGNORED = ("originalStartTimeZone", "originalEndTimeZone", "responseStatus")
READ_ONLY = ("id", "iCalUId", "webLink", "changeKey", "createdDateTime", "lastModifiedDateTime", "onlineMeeting",
             "onlineMeetingUrl", "organizer", "isOrganizer", "type", "seriesMasterId", "bodyPreview", "isCancelled",
             "hasAttachments", "isDraft", "originalStart", "uid")
PROVIDERS = ("teamsForBusiness", "skypeForBusiness", "skypeForConsumer", "unknown")
ATTENDEE_TYPES = ("required", "optional", "resource")


@dataclass
class EventChanges:
    present: set[str] = field(default_factory=set)
    subject: str | None = None
    body: dict[str, str] | None = None
    start: tuple[int, str] | None = None
    end: tuple[int, str] | None = None
    attendees: list[dict[str, Any]] | None = None
    location: dict[str, Any] | None = None
    recurrence: dict[str, Any] | None = None
    is_online: bool | None = None
    provider: str | None = None
    transaction_id: str | None = None
    properties: list[dict[str, str]] = field(default_factory=list)
    echoed: dict[str, Any] = field(default_factory=dict)


def bad(message: str, code: str = "ErrorInvalidRequest") -> EventError:
    return EventError(400, code, message)


def parse_object(raw: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    if not raw.strip():
        if empty_ok:
            return {}
        raise bad("Empty Payload. JSON content expected.", "BadRequest")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                  "valid JSON format.", "BadRequest") from None
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.", "BadRequest")
    return body


def read_changes(body: dict[str, Any], *, create: bool) -> EventChanges:
    changes = EventChanges()
    for name in body:
        if "@" in name or name in IGNORED:
            continue
        if name in READ_ONLY:
            raise bad(f"The property '{name}' is read-only and cannot be set.")
        if name not in WRITABLE:
            raise bad(f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure to only use "
                      "property names that are defined by the type or mark the type as open type.", "RequestBodyRead")
        changes.present.add(name)
    if "subject" in body:
        if body["subject"] is not None and not isinstance(body["subject"], str):
            raise bad("The property 'subject' must be a string.")
        changes.subject = body["subject"] or ""
    if body.get("body") is not None:
        changes.body = _item_body(body["body"])
    for name in ("start", "end"):
        if body.get(name) is not None:
            setattr(changes, name, ticks_of(body[name], name))
    if create and (changes.start is None or changes.end is None):
        raise bad("An event needs a start and an end (dateTimeTimeZone values).")
    if body.get("attendees") is not None:
        changes.attendees = _attendees(body["attendees"])
    if body.get("location") is not None or body.get("locations"):
        location = body.get("location") if body.get("location") is not None else body["locations"][0]
        if not isinstance(location, dict) or not isinstance(location.get("displayName", ""), str):
            raise bad("The property 'location' must be a location with a displayName.")
        name = location.get("displayName") or ""
        changes.location = {"displayName": name, "locationType": "default", "uniqueId": name,
                            "uniqueIdType": "private", **{k: v for k, v in location.items() if "@" not in k}}
    if "recurrence" in body:
        changes.recurrence = _recurrence(body["recurrence"]) if body["recurrence"] is not None else None
    if "isOnlineMeeting" in body:
        if not isinstance(body["isOnlineMeeting"], bool):
            raise bad("The property 'isOnlineMeeting' must be a boolean.")
        changes.is_online = body["isOnlineMeeting"]
    if body.get("onlineMeetingProvider") is not None:
        if body["onlineMeetingProvider"] not in PROVIDERS:
            raise bad(f"Requested value '{body['onlineMeetingProvider']}' was not found.", "RequestBodyRead")
        changes.provider = body["onlineMeetingProvider"]
    if body.get("transactionId") is not None:
        if not isinstance(body["transactionId"], str) or not body["transactionId"]:
            raise bad("The property 'transactionId' must be a non-empty string.")
        changes.transaction_id = body["transactionId"]
    if body.get("singleValueExtendedProperties") is not None:
        changes.properties = _properties(body["singleValueExtendedProperties"])
    changes.echoed = {name: copy.deepcopy(body[name]) for name in ECHOED if name in body}
    return changes


def apply_changes(event: Event, changes: EventChanges) -> None:
    """An update's changes on the stored event (the organizer never among its attendees)."""
    if "subject" in changes.present:
        event.subject = changes.subject or ""
    if changes.body is not None:  # the whole body: a join block not in the new body is gone
        event.body = changes.body
    if changes.start is not None:
        event.start_ticks, event.start_zone = changes.start
    if changes.end is not None:
        event.end_ticks, event.end_zone = changes.end
    if changes.attendees is not None:
        event.attendees = [a for a in changes.attendees
                           if a["emailAddress"]["address"].lower() != event.organizer_address.lower()]
    if changes.location is not None:
        event.location = changes.location
    if "recurrence" in changes.present:
        event.recurrence = changes.recurrence
        recurrence_zone(event)
    if changes.is_online is not None:
        event.is_online = changes.is_online or event.is_online  # Teams meetings stay online meetings
        if changes.is_online and event.provider == "unknown":
            event.provider = changes.provider or "teamsForBusiness"
    for prop in changes.properties:
        event.properties[property_key(prop["id"])] = prop
    event.extra.update(changes.echoed)


def recurrence_zone(event: Event) -> None:
    """A recurrence without its own zone follows the start's (as the Create event example answers)."""
    if event.recurrence is not None and not event.recurrence["range"].get("recurrenceTimeZone"):
        event.recurrence["range"]["recurrenceTimeZone"] = event.start_zone


def _item_body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("content", ""), str):
        raise bad("The property 'body' must be an itemBody with a content string.")
    kind = str(value.get("contentType") or "text").lower()
    if kind not in ("text", "html"):
        raise bad(f"Requested value '{value.get('contentType')}' was not found.", "RequestBodyRead")
    return {"contentType": kind, "content": value.get("content") or ""}


def _attendees(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise bad("The property 'attendees' must be a collection of attendees.")
    found: list[dict[str, Any]] = []
    for attendee in value:
        email = attendee.get("emailAddress") if isinstance(attendee, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(email, dict) or not isinstance(address, str) or "@" not in address:
            raise bad("Every attendee needs an emailAddress with an address.", "ErrorInvalidRecipients")
        kind = str(attendee.get("type") or "required").lower()
        if kind not in ATTENDEE_TYPES:
            raise bad(f"Requested value '{attendee.get('type')}' was not found.", "RequestBodyRead")
        if any(a["emailAddress"]["address"].lower() == address.lower() for a in found):
            continue  # Outlook keeps one entry per address
        found.append({"type": kind, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                      "emailAddress": {"name": email.get("name") or address, "address": address}})
    return found


def _recurrence(value: Any) -> dict[str, Any]:
    pattern = value.get("pattern") if isinstance(value, dict) else None
    span = value.get("range") if isinstance(value, dict) else None
    if not isinstance(pattern, dict) or not isinstance(span, dict) or not pattern.get("type") or \
            not span.get("type") or not span.get("startDate"):
        raise bad("The property 'recurrence' needs a pattern (with a type) and a range (with a type and a "
                  "startDate).")
    return {
        "pattern": {"type": pattern["type"], "interval": pattern.get("interval", 1), "month": pattern.get("month", 0),
                    "dayOfMonth": pattern.get("dayOfMonth", 0),
                    "daysOfWeek": [str(d).lower() for d in pattern.get("daysOfWeek") or []],
                    "firstDayOfWeek": str(pattern.get("firstDayOfWeek") or "sunday").lower(),
                    "index": pattern.get("index") or "first"},
        "range": {"type": span["type"], "startDate": span["startDate"], "endDate": span.get("endDate") or "0001-01-01",
                  "recurrenceTimeZone": span.get("recurrenceTimeZone"),
                  "numberOfOccurrences": span.get("numberOfOccurrences", 0)},
    }


def _properties(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad("The property 'singleValueExtendedProperties' must be a collection.")
    found = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
            raise bad("Every single-value extended property needs an id and a value.")
        if not isinstance(item.get("value"), str):
            raise bad(f"The value of the extended property '{item['id']}' must be a string.")
        property_key(item["id"])
        found.append({"id": item["id"], "value": item["value"]})
    return found
