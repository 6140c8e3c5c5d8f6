"""The ports the use cases depend on: Microsoft Graph, Microsoft Entra, tokens, and the store of meeting records.

Adapters (``shared.adapters``) and the fakes in ``tests/`` subclass them; every method is abstract, so a class that
lacks one cannot be instantiated. What travels with a record in one atomic write (a UPN alias, a shard of the
organizer's monthly counter) and what is written before it (its index rows) is part of the store's port:
``MeetingRepository.commit``.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from shared.domain.records import MeetingKey, MeetingRecord


@dataclass(frozen=True)
class Alias:
    """What the table knows of a UPN: its organizer object id, or (``object_id`` None) only that rows keyed by the
    UPN exist, written before Graph had named the object id."""

    tenant_id: str
    upn: str
    object_id: str | None
    etag: str | None = None  # None: not stored yet (a write inserts it)


# An organizer's monthly count is kept in this many rows (shards), so that concurrent creates for one organizer
# rarely write the same row; each shard holds at most its share of the limit (``shared.usecases.quota``).
QUOTA_SHARDS = 16


@dataclass(frozen=True)
class QuotaCount:
    """One shard of the meetings the broker created for one organizer in one UTC month."""

    tenant_id: str
    organizer_key: str
    month: str               # yyyy-mm
    used: int
    etag: str | None = None  # None: no row yet (a write inserts it)
    shard: int = 0


@dataclass(frozen=True)
class QuotaCounts:
    """Every shard of one organizer's month: ``used`` is their sum."""

    tenant_id: str
    organizer_key: str
    month: str
    shards: tuple[QuotaCount, ...]  # one per shard number, QUOTA_SHARDS of them (used 0, no etag: no row yet)

    @classmethod
    def of(cls, tenant_id: str, organizer_key: str, month: str, stored: Iterable[QuotaCount]) -> "QuotaCounts":
        found = {count.shard: count for count in stored}
        return cls(tenant_id, organizer_key, month, tuple(
            found.get(shard) or QuotaCount(tenant_id, organizer_key, month, 0, shard=shard)
            for shard in range(QUOTA_SHARDS)))

    @property
    def used(self) -> int:
        return sum(count.used for count in self.shards)

    def with_shard(self, count: QuotaCount) -> "QuotaCounts":
        return dataclasses.replace(self, shards=tuple(count if count.shard == shard.shard else shard
                                                      for shard in self.shards))


@dataclass(frozen=True)
class Written:
    """A committed write: the record as stored, and the alias and counter written with it (new ETags)."""

    record: MeetingRecord
    alias: Alias | None = None
    quota: QuotaCount | None = None


MAX_MOVES = 30  # a transaction holds 100 operations: a move is up to 2 (delete, insert), its index rows go before


@dataclass(frozen=True)
class DueAttendance:
    """The attendance of one occurrence of a key's meeting, to be collected at ``due_at``: the rows a timer finds by
    due time (``MeetingRepository.due_attendance``), and what a collector that claimed one holds."""

    key: MeetingKey
    occurrence: str            # "" for the meeting itself (one per key); an occurrence's id for a series
    end: datetime              # the occurrence's scheduled end
    due_at: datetime           # when it is next due; a claim moves it to the claim's expiry
    attempts: int = 0          # looks at Graph so far
    lease_owner: str | None = None
    last_error: dict | None = None
    correlation_id: str | None = None  # of the request that asked for it: the result carries it
    etag: str | None = None    # of the stored version; None: not stored yet


class DueChanged(Exception):
    """A due row changed or went since it was read (another collector claimed or finished it, or it was
    rescheduled)."""


class AliasChanged(Exception):
    """The alias written with a record changed since it was read (or exists though it was read as missing)."""


class QuotaChanged(Exception):
    """The counter written with a record (or on its own) changed since it was read."""


class MeetingRepository(ABC):
    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the table if it is missing; fine when it exists."""

    @abstractmethod
    def ping(self) -> None:
        """A cheap health probe; raises StorageUnavailable."""

    @abstractmethod
    def get(self, key: MeetingKey) -> MeetingRecord | None:
        """The record for ``key``, or None."""

    @abstractmethod
    def commit(self, record: MeetingRecord, *, insert: bool, alias: Alias | None = None,
               quota: QuotaCount | None = None) -> Written:
        """Write the record (a new row when ``insert``, else only if the row still has ``record.etag``) with
        ``alias`` / ``quota`` (inserted when their etag is None, else only if unchanged), all or nothing, and its index
        rows: a record is never stored without them (they may be written first, and stay when the record's write
        fails: lookups check the row an index row leads to). RecordExists (carrying the stored row) /
        RecordModified for the record; AliasChanged / QuotaChanged."""

    def insert(self, record: MeetingRecord) -> MeetingRecord:
        return self.commit(record, insert=True).record

    def replace(self, record: MeetingRecord) -> MeetingRecord:
        return self.commit(record, insert=False).record

    @abstractmethod
    def learn_alias(self, alias: Alias, moves: list[tuple[MeetingRecord, MeetingRecord | None]]) -> Alias:
        """Write the learned ``alias`` (inserted when its etag is None, else only if unchanged) and, in the same
        write, move rows keyed by its UPN: each (row, replacement) deletes the row (only if it still has its etag)
        and inserts the replacement under the object id (None: the object id's row stands, the row just goes).
        A replacement's index rows may be written first: until the move is written, lookups by join link still find
        the row it moves. AliasChanged; RecordModified / RecordExists for a moved row. At most ``MAX_MOVES`` moves a
        write."""

    @abstractmethod
    def rows_of(self, tenant_id: str, organizer_key: str) -> list[MeetingRecord]:
        """Every record of one organizer key (used to move rows keyed by a UPN once its object id is known)."""

    @abstractmethod
    def get_alias(self, tenant_id: str, upn: str) -> Alias | None:
        """What the table knows of ``upn``; None when nothing."""

    @abstractmethod
    def record_by_join_url(self, tenant_id: str, join_web_url: str) -> MeetingRecord | None:
        """The record whose meeting has this join URL (matched after normalising its encoding)."""

    @abstractmethod
    def record_by_join_meeting_id(self, tenant_id: str, join_meeting_id: str) -> MeetingRecord | None:
        """The record whose meeting has this join meeting id."""

    @abstractmethod
    def get_quota(self, tenant_id: str, organizer_key: str, month: str) -> QuotaCounts:
        """Every shard of the counter of one organizer and month, in one read."""

    @abstractmethod
    def put_quota(self, count: QuotaCount) -> QuotaCount:
        """Write one shard alone (inserted when its etag is None, else only if unchanged); QuotaChanged."""

    # Attendance to collect after a meeting ends, kept by due time so that a timer finds what is due without
    # scanning the records. Each (key, occurrence) is scheduled once and finished once: a finished one is remembered,
    # and scheduling it again does nothing.

    @abstractmethod
    def schedule_attendance(self, due: DueAttendance) -> DueAttendance | None:
        """Schedule (key, occurrence) at ``due.due_at``; when it is scheduled already, move it there (its attempts,
        claim and error kept). None when it was finished before: nothing is written. DueChanged on a lost race."""

    @abstractmethod
    def due_attendance(self, now: datetime, limit: int) -> list[DueAttendance]:
        """At most ``limit`` rows due at ``now`` or earlier, the longest due first: one range query."""

    @abstractmethod
    def move_attendance(self, due: DueAttendance, to: DueAttendance) -> DueAttendance:
        """Replace ``due`` (only if unchanged since read: its etag) by ``to`` (same key and occurrence: a new due
        time, claim, attempts or error); DueChanged otherwise."""

    @abstractmethod
    def finish_attendance(self, due: DueAttendance) -> None:
        """Remove ``due`` (only if unchanged since read) and remember (key, occurrence) as finished; DueChanged."""


class TokenProvider(ABC):
    @abstractmethod
    def token(self, tenant_id: str) -> str:
        """An app-only access token for Microsoft Graph in this tenant (cached by MSAL)."""


class TenantResolver(ABC):
    """Tenant names to tenant ids (``shared.usecases.tenants.TenantDirectory``)."""

    @abstractmethod
    def resolve(self, name: str) -> str:
        """The tenant id (GUID) of a tenant named by its GUID or a verified domain."""


@dataclass(frozen=True)
class GraphAnswer:
    meeting: dict[str, Any]
    created: bool
    request_id: str | None


class MeetingsGraph(ABC):
    """Graph's onlineMeetings for one organizer, as the use cases need them. Failures raise BrokerError subclasses
    (AccessPolicyMissing, OrganizerNotFound, GraphThrottled, GraphUnavailable, ...)."""

    @abstractmethod
    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
                      accept_language: str | None = None) -> GraphAnswer:
        """``POST /users/{organizer}/onlineMeetings/createOrGet``: 201 created or 200 existing."""

    @abstractmethod
    def create(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
               accept_language: str | None = None) -> GraphAnswer:
        """``POST /users/{organizer}/onlineMeetings``: a new meeting on every call (not idempotent)."""

    @abstractmethod
    def update(self, tenant_id: str, organizer_id: str, meeting_id: str, patch: dict[str, Any], *,
               correlation_id: str) -> dict[str, Any]:
        """``PATCH /users/{organizer}/onlineMeetings/{id}``: the whole meeting after the change."""

    @abstractmethod
    def delete(self, tenant_id: str, organizer_id: str, meeting_id: str, *, correlation_id: str) -> bool:
        """``DELETE /users/{organizer}/onlineMeetings/{id}``; False when Graph no longer had it."""

    @abstractmethod
    def meeting_by_join_url(self, tenant_id: str, organizer_id: str, join_web_url: str, *,
                            correlation_id: str) -> dict[str, Any] | None:
        """``GET /users/{organizer}/onlineMeetings?$filter=JoinWebUrl eq '...'``: the onlineMeeting behind a link."""


class CalendarGraph(ABC):
    """Graph's calendar events of one organizer (application permission Calendars.ReadWrite). A 403 raises
    CalendarAccessDenied (the mailbox is outside the app's Exchange scope)."""

    @abstractmethod
    def create_event(self, tenant_id: str, organizer_id: str, event: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        """``POST /users/{organizer}/events``: not idempotent, but Graph ignores a repeat with the same
        transactionId."""

    @abstractmethod
    def find_event(self, tenant_id: str, organizer_id: str, property_id: str, value: str, *,
                   correlation_id: str) -> dict[str, Any] | None:
        """The event carrying a single-value extended property with this value, if any."""

    @abstractmethod
    def update_event(self, tenant_id: str, organizer_id: str, event_id: str, patch: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        """``PATCH /users/{organizer}/events/{id}``: Outlook sends the attendees the update."""

    @abstractmethod
    def cancel_event(self, tenant_id: str, organizer_id: str, event_id: str, comment: str | None, *,
                     correlation_id: str) -> bool:
        """``POST /users/{organizer}/events/{id}/cancel``: the attendees receive the cancellation. False when
        Graph no longer had the event."""


class ArtifactsGraph(ABC):
    """What Graph keeps of a meeting that took place, read as its organizer: attendance reports (application
    permission OnlineMeetingArtifact.Read.All) and transcripts of calendar-backed meetings
    (OnlineMeetingTranscript.Read.All), both under the organizer's Teams application access policy. Lists are read
    to their end (``@odata.nextLink``). A 403 raises ArtifactAccessDenied naming the permission, or
    AccessPolicyMissing."""

    @abstractmethod
    def attendance_reports(self, tenant_id: str, organizer_id: str, meeting_id: str, *,
                           correlation_id: str) -> list[dict[str, Any]]:
        """``GET /users/{organizer}/onlineMeetings/{id}/attendanceReports``: the reports, without their records."""

    @abstractmethod
    def attendance_records(self, tenant_id: str, organizer_id: str, meeting_id: str, report_id: str, *,
                           correlation_id: str) -> list[dict[str, Any]]:
        """``GET .../attendanceReports/{reportId}/attendanceRecords``: every record of one report."""

    @abstractmethod
    def transcripts(self, tenant_id: str, organizer_id: str, meeting_id: str, *,
                    correlation_id: str) -> list[dict[str, Any]]:
        """``GET /users/{organizer}/onlineMeetings/{id}/transcripts``: the transcripts' metadata."""

    @abstractmethod
    def transcript_content(self, tenant_id: str, organizer_id: str, meeting_id: str, transcript_id: str, *,
                           correlation_id: str) -> str:
        """``GET .../transcripts/{transcriptId}/content``: the WebVTT text."""


class GraphPort(MeetingsGraph, CalendarGraph, ArtifactsGraph):
    """Everything the use cases ask of Graph (``shared.adapters.graph.client.GraphClient``)."""
