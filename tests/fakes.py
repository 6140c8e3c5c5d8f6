"""Hand-written fakes that subclass the ports and honour the same errors as the real adapters."""
from __future__ import annotations

import copy
import functools
import itertools
import threading
from dataclasses import replace as with_changes
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar, cast

from shared.domain.errors import BrokerError, TenantNotAllowed
from shared.usecases.organizers import OrganizerDirectory
from shared.usecases.quota import QuotaBook
from shared.ports import GraphPort, TenantResolver, TokenProvider
from shared.config.settings import Settings
from shared.usecases import Deps
from shared.adapters.table import keys
from shared.domain.records import MeetingKey, MeetingRecord, RecordExists, RecordModified, meeting_json
from shared.ports import (MAX_MOVES, Alias, AliasChanged, DueAttendance, DueChanged, MeetingRepository, QuotaChanged,
                          QuotaCount, QuotaCounts, Written)
from shared.domain.clock import Clock
from shared.domain.identifiers import is_guid, normalize_organizer


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _stored(record: MeetingRecord, etag: str) -> MeetingRecord:
    """The record as the table would hand it back: UTC datetimes, its own copy of the JSON, the new ETag."""
    for document in (record.meeting, record.event):
        if document is not None:
            meeting_json(document)  # the port's size limit: MeetingTooLarge, as the table adapter raises

    def utc(value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    def utc_or_none(value: datetime | None) -> datetime | None:
        return utc(value) if value is not None else None

    return with_changes(
        record,
        meeting=copy.deepcopy(record.meeting),
        event=copy.deepcopy(record.event),
        last_error=copy.deepcopy(record.last_error),
        first_attempt_at=utc_or_none(record.first_attempt_at),
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        lease_expires_at=utc_or_none(record.lease_expires_at),
        cancelled_at=utc_or_none(record.cancelled_at),
        indexed=tuple(_index_names(record)),
        etag=etag,
    )


def _index_names(record: MeetingRecord) -> list[str]:
    names = []
    if record.join_web_url:
        names.append(keys.join_url_row_key(record.join_web_url))
    if record.join_meeting_id:
        names.append(keys.join_id_row_key(record.join_meeting_id))
    return names


def _atomic(method: _Method) -> _Method:
    """One call at a time, as the table serves one request (one transaction) at a time."""
    @functools.wraps(method)
    def locked(self: "InMemoryMeetingRepository", *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return cast(_Method, locked)


class InMemoryMeetingRepository(MeetingRepository):
    """The meeting repository in dicts, safe for concurrent callers (each call is atomic, as a table transaction
    is). Set ``outage`` to make every call raise it (e.g. StorageUnavailable); ``calls`` counts the calls (each a round
    trip to the real store)."""

    def __init__(self) -> None:
        self.rows: dict[MeetingKey, MeetingRecord] = {}
        self.aliases: dict[tuple[str, str], Alias] = {}
        self.counters: dict[tuple[str, str, str, int], QuotaCount] = {}
        self.index: dict[tuple[str, str], MeetingKey] = {}
        self.due: dict[tuple[MeetingKey, str], DueAttendance] = {}   # scheduled, by (key, occurrence)
        self.finished: set[tuple[MeetingKey, str]] = set()
        self.outage: BrokerError | None = None
        self.ready = False
        self.calls: list[str] = []
        self._etags = itertools.count(1)
        self._lock = threading.RLock()

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.outage is not None:
            raise self.outage

    def _next_etag(self) -> str:
        return f'W/"fake-{next(self._etags)}"'

    def _copy(self, record: MeetingRecord) -> MeetingRecord:
        return with_changes(record, meeting=copy.deepcopy(record.meeting), event=copy.deepcopy(record.event),
                            last_error=copy.deepcopy(record.last_error))

    @_atomic
    def ensure_ready(self) -> None:
        self._call("ensure_ready")
        self.ready = True

    @_atomic
    def ping(self) -> None:
        self._call("ping")

    @_atomic
    def get(self, key: MeetingKey) -> MeetingRecord | None:
        self._call("get")
        record = self.rows.get(key)
        return self._copy(record) if record is not None else None

    @_atomic
    def commit(self, record: MeetingRecord, *, insert: bool, alias: Alias | None = None,
               quota: QuotaCount | None = None) -> Written:
        self._call("commit")
        if not insert and not record.etag:
            raise ValueError("replace needs the ETag of the row it read")
        current = self.rows.get(record.key)
        if insert and current is not None:
            raise RecordExists(self._copy(current))
        if not insert and (current is None or current.etag != record.etag):
            raise RecordModified("the row changed or vanished since it was read (ETag mismatch)")
        if alias is not None and _stale(self.aliases.get(_alias_key(alias)), alias.etag):
            raise AliasChanged("written with the record, it changed since it was read")
        if quota is not None and _stale(self.counters.get(_counter_key(quota)), quota.etag):
            raise QuotaChanged("written with the record, it changed since it was read")
        stored = _stored(record, self._next_etag())  # all checks passed: every part is written
        self.rows[record.key] = stored
        for name in stored.indexed:
            self.index[(record.key.tenant_id, name)] = record.key
        written_alias = written_quota = None
        if alias is not None:
            written_alias = self.aliases[_alias_key(alias)] = with_changes(alias, etag=self._next_etag())
        if quota is not None:
            written_quota = self.counters[_counter_key(quota)] = with_changes(quota, etag=self._next_etag())
        return Written(self._copy(stored), written_alias, written_quota)

    @_atomic
    def learn_alias(self, alias: Alias, moves: list[tuple[MeetingRecord, MeetingRecord | None]]) -> Alias:
        self._call("learn_alias")
        assert len(moves) <= MAX_MOVES
        if _stale(self.aliases.get(_alias_key(alias)), alias.etag):
            raise AliasChanged("the alias changed since it was read")
        for row, replacement in moves:
            current = self.rows.get(row.key)
            if current is None or current.etag != row.etag:
                raise RecordModified("the row changed or vanished since it was read (ETag mismatch)")
            if replacement is not None and replacement.key in self.rows:
                raise RecordExists(self._copy(self.rows[replacement.key]))
        for row, replacement in moves:  # every check passed: all of it is written
            del self.rows[row.key]
            if replacement is not None:
                stored = _stored(replacement, self._next_etag())
                self.rows[replacement.key] = stored
                for name in stored.indexed:
                    self.index[(replacement.key.tenant_id, name)] = replacement.key
        written = self.aliases[_alias_key(alias)] = with_changes(alias, etag=self._next_etag())
        return written

    @_atomic
    def rows_of(self, tenant_id: str, organizer_key: str) -> list[MeetingRecord]:
        self._call("rows_of")
        return [self._copy(record) for key, record in self.rows.items()
                if (key.tenant_id, key.organizer_key) == (tenant_id, organizer_key)]

    @_atomic
    def get_alias(self, tenant_id: str, upn: str) -> Alias | None:
        self._call("get_alias")
        return self.aliases.get((tenant_id, normalize_organizer(upn)))

    @_atomic
    def record_by_join_url(self, tenant_id: str, join_web_url: str) -> MeetingRecord | None:
        self._call("record_by_join_url")
        record = self._indexed(tenant_id, keys.join_url_row_key(join_web_url))
        matches = record is not None and record.join_web_url and (
            keys.normalize_join_url(record.join_web_url) == keys.normalize_join_url(join_web_url))
        return record if matches else None

    @_atomic
    def record_by_join_meeting_id(self, tenant_id: str, join_meeting_id: str) -> MeetingRecord | None:
        self._call("record_by_join_meeting_id")
        record = self._indexed(tenant_id, keys.join_id_row_key(join_meeting_id))
        wanted = join_meeting_id.replace(" ", "")
        return record if record is not None and (record.join_meeting_id or "").replace(" ", "") == wanted else None

    def _indexed(self, tenant_id: str, name: str) -> MeetingRecord | None:
        key = self.index.get((tenant_id, name))
        record = self.rows.get(key) if key is not None else None
        return self._copy(record) if record is not None else None

    @_atomic
    def get_quota(self, tenant_id: str, organizer_key: str, month: str) -> QuotaCounts:
        self._call("get_quota")
        return QuotaCounts.of(tenant_id, organizer_key, month, (
            count for (tenant, organizer, counted_month, _), count in self.counters.items()
            if (tenant, organizer, counted_month) == (tenant_id, organizer_key, month)))

    @_atomic
    def put_quota(self, count: QuotaCount) -> QuotaCount:
        self._call("put_quota")
        if _stale(self.counters.get(_counter_key(count)), count.etag):
            raise QuotaChanged("the counter changed since it was read")
        written = self.counters[_counter_key(count)] = with_changes(count, etag=self._next_etag())
        return written

    @_atomic
    def schedule_attendance(self, due: DueAttendance) -> DueAttendance | None:
        self._call("schedule_attendance")
        identity = (due.key, due.occurrence)
        if identity in self.finished:
            return None
        current = self.due.get(identity)
        if current is not None and current.due_at == due.due_at:
            return current
        stored = with_changes(current or due, due_at=due.due_at, end=due.end, etag=self._next_etag())
        self.due[identity] = stored
        return stored

    @_atomic
    def due_attendance(self, now: datetime, limit: int) -> list[DueAttendance]:
        self._call("due_attendance")
        found = sorted((due for due in self.due.values() if due.due_at <= now),
                       key=lambda due: (due.due_at, due.key.tenant_id, due.key.organizer_key, due.key.external_id))
        return found[:max(0, limit)]

    @_atomic
    def move_attendance(self, due: DueAttendance, to: DueAttendance) -> DueAttendance:
        self._call("move_attendance")
        if (to.key, to.occurrence) != (due.key, due.occurrence):
            raise ValueError("a due row moves only in time: the key and occurrence stay")
        self._current_due(due)
        stored = self.due[(due.key, due.occurrence)] = with_changes(to, etag=self._next_etag())
        return stored

    @_atomic
    def finish_attendance(self, due: DueAttendance) -> None:
        self._call("finish_attendance")
        self._current_due(due)
        del self.due[(due.key, due.occurrence)]
        self.finished.add((due.key, due.occurrence))

    def _current_due(self, due: DueAttendance) -> None:
        if not due.etag:
            raise ValueError("a due row changes only on the ETag it was read with")
        current = self.due.get((due.key, due.occurrence))
        if current is None or current.etag != due.etag:
            raise DueChanged("the due row changed or went since it was read")


def _alias_key(alias: Alias) -> tuple[str, str]:
    return alias.tenant_id, normalize_organizer(alias.upn)


def _counter_key(count: QuotaCount) -> tuple[str, str, str, int]:
    return count.tenant_id, count.organizer_key, count.month, count.shard


def _stale(current: Alias | QuotaCount | None, etag: str | None) -> bool:
    """A conditional write of an extra row loses: inserting one that exists, or replacing another version."""
    return (current is not None) if etag is None else (current is None or current.etag != etag)


class StaticToken(TokenProvider):
    """The same access token for every tenant."""

    def __init__(self, token: str = "not-a-token") -> None:
        self.value = token

    def token(self, tenant_id: str) -> str:
        return self.value


class StaticTenants(TenantResolver):
    """Tenant names resolved from a fixed table of domains; a GUID is its own id."""

    def __init__(self, domains: dict[str, str] | None = None) -> None:
        self.domains = {name.lower(): tenant for name, tenant in (domains or {}).items()}
        self.lookups: list[str] = []

    def resolve(self, name: str) -> str:
        name = name.strip().lower()
        if is_guid(name):
            return name
        self.lookups.append(name)
        if name not in self.domains:
            raise TenantNotAllowed(f"tenant {name} is not known to Microsoft Entra ID")
        return self.domains[name]


def make_deps(settings: Settings, repository: MeetingRepository, graph: GraphPort, clock: Clock, *,
              tenants: TenantResolver | None = None, sleeps: list[float] | None = None) -> Deps:
    """The use cases' dependencies over fakes, wired as bootstrap wires the real ones; waits are recorded in
    ``sleeps`` instead of slept."""
    waits = sleeps if sleeps is not None else []
    return Deps(settings, repository, graph, clock, tenants or StaticTenants(), OrganizerDirectory(repository),
                QuotaBook(repository, settings.monthly_meeting_limit, clock), sleep=waits.append)
