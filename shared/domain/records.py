"""The durable record of a meeting request, its statuses and its key. Its store's port is ``shared.ports``.

One record per (tenant, organizer object id, externalId). Every state change is conditional on the record's ETag
(``shared.usecases.keyed_write``), so concurrent requests for one key cannot overwrite each other.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.errors import MeetingTooLarge
from shared.domain.identifiers import organizer_object_id


class Status(StrEnum):
    """Every status the broker writes: a record's state, a result's outcome, an answer's ``status`` member."""

    PENDING = "pending"      # record: accepted or in progress, no meeting yet
    CREATED = "created"      # record: holds its meeting; result: Graph created the meeting for this request
    EXISTING = "existing"    # result: the meeting already existed (from the table, or Graph returned it)
    FAILED = "failed"        # record and result: the request ended in an error
    LOCKED = "locked"        # record and result: the meeting is kept, but nobody new gets in
    CANCELLED = "cancelled"  # record (a tombstone) and result: the meeting was deleted; the key stays cancelled
    UPDATED = "updated"      # result: the recorded meeting was changed to what the request asked for
    ACCEPTED = "accepted"    # answer: queued for async processing (202)
    DEFERRED = "deferred"    # queue path: tried again later by a delayed copy; nothing emitted yet
    ATTENDANCE = "attendance"  # result: the attendance of a meeting that ended, collected after its end


RECORD_STATUSES = frozenset({Status.PENDING, Status.CREATED, Status.FAILED, Status.LOCKED, Status.CANCELLED})
LIVE_STATUSES = frozenset({Status.CREATED, Status.LOCKED})  # a meeting that exists in Graph


class Kind(StrEnum):
    """How a key's meeting is made, fixed by its first request."""

    CREATE_OR_GET = "createOrGet"   # idempotent by externalId in Graph itself
    CREATE = "create"               # plain create (a passcode choice): idempotent through the record's lease
    CALENDAR = "calendar"           # an Outlook event with its Teams meeting: idempotent through the lease, the
                                    # event's transactionId and its extended property

    @property
    def calendar(self) -> bool:
        return self is Kind.CALENDAR

# The meeting is stored as compact ASCII JSON. A table entity holds at most 1 MiB (strings count 2 bytes a
# character) in at most 252 properties: 450,000 characters leave room for every other column.
# https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model
MAX_MEETING_JSON_CHARS = 450_000


def meeting_json(meeting: dict[str, Any]) -> str:
    """The meeting as stored; MeetingTooLarge when no store of this port can hold it."""
    text = json.dumps(meeting, ensure_ascii=True, separators=(",", ":"))
    if len(text) > MAX_MEETING_JSON_CHARS:
        raise MeetingTooLarge(
            f"the onlineMeeting Graph returned is {len(text)} characters of JSON; at most {MAX_MEETING_JSON_CHARS} "
            f"can be recorded (meeting id {str(meeting.get('id'))[:80]!r})")
    return text


@dataclass(frozen=True)
class MeetingKey:
    tenant_id: str
    organizer_key: str  # identifiers.normalize_organizer: the object id, or a UPN until Graph names the object id
    external_id: str


@dataclass(frozen=True)
class MeetingRecord:
    key: MeetingKey
    status: Status
    fingerprint: str
    organizer_id: str
    correlation_id: str | None
    source: str | None
    meeting: dict | None
    last_error: dict | None
    attempts: int
    first_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    etag: str | None = None
    kind: Kind = Kind.CREATE_OR_GET       # how the meeting is made, fixed by the key's first request
    lease_owner: str | None = None        # plain create: who holds the key while it creates (not idempotent)
    lease_expires_at: datetime | None = None
    settings_not_applied: tuple[str, ...] = ()  # options Graph kept its own value for (tenant policy)
    cancelled_at: datetime | None = None
    event: dict | None = None      # a calendar-backed meeting's Outlook event, as Graph returned it
    # What callers last asked of the event's own members (calendar_events.asked): the time zone by name, the body,
    # location, recurrence and reminder as digests, because Graph answers them rewritten (HTML, normalised).
    event_asked: dict | None = None
    # Result callbacks (issue 21): the callbackUrl the key's last create request named (every later result of the key
    # is delivered to it), and the URL whose receiver answered 410 Gone (none is delivered there any more).
    callback_url: str | None = None
    callback_gone: str | None = None
    # Issue 23: a create request of the key asked for its attendance after the meeting ends (a time change moves it).
    collect_attendance: bool = False
    # The index rows (join URL, join meeting id) stored with this version: bookkeeping of the store, not state.
    indexed: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.status not in RECORD_STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(RECORD_STATUSES))} (got {self.status!r})")
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "settings_not_applied", tuple(self.settings_not_applied))
        for name in ("first_attempt_at", "created_at", "updated_at", "lease_expires_at", "cancelled_at"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must be a timezone-aware datetime")

    def _meeting_field(self, *path: str) -> Any:
        value: Any = self.meeting
        for step in path:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value

    @property
    def has_meeting(self) -> bool:
        """The key's meeting exists in Graph (created or locked) and is recorded."""
        return self.status in LIVE_STATUSES and self.meeting is not None

    @property
    def cancelled(self) -> bool:
        return self.status == Status.CANCELLED

    def leased_by_other(self, owner: str, now: datetime) -> bool:
        return (self.lease_owner is not None and self.lease_owner != owner and self.lease_expires_at is not None
                and self.lease_expires_at > now)

    @property
    def callback_target(self) -> str | None:
        """Where the key's results are delivered: its callbackUrl, unless that receiver answered 410 Gone."""
        return self.callback_url if self.callback_url and self.callback_url != self.callback_gone else None

    @property
    def meeting_id(self) -> str | None:
        return self._meeting_field("id")

    @property
    def join_web_url(self) -> str | None:
        return self._meeting_field("joinWebUrl")

    @property
    def join_meeting_id(self) -> str | None:
        return self._meeting_field("joinMeetingIdSettings", "joinMeetingId")

    @property
    def subject(self) -> str | None:
        return self._meeting_field("subject")

    @property
    def start_date_time(self) -> str | None:
        return self._meeting_field("startDateTime")

    @property
    def end_date_time(self) -> str | None:
        return self._meeting_field("endDateTime")

    @property
    def organizer_object_id(self) -> str | None:
        return organizer_object_id(self.meeting)


class RecordExists(Exception):
    """An insert met an existing row; ``existing`` is that row as read back."""

    def __init__(self, existing: MeetingRecord) -> None:
        super().__init__("a record already exists for this tenant, organizer and externalId")
        self.existing = existing


class RecordModified(Exception):
    """A conditional write lost: the row changed (ETag mismatch) or vanished since it was read."""
