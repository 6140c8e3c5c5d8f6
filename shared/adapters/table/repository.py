"""The Azure Table Storage adapter of ``MeetingRepository``: a record with an alias or a counter changes in one
entity-group transaction, each operation conditional on the ETag it was read with; a record alone is one conditional
request. Its new index rows are written before it, each in a partition of its own (so no record is ever stored
without them). SDK errors never leave this module.
Attendance due after meetings end is kept in a partition of its own (``due.py``).
https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace as with_changes
from typing import Any, Iterable, Iterator

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.adapters.table import keys
from shared.domain.errors import StorageUnavailable
from shared.domain.records import MeetingKey, MeetingRecord, RecordExists, RecordModified
from shared.ports import (MAX_MOVES, Alias, AliasChanged, MeetingRepository, QuotaChanged, QuotaCount, QuotaCounts,
                         Written)
from shared.adapters.table.entities import (alias_entity, alias_from, from_entity, index_rows, quota_entity, quota_from,
                             record_keys, to_entity)
from shared.adapters.table.due import TableDueAttendance
from shared.adapters.table.operations import IF_MATCH as _IF_MATCH, TableMissing
from shared.adapters.table.operations import conditional_write as _write, creating_table as _creating_table
from shared.adapters.table.operations import table_missing as _table_missing


# Prefer: return-no-content (the SDK's own choice for inserts in a transaction); by default an insert answers with the
# whole entity, several KB for a record.
_NO_CONTENT = "return-no-content"


class TableMeetingRepository(TableDueAttendance, MeetingRepository):
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
            raise (TableMissing if _table_missing(exc) else StorageUnavailable)(
                f"Table Storage {operation} on table {self.table_name!r} failed: {status}{code}") from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r} failed: the service could not be reached "
                f"({type(exc).__name__})") from exc
        except AzureError as exc:  # credentials, decoding, anything else the SDK raises
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r} failed ({type(exc).__name__})") from exc
        except (KeyError, TypeError, ValueError) as exc:  # a row this code cannot decode (edited by hand?)
            raise StorageUnavailable(
                f"Table Storage {operation} on table {self.table_name!r}: a row could not be decoded "
                f"({type(exc).__name__})") from exc

    def _point_read(self, operation: str, partition: str, row: str) -> Any | None:
        with self._storage_errors(operation):
            try:
                return self._table.get_entity(partition, row)
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise
                return None

    def ensure_ready(self) -> None:
        with self._storage_errors("create table"):
            try:
                self._table.create_table()
            except ResourceExistsError:
                pass  # 409 TableAlreadyExists: another instance (or a deployment) created it first.

    @_creating_table
    def ping(self) -> None:
        # A point read of a row that never exists: one cheap request that proves reachability, authorization and
        # that the table exists (a missing table answers 404 TableNotFound rather than ResourceNotFound, and is made).
        self._point_read("health probe", "health", "probe")

    @_creating_table
    def get(self, key: MeetingKey) -> MeetingRecord | None:
        entity = self._point_read("read", *record_keys(key))
        with self._storage_errors("read"):
            return from_entity(entity) if entity is not None else None

    @_creating_table
    def commit(self, record: MeetingRecord, *, insert: bool, alias: Alias | None = None,
               quota: QuotaCount | None = None) -> Written:
        if not insert and not record.etag:
            raise ValueError("replace needs the ETag of the row it read")
        indexes = index_rows(record)
        # Its missing index rows first, each its own request in its own partition (never in a transaction): no
        # record is ever stored without its index rows, and an index row whose record was not written (the process
        # died between) is ignored by the lookups, which check the row it leads to. A record alone is then one
        # request, without the multipart batch that costs the SDK several requests' work.
        self._put_index_rows(row for name, row in indexes.items() if insert or name not in record.indexed)
        operations = [_write(to_entity(record, indexes), None if insert else record.etag)]
        extras: dict[int, type[Exception]] = {}
        if alias is not None:
            extras[len(operations)] = AliasChanged
            operations.append(_write(alias_entity(alias), alias.etag))
        if quota is not None:
            extras[len(operations)] = QuotaChanged
            operations.append(_write(quota_entity(quota), quota.etag))
        results = self._transaction("write", operations, record, insert=insert, extras=extras)
        stored = with_changes(record, etag=results[0]["etag"], indexed=tuple(indexes))
        position = iter(sorted(extras))
        return Written(stored,
                       with_changes(alias, etag=results[next(position)]["etag"]) if alias is not None else None,
                       with_changes(quota, etag=results[next(position)]["etag"]) if quota is not None else None)

    @_creating_table
    def learn_alias(self, alias: Alias, moves: list[tuple[MeetingRecord, MeetingRecord | None]]) -> Alias:
        if len(moves) > MAX_MOVES:
            raise ValueError(f"at most {MAX_MOVES} moves a write")
        operations: list[tuple] = [_write(alias_entity(alias), alias.etag)]
        for row, replacement in moves:
            partition, key = record_keys(row.key)
            operations.append(("delete", {"PartitionKey": partition, "RowKey": key},
                               {"etag": row.etag, "match_condition": _IF_MATCH}))
            if replacement is not None:
                operations.append(_write(to_entity(replacement), None))
        # Index rows are re-pointed at the replacements before the move, naming the row moved from, which a lookup
        # reads until the move is written (or for ever, if it never is). An index row that points at a row which no
        # longer has that join link is ignored by the lookups, so none needs deleting.
        self._put_index_rows(index for row, replacement in moves if replacement is not None
                             for index in index_rows(replacement, former=row.key).values())
        results = self._transaction("alias write", operations, moves[0][0] if moves else None, insert=False,
                                    extras={0: AliasChanged}, record_at=-1)
        return with_changes(alias, etag=results[0]["etag"])

    def _put_index_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        """Index rows, each a request of its own in its own partition (never in a transaction)."""
        with self._storage_errors("index write"):
            for row in rows:
                self._table.upsert_entity(row, mode=UpdateMode.REPLACE)

    def _transaction(self, operation: str, operations: list[tuple], record: MeetingRecord | None, *, insert: bool,
                     extras: dict[int, type[Exception]], record_at: int = 0) -> list[Any]:
        with self._storage_errors(operation):
            try:
                if len(operations) == 1:
                    return [self._single(*operations[0])]
                return self._table.submit_transaction(operations)
            except TableTransactionError as failed:
                if failed.status_code not in (404, 409, 412) or _table_missing(failed):
                    raise
                index, status = failed.index, failed.status_code
            except HttpResponseError as failed:  # the one operation, sent alone
                if failed.status_code not in (404, 409, 412) or _table_missing(failed):
                    raise
                index, status = 0, failed.status_code
        if index in extras:
            raise extras[index]("written with the record, it changed since it was read")
        if index == record_at and insert and status == 409 and record is not None:
            # 409 EntityAlreadyExists: another request for the same key got there first (or our own earlier attempt
            # succeeded and only its answer was lost). The stored row is the truth: hand it to the caller.
            existing = self.get(record.key)
            if existing is None:
                raise RecordModified("the row existed on insert but was deleted before it could be read back")
            raise RecordExists(existing)
        raise RecordModified("the row changed or vanished since it was read (ETag mismatch)")

    def _single(self, kind: str, entity: dict[str, Any], options: dict[str, Any] | None = None) -> Any:
        """One entity changes: the same conditional operation as a request of its own. A change of one entity is
        atomic without a transaction, and the multipart batch costs the SDK several times a single request's work."""
        if kind == "create":  # the ETag comes in the answer's headers: no need to have the entity sent back
            return self._table.create_entity(entity, response_preference=_NO_CONTENT)
        # A lone delete is never sent (a move deletes with its alias), and delete_entity would not report a missing row.
        assert kind == "update", kind
        return self._table.update_entity(entity, **(options or {}))

    @_creating_table
    def rows_of(self, tenant_id: str, organizer_key: str) -> list[MeetingRecord]:
        # A range of row keys inside the tenant's partition: a range query, never a table scan.
        first, after = keys.organizer_row_range(organizer_key)
        query = "PartitionKey eq @p and RowKey ge @first and RowKey lt @after"
        with self._storage_errors("query"):
            return [from_entity(entity) for entity in self._table.query_entities(
                query, parameters={"p": keys.partition_key(tenant_id), "first": first, "after": after})]

    @_creating_table
    def get_alias(self, tenant_id: str, upn: str) -> Alias | None:
        entity = self._point_read("alias read", keys.partition_key(tenant_id), keys.alias_row_key(upn))
        with self._storage_errors("alias read"):
            return alias_from(entity) if entity is not None else None

    @_creating_table
    def record_by_join_url(self, tenant_id: str, join_web_url: str) -> MeetingRecord | None:
        record = self._by_index(tenant_id, keys.join_url_row_key(join_web_url))
        if record is None or not record.join_web_url:
            return None
        return record if keys.normalize_join_url(record.join_web_url) == keys.normalize_join_url(join_web_url) else None

    @_creating_table
    def record_by_join_meeting_id(self, tenant_id: str, join_meeting_id: str) -> MeetingRecord | None:
        record = self._by_index(tenant_id, keys.join_id_row_key(join_meeting_id))
        wanted = join_meeting_id.replace(" ", "")
        return record if record is not None and (record.join_meeting_id or "").replace(" ", "") == wanted else None

    def _by_index(self, tenant_id: str, index_row: str) -> MeetingRecord | None:
        partition = keys.partition_key(tenant_id)
        index = self._point_read("index read", keys.index_partition_key(tenant_id, index_row), index_row)
        if index is None:  # written before index rows had partitions of their own: in the tenant's partition
            index = self._point_read("index read", partition, index_row)
        if index is None:
            return None
        entity = self._point_read("read", partition, index["MeetingRowKey"])
        if entity is None and index.get("FormerRowKey"):  # its record's move is not written (yet)
            entity = self._point_read("read", partition, index["FormerRowKey"])
        with self._storage_errors("read"):
            return from_entity(entity) if entity is not None else None

    @_creating_table
    def get_quota(self, tenant_id: str, organizer_key: str, month: str) -> QuotaCounts:
        # Every shard in one range query inside the tenant's partition.
        first, after = keys.quota_row_range(organizer_key, month)
        query = "PartitionKey eq @p and RowKey ge @first and RowKey lt @after"
        with self._storage_errors("counter read"):
            return QuotaCounts.of(tenant_id, organizer_key, month, (quota_from(entity) for entity in
                                  self._table.query_entities(query, parameters={
                                      "p": keys.partition_key(tenant_id), "first": first, "after": after})))

    @_creating_table
    def put_quota(self, count: QuotaCount) -> QuotaCount:
        with self._storage_errors("counter write"):
            try:
                if count.etag is None:
                    metadata = self._table.create_entity(quota_entity(count))
                else:
                    metadata = self._table.update_entity(quota_entity(count), mode=UpdateMode.REPLACE,
                                                         etag=count.etag, match_condition=_IF_MATCH)
            except (ResourceExistsError, ResourceNotFoundError, HttpResponseError) as exc:
                if isinstance(exc, ResourceNotFoundError) and _table_missing(exc):
                    raise
                if getattr(exc, "status_code", None) in (404, 409, 412):
                    raise QuotaChanged("the counter changed since it was read") from exc
                raise
        return with_changes(count, etag=metadata["etag"])
