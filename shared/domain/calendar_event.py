"""Calendar-backed meetings: the Outlook event a request becomes (its times in the caller's IANA or Windows time zone,
a ``transactionId`` and an extended property holding the externalId as idempotency guards), and how a change keeps
the Teams join block. Standard library only (and CLDR's Windows time zone names in ``data/``).
https://learn.microsoft.com/graph/api/user-post-events
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

# The broker's own property set; the property's name says what it holds.
EXTERNAL_ID_PROPERTY = "String {6f0b6e1a-4c1e-4b7e-9a55-3f2f1d1c7e21} Name meetingBrokerExternalId"
_TRANSACTIONS = uuid.UUID("2f6c0f9e-8d2b-4c0f-a3a1-5b7f0c2d9e44")
_RULE = re.compile(r"_{16,}")  # the line Teams draws above the join block it adds to an event's body
EVENT_MEMBERS = ("timeZone", "body", "location", "recurrence", "reminderMinutesBeforeStart")


@lru_cache(maxsize=1)
def _windows_zones() -> dict[str, str]:
    document = json.loads((Path(__file__).parent / "data" / "windows-time-zones.json").read_text(encoding="utf-8"))
    return dict(document["zones"])


def time_zone(name: str) -> tzinfo:
    """The zone of an IANA name (``Europe/Berlin``), a Windows name (``W. Europe Standard Time``) or ``UTC``;
    ValueError when neither knows it."""
    if name.upper() in ("UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # here: only calendar-backed meetings name a zone

    iana = _windows_zones().get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("is not an IANA or Windows time zone name") from exc


def transaction_id(tenant_id: str, organizer_key: str, external_id: str) -> str:
    """The same for every attempt of one key, so Graph ignores a repeated create."""
    return str(uuid.uuid5(_TRANSACTIONS, f"{tenant_id}|{organizer_key}|{external_id}"))


def wall_time(moment: datetime, zone_name: str) -> dict[str, str]:
    """Graph's dateTimeTimeZone: the moment as a wall clock reading in the named zone."""
    local = moment.astimezone(time_zone(zone_name)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="microseconds") + "0", "timeZone": zone_name}


def attendees(participants: Any) -> list[dict[str, Any]]:
    """Event attendees from Graph meetingParticipants: each UPN an address, every role a required attendee."""
    found = (participants or {}).get("attendees") if isinstance(participants, Mapping) else None
    return [{"emailAddress": {"address": attendee["upn"]}, "type": "required"}
            for attendee in (found or []) if isinstance(attendee, Mapping) and attendee.get("upn")]


def event_body(*, subject: str | None, start: datetime, end: datetime, participants: Any, members: Mapping[str, Any],
               tenant_id: str, organizer_key: str, external_id: str) -> dict[str, Any]:
    """The body of ``POST /users/{organizer}/events`` for a calendar-backed meeting."""
    zone = str(members.get("timeZone") or "UTC")
    event: dict[str, Any] = {
        "subject": subject or "",
        "start": wall_time(start, zone),
        "end": wall_time(end, zone),
        "attendees": attendees(participants),
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "transactionId": transaction_id(tenant_id, organizer_key, external_id),
        "singleValueExtendedProperties": [{"id": EXTERNAL_ID_PROPERTY, "value": external_id}],
    }
    if members.get("body") is not None:
        event["body"] = dict(members["body"])
    if members.get("location") is not None:
        event["location"] = {"displayName": members["location"]}
    if members.get("recurrence") is not None:
        event["recurrence"] = members["recurrence"]
    if members.get("reminderMinutesBeforeStart") is not None:
        event["isReminderOn"] = True
        event["reminderMinutesBeforeStart"] = members["reminderMinutesBeforeStart"]
    return event


def asked(members: Mapping[str, Any], before: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a request asked of the event's own members, on top of what was asked ``before``: the time zone by name,
    the others as digests (Graph answers a body as HTML with the join block and a recurrence normalised, so the
    event as Graph returns it cannot tell whether a request asks for something new)."""
    result = dict(before or {})
    for name in EVENT_MEMBERS:
        if members.get(name) is not None:
            result[name] = str(members[name]) if name == "timeZone" else _digest(members[name])
    return result


def event_patch(event: Mapping[str, Any], before: Mapping[str, str] | None, *, subject: str | None,
                start: datetime | None, end: datetime | None, attendee_list: list[dict[str, Any]] | None,
                members: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH that makes the event what a change asks for: only the members given that differ from the event
    (subject, times, attendees) or from what was asked ``before`` (the event's own members). A new body keeps the
    Teams join block: replacing an event's body drops it otherwise. A new time zone alone moves the event's times,
    the same instants, into that zone (it decides how a recurring series follows daylight saving)."""
    before = before or {}
    patch: dict[str, Any] = {}
    if subject is not None and subject != event.get("subject"):
        patch["subject"] = subject
    zone_now = event_zone(event, before)
    zone = str(members.get("timeZone") or zone_now)
    if start is None or end is None:
        start, end = (_instant(event.get("start")), _instant(event.get("end"))) if zone != zone_now else (None, None)
    if start is not None and end is not None:
        wanted = {"start": wall_time(start, zone), "end": wall_time(end, zone)}
        if zone != zone_now or any(_instant(event.get(name)) != _instant(value) for name, value in wanted.items()):
            patch.update(wanted)
    if attendee_list is not None:
        wanted_people = attendees({"attendees": attendee_list})
        if _addresses(wanted_people) != _addresses(event.get("attendees") or []):
            patch["attendees"] = wanted_people
    current = {"location": (event.get("location") or {}).get("displayName"), "recurrence": event.get("recurrence"),
               "reminderMinutesBeforeStart": event.get("reminderMinutesBeforeStart")}
    for name in ("body", "location", "recurrence", "reminderMinutesBeforeStart"):
        value = members.get(name)
        if value is None or (before.get(name) == _digest(value) if name in before else value == current.get(name)):
            continue
        if name == "body":
            patch["body"] = with_join_block(dict(value), event.get("body") or {}, join_url_of(event))
        elif name == "location":
            patch["location"] = {"displayName": value}
        elif name == "reminderMinutesBeforeStart":
            patch.update({"isReminderOn": True, "reminderMinutesBeforeStart": value})
        else:
            patch[name] = value
    return patch


def event_zone(event: Mapping[str, Any], before: Mapping[str, str]) -> str:
    """The zone the event's times are kept in: the one asked last, else Graph's ``originalStartTimeZone`` (Graph
    answers a PATCH in UTC, so ``start.timeZone`` alone would lose it), else UTC."""
    for name in (before.get("timeZone"), event.get("originalStartTimeZone"), (event.get("start") or {}).get("timeZone")):
        if isinstance(name, str) and name:
            try:
                time_zone(name)
                return name
            except ValueError:
                continue  # e.g. "tzone://Microsoft/Custom": not a zone the broker can name
    return "UTC"


def carries_property(event: Any, property_id: str, value: str) -> bool:
    """Whether the event carries the single-value extended property with exactly this value (Graph's filter
    compares strings case-insensitively, while externalIds are case-sensitive keys)."""
    properties = event.get("singleValueExtendedProperties") if isinstance(event, Mapping) else None
    return any(isinstance(prop, Mapping) and str(prop.get("id", "")).lower() == property_id.lower()
               and prop.get("value") == value for prop in properties or [])


def with_join_block(new_body: dict[str, Any], current_body: Mapping[str, Any], join_url: str | None) -> dict[str, Any]:
    """``new_body`` followed by the join block of ``current_body`` (the part from Teams' rule line on, or a plain
    link to ``join_url`` when the block cannot be told apart)."""
    content, current = str(new_body.get("content") or ""), str(current_body.get("content") or "")
    if join_url and join_url in content:
        return new_body  # the caller kept the link
    rule = _RULE.search(current)
    block = current[rule.start():] if rule and join_url and join_url in current[rule.start():] else None
    html = str(new_body.get("contentType") or "text").lower() == "html"
    if block is None and join_url:
        block = (f'<p><a href="{join_url}">Join the meeting now</a></p>' if html else f"Join the meeting now: {join_url}")
    if block is None:
        return new_body
    if html and str(current_body.get("contentType") or "").lower() != "html":
        block = "<pre>" + block.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
    return {**new_body, "content": content + ("<br>" if html else "\n\n") + block}


def join_url_of(event: Mapping[str, Any]) -> str | None:
    online = event.get("onlineMeeting")
    url = online.get("joinUrl") if isinstance(online, Mapping) else None
    return url if isinstance(url, str) and url else None


def event_summary(event: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What an answer and a result carry of the event: ``{id, iCalUId, webLink}``."""
    if not event:
        return None
    return {name: event.get(name) for name in ("id", "iCalUId", "webLink")}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        return None
    try:
        local = datetime.fromisoformat(str(value["dateTime"])[:26])
        return local.replace(tzinfo=time_zone(str(value.get("timeZone") or "UTC"))).astimezone(timezone.utc)
    except ValueError:
        return None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()) \
        .hexdigest()[:32]


def _addresses(people: list[Any]) -> list[str]:
    return sorted(str(((p or {}).get("emailAddress") or {}).get("address") or "").lower()
                  for p in people if isinstance(p, Mapping))
