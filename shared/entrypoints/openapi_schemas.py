"""The schemas of the OpenAPI document (``components.schemas``): request bodies, answers and the result message.
The meeting options come from ``meeting_settings.SETTINGS``, so the document cannot drift from the validation."""
from __future__ import annotations

from typing import Any

from shared.domain.meeting_options import SETTINGS, Rule
from shared.entrypoints.openapi_artifacts import ATTENDANCE_RESULT_MEMBERS, artifact_schemas
from shared.domain.records import Status
from shared.domain.validation import MAX_EXTERNAL_ID, ROLES
from shared.domain.validation.calendar import (DAYS, MAX_EVENT_BODY, MAX_REMINDER_MINUTES, RECURRENCE_PATTERNS, RECURRENCE_RANGES,
                                WEEK_INDEXES)

RESULT_STATUSES = (Status.CREATED, Status.EXISTING, Status.UPDATED, Status.LOCKED, Status.CANCELLED, Status.FAILED,
                   Status.ATTENDANCE)

_PARTICIPANT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "upn": {"type": "string"},
        "role": {"type": "string", "enum": list(ROLES)},
        "identity": {
            "type": "object",
            "additionalProperties": False,
            "properties": {kind: {"$ref": "#/components/schemas/Identity"}
                           for kind in ("user", "application", "device")},
        },
    },
}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset."}


def _schema(rule: Rule) -> dict[str, Any]:
    if rule.kind == "bool":
        return {"type": "boolean"}
    if rule.kind == "enum":
        return {"type": "string", "enum": list(rule.values)}
    if rule.kind == "string":
        return {"type": "string", "minLength": 1, "maxLength": rule.max_length}
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {name: _schema(member) for name, member in rule.members}}


_DAY = {"type": "string", "enum": list(DAYS)}
_EVENT_MEMBERS: dict[str, Any] = {
    "timeZone": {"type": "string", "maxLength": 64,
                 "description": "Calendar-backed only: the event's time zone, IANA (Europe/Berlin) or Windows "
                                "(W. Europe Standard Time). Default: UTC."},
    "body": {"type": "object", "additionalProperties": False, "required": ["contentType", "content"],
             "description": "Calendar-backed only: the invitation's text; the Teams join block is kept below it.",
             "properties": {"contentType": {"type": "string", "enum": ["text", "html"]},
                            "content": {"type": "string", "maxLength": MAX_EVENT_BODY}}},
    "location": {"oneOf": [
        {"type": "string", "maxLength": 256},
        {"type": "object", "required": ["displayName"], "additionalProperties": False,
         "properties": {"displayName": {"type": "string", "maxLength": 256}}}],
        "description": "Calendar-backed only: the event's location, a name or Graph's `location` with only its "
                       "`displayName` (the same location either way)."},
    "recurrence": {
        "type": "object", "additionalProperties": False, "required": ["pattern", "range"],
        "description": "Calendar-backed only: Graph's patternedRecurrence (a series shares one Teams meeting).",
        "properties": {
            "pattern": {"type": "object", "additionalProperties": False, "required": ["type"], "properties": {
                "type": {"type": "string", "enum": list(RECURRENCE_PATTERNS)},
                "interval": {"type": "integer", "minimum": 1, "maximum": 99},
                "daysOfWeek": {"type": "array", "items": _DAY},
                "dayOfMonth": {"type": "integer", "minimum": 1, "maximum": 31},
                "month": {"type": "integer", "minimum": 1, "maximum": 12},
                "firstDayOfWeek": _DAY,
                "index": {"type": "string", "enum": list(WEEK_INDEXES)}}},
            "range": {"type": "object", "additionalProperties": False, "required": ["type", "startDate"],
                      "properties": {
                          "type": {"type": "string", "enum": list(RECURRENCE_RANGES)},
                          "startDate": {"type": "string", "format": "date"},
                          "endDate": {"type": "string", "format": "date"},
                          "numberOfOccurrences": {"type": "integer", "minimum": 1, "maximum": 999},
                          "recurrenceTimeZone": {"type": "string"}}}}},
    "reminderMinutesBeforeStart": {"type": "integer", "minimum": 0, "maximum": MAX_REMINDER_MINUTES,
                                   "description": "Calendar-backed only."},
}
_EVENT = {"type": "object", "description": "A calendar-backed meeting's Outlook event in the organizer's calendar.",
          "properties": {"id": {"type": "string"}, "iCalUId": {"type": ["string", "null"]},
                         "webLink": {"type": ["string", "null"]}}}


def _options() -> dict[str, Any]:
    return {name: {**_schema(rule), "description": "Graph onlineMeeting option, applied with PATCH."}
            for name, rule in SETTINGS.items()}


def schemas() -> dict[str, Any]:
    return {
        "MeetingRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["organizerId", "externalId"],
            "properties": {
                "organizerId": {"type": "string", "description": "Object id (GUID) or UPN (ASCII)."},
                "externalId": {"type": "string", "minLength": 1, "maxLength": MAX_EXTERNAL_ID,
                               "description": "Your key for the meeting, e.g. a booking id."},
                "tenantId": {"type": "string", "description": "GUID or verified domain. Default: the app's tenant."},
                "subject": {"type": ["string", "null"]},
                "startDateTime": {**_TIME, "type": ["string", "null"], "description": "Default: now."},
                "endDateTime": {**_TIME, "type": ["string", "null"],
                                "description": "Requires startDateTime. Default: start + 1 hour."},
                "participants": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                    "organizer": _PARTICIPANT, "attendees": {"type": "array", "items": _PARTICIPANT}}},
                "chatInfo": {"type": ["object", "null"], "description": "Graph beta only.",
                             "additionalProperties": False, "properties": {
                                 name: {"type": ["string", "null"]}
                                 for name in ("threadId", "messageId", "replyChainMessageId")}},
                "joinMeetingIdSettings": {
                    "type": "object", "additionalProperties": False, "required": ["isPasscodeRequired"],
                    "properties": {"isPasscodeRequired": {"type": "boolean"}},
                    "description": "A passcode choice: the meeting is made by plain create (it cannot change later)."},
                "callbackUrl": {"type": ["string", "null"], "format": "uri", "maxLength": 2048,
                                "description": "Where every result of this key is POSTed from now on, signed per "
                                               "Standard Webhooks (the `meetingResult` webhook): an absolute https "
                                               "URL, no user info, its host listed in CALLBACK_ALLOWED_HOSTS "
                                               "(else 400 `callback_not_allowed`). A later request that names "
                                               "another URL moves the key's results there."},
                "calendar": {"type": "boolean", "default": False,
                             "description": "true: a calendar-backed meeting, an Outlook event in the organizer's "
                                            "calendar that sends invitations to the attendees (needs "
                                            "CALENDAR_MODE=enabled). Fixed by the key's first request."},
                "collectAttendance": {"type": "boolean", "default": False,
                                      "description": "true: after the meeting ends (plus ATTENDANCE_DELAY_MINUTES) "
                                                     "its attendance is told per occurrence as an `attendance` result "
                                                     "(needs MEETING_ARTIFACTS; else 403 `artifacts_disabled`). A "
                                                     "result told again after a failure carries the same "
                                                     "correlationId and webhook-id."},
                **_options(),
                **_EVENT_MEMBERS,
            },
        },
        "MeetingChange": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "description": "The members given are applied (both times together; attendees as a whole list); absent "
                           "members stay as they are.",
            "properties": {
                "subject": {"type": "string"},
                "startDateTime": _TIME,
                "endDateTime": _TIME,
                "participants": {"type": "object", "additionalProperties": False, "required": ["attendees"],
                                 "properties": {"attendees": {"type": "array", "items": _PARTICIPANT}}},
                **_options(),
                **_EVENT_MEMBERS,
            },
        },
        "Identity": {"type": "object", "additionalProperties": False, "properties": {
            "id": {"type": "string"}, "displayName": {"type": "string"}, "tenantId": {"type": "string"}}},
        "OnlineMeeting": {
            "type": "object",
            "description": "Microsoft Graph onlineMeeting, passed through as Graph returned it, plus "
                           "`settingsNotApplied` when Graph kept its own value for an option asked for.",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "joinWebUrl": {"type": "string"},
                "subject": {"type": ["string", "null"]},
                "startDateTime": {"type": "string"},
                "endDateTime": {"type": "string"},
                "externalId": {"type": ["string", "null"]},
                "settingsNotApplied": {"type": "array", "items": {"type": "string", "enum": list(SETTINGS)}},
                "quota": {"$ref": "#/components/schemas/QuotaFigures"},
                "event": _EVENT,
            },
        },
        "QuotaFigures": {"type": "object", "required": ["used", "limit"],
                         "description": "From 90% of the organizer's monthly limit.",
                         "properties": {"used": {"type": "integer"}, "limit": {"type": "integer"}}},
        **artifact_schemas(),
        "Quota": {"type": "object", "required": ["organizerId", "month", "used"], "properties": {
            "organizerId": {"type": "string"}, "tenantId": {"type": "string"},
            "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, "used": {"type": "integer"},
            "limit": {"type": ["integer", "null"], "description": "null: MONTHLY_MEETING_LIMIT is 0 (no limit)."},
            "remaining": {"type": ["integer", "null"]}, "resetsAt": {"type": "string", "format": "date-time"}}},
        "Accepted": {"type": "object", "required": ["status", "correlationId"], "properties": {
            "status": {"const": Status.ACCEPTED}, "correlationId": {"type": "string"}}},
        "Pending": {"type": "object", "required": ["status"], "properties": {
            "status": {"const": Status.PENDING}, "correlationId": {"type": ["string", "null"]}}},
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "retryable": {"type": "boolean"},
                "correlationId": {"type": "string"},
                "errors": {"type": "array", "maxItems": 20, "items": {
                    "type": "object", "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
                "errorCount": {"type": "integer", "description": "How many rules the body broke."},
            },
        },
        "ResultMessage": {
            "type": "object",
            "description": "One message on the results queue per processed request (not an HTTP body).",
            "required": ["correlationId", "organizerId", "externalId", "status", "meeting", "error",
                         "source", "completedAt"],
            "properties": {
                "correlationId": {"type": "string"},
                "tenantId": {"type": ["string", "null"]},
                "organizerId": {"type": ["string", "null"]},
                "externalId": {"type": ["string", "null"]},
                "status": {"enum": list(RESULT_STATUSES)},
                "meeting": {"type": ["object", "null"], "properties": {
                    "id": {"type": "string"}, "joinWebUrl": {"type": "string"},
                    "subject": {"type": ["string", "null"]}, "startDateTime": {"type": "string"},
                    "endDateTime": {"type": "string"}, "joinMeetingId": {"type": "string"}}},
                "error": {"type": ["object", "null"], "required": ["code", "message", "retryable"],
                          "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                         "retryable": {"type": "boolean"}}},
                "settingsNotApplied": {"type": "array", "items": {"type": "string"}},
                "quota": {"$ref": "#/components/schemas/QuotaFigures"},
                "event": _EVENT,
                **ATTENDANCE_RESULT_MEMBERS,
                "source": {"enum": ["http", "queue", "timer"]},
                "completedAt": {"type": "string", "format": "date-time"},
                "traceparent": {"type": "string", "description": "W3C traceparent of the message's creation: the "
                                                                 "request's trace (README, Telemetry)."},
            },
        },
    }
