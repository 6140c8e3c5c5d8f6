"""What the broker writes to its queues: the result message every request ends in, and the intake message.

Standard library only. Both are JSON text with non-ASCII kept as is (``messageEncoding: none`` in host.json).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping

from .values import format_datetime, organizer_object_id

IDENTIFYING_MEMBERS = ("correlationId", "tenantId", "organizerId", "externalId")


def to_message(document: Mapping[str, Any]) -> str:
    """A queue message body: compact JSON text, non-ASCII kept as is."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def meeting_summary(meeting: Mapping[str, Any]) -> dict[str, Any]:
    """What a result message carries of a meeting. The passcode stays out: results travel through more hands."""
    join = meeting.get("joinMeetingIdSettings") or {}
    summary = {
        "id": meeting.get("id"),
        "joinWebUrl": meeting.get("joinWebUrl"),
        "subject": meeting.get("subject"),
        "startDateTime": meeting.get("startDateTime"),
        "endDateTime": meeting.get("endDateTime"),
        "externalId": meeting.get("externalId"),
        "organizerObjectId": organizer_object_id(meeting),
    }
    if join.get("joinMeetingId"):
        summary["joinMeetingId"] = join["joinMeetingId"]
        summary["isPasscodeRequired"] = bool(join.get("isPasscodeRequired"))
    return summary


def payload_ids(payload: Any) -> dict[str, str | None]:
    """The identifying members of a request that may not have passed validation (for its failed result)."""
    members = payload if isinstance(payload, dict) else {}
    return {name: members[name] if isinstance(members.get(name), str) else None for name in IDENTIFYING_MEMBERS}


def result_message(*, correlation_id: str, tenant_id: str | None, organizer_id: str | None, external_id: str | None,
                   status: str, meeting: Mapping[str, Any] | None, error: Mapping[str, Any] | None, source: str,
                   completed_at: datetime) -> dict[str, Any]:
    """The one message every processed request emits to the results queue."""
    return {
        "correlationId": correlation_id,
        "tenantId": tenant_id,
        "organizerId": organizer_id,
        "externalId": external_id,
        "status": str(status),
        "meeting": meeting_summary(meeting) if meeting else None,
        "error": dict(error) if error else None,
        "source": source,
        "completedAt": format_datetime(completed_at),
    }
