"""Hand-written fakes that subclass the ports and honour the same errors as the real adapters."""
from __future__ import annotations

import copy
import itertools
from dataclasses import replace as with_changes
from datetime import datetime, timezone

from shared.errors import BrokerError
from shared.records import MeetingKey, MeetingRecord, MeetingRepository, RecordExists, RecordModified, meeting_json
from shared.values import normalize_organizer


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


class InMemoryMeetingRepository(MeetingRepository):
    """The meeting repository in a dict. Set ``outage`` to make every call raise it (e.g. StorageUnavailable)."""

    def __init__(self) -> None:
        self.rows: dict[MeetingKey, MeetingRecord] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.outage: BrokerError | None = None
        self.ready = False
        self._etags = itertools.count(1)

    def _check_outage(self) -> None:
        if self.outage is not None:
            raise self.outage

    def _next_etag(self) -> str:
        return f'W/"fake-{next(self._etags)}"'

    def _copy(self, record: MeetingRecord) -> MeetingRecord:
        return with_changes(record, meeting=copy.deepcopy(record.meeting), last_error=copy.deepcopy(record.last_error))

    def ensure_ready(self) -> None:
        self._check_outage()
        self.ready = True

    def ping(self) -> None:
        self._check_outage()

    def get(self, key: MeetingKey) -> MeetingRecord | None:
        self._check_outage()
        record = self.rows.get(key)
        return self._copy(record) if record is not None else None

    def insert(self, record: MeetingRecord) -> MeetingRecord:
        self._check_outage()
        existing = self.rows.get(record.key)
        if existing is not None:
            raise RecordExists(self._copy(existing))
        stored = _stored(record, self._next_etag())
        self.rows[record.key] = stored
        return self._copy(stored)

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

    def delete(self, key: MeetingKey, etag: str | None = None) -> None:
        self._check_outage()
        current = self.rows.get(key)
        if current is None:
            return
        if etag and current.etag != etag:
            raise RecordModified("the row changed since it was read (ETag mismatch)")
        del self.rows[key]

    def get_alias(self, tenant_id: str, upn: str) -> str | None:
        self._check_outage()
        return self.aliases.get((tenant_id, normalize_organizer(upn)))

    def put_alias(self, tenant_id: str, upn: str, object_id: str) -> None:
        self._check_outage()
        self.aliases[(tenant_id, normalize_organizer(upn))] = object_id
