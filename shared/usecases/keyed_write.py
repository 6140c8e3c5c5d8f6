"""Compare-and-set: the one way a record changes.

Read the row, ask the caller what it should become, write that conditionally (insert when there is no row, replace
on the ETag that was read otherwise), together with what must change with it (an alias, a counter); when another
writer got there first, read again and ask again, a bounded number of times. The same shape as urllib3's single
``Retry`` object instead of a retry loop at every call site.

Two rules hold for every writer because they are enforced here, not in each use case:
- a tombstone always wins: no change turns a cancelled row into anything else (``MeetingCancelled``, 409);
- a row whose change claim another request holds (``claim``) is not changed by anyone else until it is released or
  expires: the claimant calls Graph and writes Graph's answer, so the row follows Graph change by change.
https://learn.microsoft.com/azure/storage/tables/table-storage-design-for-modification#optimistic-concurrency
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Final

from shared.domain.errors import BrokerError, ChangeInProgress, ConcurrentUpdate, MeetingCancelled
from shared.domain.records import MeetingKey, MeetingRecord, RecordExists, RecordModified, Status
from shared.domain.clock import format_datetime
from shared.ports import Alias, MeetingRepository, QuotaChanged, QuotaCount, Written

WRITE_ATTEMPTS = 5
# How long a request holds a key while it calls Graph (a plain create, or a change): longer than the Graph adapter
# spends on one operation with its retries in the common case; a holder that died is taken over after it.
LEASE = timedelta(seconds=60)


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
        if current is not None and current.cancelled and commit.record.status != Status.CANCELLED:
            raise tombstone(current, status=409)  # whatever the writer believed when it started
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


def tombstone(record: MeetingRecord, *, status: int) -> MeetingCancelled:
    """The answer for a key whose meeting was cancelled: 409 to a request that would make or replace its meeting,
    410 to a lookup or a change."""
    when = format_datetime(record.cancelled_at) if record.cancelled_at else None
    return MeetingCancelled(f"this externalId's meeting was cancelled{f' at {when}' if when else ''}; a cancelled "
                            "key stays cancelled: use a new externalId for a new meeting", cancelled_at=when,
                            status=status)


def claim(repository: MeetingRepository, key: MeetingKey, check: Callable[[MeetingRecord | None], bool], *,
          owner: str, now: datetime, current: MeetingRecord | None | _Unread = UNREAD) -> MeetingRecord:
    """Take the key's change claim before a change is sent to Graph, so that changes of one key are applied one at a
    time and each is decided on the row as Graph last answered it.

    ``check(row)`` runs the request's rules on the row as it is now, raising what the request must answer (404, 410,
    412 for an ``If-Match`` that names another version, ...), and says whether Graph must be called. A claim that
    another request holds answers ``ChangeInProgress`` (409, retryable); no change needed: the row is returned
    unclaimed and nothing is written. The claim is written on the ETag that ``check`` saw, so of two requests that
    read the same version, one claims it and the other is asked again on the claimed row (where an ``If-Match`` no
    longer matches). The claimed row holds ``owner`` in its lease; ``release`` gives it up, ``unclaimed`` clears it
    in the write that records Graph's answer.
    """
    def take(row: MeetingRecord | None) -> MeetingRecord:
        needed = check(row)
        assert row is not None, "check must refuse a missing row"
        if row.leased_by_other(owner, now):
            assert row.lease_expires_at is not None
            raise ChangeInProgress(
                "another change of this meeting is being applied; retry once it is done",
                retry_after=max(1.0, min((row.lease_expires_at - now).total_seconds(), LEASE.total_seconds())))
        if not needed:
            return row
        return dataclasses.replace(row, lease_owner=owner, lease_expires_at=now + LEASE)

    written = compare_and_set(repository, key, take, current=current)
    assert written is not None
    return written.record


def unclaimed(row: MeetingRecord, owner: str) -> MeetingRecord:
    """``row`` without ``owner``'s claim (a claim someone took over after expiry stays theirs)."""
    if row.lease_owner != owner:
        return row
    return dataclasses.replace(row, lease_owner=None, lease_expires_at=None)


def release(repository: MeetingRepository, key: MeetingKey, owner: str) -> None:
    """Give up a claim whose change failed. Best effort: an unreleased claim expires."""
    def free(row: MeetingRecord | None) -> MeetingRecord | None:
        return unclaimed(row, owner) if row is not None else None

    try:
        compare_and_set(repository, key, free)
    except BrokerError:
        pass
