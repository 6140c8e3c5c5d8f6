"""The Azure Table Storage adapter of ``MeetingRepository``.

One row per (tenant, organizer, externalId) holds the state of that meeting request and the onlineMeeting Graph
returned. State changes are conditional on the row's ETag (optimistic concurrency), never blind upserts, so two
workers racing on one externalId cannot overwrite each other's outcome:
https://learn.microsoft.com/azure/storage/tables/table-storage-design-for-modification#optimistic-concurrency
SDK errors never leave this module: they become RecordExists, RecordModified or StorageUnavailable.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace as with_changes
from typing import Iterator

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, UpdateMode

from . import keys
from .errors import StorageUnavailable
from .records import MeetingKey, MeetingRecord, MeetingRepository, RecordExists, RecordModified
from .table_entities import from_entity, to_entity

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
        except AzureError as exc:  # credentials, decoding, anything else the SDK raises
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r} failed ({type(exc).__name__})") from exc
        except (KeyError, TypeError, ValueError) as exc:  # a row this code cannot decode (edited by hand?)
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r}: a row could not be decoded "
                f"({type(exc).__name__})") from exc

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
            return from_entity(entity)

    def insert(self, record: MeetingRecord) -> MeetingRecord:
        entity = to_entity(record)
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
        entity = to_entity(record)
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

    def rows_of(self, tenant_id: str, organizer_key: str) -> list[MeetingRecord]:
        # One partition holds one organizer key's rows: a partition query, never a table scan.
        partition = keys.meeting_partition_key(tenant_id, organizer_key).replace("'", "''")
        with self._storage_errors("query"):
            return [from_entity(entity) for entity in self._table.query_entities(f"PartitionKey eq '{partition}'")]

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
