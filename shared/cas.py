"""Compare-and-set: the one way a record changes.

Read the row, ask the caller what it should become, write that conditionally (insert when there is no row, replace
on the ETag that was read otherwise); when another writer got there first, read again and ask again, a bounded number
of times. The same shape as urllib3's single ``Retry`` object instead of a retry loop at every call site.
https://learn.microsoft.com/azure/storage/tables/table-storage-design-for-modification#optimistic-concurrency
"""
from __future__ import annotations

from typing import Callable, Final

from .errors import ConcurrentUpdate
from .records import MeetingKey, MeetingRecord, MeetingRepository, RecordExists, RecordModified

WRITE_ATTEMPTS = 5


class _Unread:
    pass


UNREAD: Final = _Unread()

# Given the row as it is now (None: no row), the row it should become. Returning the row unchanged, or None, writes
# nothing. A change may raise a BrokerError to stop (e.g. the row is in a state that forbids the change).
Change = Callable[[MeetingRecord | None], MeetingRecord | None]


def compare_and_set(repository: MeetingRepository, key: MeetingKey, change: Change, *,
                    current: MeetingRecord | None | _Unread = UNREAD,
                    attempts: int = WRITE_ATTEMPTS) -> MeetingRecord | None:
    """Apply ``change`` to the row of ``key`` with optimistic concurrency; the row as stored afterwards.

    ``current`` is the row as the caller last read it (skips the first read). Raises ConcurrentUpdate when the row
    kept changing under other writers for ``attempts`` rounds.
    """
    for _ in range(attempts):
        if isinstance(current, _Unread):
            current = repository.get(key)
        wanted = change(current)
        if wanted is None or wanted is current:
            return current
        try:
            return repository.insert(wanted) if current is None else repository.replace(wanted)
        except RecordExists as exists:  # a concurrent insert won: build on the row it stored
            current = exists.existing
        except RecordModified:          # a concurrent replace or delete won: read what is there now
            current = UNREAD
    raise ConcurrentUpdate(f"the record for externalId {key.external_id!r} kept changing under concurrent requests; "
                           "retry")
