"""Who an organizer is in the table: rows live under the organizer's object id, and a UPN is translated through the
alias the table keeps (UPN -> object id), cached in the process. The alias protocol: docs/architecture.md, "The
record".
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict

from shared.domain.errors import ConcurrentUpdate
from shared.domain.records import MeetingKey, RecordExists, RecordModified
from shared.ports import MAX_MOVES, Alias, AliasChanged, MeetingRepository
from shared.domain.identifiers import normalize_organizer

log = logging.getLogger(__name__)
# Reads and writes of one alias before ConcurrentUpdate. Each new row keyed by the UPN rewrites its placeholder, so
# moving the rows loses a round to each of them: a burst of N first requests by one UPN needs up to N rounds (as
# ``keyed_write.ALIAS_ATTEMPTS``).
LEARN_ATTEMPTS = 12


class OrganizerDirectory:
    def __init__(self, repository: MeetingRepository, *, capacity: int = 10_000) -> None:
        self._repository = repository
        self._capacity = capacity
        self._aliases: OrderedDict[tuple[str, str], Alias] = OrderedDict()   # learned: object id known
        self._unknown: dict[tuple[str, str], Alias | None] = {}              # last read of a UPN not learned yet
        self._lock = threading.Lock()

    def key(self, tenant: str, organizer_id: str, external_id: str) -> MeetingKey:
        """The row key of a request: the object id when the organizer is one or its UPN's alias is known."""
        return MeetingKey(tenant, self.resolve(tenant, organizer_id), external_id)

    def resolve(self, tenant: str, organizer_id: str) -> str:
        organizer = normalize_organizer(organizer_id)
        if "@" not in organizer:
            return organizer
        with self._lock:
            known = self._aliases.get((tenant, organizer))
            if known is not None:
                self._aliases.move_to_end((tenant, organizer))
                return str(known.object_id)
        alias = self._repository.get_alias(tenant, organizer)
        if alias is not None and alias.object_id:
            self._remember(alias)
            return alias.object_id
        with self._lock:
            self._unknown[(tenant, organizer)] = alias
            while len(self._unknown) > self._capacity:
                self._unknown.pop(next(iter(self._unknown)))
        return organizer

    def nothing_keyed_by(self, key: MeetingKey) -> bool:
        """True when no row can exist under ``key``: it is keyed by a UPN whose alias row was just read as missing,
        and every row keyed by a UPN is written together with its alias row (a placeholder). Saves a read."""
        if "@" not in key.organizer_key:
            return False
        with self._lock:
            return (key.tenant_id, key.organizer_key) in self._unknown and \
                self._unknown[(key.tenant_id, key.organizer_key)] is None

    def placeholder(self, key: MeetingKey) -> Alias | None:
        """The alias row to write with a new row keyed by a UPN (None for a row keyed by an object id)."""
        upn = key.organizer_key
        if "@" not in upn:
            return None
        read = self._last_read(key.tenant_id, upn)
        if read is not None and read.object_id:  # learned meanwhile: rows of this organizer go under the object id
            raise AliasChanged(f"the object id of {upn} is known now")
        return Alias(key.tenant_id, upn, None, etag=read.etag if read is not None else None)

    def learned(self, tenant: str, upn: str, object_id: str) -> Alias | None:
        """Graph named the object id of ``upn``: the alias to write with the first record under the object id, or
        None when it needs no writing (known already, or written here together with moving the rows keyed by the
        UPN onto the object id)."""
        upn, object_id = normalize_organizer(upn), normalize_organizer(object_id)
        with self._lock:
            known = self._aliases.get((tenant, upn))
        if known is not None and known.object_id == object_id:
            return None
        for _ in range(LEARN_ATTEMPTS):
            read = self._last_read(tenant, upn)
            if read is not None and read.object_id == object_id:
                self._remember(read)
                return None
            if read is None or read.object_id is not None:  # nothing keyed by the UPN, or another object id
                return Alias(tenant, upn, object_id, etag=read.etag if read is not None else None)
            try:  # a placeholder: rows keyed by the UPN exist; they move in the write that learns the alias
                self._adopt(Alias(tenant, upn, object_id, etag=read.etag))
                return None
            except (AliasChanged, RecordModified, RecordExists):
                self.forget(tenant, upn)
        raise ConcurrentUpdate(f"the rows of organizer {upn} kept changing while its object id was recorded; retry")

    def _adopt(self, alias: Alias) -> None:
        rows = self._repository.rows_of(alias.tenant_id, alias.upn)
        moves = []
        for row in rows:
            target = MeetingKey(row.key.tenant_id, str(alias.object_id), row.key.external_id)
            stands = self._repository.get(target) is not None  # the object id's row wins when it exists
            moves.append((row, None if stands else dataclasses.replace(row, key=target, etag=None, indexed=())))
        written = self._repository.learn_alias(alias, moves[:MAX_MOVES])
        for start in range(MAX_MOVES, len(moves), MAX_MOVES):  # learned already: no new row keyed by the UPN
            written = self._repository.learn_alias(written, moves[start:start + MAX_MOVES])
        self._remember(written)
        log.info("organizer %s learned: %d rows keyed by the UPN moved to the object id", alias.upn, len(moves))

    def remember(self, alias: Alias | None) -> None:
        """An alias was written (or seen): cache it when it names an object id, else keep it as the last read."""
        if alias is None:
            return
        if alias.object_id:
            self._remember(alias)
        else:
            with self._lock:
                self._unknown[(alias.tenant_id, normalize_organizer(alias.upn))] = alias

    def forget(self, tenant: str, upn: str) -> None:
        """The alias changed since it was read: read it again next time."""
        with self._lock:
            self._unknown.pop((tenant, normalize_organizer(upn)), None)

    def _last_read(self, tenant: str, upn: str) -> Alias | None:
        with self._lock:
            if (tenant, upn) in self._unknown:
                return self._unknown[(tenant, upn)]
        alias = self._repository.get_alias(tenant, upn)
        if alias is not None and alias.object_id:
            self._remember(alias)
        else:
            with self._lock:
                self._unknown[(tenant, upn)] = alias
        return alias

    def _remember(self, alias: Alias) -> None:
        key = (alias.tenant_id, normalize_organizer(alias.upn))
        with self._lock:
            self._unknown.pop(key, None)
            self._aliases[key] = alias
            self._aliases.move_to_end(key)
            while len(self._aliases) > self._capacity:
                self._aliases.popitem(last=False)
