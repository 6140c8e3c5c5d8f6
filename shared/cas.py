"""Compare-and-set: the one way a record changes.

Read the row, ask the caller what it should become, write that conditionally (insert when there is no row, replace
on the ETag that was read otherwise), together with what must change with it (an alias, a counter); when another
writer got there first, read again and ask again, a bounded number of times. The same shape as urllib3's single
``Retry`` object instead of a retry loop at every call site.
https://learn.microsoft.com/azure/storage/tables/table-storage-design-for-modification#optimistic-concurrency
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Final

from .errors import ConcurrentUpdate
from .records import MeetingKey, MeetingRecord, RecordExists, RecordModified
from .repository import Alias, MeetingRepository, QuotaChanged, QuotaCount, Written

WRITE_ATTEMPTS = 5


class _Unread:
    pass


UNREAD: Final = _Unread()


@dataclass(frozen=True)
class Commit:
    """A record to write and what must be written with it, all or nothing."""

    record: MeetingRecord
    alias: Alias | None = None
    quota: QuotaCount | None = None


# Given the row as it is now (None: no row), what it should become: a record, or a Commit carrying extras.
# Returning the row unchanged, or None, writes nothing. A change may raise a BrokerError to stop (e.g. the row is in
# a state that forbids the change); it is asked again after every lost race, so it must read what it needs afresh.
Change = Callable[[MeetingRecord | None], "MeetingRecord | Commit | None"]


def compare_and_set(repository: MeetingRepository, key: MeetingKey, change: Change, *,
                    current: MeetingRecord | None | _Unread = UNREAD, attempts: int = WRITE_ATTEMPTS,
                    on_quota_changed: Callable[[], None] | None = None) -> Written | None:
    """Apply ``change`` to the row of ``key`` with optimistic concurrency; what was stored (the row as it is when
    nothing needed writing), or None when there is no row and none was wanted.

    ``current`` is the row as the caller last read it (skips the first read). A counter written with the record that
    changed meanwhile calls ``on_quota_changed`` (to refresh the caller's view) and asks again. An alias that changed
    raises AliasChanged to the caller: the row's key itself may be another now. Raises ConcurrentUpdate when the row
    kept changing under other writers for ``attempts`` rounds.
    """
    for _ in range(attempts):
        if isinstance(current, _Unread):
            current = repository.get(key)
        wanted = change(current)
        if wanted is None or wanted is current:
            return Written(current) if current is not None else None
        commit = wanted if isinstance(wanted, Commit) else Commit(wanted)
        try:
            return repository.commit(commit.record, insert=current is None, alias=commit.alias, quota=commit.quota)
        except RecordExists as exists:  # a concurrent insert won: build on the row it stored
            current = exists.existing
        except RecordModified:          # a concurrent replace or delete won: read what is there now
            current = UNREAD
        except QuotaChanged:            # another request counted meanwhile: count again on the fresh counter
            if on_quota_changed is None:
                raise
            on_quota_changed()
            current = UNREAD
    raise ConcurrentUpdate(f"the record for externalId {key.external_id!r} kept changing under concurrent requests; "
                           "retry")
