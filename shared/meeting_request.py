"""A validated meeting request: what the caller asked for, its fingerprint, and the Graph body it becomes.

Rules come from Graph's createOrGet reference (see the seed documents): with no start and no end, start is now and
end is start + 1 h; with a start only, end is start + 1 h. The identity of a meeting is (tenant, organizer, externalId).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .values import format_datetime

DEFAULT_DURATION = timedelta(hours=1)


@dataclass(frozen=True)
class MeetingRequest:
    """A createOrGet request for one organizer that passed validation."""

    organizer_id: str
    external_id: str
    tenant_id: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    participants: dict[str, Any] | None = None
    chat_info: dict[str, Any] | None = None
    correlation_id: str | None = None

    @property
    def fingerprint(self) -> str:
        """A digest of what the caller asked for (not of defaults), so a repeat is recognised as the same request."""
        canonical = {
            "subject": self.subject,
            "startDateTime": format_datetime(self.start) if self.start else None,
            "endDateTime": format_datetime(self.end) if self.end else None,
            "participants": self.participants,
            "chatInfo": self.chat_info,
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def graph_body(self, now: datetime) -> dict[str, Any]:
        """The createOrGet body, with Graph's documented defaults made explicit."""
        start = self.start or now
        end = self.end or start + DEFAULT_DURATION
        body: dict[str, Any] = {
            "externalId": self.external_id,
            "startDateTime": format_datetime(start),
            "endDateTime": format_datetime(end),
        }
        if self.subject is not None:
            body["subject"] = self.subject
        if self.participants is not None:
            body["participants"] = self.participants
        if self.chat_info is not None:
            body["chatInfo"] = self.chat_info
        return body

    def as_payload(self, *, tenant_id: str, correlation_id: str) -> dict[str, Any]:
        """The request as an intake message carries it: the members the caller gave, in their validated form."""
        payload: dict[str, Any] = {"organizerId": self.organizer_id, "externalId": self.external_id,
                                   "tenantId": tenant_id, "correlationId": correlation_id}
        optional = {
            "subject": self.subject,
            "startDateTime": format_datetime(self.start) if self.start else None,
            "endDateTime": format_datetime(self.end) if self.end else None,
            "participants": self.participants,
            "chatInfo": self.chat_info,
        }
        payload.update({name: value for name, value in optional.items() if value is not None})
        return payload
