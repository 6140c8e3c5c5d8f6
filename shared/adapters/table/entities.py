"""Records, aliases, counters and index rows as Table Storage entities, and back.

The raw key values are kept as properties (the keys themselves are escaped or hashed, ``shared.adapters.table.keys``); the meeting is
kept as Graph returned it, as ASCII JSON chunked over string properties; the other columns are copies for people
browsing the table. A record's index rows point at its row key; the record lists them (``IndexRows``) so that the
write that changes or removes it changes or removes them too.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from shared.adapters.table import keys
from shared.domain.errors import MeetingTooLarge
from shared.domain.records import Kind, MeetingKey, MeetingRecord, meeting_json
from shared.ports import Alias, QuotaCount

# A string property is at most 64 KiB of UTF-16 (32,768 code units):
# https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#property-types
# The meeting JSON is ASCII (non-ASCII escaped), so one character is one UTF-16 code unit.
MEETING_JSON_CHUNK = 30_000
_MAX_STRING_PROPERTY = 32_000


def _json_parts(document: dict) -> list[str]:
    text = meeting_json(document)
    return [text[i:i + MEETING_JSON_CHUNK] for i in range(0, len(text), MEETING_JSON_CHUNK)] or [text]


def _json_column(prefix: str, index: int) -> str:
    return prefix if index == 0 else f"{prefix}{index}"


def _put_json(entity: dict[str, Any], prefix: str, document: dict | None) -> None:
    parts = _json_parts(document) if document is not None else []
    entity[f"{prefix}Parts"] = len(parts)
    for index, part in enumerate(parts):
        entity[_json_column(prefix, index)] = part


def _get_json(entity: Any, prefix: str) -> dict | None:
    parts = int(entity.get(f"{prefix}Parts") or 0)
    return json.loads("".join(entity[_json_column(prefix, i)] for i in range(parts))) if parts else None


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


def record_keys(key: MeetingKey) -> tuple[str, str]:
    return keys.partition_key(key.tenant_id), keys.meeting_row_key(key.organizer_key, key.external_id)


def index_rows(record: MeetingRecord, *, former: MeetingKey | None = None) -> dict[str, dict[str, Any]]:
    """The index rows this version of the record needs (by row key): its join URL and join meeting id, each in a
    partition of its own. ``former``: the key the record is moved from, which a lookup reads when the record is not
    (yet) under its new key (the index rows of a move are written before the move)."""
    row = keys.meeting_row_key(record.key.organizer_key, record.key.external_id)
    wanted = {}
    if isinstance(record.join_web_url, str) and record.join_web_url:
        wanted[keys.join_url_row_key(record.join_web_url)] = "JoinWebUrl"
    if isinstance(record.join_meeting_id, str) and record.join_meeting_id:
        wanted[keys.join_id_row_key(record.join_meeting_id)] = "JoinMeetingId"
    moved = {"FormerRowKey": keys.meeting_row_key(former.organizer_key, former.external_id)} if former else {}
    return {index: {"PartitionKey": keys.index_partition_key(record.key.tenant_id, index), "RowKey": index,
                    "Kind": kind, "MeetingRowKey": row, **moved, "OrganizerKey": record.key.organizer_key,
                    "ExternalId": record.key.external_id}
            for index, kind in wanted.items()}


def to_entity(record: MeetingRecord, indexes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The record's row; ``indexes``: its ``index_rows`` when the caller has them already."""
    partition, row = record_keys(record.key)
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": row,
        "TenantId": record.key.tenant_id,
        "OrganizerKey": record.key.organizer_key,
        "OrganizerId": record.organizer_id,
        "ExternalId": record.key.external_id,
        "Status": record.status,
        "Kind": record.kind,
        "Fingerprint": record.fingerprint,
        "CorrelationId": record.correlation_id,
        "Source": record.source,
        "LastError": json.dumps(record.last_error, ensure_ascii=True) if record.last_error is not None else None,
        "LeaseOwner": record.lease_owner,
        "SettingsNotApplied": ",".join(record.settings_not_applied) or None,
        "IndexRows": ",".join(index_rows(record) if indexes is None else indexes) or None,
        "CallbackUrl": record.callback_url,
        "CallbackGone": record.callback_gone,
        "CollectAttendance": True if record.collect_attendance else None,
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
        "LeaseExpiresAt": _utc(record.lease_expires_at),
        "CancelledAt": _utc(record.cancelled_at),
    })
    _put_json(entity, "MeetingJson", record.meeting)
    _put_json(entity, "EventJson", record.event)
    entity["EventAsked"] = json.dumps(record.event_asked, ensure_ascii=True) if record.event_asked else None
    return entity


def from_entity(entity: Any) -> MeetingRecord:
    meeting = _get_json(entity, "MeetingJson")
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
        kind=entity.get("Kind") or Kind.CREATE_OR_GET,
        lease_owner=entity.get("LeaseOwner"),
        lease_expires_at=_utc(entity.get("LeaseExpiresAt")),
        settings_not_applied=tuple(filter(None, (entity.get("SettingsNotApplied") or "").split(","))),
        cancelled_at=_utc(entity.get("CancelledAt")),
        indexed=tuple(filter(None, (entity.get("IndexRows") or "").split(","))),
        event=_get_json(entity, "EventJson"),
        event_asked=json.loads(entity["EventAsked"]) if entity.get("EventAsked") else None,
        callback_url=entity.get("CallbackUrl") or None,
        callback_gone=entity.get("CallbackGone") or None,
        collect_attendance=entity.get("CollectAttendance") is True,
    )


def alias_entity(alias: Alias) -> dict[str, Any]:
    return {"PartitionKey": keys.partition_key(alias.tenant_id), "RowKey": keys.alias_row_key(alias.upn),
            "TenantId": alias.tenant_id, "Upn": alias.upn, "ObjectId": alias.object_id}


def alias_from(entity: Any) -> Alias:
    return Alias(entity["TenantId"], entity["Upn"], entity.get("ObjectId"), etag=entity.metadata.get("etag"))


def quota_entity(count: QuotaCount) -> dict[str, Any]:
    return {"PartitionKey": keys.partition_key(count.tenant_id),
            "RowKey": keys.quota_row_key(count.organizer_key, count.month, count.shard), "TenantId": count.tenant_id,
            "OrganizerKey": count.organizer_key, "Month": count.month, "Shard": int(count.shard),
            "Used": int(count.used)}


def quota_from(entity: Any) -> QuotaCount:
    return QuotaCount(entity["TenantId"], entity["OrganizerKey"], entity["Month"], int(entity.get("Used") or 0),
                      etag=entity.metadata.get("etag"), shard=int(entity.get("Shard") or 0))
