"""Validated requests: a meeting asked for (``MeetingRequest``) and a change to one (``MeetingChange``), their
fingerprints, and the Graph bodies they become.

Rules come from Graph's createOrGet and Create onlineMeeting references (see the seed documents): with no start and
no end, start is now and end is start + 1 h; with a start only, end is start + 1 h. The identity of a meeting is
(tenant, organizer, externalId).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain.clock import format_datetime

DEFAULT_DURATION = timedelta(hours=1)


@dataclass(frozen=True)
class MeetingRequest:
    """A meeting for one organizer, as a caller asked for it."""

    organizer_id: str
    external_id: str
    tenant_id: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    participants: dict[str, Any] | None = None
    chat_info: dict[str, Any] | None = None
    correlation_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)   # lobby, presenters, chat, recording, ...
    passcode_required: bool | None = None                     # joinMeetingIdSettings: only plain create takes it
    accept_language: str | None = None                        # localizes joinInformation
    calendar: bool = False                                    # a calendar-backed meeting (an Outlook event)
    event_members: dict[str, Any] = field(default_factory=dict)  # timeZone, body, location, recurrence, reminder
    # Where this key's results are delivered from now on (issue 21); not part of the fingerprint: it asks nothing of
    # the meeting. Checked against CALLBACK_ALLOWED_HOSTS by the use case (``guards.callback_url``).
    callback_url: str | None = None
    # Collect the meeting's attendance after it ends (issue 23); not part of the fingerprint either.
    collect_attendance: bool = False

    @property
    def plain_create(self) -> bool:
        """A passcode choice can only be made when a meeting is created, and createOrGet does not take it."""
        return self.passcode_required is not None

    @property
    def fingerprint(self) -> str:
        """A digest of what the caller asked for (not of defaults), so a repeat is recognised as the same request."""
        text = json.dumps(self._asked(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _asked(self) -> dict[str, Any]:
        asked: dict[str, Any] = {
            "subject": self.subject,
            "startDateTime": format_datetime(self.start) if self.start else None,
            "endDateTime": format_datetime(self.end) if self.end else None,
            "participants": self.participants,
            "chatInfo": self.chat_info,
        }
        # Members added later count only when given, so a request of an earlier version keeps its fingerprint.
        asked.update(self.settings)
        if self.passcode_required is not None:
            asked["joinMeetingIdSettings"] = {"isPasscodeRequired": self.passcode_required}
        if self.accept_language is not None:
            asked["acceptLanguage"] = self.accept_language
        if self.calendar:
            asked.update({"calendar": True, **self.event_members})
        return asked

    def times(self, now: datetime) -> tuple[datetime, datetime]:
        start = self.start or now
        return start, self.end or start + DEFAULT_DURATION

    def graph_body(self, now: datetime) -> dict[str, Any]:
        """The createOrGet body, with Graph's documented defaults made explicit."""
        start, end = self.times(now)
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

    def create_body(self, now: datetime) -> dict[str, Any]:
        """The body of a plain create (POST /users/{id}/onlineMeetings): everything in one call."""
        body = {**self.graph_body(now), **self.settings}
        body.pop("chatInfo", None)
        if self.passcode_required is not None:
            body["joinMeetingIdSettings"] = {"isPasscodeRequired": self.passcode_required}
        return body

    def as_payload(self, *, tenant_id: str, correlation_id: str) -> dict[str, Any]:
        """The request as an intake message carries it: the members the caller gave, in their validated form."""
        payload: dict[str, Any] = {"organizerId": self.organizer_id, "externalId": self.external_id,
                                   "tenantId": tenant_id, "correlationId": correlation_id}
        asked = self._asked()
        asked.pop("acceptLanguage", None)
        payload.update({name: value for name, value in asked.items() if value is not None})
        if self.accept_language is not None:
            payload["acceptLanguage"] = self.accept_language
        if self.callback_url is not None:
            payload["callbackUrl"] = self.callback_url
        if self.collect_attendance:
            payload["collectAttendance"] = True
        return payload


@dataclass(frozen=True)
class MeetingChange:
    """A change to a recorded meeting: the members given are wanted as they are; absent members stay as they are."""

    organizer_id: str
    external_id: str
    tenant_id: str | None = None
    correlation_id: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendees: list[dict[str, Any]] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    event_members: dict[str, Any] = field(default_factory=dict)  # calendar-backed meetings: body, location, ...

    def as_payload(self, *, tenant_id: str, correlation_id: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"action": "update", "organizerId": self.organizer_id,
                                   "externalId": self.external_id, "tenantId": tenant_id,
                                   "correlationId": correlation_id, **self.settings, **self.event_members}
        if self.subject is not None:
            payload["subject"] = self.subject
        if self.start is not None and self.end is not None:
            payload["startDateTime"], payload["endDateTime"] = format_datetime(self.start), format_datetime(self.end)
        if self.attendees is not None:
            payload["participants"] = {"attendees": self.attendees}
        return payload


@dataclass(frozen=True)
class MeetingLookup:
    """A question about a recorded meeting, asked on the queue (``action: attendance``)."""

    organizer_id: str
    external_id: str
    tenant_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class MeetingCancel:
    """The end of a meeting's life: ``delete`` (a tombstone stays) or ``lock`` (the meeting stays; nobody new gets
    in)."""

    organizer_id: str
    external_id: str
    tenant_id: str | None = None
    correlation_id: str | None = None
    mode: str = "delete"
    comment: str | None = None   # a calendar-backed meeting's cancellation note to its attendees
