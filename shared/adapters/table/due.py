"""The Table Storage side of attendance to collect after meetings end (``MeetingRepository.schedule_attendance`` and
the rest of that group), mixed into ``TableMeetingRepository``: a partition of its own, due rows keyed by due time and
a marker per (key, occurrence), changed in entity-group transactions on the ETag read (docs/architecture.md,
"Attendance after a meeting ends")."""
from __future__ import annotations

import hashlib
import itertools
import json
from abc import ABC, abstractmethod
from dataclasses import replace as with_changes
from datetime import datetime, timezone
from typing import Any, ContextManager

from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.adapters.table.operations import IF_MATCH, conditional_write, creating_table, table_missing
from shared.domain.records import MeetingKey
from shared.ports import DueAttendance, DueChanged

DUE_PARTITION = "d|attendance"
SCHEDULED, FINISHED = "scheduled", "finished"


def identity_hash(key: MeetingKey, occurrence: str) -> str:
    parts = (key.tenant_id, key.organizer_key, key.external_id, occurrence)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def due_time(moment: datetime) -> str:
    """A due time as row keys sort it: UTC, fixed width."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def due_row_key(due: DueAttendance) -> str:
    return f"q|{due_time(due.due_at)}|{identity_hash(due.key, due.occurrence)}"


def marker_row_key(key: MeetingKey, occurrence: str) -> str:
    return f"k|{identity_hash(key, occurrence)}"


def due_entity(due: DueAttendance) -> dict[str, Any]:
    return {"PartitionKey": DUE_PARTITION, "RowKey": due_row_key(due), "TenantId": due.key.tenant_id,
            "OrganizerKey": due.key.organizer_key, "ExternalId": due.key.external_id, "Occurrence": due.occurrence,
            "End": due.end.astimezone(timezone.utc), "DueAt": due.due_at.astimezone(timezone.utc),
            "Attempts": int(due.attempts), "LeaseOwner": due.lease_owner, "CorrelationId": due.correlation_id,
            "LastError": json.dumps(due.last_error, ensure_ascii=True) if due.last_error is not None else None}


def due_from(entity: Any) -> DueAttendance:
    return DueAttendance(
        key=MeetingKey(entity["TenantId"], entity["OrganizerKey"], entity["ExternalId"]),
        occurrence=entity.get("Occurrence") or "", end=_utc(entity["End"]), due_at=_utc(entity["DueAt"]),
        attempts=int(entity.get("Attempts") or 0), lease_owner=entity.get("LeaseOwner"),
        last_error=json.loads(entity["LastError"]) if entity.get("LastError") else None,
        correlation_id=entity.get("CorrelationId"), etag=entity.metadata.get("etag"))


def marker_entity(due: DueAttendance, state: str) -> dict[str, Any]:
    return {"PartitionKey": DUE_PARTITION, "RowKey": marker_row_key(due.key, due.occurrence),
            "TenantId": due.key.tenant_id, "OrganizerKey": due.key.organizer_key, "ExternalId": due.key.external_id,
            "Occurrence": due.occurrence, "State": state, "DueRowKey": due_row_key(due) if state == SCHEDULED else None}


def _utc(value: datetime) -> datetime:
    value = value.astimezone(timezone.utc)
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
                    tzinfo=timezone.utc)


class TableDueAttendance(ABC):
    """The due-attendance methods of ``TableMeetingRepository``, over its table client and storage-error mapping."""

    _table: TableClient

    @abstractmethod
    def _storage_errors(self, operation: str) -> ContextManager[None]: ...

    @abstractmethod
    def _point_read(self, operation: str, partition: str, row: str) -> Any | None: ...

    @abstractmethod
    def ensure_ready(self) -> None: ...

    @creating_table
    def schedule_attendance(self, due: DueAttendance) -> DueAttendance | None:
        marker = self._point_read("due read", DUE_PARTITION, marker_row_key(due.key, due.occurrence))
        if marker is not None and marker.get("State") == FINISHED:
            return None
        if marker is None:
            fresh = with_changes(due, etag=None)
            return self._due_transaction([("create", marker_entity(fresh, SCHEDULED)),
                                          ("create", due_entity(fresh))], fresh, at=1)
        current_row = self._point_read("due read", DUE_PARTITION, str(marker.get("DueRowKey")))
        if current_row is None:  # a marker always names its due row; rebuilt if it went missing all the same
            return self._due_transaction([("update", marker_entity(due, SCHEDULED),
                                           {"mode": UpdateMode.REPLACE, "etag": marker.metadata.get("etag"),
                                            "match_condition": IF_MATCH}),
                                          ("create", due_entity(due))], due, at=1)
        with self._storage_errors("due read"):
            current = due_from(current_row)
        if current.due_at == due.due_at:
            return current
        return self.move_attendance(current, with_changes(current, due_at=due.due_at, end=due.end))

    @creating_table
    def due_attendance(self, now: datetime, limit: int) -> list[DueAttendance]:
        query = "PartitionKey eq @p and RowKey ge @first and RowKey lt @after"
        bounds = {"p": DUE_PARTITION, "first": "q|", "after": f"q|{due_time(now)}}}"}  # "}" sorts after "|"
        with self._storage_errors("due query"):
            found = self._table.query_entities(query, parameters=bounds, results_per_page=max(1, min(limit, 1000)))
            return [due_from(entity) for entity in itertools.islice(found, max(0, limit))]

    @creating_table
    def move_attendance(self, due: DueAttendance, to: DueAttendance) -> DueAttendance:
        if (to.key, to.occurrence) != (due.key, due.occurrence):
            raise ValueError("a due row moves only in time: the key and occurrence stay")
        if due_row_key(to) == due_row_key(due):
            return self._due_transaction([conditional_write(due_entity(to), due.etag)], to, at=0)
        return self._due_transaction([self._delete(due), ("create", due_entity(to)),
                                      ("upsert", marker_entity(to, SCHEDULED), {"mode": UpdateMode.REPLACE})],
                                     to, at=1)

    @creating_table
    def finish_attendance(self, due: DueAttendance) -> None:
        self._due_transaction([self._delete(due),
                               ("upsert", marker_entity(due, FINISHED), {"mode": UpdateMode.REPLACE})], due, at=None)

    @staticmethod
    def _delete(due: DueAttendance) -> tuple:
        if not due.etag:
            raise ValueError("a due row changes only on the ETag it was read with")
        return ("delete", {"PartitionKey": DUE_PARTITION, "RowKey": due_row_key(due)},
                {"etag": due.etag, "match_condition": IF_MATCH})

    def _due_transaction(self, operations: list[tuple], due: DueAttendance, *, at: int | None) -> Any:
        """One transaction; the due row written at index ``at`` with its new ETag. DueChanged when a condition failed
        (another writer got there first)."""
        with self._storage_errors("due write"):
            try:
                results = self._table.submit_transaction(operations)
            except TableTransactionError as failed:
                if failed.status_code not in (404, 409, 412) or table_missing(failed):
                    raise
                changed = failed
            else:
                return with_changes(due, etag=results[at]["etag"]) if at is not None else None
        raise DueChanged("the due row changed or went since it was read") from changed
