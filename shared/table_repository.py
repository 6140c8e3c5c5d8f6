"""The Azure Table Storage adapter of ``MeetingRepository``.

One row per (tenant, organizer, externalId) holds the state of that meeting request and the onlineMeeting Graph
returned. State changes are conditional on the row's ETag (optimistic concurrency), never blind upserts, so two
workers racing on one externalId cannot overwrite each other's outcome:
https://learn.microsoft.com/azure/storage/tables/table-storage-design-for-modification#optimistic-concurrency
SDK errors never leave this module: they become RecordExists, RecordModified or StorageUnavailable.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace as with_changes
from datetime import datetime, timezone
from typing import Any, Iterator

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, UpdateMode

from . import keys
from .errors import MeetingTooLarge, StorageUnavailable
from .records import MeetingKey, MeetingRecord, MeetingRepository, RecordExists, RecordModified, meeting_json

# A string property is at most 64 KiB of UTF-16 (32,768 code units):
# https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#property-types
# The meeting JSON is ASCII (non-ASCII escaped), so one character is one UTF-16 code unit.
MEETING_JSON_CHUNK = 30_000
_MAX_STRING_PROPERTY = 32_000


def _meeting_json_parts(meeting: dict) -> list[str]:
    text = meeting_json(meeting)
    return [text[i:i + MEETING_JSON_CHUNK] for i in range(0, len(text), MEETING_JSON_CHUNK)] or [text]


def _meeting_json_column(index: int) -> str:
    return "MeetingJson" if index == 0 else f"MeetingJson{index}"


def _utc(value: datetime | None) -> datetime | None:
    """A plain tz-aware UTC datetime (the SDK returns a datetime subclass carrying the service's string)."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
                    tzinfo=timezone.utc)


def _required_utc(value: datetime) -> datetime:
    converted = _utc(value)
    assert converted is not None
    return converted


def _str_or_none(value: Any) -> str | None:
    # The derived columns are copies for people browsing the table; the record is read from MeetingJson.
    return value if isinstance(value, str) and len(value) <= _MAX_STRING_PROPERTY else None


def _to_entity(record: MeetingRecord) -> dict[str, Any]:
    key = record.key
    entity: dict[str, Any] = {
        "PartitionKey": keys.meeting_partition_key(key.tenant_id, key.organizer_key),
        "RowKey": keys.meeting_row_key(key.external_id),
        "TenantId": key.tenant_id,
        "OrganizerKey": key.organizer_key,
        "OrganizerId": record.organizer_id,
        "ExternalId": key.external_id,
        "Status": record.status,
        "Fingerprint": record.fingerprint,
        "CorrelationId": record.correlation_id,
        "Source": record.source,
        "LastError": json.dumps(record.last_error, ensure_ascii=True) if record.last_error is not None else None,
    }
    for name, value in entity.items():
        if isinstance(value, str) and len(value.encode("utf-16-le")) // 2 > _MAX_STRING_PROPERTY:
            raise MeetingTooLarge(f"{name} is too long to store in a table property")
    entity.update({
        "MeetingId": _str_or_none(record.meeting_id),
        "JoinWebUrl": _str_or_none(record.join_web_url),
        "JoinMeetingId": _str_or_none(record.join_meeting_id),
        "Subject": _str_or_none(record.subject),
        "StartDateTime": _str_or_none(record.start_date_time),
        "EndDateTime": _str_or_none(record.end_date_time),
        "Attempts": int(record.attempts),
        "FirstAttemptAt": _utc(record.first_attempt_at),
        "CreatedAt": _utc(record.created_at),
        "UpdatedAt": _utc(record.updated_at),
    })
    parts = _meeting_json_parts(record.meeting) if record.meeting is not None else []
    entity["MeetingJsonParts"] = len(parts)
    for index, part in enumerate(parts):
        entity[_meeting_json_column(index)] = part
    return entity


def _from_entity(entity: Any) -> MeetingRecord:
    parts = int(entity.get("MeetingJsonParts") or 0)
    meeting = json.loads("".join(entity[_meeting_json_column(i)] for i in range(parts))) if parts else None
    last_error = entity.get("LastError")
    return MeetingRecord(
        key=MeetingKey(entity["TenantId"], entity["OrganizerKey"], entity["ExternalId"]),
        status=entity["Status"],
        fingerprint=entity["Fingerprint"],
        organizer_id=entity["OrganizerId"],
        correlation_id=entity.get("CorrelationId"),
        source=entity.get("Source"),
        meeting=meeting,
        last_error=json.loads(last_error) if last_error else None,
        attempts=int(entity.get("Attempts") or 0),
        first_attempt_at=_utc(entity.get("FirstAttemptAt")),
        created_at=_required_utc(entity["CreatedAt"]),
        updated_at=_required_utc(entity["UpdatedAt"]),
        etag=entity.metadata.get("etag"),
    )


def _table_missing(error: HttpResponseError) -> bool:
    return getattr(error, "error_code", None) == "TableNotFound"


class TableMeetingRepository(MeetingRepository):
    """Meeting records in one Azure table."""

    def __init__(self, table_client: TableClient) -> None:
        self._table = table_client

    @property
    def table_name(self) -> str:
        return self._table.table_name

    @contextmanager
    def _storage_errors(self, operation: str) -> Iterator[None]:
        """Turn any other storage failure into StorageUnavailable, naming the operation and table but never the
        account key or connection string (the SDK message is not copied)."""
        try:
            yield
        except HttpResponseError as exc:
            status = f"HTTP {exc.status_code}" if exc.status_code else "no HTTP status"
            code = getattr(exc, "error_code", None)
            code = f" {getattr(code, 'value', code)}" if code else ""  # the tables SDK gives an enum
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r} failed: {status}{code}"
            ) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r} failed: the service could not be reached "
                f"({type(exc).__name__})"
            ) from exc

    def ensure_ready(self) -> None:
        with self._storage_errors("create table"):
            try:
                self._table.create_table()
            except ResourceExistsError:
                pass  # 409 TableAlreadyExists: another instance (or a deployment) created it first.

    def ping(self) -> None:
        # A point read of a row that never exists: one cheap request that proves reachability, authorization and
        # that the table exists (a missing table answers 404 TableNotFound rather than ResourceNotFound).
        with self._storage_errors("health probe"):
            try:
                self._table.get_entity("health", "probe", select=["PartitionKey"])
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise

    def get(self, key: MeetingKey) -> MeetingRecord | None:
        with self._storage_errors("read"):
            try:
                entity = self._table.get_entity(
                    keys.meeting_partition_key(key.tenant_id, key.organizer_key), keys.meeting_row_key(key.external_id)
                )
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise
                return None
        return _from_entity(entity)

    def insert(self, record: MeetingRecord) -> MeetingRecord:
        entity = _to_entity(record)
        with self._storage_errors("insert"):
            try:
                metadata = self._table.create_entity(entity)
                return with_changes(record, etag=metadata["etag"])
            except ResourceExistsError:
                pass
        # 409 EntityAlreadyExists: another request for the same externalId got there first (or our own earlier
        # attempt succeeded and only its response was lost). The stored row is the truth, so hand it to the caller
        # instead of overwriting it. https://learn.microsoft.com/rest/api/storageservices/insert-entity
        existing = self.get(record.key)
        if existing is None:
            raise RecordModified("the row existed on insert but was deleted before it could be read back")
        raise RecordExists(existing)

    def replace(self, record: MeetingRecord) -> MeetingRecord:
        if not record.etag:
            raise ValueError("replace needs the ETag of the row it read")
        entity = _to_entity(record)
        with self._storage_errors("replace"):
            try:
                # If-Match: the write lands only if nobody changed the row since we read it (412 otherwise).
                # https://learn.microsoft.com/rest/api/storageservices/update-entity2
                metadata = self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=record.etag, match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError as exc:
                raise RecordModified("the row changed since it was read (ETag mismatch)") from exc
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise
                raise RecordModified("the row was deleted since it was read") from exc
            except HttpResponseError as exc:
                if exc.status_code != 412:
                    raise
                raise RecordModified("the row changed since it was read (ETag mismatch)") from exc
        return with_changes(record, etag=metadata["etag"])

    def delete(self, key: MeetingKey, etag: str | None = None) -> None:
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        with self._storage_errors("delete"):
            try:
                # The SDK already treats 404 (row gone) as success.
                self._table.delete_entity(
                    keys.meeting_partition_key(key.tenant_id, key.organizer_key),
                    keys.meeting_row_key(key.external_id),
                    etag=etag,
                    match_condition=condition,
                )
            except ResourceModifiedError as exc:
                raise RecordModified("the row changed since it was read (ETag mismatch)") from exc

    def get_alias(self, tenant_id: str, upn: str) -> str | None:
        with self._storage_errors("alias read"):
            try:
                entity = self._table.get_entity(
                    keys.alias_partition_key(tenant_id), keys.alias_row_key(upn), select=["ObjectId"]
                )
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise
                return None
        return entity.get("ObjectId")

    def put_alias(self, tenant_id: str, upn: str, object_id: str) -> None:
        # A blind upsert on purpose: the alias is a cache of Graph's answer (UPN -> object id), not state we own.
        # Every writer stores what Graph said at that moment, so the last answer wins and no ETag is needed.
        entity = {
            "PartitionKey": keys.alias_partition_key(tenant_id),
            "RowKey": keys.alias_row_key(upn),
            "TenantId": tenant_id,
            "Upn": upn,
            "ObjectId": object_id,
        }
        with self._storage_errors("alias write"):
            self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
