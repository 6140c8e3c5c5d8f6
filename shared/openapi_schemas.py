"""The schemas of the OpenAPI document (``components.schemas``): request bodies, answers and the result message."""
from __future__ import annotations

from typing import Any

from .records import Status
from .validation import MAX_EXTERNAL_ID, ROLES

RESULT_STATUSES = (Status.CREATED, Status.EXISTING, Status.FAILED)

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


def schemas() -> dict[str, Any]:
    return {
        "MeetingRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["organizerId", "externalId"],
            "properties": {
                "organizerId": {"type": "string", "description": "Object id (GUID) or UPN."},
                "externalId": {"type": "string", "minLength": 1, "maxLength": MAX_EXTERNAL_ID,
                               "description": "Your key for the meeting, e.g. a booking id."},
                "tenantId": {"type": "string", "description": "Default: the app's tenant."},
                "subject": {"type": ["string", "null"]},
                "startDateTime": {"type": ["string", "null"], "format": "date-time",
                                  "description": "ISO 8601 with an offset. Default: now."},
                "endDateTime": {"type": ["string", "null"], "format": "date-time",
                                "description": "Requires startDateTime. Default: start + 1 hour."},
                "participants": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                    "organizer": _PARTICIPANT, "attendees": {"type": "array", "items": _PARTICIPANT}}},
                "chatInfo": {"type": ["object", "null"], "description": "Graph beta only.",
                             "additionalProperties": False, "properties": {
                                 name: {"type": ["string", "null"]}
                                 for name in ("threadId", "messageId", "replyChainMessageId")}},
            },
        },
        "Identity": {"type": "object", "additionalProperties": False, "properties": {
            "id": {"type": "string"}, "displayName": {"type": "string"}, "tenantId": {"type": "string"}}},
        "OnlineMeeting": {
            "type": "object",
            "description": "Microsoft Graph onlineMeeting, passed through as Graph returned it.",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "joinWebUrl": {"type": "string"},
                "subject": {"type": ["string", "null"]},
                "startDateTime": {"type": "string"},
                "endDateTime": {"type": "string"},
                "externalId": {"type": ["string", "null"]},
            },
        },
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
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
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
                "source": {"enum": ["http", "queue"]},
                "completedAt": {"type": "string", "format": "date-time"},
            },
        },
    }
