"""The one way a record changes: compare-and-set on the row of a key, with the organizer alias protocol inside.

Read the row, ask the caller what it should become, write that conditionally (insert when there is no row, replace on
the ETag that was read), with what must change with it (an alias, a counter); a lost race reads again and asks again.
A tombstone always wins, and a row whose change claim another request holds is changed by nobody else
(docs/architecture.md, "The record").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Final

from shared.domain.errors import BrokerError, ChangeInProgress, ConcurrentUpdate, MeetingCancelled
from shared.domain.records import MeetingKey, MeetingRecord, RecordExists, RecordModified, Status
from shared.domain.clock import format_datetime
from shared.ports import Alias, AliasChanged, MeetingRepository, QuotaChanged, QuotaCount, Written
from shared.usecases.organizers import OrganizerDirectory

WRITE_ATTEMPTS = 5
# Re-keyings onto a UPN's learned object id before ConcurrentUpdate. In a burst of first requests by one new UPN each
# request that wins changes the alias row once (placeholder, learned object id), so a request may lose about once per
# other request of the burst: 3 answered 409 concurrent_update to some of 8 at once (tests/e2e/test_races_e2e.py).
ALIAS_ATTEMPTS = 8
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
# The same, told the key it is asked about: after a re-keying (``Records.write``) that is another key than the first.
KeyedChange = Callable[[MeetingRecord | None, MeetingKey], "MeetingRecord | Commit | None"]


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


class Records:
    """The records of requests' keys, changed only through ``write``, which keeps the organizer alias protocol
    (``shared.usecases.organizers``) so that no use case has to:

    - a new row keyed by a UPN is inserted with the alias placeholder (the alias row says rows keyed by it exist);
    - a write that ``learns`` a UPN's object id carries the alias;
    - when the alias changed since it was read (``AliasChanged``: the object id was learned meanwhile, and rows keyed
      by the UPN moved onto it), the UPN is read again, the key resolved again and the change asked again there.
    """

    def __init__(self, repository: MeetingRepository, organizers: OrganizerDirectory) -> None:
        self.repository = repository
        self.organizers = organizers

    def key(self, tenant: str, organizer_id: str, external_id: str) -> MeetingKey:
        """Rows live under the organizer's object id; a UPN is translated with what Graph told us before."""
        return self.organizers.key(tenant, organizer_id, external_id)

    def get(self, key: MeetingKey) -> MeetingRecord | None:
        return self.repository.get(key)

    def write(self, key: MeetingKey, change: KeyedChange, *, current: MeetingRecord | None | _Unread = UNREAD,
              learns: str | None = None, on_quota_changed: Callable[[], None] | None = None) -> Written | None:
        """``compare_and_set`` of ``change`` on the row of ``key`` under the alias protocol; ``learns``: the UPN whose
        object id the written record names (``key`` is then keyed by that object id)."""
        for _ in range(ALIAS_ATTEMPTS):
            try:
                alias = self.organizers.learned(key.tenant_id, learns, key.organizer_key) \
                    if learns is not None and learns != key.organizer_key else None
                written = compare_and_set(self.repository, key, self._aliased(key, change, alias), current=current,
                                          on_quota_changed=on_quota_changed)
            except AliasChanged:
                for upn in {learns, key.organizer_key} - {None}:
                    self.organizers.forget(key.tenant_id, str(upn))
                key, current = self.key(key.tenant_id, key.organizer_key, key.external_id), UNREAD
                continue
            if written is not None:
                self.organizers.remember(written.alias)
            return written
        raise ConcurrentUpdate(f"the organizer's alias kept changing for externalId {key.external_id!r}; retry")

    def _aliased(self, key: MeetingKey, change: KeyedChange, alias: Alias | None) -> Change:
        def aliased(row: MeetingRecord | None) -> MeetingRecord | Commit | None:
            wanted = change(row, key)
            if wanted is None or wanted is row:
                return wanted
            commit = wanted if isinstance(wanted, Commit) else Commit(wanted)
            if alias is not None:
                return dataclasses.replace(commit, alias=alias)
            if row is None and commit.alias is None:
                return dataclasses.replace(commit, alias=self.organizers.placeholder(key))
            return commit
        return aliased

    def claim(self, key: MeetingKey, check: Callable[[MeetingRecord | None], bool], *, owner: str, now: datetime,
              current: MeetingRecord | None | _Unread = UNREAD) -> MeetingRecord:
        return claim(self.repository, key, check, owner=owner, now=now, current=current)

    def release(self, key: MeetingKey, owner: str) -> None:
        release(self.repository, key, owner)
