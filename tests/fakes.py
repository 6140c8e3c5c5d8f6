"""Hand-written fakes that subclass the ports and honour the same errors as the real adapters."""
from __future__ import annotations

import copy
import functools
import itertools
import threading
from dataclasses import replace as with_changes
from datetime import datetime, timezone

from shared.errors import BrokerError, TenantNotAllowed
from shared.organizers import OrganizerDirectory
from shared.ports import MeetingsGraph, TenantResolver
from shared.settings import Settings
from shared.usecases import Deps
from shared.records import MeetingKey, MeetingRecord, MeetingRepository, RecordExists, RecordModified, meeting_json
from shared.values import Clock, is_guid, normalize_organizer


def _stored(record: MeetingRecord, etag: str) -> MeetingRecord:
    """The record as the table would hand it back: UTC datetimes, its own copy of the JSON, the new ETag."""
    if record.meeting is not None:
        meeting_json(record.meeting)  # the port's size limit: MeetingTooLarge, as the table adapter raises

    def utc(value: datetime | None) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    return with_changes(
        record,
        meeting=copy.deepcopy(record.meeting),
        last_error=copy.deepcopy(record.last_error),
        first_attempt_at=utc(record.first_attempt_at),
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        etag=etag,
    )


def _atomic(method):
    """One call at a time, as the table serves one request on a row at a time."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


class InMemoryMeetingRepository(MeetingRepository):
    """The meeting repository in a dict, safe for concurrent callers (each call is atomic, as a table request is).
    Set ``outage`` to make every call raise it (e.g. StorageUnavailable)."""

    def __init__(self) -> None:
        self.rows: dict[MeetingKey, MeetingRecord] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.outage: BrokerError | None = None
        self.ready = False
        self._etags = itertools.count(1)
        self._lock = threading.RLock()

    def _check_outage(self) -> None:
        if self.outage is not None:
            raise self.outage

    def _next_etag(self) -> str:
        return f'W/"fake-{next(self._etags)}"'

    def _copy(self, record: MeetingRecord) -> MeetingRecord:
        return with_changes(record, meeting=copy.deepcopy(record.meeting), last_error=copy.deepcopy(record.last_error))

    @_atomic
    def ensure_ready(self) -> None:
        self._check_outage()
        self.ready = True

    @_atomic
    def ping(self) -> None:
        self._check_outage()

    @_atomic
    def get(self, key: MeetingKey) -> MeetingRecord | None:
        self._check_outage()
        record = self.rows.get(key)
        return self._copy(record) if record is not None else None

    @_atomic
    def insert(self, record: MeetingRecord) -> MeetingRecord:
        self._check_outage()
        existing = self.rows.get(record.key)
        if existing is not None:
            raise RecordExists(self._copy(existing))
        stored = _stored(record, self._next_etag())
        self.rows[record.key] = stored
        return self._copy(stored)

    @_atomic
    def replace(self, record: MeetingRecord) -> MeetingRecord:
        self._check_outage()
        if not record.etag:
            raise ValueError("replace needs the ETag of the row it read")
        current = self.rows.get(record.key)
        if current is None:
            raise RecordModified("the row was deleted since it was read")
        if current.etag != record.etag:
            raise RecordModified("the row changed since it was read (ETag mismatch)")
        stored = _stored(record, self._next_etag())
        self.rows[record.key] = stored
        return self._copy(stored)

    @_atomic
    def delete(self, key: MeetingKey, etag: str | None = None) -> None:
        self._check_outage()
        current = self.rows.get(key)
        if current is None:
            return
        if etag and current.etag != etag:
            raise RecordModified("the row changed since it was read (ETag mismatch)")
        del self.rows[key]

    @_atomic
    def rows_of(self, tenant_id: str, organizer_key: str) -> list[MeetingRecord]:
        self._check_outage()
        return [self._copy(record) for key, record in self.rows.items()
                if (key.tenant_id, key.organizer_key) == (tenant_id, organizer_key)]

    @_atomic
    def get_alias(self, tenant_id: str, upn: str) -> str | None:
        self._check_outage()
        return self.aliases.get((tenant_id, normalize_organizer(upn)))

    @_atomic
    def put_alias(self, tenant_id: str, upn: str, object_id: str) -> None:
        self._check_outage()
        self.aliases[(tenant_id, normalize_organizer(upn))] = object_id


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


def make_deps(settings: Settings, repository: MeetingRepository, graph: MeetingsGraph, clock: Clock, *,
              tenants: TenantResolver | None = None, sleeps: list[float] | None = None) -> Deps:
    """The use cases' dependencies over fakes, wired as bootstrap wires the real ones; waits are recorded in
    ``sleeps`` instead of slept."""
    waits = sleeps if sleeps is not None else []
    return Deps(settings, repository, graph, clock, tenants or StaticTenants(), OrganizerDirectory(repository),
                sleep=waits.append)
