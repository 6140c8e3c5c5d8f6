"""The members only a calendar-backed meeting takes: its time zone, body, location, recurrence (Graph's
patternedRecurrence) and reminder. https://learn.microsoft.com/graph/api/resources/patternedrecurrence"""
from __future__ import annotations

import re
from typing import Any, Mapping

from shared.domain.calendar_event import EVENT_MEMBERS, time_zone
from shared.domain.validation.checks import Checker

RECURRENCE_PATTERNS = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly")
RECURRENCE_RANGES = ("endDate", "noEnd", "numbered")
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
WEEK_INDEXES = ("first", "second", "third", "fourth", "last")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MAX_EVENT_BODY = 32_000
MAX_LOCATION = 256
MAX_REMINDER_MINUTES = 4 * 7 * 24 * 60


def check_event_members(check: Checker, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The members only a calendar-backed meeting takes: timeZone, body, location, recurrence, a reminder."""
    members: dict[str, Any] = {}
    zone = check.string(payload, "timeZone", "", max_len=64)
    if zone is not None:
        try:
            time_zone(zone)
            members["timeZone"] = zone
        except ValueError as exc:
            check.add("timeZone", f"{exc} (e.g. Europe/Berlin or W. Europe Standard Time)")
    if payload.get("body") is not None:
        body = check.obj(payload["body"], "body")
        if body is not None:
            check.unknown(body, ("contentType", "content"), "body.")
            if str(body.get("contentType")) not in ("text", "html"):
                check.add("body.contentType", "must be text or html")
            content = check.string(body, "content", "body.", max_len=MAX_EVENT_BODY, nullable=False)
            if content is None and "content" not in body:
                check.add("body.content", "is required")
            members["body"] = {"contentType": body.get("contentType"), "content": content or ""}
    location = _check_location(check, payload)
    if location is not None:
        members["location"] = location
    if payload.get("recurrence") is not None:
        _check_recurrence(check, payload["recurrence"])
        members["recurrence"] = payload["recurrence"]
    reminder = payload.get("reminderMinutesBeforeStart")
    if reminder is not None:
        if not isinstance(reminder, int) or isinstance(reminder, bool) or not 0 <= reminder <= MAX_REMINDER_MINUTES:
            check.add("reminderMinutesBeforeStart", f"must be a whole number of minutes from 0 to "
                                                    f"{MAX_REMINDER_MINUTES}")
        else:
            members["reminderMinutesBeforeStart"] = reminder
    return members


def _check_location(check: Checker, payload: Mapping[str, Any]) -> str | None:
    """A name (string), or Graph's own location shape with only its ``displayName``: the same location either way
    (one fingerprint). Graph's other location members (address, coordinates, ...) are refused, not dropped."""
    value = payload.get("location")
    if not isinstance(value, dict):
        return check.string(payload, "location", "", max_len=MAX_LOCATION)
    check.unknown(value, ("displayName",), "location.")
    if "displayName" not in value:
        check.add("location.displayName", "is required (or give the location as a string)")
        return None
    return check.string(value, "displayName", "location.", max_len=MAX_LOCATION, nullable=False)


def _check_recurrence(check: Checker, value: Any) -> None:
    """Graph's patternedRecurrence: a pattern (how often) and a range (from when, until when)."""
    recurrence = check.obj(value, "recurrence")
    if recurrence is None:
        return
    check.unknown(recurrence, ("pattern", "range"), "recurrence.")
    pattern = check.obj(recurrence.get("pattern"), "recurrence.pattern")
    if pattern is not None:
        check.unknown(pattern, ("type", "interval", "daysOfWeek", "dayOfMonth", "month", "firstDayOfWeek", "index"),
                      "recurrence.pattern.")
        if pattern.get("type") not in RECURRENCE_PATTERNS:
            check.add("recurrence.pattern.type", f"must be one of {', '.join(RECURRENCE_PATTERNS)}")
        interval = pattern.get("interval", 1)
        if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 99:
            check.add("recurrence.pattern.interval", "must be a whole number from 1 to 99")
        days = pattern.get("daysOfWeek")
        if days is not None and (not isinstance(days, list) or any(day not in DAYS for day in days)):
            check.add("recurrence.pattern.daysOfWeek", f"must be a list of {', '.join(DAYS)}")
        if pattern.get("type") in ("weekly", "relativeMonthly", "relativeYearly") and not days:
            check.add("recurrence.pattern.daysOfWeek", f"is required for a {pattern.get('type')} pattern")
        for name, low, high in (("dayOfMonth", 1, 31), ("month", 1, 12)):
            number = pattern.get(name)
            if number is not None and (not isinstance(number, int) or isinstance(number, bool)
                                       or not low <= number <= high):
                check.add(f"recurrence.pattern.{name}", f"must be a whole number from {low} to {high}")
        if pattern.get("firstDayOfWeek") is not None and pattern["firstDayOfWeek"] not in DAYS:
            check.add("recurrence.pattern.firstDayOfWeek", f"must be one of {', '.join(DAYS)}")
        if pattern.get("index") is not None and pattern["index"] not in WEEK_INDEXES:
            check.add("recurrence.pattern.index", f"must be one of {', '.join(WEEK_INDEXES)}")
    span = check.obj(recurrence.get("range"), "recurrence.range")
    if span is not None:
        check.unknown(span, ("type", "startDate", "endDate", "numberOfOccurrences", "recurrenceTimeZone"),
                      "recurrence.range.")
        kind = span.get("type")
        if kind not in RECURRENCE_RANGES:
            check.add("recurrence.range.type", f"must be one of {', '.join(RECURRENCE_RANGES)}")
        for name in ("startDate", "endDate"):
            if span.get(name) is not None and not (isinstance(span[name], str) and _DATE.fullmatch(span[name])):
                check.add(f"recurrence.range.{name}", "must be a date such as 2027-01-31")
        if not span.get("startDate"):
            check.add("recurrence.range.startDate", "is required")
        if kind == "endDate" and not span.get("endDate"):
            check.add("recurrence.range.endDate", "is required for an endDate range")
        occurrences = span.get("numberOfOccurrences")
        if kind == "numbered" and (not isinstance(occurrences, int) or isinstance(occurrences, bool)
                                   or not 1 <= occurrences <= 999):
            check.add("recurrence.range.numberOfOccurrences", "must be a whole number from 1 to 999")


def check_calendar(check: Checker, payload: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """``calendar: true`` asks for a calendar-backed meeting; only then are the event's own members allowed."""
    calendar = payload.get("calendar", False)
    if not isinstance(calendar, bool):
        check.add("calendar", "must be true or false")
        return False, {}
    if not calendar:
        for name in EVENT_MEMBERS:
            if payload.get(name) is not None:
                check.add(name, "needs calendar: true (only a calendar-backed meeting has it)")
        return False, {}
    for name, why in (("joinMeetingIdSettings", "a calendar-backed meeting's passcode follows the tenant's policy"),
                      ("chatInfo", "a calendar-backed meeting gets its own chat")):
        if payload.get(name) is not None:
            check.add(name, f"cannot be combined with calendar: true ({why})")
    return True, check_event_members(check, payload)
