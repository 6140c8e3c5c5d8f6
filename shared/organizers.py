"""Who an organizer is in the table: rows live under the organizer's object id.

A caller may name the organizer by UPN. Graph's answer tells the object id, which the table remembers as an alias
(UPN -> object id) and this process caches: a user's object id never changes, so the cache needs no expiry, only a
bound. Until the alias is known, a request named by UPN can only be keyed by the UPN; two rules keep such rows from
being orphaned once the alias is learned:

1. whoever first records an alias moves the rows keyed by that UPN onto the object id (``learn``), and
2. whoever writes a row keyed by a UPN checks the alias afterwards and moves its own row if the alias appeared
   meanwhile (``settle``).

Either the row exists before the alias (rule 1 sees it) or after (rule 2 sees the alias): no row is left behind.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict

from .cas import WRITE_ATTEMPTS, compare_and_set
from .records import MeetingKey, MeetingRecord, MeetingRepository, RecordModified
from .values import normalize_organizer

log = logging.getLogger(__name__)


class OrganizerDirectory:
    def __init__(self, repository: MeetingRepository, *, capacity: int = 10_000) -> None:
        self._repository = repository
        self._capacity = capacity
        self._aliases: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, tenant: str, organizer_id: str, external_id: str) -> MeetingKey:
        """The row key of a request: the object id when the organizer is one or its UPN's alias is known."""
        return MeetingKey(tenant, self.resolve(tenant, organizer_id), external_id)

    def resolve(self, tenant: str, organizer_id: str) -> str:
        organizer = normalize_organizer(organizer_id)
        if "@" not in organizer:
            return organizer
        cached = self._cached(tenant, organizer)
        if cached is not None:
            return cached
        object_id = self._repository.get_alias(tenant, organizer)
        if object_id is None:
            return organizer
        self._remember(tenant, organizer, object_id)
        return object_id

    def learn(self, tenant: str, upn: str, object_id: str) -> None:
        """Graph named the object id of ``upn``: record the alias, then move any rows keyed by the UPN (rule 1)."""
        upn, object_id = normalize_organizer(upn), normalize_organizer(object_id)
        if self._cached(tenant, upn) == object_id:
            return
        self._repository.put_alias(tenant, upn, object_id)
        self._remember(tenant, upn, object_id)
        for record in self._repository.rows_of(tenant, upn):
            self._move(record, object_id)

    def settle(self, record: MeetingRecord) -> MeetingRecord:
        """After writing a row keyed by a UPN: if the alias is known by now, move the row (rule 2)."""
        upn = record.key.organizer_key
        if "@" not in upn:
            return record
        object_id = self._cached(record.key.tenant_id, upn) or self._repository.get_alias(record.key.tenant_id, upn)
        if object_id is None:
            return record
        self._remember(record.key.tenant_id, upn, object_id)
        return self._move(record, object_id)

    def _move(self, record: MeetingRecord, object_id: str) -> MeetingRecord:
        """The row keyed by a UPN, onto the object id. The object-id row wins when it exists (rows keyed by a UPN
        never hold a meeting: a meeting is always recorded under the object id Graph answered with)."""
        target = MeetingKey(record.key.tenant_id, object_id, record.key.external_id)
        moved: MeetingRecord | None = None
        source: MeetingRecord | None = record
        for _ in range(WRITE_ATTEMPTS):
            if source is None:
                break
            snapshot = source
            moved = compare_and_set(self._repository, target,
                                    lambda current: current or dataclasses.replace(snapshot, key=target, etag=None),
                                    current=None)
            try:
                self._repository.delete(snapshot.key, etag=snapshot.etag)
                break
            except RecordModified:  # its writer changed it meanwhile: the object-id row stands; delete the newer one
                source = self._repository.get(snapshot.key)
        log.info("record keyed by a UPN moved to the organizer's object id externalId=%r", record.key.external_id)
        return moved or record

    def _cached(self, tenant: str, upn: str) -> str | None:
        with self._lock:
            object_id = self._aliases.get((tenant, upn))
            if object_id is not None:
                self._aliases.move_to_end((tenant, upn))
            return object_id

    def _remember(self, tenant: str, upn: str, object_id: str) -> None:
        with self._lock:
            self._aliases[(tenant, upn)] = object_id
            self._aliases.move_to_end((tenant, upn))
            while len(self._aliases) > self._capacity:
                self._aliases.popitem(last=False)
