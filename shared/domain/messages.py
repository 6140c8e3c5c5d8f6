"""What the broker writes to its queues: the result message every request ends in, and the intake message.

Standard library only. Both are JSON text with non-ASCII kept as is (``messageEncoding: none`` in host.json). Queue
messages have no headers, so each carries the W3C ``traceparent`` of its creation as a plain member.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Mapping

from shared.domain.clock import format_datetime
from shared.domain.identifiers import organizer_object_id, safe_text
from shared.domain.jsontext import fits_queue

# Every string a result message carries is bounded, so a result always fits a queue message (64 KiB): the longest
# possible result is about 20 KB.
MAX_ID_LENGTHS = {"correlationId": 200, "tenantId": 256, "organizerId": 256, "externalId": 1000}
MAX_MEETING_STRING = 2048
MAX_ERROR_MESSAGE = 4000


# The queue service carries a message inside an XML body: XML 1.0 has no U+FFFE and U+FFFF (json.dumps escapes
# every other character XML lacks, the C0 controls; lone surrogates are handled below).
_NOT_XML = str.maketrans({"\ufffe": "\\ufffe", "\uffff": "\\uffff"})


def to_message(document: Mapping[str, Any]) -> str:
    """A queue message body: compact JSON text, non-ASCII kept as is, always UTF-8 encodable and a valid XML 1.0
    text (the two noncharacters XML lacks are written as JSON escapes: the same value for the reader)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which only Graph's own answer could carry: escape it
        text = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    return text.translate(_NOT_XML)


# https://www.w3.org/TR/trace-context/#traceparent-header: version 00, trace id, parent id (neither all zeros), flags.
TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def valid_traceparent(value: Any) -> str | None:
    """``value`` when it is a W3C traceparent the broker continues, else None (an invalid one is ignored)."""
    return value if isinstance(value, str) and _TRACEPARENT.fullmatch(value) else None


def traceparent_of(payload: Any) -> str | None:
    """The valid ``traceparent`` member of a decoded message, or None."""
    return valid_traceparent(payload.get(TRACEPARENT)) if isinstance(payload, dict) else None


def with_traceparent(message: str, traceparent: str | None) -> str:
    """A message (a JSON object's text, as ``to_message`` writes it) carrying ``traceparent``; the message as it was
    without one, or when the member would take it past a queue message's size."""
    if not valid_traceparent(traceparent):
        return message
    stamped = to_message({**json.loads(message), TRACEPARENT: traceparent})
    return stamped if fits_queue(stamped) else message


def _bounded(value: Any, limit: int) -> Any:
    return safe_text(value, limit) if isinstance(value, str) else value


def meeting_summary(meeting: Mapping[str, Any]) -> dict[str, Any]:
    """What a result message carries of a meeting. The passcode stays out: results travel through more hands."""
    join = meeting.get("joinMeetingIdSettings") or {}
    summary = {
        "id": _bounded(meeting.get("id"), MAX_MEETING_STRING),
        "joinWebUrl": _bounded(meeting.get("joinWebUrl"), MAX_MEETING_STRING),
        "subject": _bounded(meeting.get("subject"), MAX_MEETING_STRING),
        "startDateTime": _bounded(meeting.get("startDateTime"), 64),
        "endDateTime": _bounded(meeting.get("endDateTime"), 64),
        "externalId": _bounded(meeting.get("externalId"), MAX_ID_LENGTHS["externalId"]),
        "organizerObjectId": organizer_object_id(meeting),
    }
    if isinstance(join, Mapping) and join.get("joinMeetingId"):
        summary["joinMeetingId"] = _bounded(join["joinMeetingId"], 64)
        summary["isPasscodeRequired"] = bool(join.get("isPasscodeRequired"))
    return summary


def payload_ids(payload: Any) -> dict[str, str | None]:
    """The identifying members of a request that may not have passed validation (for its failed result), made safe
    to echo: lone surrogates replaced, lengths bounded."""
    members = payload if isinstance(payload, dict) else {}
    return {name: safe_text(members[name], limit) if isinstance(members.get(name), str) else None
            for name, limit in MAX_ID_LENGTHS.items()}


def result_message(*, correlation_id: str, tenant_id: str | None, organizer_id: str | None, external_id: str | None,
                   status: str, meeting: Mapping[str, Any] | None, error: Mapping[str, Any] | None, source: str,
                   completed_at: datetime) -> dict[str, Any]:
    """The one message every processed request emits to the results queue."""
    return {
        "correlationId": safe_text(correlation_id, MAX_ID_LENGTHS["correlationId"]),
        "tenantId": _bounded(tenant_id, MAX_ID_LENGTHS["tenantId"]),
        "organizerId": _bounded(organizer_id, MAX_ID_LENGTHS["organizerId"]),
        "externalId": _bounded(external_id, MAX_ID_LENGTHS["externalId"]),
        "status": str(status),
        "meeting": meeting_summary(meeting) if meeting else None,
        "error": {name: _bounded(value, MAX_ERROR_MESSAGE) for name, value in error.items()} if error else None,
        "source": source,
        "completedAt": format_datetime(completed_at),
    }
