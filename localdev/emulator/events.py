"""Outlook event model of the emulator: the event record, wall-clock times in named time zones, the Teams join block
Outlook writes into an online meeting's body, single-value extended property ids, and the event JSON Graph answers
(the Graph facts it rests on: localdev/README.md, "Outlook events")."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import html
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .meetings import TICKS_PER_SECOND, Meeting

CALENDARS_ROLE = "Calendars.ReadWrite"
CALENDARS_READ_ROLE = "Calendars.Read"
EVENT_ENDPOINTS = ("create_event", "list_events", "get_event", "update_event", "cancel_event", "delete_event")
EVENT_WRITES = ("create_event", "update_event", "cancel_event", "delete_event")
# The CLDR table of Windows zone names the app ships (data only: the emulator imports no app code).
_WINDOWS_ZONES = Path(__file__).resolve().parents[2] / "shared" / "domain" / "data" / "windows-time-zones.json"
_EPOCH = dt.datetime(1970, 1, 1)
_WALL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7})\d*)?)?$")
_RULE = "_" * 80


class EventError(ValueError):
    """A request the event endpoints refuse: (status, Graph error code, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ----------------------------------------------------------------------------------------------- time zones
@lru_cache(maxsize=1)
def _windows_zones() -> dict[str, str]:
    try:
        return dict(json.loads(_WINDOWS_ZONES.read_text(encoding="utf-8"))["zones"])
    except (OSError, ValueError, KeyError):  # pragma: no cover - the table ships with the repository
        return {}


def zone_of(name: Any) -> dt.tzinfo:
    """The zone of a Windows name, an IANA name or UTC; EventError 400 otherwise."""
    if isinstance(name, str) and name.strip().upper() in ("UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        return dt.timezone.utc
    if isinstance(name, str) and name.strip():
        try:
            return ZoneInfo(_windows_zones().get(name, name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise EventError(400, "TimeZoneNotSupportedException", "A valid TimeZone value must be specified. The following "
                                                           f"TimeZone value is not supported: '{name}'.")


def ticks_of(value: Any, member: str) -> tuple[int, str]:
    """A dateTimeTimeZone body value -> (UTC ticks, the zone name as given)."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise EventError(400, "ErrorInvalidRequest", f"The property '{member}' must be a dateTimeTimeZone with a "
                                                     "dateTime and a timeZone.")
    name = value.get("timeZone") or "UTC"
    zone = zone_of(name)
    match = _WALL.match(value["dateTime"].strip())
    if not match:
        raise EventError(400, "ErrorInvalidRequest", f"Cannot convert the literal '{value['dateTime']}' to the "
                                                     "expected type 'Edm.DateTime'.")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        wall = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        raise EventError(400, "ErrorInvalidRequest", f"Cannot convert the literal '{value['dateTime']}' to the "
                                                     "expected type 'Edm.DateTime'.") from None
    utc = wall.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)
    whole = int((utc - _EPOCH).total_seconds())
    return whole * TICKS_PER_SECOND + int(((fraction or "") + "0000000")[:7]), str(name)


def wall_time(ticks: int, zone_name: str) -> dict[str, str]:
    """UTC ticks -> Graph's dateTimeTimeZone in the named zone (7 fractional digits, no offset)."""
    whole, fraction = divmod(ticks, TICKS_PER_SECOND)
    utc = (_EPOCH + dt.timedelta(seconds=whole)).replace(tzinfo=dt.timezone.utc)
    local = utc.astimezone(zone_of(zone_name)).replace(tzinfo=None)
    return {"dateTime": f"{local:%Y-%m-%dT%H:%M:%S}.{fraction:07d}", "timeZone": zone_name}


def utc_text(ticks: int) -> str:
    whole, fraction = divmod(ticks, TICKS_PER_SECOND)
    return f"{_EPOCH + dt.timedelta(seconds=whole):%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"


# ----------------------------------------------------------------------------------------------- extended properties
def property_key(property_id: str) -> str:
    """The comparable form of an extended property id: type, GUID and the keyword case-insensitive, the name as is."""
    parts = property_id.split(" ", 3)
    if len(parts) == 4 and parts[2].lower() == "name":
        return f"{parts[0].lower()} {parts[1].lower()} name {parts[3]}"
    return property_id.lower()


# ----------------------------------------------------------------------------------------------- the record
@dataclass
class Event:
    id: str
    tenant_id: str
    mailbox_id: str                       # object id of the user whose calendar holds this item
    organizer_id: str
    organizer_address: str
    organizer_name: str
    ical_uid: str
    created_ticks: int
    modified_ticks: int
    start_ticks: int
    end_ticks: int
    start_zone: str
    end_zone: str
    subject: str = ""
    body: dict[str, str] = field(default_factory=lambda: {"contentType": "text", "content": ""})
    attendees: list[dict[str, Any]] = field(default_factory=list)
    location: dict[str, Any] | None = None
    recurrence: dict[str, Any] | None = None
    is_online: bool = False
    provider: str = "unknown"
    meeting_id: str | None = None         # the linked Teams onlineMeeting (teamsForBusiness)
    join_url: str | None = None
    conference_id: str | None = None
    transaction_id: str | None = None
    properties: dict[str, dict[str, str]] = field(default_factory=dict)  # property_key -> {"id", "value"}
    extra: dict[str, Any] = field(default_factory=dict)  # other writable members, echoed as given
    master_id: str | None = None          # an attendee's copy: the organizer's event it mirrors
    is_cancelled: bool = False
    change_key: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(12)).decode("ascii"))

    @property
    def is_organizer(self) -> bool:
        return self.master_id is None

    def touch(self, now_ticks: int) -> None:
        self.modified_ticks = now_ticks
        self.change_key = base64.b64encode(secrets.token_bytes(12)).decode("ascii")


def new_ids() -> tuple[str, str]:
    """(event id, iCalUId) shaped like Exchange's: base64 item ids, hex iCalUIds."""
    event_id = "AAMkA" + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode("ascii") + "AAA="
    ical = "040000008200E00074C5B7101A82E00800000000" + uuid.uuid4().hex.upper() + "0000000010000000" + \
        uuid.uuid4().hex.upper()
    return event_id, ical


def web_link(event_id: str) -> str:
    return f"https://outlook.office365.com/owa/?itemid={quote(event_id, safe='')}&exvsurl=1&path=/calendar/item"


# ----------------------------------------------------------------------------------------------- the join block
def join_block(meeting: Meeting, content_type: str) -> str:
    """What Outlook appends to the body of an event that is a Teams meeting."""
    digits = meeting.join_meeting_id
    spaced = f"{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"
    passcode = meeting.passcode
    if content_type == "html":
        url = html.escape(meeting.join_web_url)
        code = f'<span>Passcode: </span><span>{html.escape(passcode)}</span>' if passcode else ""
        rule = ('<div style="width:100%"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">'
                f'{_RULE}</span></div>')
        return (f'{rule}<div class="me-email-text" lang="en-US" style="color:#242424;font-family:\'Segoe UI\'">'
                '<div style="margin-top:24px;margin-bottom:20px"><span style="font-size:24px;color:#252424">'
                'Microsoft Teams meeting</span></div><div style="margin-bottom:20px"><div style="font-weight:bold">'
                '<span style="font-size:14px">Join on your computer, mobile app or room device</span></div>'
                f'<a class="me-email-headline" href="{url}" target="_blank" rel="noreferrer noopener">Click here to '
                f'join the meeting</a></div><div style="margin-bottom:20px"><span>Meeting ID: </span><span>{spaced}'
                f'</span><br>{code}</div></div>{rule}')
    code = f"\r\nPasscode: {passcode}" if passcode else ""
    return (f"{_RULE}\r\nMicrosoft Teams meeting\r\nJoin on your computer, mobile app or room device\r\n"
            f"Click here to join the meeting<{meeting.join_web_url}>\r\nMeeting ID: {spaced}{code}\r\n{_RULE}")


def html_document(content: str) -> str:
    """Exchange keeps an HTML body as a whole document."""
    if "<html" in content.lower():
        return content
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
            f"{content}</body></html>")


def with_block(body: dict[str, str], block: str) -> dict[str, str]:
    content = body["content"]
    if body["contentType"] == "html":
        content = html_document(content)
        at = content.lower().rfind("</body>")
        content = content[:at] + block + content[at:] if at >= 0 else content + block
        return {"contentType": "html", "content": content}
    return {"contentType": "text", "content": (content + "\r\n\r\n" if content else "") + block}


def body_preview(body: dict[str, str]) -> str:
    text = body["content"]
    if body["contentType"] == "html":
        text = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.split())[:255]


# ----------------------------------------------------------------------------------------------- rendering
def render_event(event: Event, *, graph_root: str, version: str, user_segment: str, zone: str | None,
                 expand: tuple[str, ...] | None, context: bool = True) -> dict[str, Any]:
    """The event JSON of Graph. ``zone``: the time zone of start/end (None: the zones the event was created in);
    ``expand``: property keys of the single-value extended properties to include (``("*",)`` all, None none)."""
    start_zone, end_zone = (zone, zone) if zone else (event.start_zone, event.end_zone)
    body: dict[str, Any] = {}
    if context:
        body["@odata.context"] = f"{graph_root}/{version}/$metadata#users('{user_segment}')/events/$entity"
    online = None
    if event.is_online and event.join_url:
        online = {"joinUrl": event.join_url, "conferenceId": event.conference_id, "tollNumber": None,
                  "tollFreeNumbers": None, "quickDial": None, "phones": None}
    body.update({
        "@odata.etag": f'W/"{event.change_key}"', "id": event.id,
        "createdDateTime": utc_text(event.created_ticks), "lastModifiedDateTime": utc_text(event.modified_ticks),
        "changeKey": event.change_key, "categories": [], "transactionId": event.transaction_id,
        "originalStartTimeZone": event.start_zone, "originalEndTimeZone": event.end_zone, "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": 15, "isReminderOn": True, "hasAttachments": False, "subject": event.subject,
        "bodyPreview": body_preview(event.body), "importance": "normal", "sensitivity": "normal", "isAllDay": False,
        "isCancelled": event.is_cancelled, "isOrganizer": event.is_organizer, "responseRequested": True,
        "seriesMasterId": None, "showAs": "busy", "type": "seriesMaster" if event.recurrence else "singleInstance",
        "webLink": web_link(event.id), "onlineMeetingUrl": None, "isOnlineMeeting": event.is_online,
        "onlineMeetingProvider": event.provider, "allowNewTimeProposals": True, "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": "organizer" if event.is_organizer else "notResponded",
                           "time": "0001-01-01T00:00:00Z"},
        "body": dict(event.body),
        "start": wall_time(event.start_ticks, start_zone), "end": wall_time(event.end_ticks, end_zone),
        "location": copy.deepcopy(event.location) or {"displayName": "", "locationType": "default",
                                                      "uniqueIdType": "unknown", "address": {}, "coordinates": {}},
        "locations": [copy.deepcopy(event.location)] if event.location else [],
        "recurrence": copy.deepcopy(event.recurrence),
        "attendees": copy.deepcopy(event.attendees),
        "organizer": {"emailAddress": {"name": event.organizer_name, "address": event.organizer_address}},
        "onlineMeeting": online,
    })
    if event.transaction_id is None:
        del body["transactionId"]  # "only returned in a response payload if an app has set it"
    body.update(copy.deepcopy(event.extra))
    if expand is not None:
        body["singleValueExtendedProperties"] = [dict(p) for key, p in event.properties.items()
                                                 if "*" in expand or key in expand]
    return body
