"""The port of the store that keeps meeting records, and what travels with a record in one atomic write.

A record is written together with what must change with it, or not at all: its index rows (found by join URL and
join meeting id: the adapter derives and maintains them), a UPN alias, and a shard of its organizer's monthly
counter. The Azure
Table Storage adapter (``shared.table_repository``) does this in one entity-group transaction; the fake in
``tests/fakes.py`` honours the same contract, and ``tests/integration/test_repository_contract.py`` runs one set of
cases against both. Failures of the store itself raise ``StorageUnavailable``; a meeting too large to hold raises
``MeetingTooLarge``.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterable

from .records import MeetingKey, MeetingRecord


@dataclass(frozen=True)
class Alias:
    """What the table knows of a UPN: its organizer object id, or (``object_id`` None) only that rows keyed by the
    UPN exist, written before Graph had named the object id."""

    tenant_id: str
    upn: str
    object_id: str | None
    etag: str | None = None  # None: not stored yet (a write inserts it)


# An organizer's monthly count is kept in this many rows (shards), so that concurrent creates for one organizer
# rarely write the same row; each shard holds at most its share of the limit (``shared.quota``).
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


MAX_MOVES = 30  # a transaction holds 100 operations: a move is up to 4 (delete, insert, two index rows)


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
        """Write the record (a new row when ``insert``, else only if the row still has ``record.etag``), its index
        rows, and ``alias`` / ``quota`` (inserted when their etag is None, else only if unchanged), all or nothing.
        RecordExists (carrying the stored row) / RecordModified for the record; AliasChanged / QuotaChanged."""

    def insert(self, record: MeetingRecord) -> MeetingRecord:
        return self.commit(record, insert=True).record

    def replace(self, record: MeetingRecord) -> MeetingRecord:
        return self.commit(record, insert=False).record

    @abstractmethod
    def learn_alias(self, alias: Alias, moves: list[tuple[MeetingRecord, MeetingRecord | None]]) -> Alias:
        """Write the learned ``alias`` (inserted when its etag is None, else only if unchanged) and, in the same
        write, move rows keyed by its UPN: each (row, replacement) deletes the row (only if it still has its etag)
        and inserts the replacement under the object id (None: the object id's row stands, the row just goes).
        AliasChanged; RecordModified / RecordExists for a moved row. At most ``MAX_MOVES`` moves a write."""

    @abstractmethod
    def rows_of(self, tenant_id: str, organizer_key: str) -> list[MeetingRecord]:
        """Every record of one organizer key (used to move rows keyed by a UPN once its object id is known)."""

    @abstractmethod
    def get_alias(self, tenant_id: str, upn: str) -> Alias | None:
        """What the table knows of ``upn``; None when nothing."""

    @abstractmethod
    def find_by_join_url(self, tenant_id: str, join_web_url: str) -> MeetingRecord | None:
        """The record whose meeting has this join URL (matched after normalising its encoding)."""

    @abstractmethod
    def find_by_join_meeting_id(self, tenant_id: str, join_meeting_id: str) -> MeetingRecord | None:
        """The record whose meeting has this join meeting id."""

    @abstractmethod
    def get_quota(self, tenant_id: str, organizer_key: str, month: str) -> QuotaCounts:
        """Every shard of the counter of one organizer and month, in one read."""

    @abstractmethod
    def put_quota(self, count: QuotaCount) -> QuotaCount:
        """Write one shard alone (inserted when its etag is None, else only if unchanged); QuotaChanged."""
