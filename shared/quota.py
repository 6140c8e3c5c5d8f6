"""The organizer's monthly quota: Graph allows each organizer about 2,000 meetings a month, so the broker counts the
meetings it creates per (tenant, organizer, UTC month) and refuses a create at the limit before calling Graph.

The count is exact: every meeting Graph created for a request is counted in the same atomic write that records it
(a repeat, or createOrGet answering with an existing meeting, does not count), in one of ``QUOTA_SHARDS`` counter
rows chosen by its externalId, so that concurrent creates for one organizer rarely write the same row. The refusal is
strict within the last tenth of the limit: there a create reserves its place in shard 0 (a conditional write, so
reservations are serialised) before it calls Graph, so concurrent creates can never pass the limit, and gives it back
when Graph created nothing. Below that, a create checks a view of the counter (every shard, one read) at most
``VIEW_TTL`` old and counts with its record, so the common case costs no extra round trip; the view could only
mislead if other instances created more than a tenth of the limit for the same organizer within that time.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .errors import OrganizerQuotaExceeded
from .repository import QUOTA_SHARDS, MeetingRepository, QuotaChanged, QuotaCount, QuotaCounts
from .values import Clock

VIEW_TTL = timedelta(seconds=30)
WARN_FROM = 0.9          # answers and results carry the figures from 90% of the limit
RESERVE_ATTEMPTS = 10


def month_of(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


def next_month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Ticket:
    """A create admitted under the quota: ``reserved`` when its place is already counted (the strict region)."""

    count: QuotaCounts | None  # None: no limit, or the organizer's object id is not known yet
    reserved: bool = False


class QuotaBook:
    def __init__(self, repository: MeetingRepository, limit: int, clock: Clock) -> None:
        self._repository = repository
        self._limit = limit
        self._clock = clock
        self._views: dict[tuple[str, str, str], tuple[QuotaCounts, datetime]] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    def admit(self, tenant: str, organizer_key: str) -> Ticket:
        """Before a create calls Graph: OrganizerQuotaExceeded at the limit; a reservation in the strict region."""
        if not self._limit or "@" in organizer_key:  # off, or counted under the object id once Graph names it
            return Ticket(None)
        counts = self.view(tenant, organizer_key)
        for _ in range(RESERVE_ATTEMPTS):
            if counts.used >= self._limit:
                raise self._exceeded(counts)
            if counts.used < self._limit - self._margin:
                return Ticket(counts)
            try:  # the strict region: take the place (in shard 0) before calling Graph
                strict = counts.shards[0]
                self.written(self._repository.put_quota(dataclasses.replace(strict, used=strict.used + 1)))
                return Ticket(self.view(tenant, organizer_key), reserved=True)
            except QuotaChanged:
                counts = self.view(tenant, organizer_key, fresh=True)
        raise self._exceeded(counts)

    def counted(self, ticket: Ticket, tenant: str, organizer_key: str, external_id: str, *,
                created: bool) -> QuotaCount | None:
        """The counter shard to write with the record of a create: +1 for a meeting Graph created, in the shard of
        its externalId (None when a reservation counted it already; a reservation whose create made nothing is given
        back by ``give_back``)."""
        if not self._limit or ticket.reserved or not created:
            return None
        shard = 1 + zlib.crc32(external_id.encode("utf-8", "surrogatepass")) % (QUOTA_SHARDS - 1)
        current = self.view(tenant, organizer_key).shards[shard]
        return dataclasses.replace(current, used=current.used + 1)

    def give_back(self, ticket: Ticket) -> None:
        """A reserved place whose create made no meeting. Best effort: failing, the counter is one too high, which
        errs on the side of the limit."""
        if ticket.reserved and ticket.count is not None:
            for _ in range(RESERVE_ATTEMPTS):
                strict = self.view(ticket.count.tenant_id, ticket.count.organizer_key, fresh=True).shards[0]
                try:
                    self.written(self._repository.put_quota(dataclasses.replace(strict, used=max(0, strict.used - 1))))
                    return
                except QuotaChanged:
                    continue

    def view(self, tenant: str, organizer_key: str, *, fresh: bool = False) -> QuotaCounts:
        month, now = month_of(self._clock()), self._clock()
        with self._lock:
            kept = self._views.get((tenant, organizer_key, month))
        if kept is not None and not fresh and now - kept[1] <= VIEW_TTL:
            return kept[0]
        counts = self._repository.get_quota(tenant, organizer_key, month)
        with self._lock:
            self._views[(tenant, organizer_key, month)] = (counts, now)
        return counts

    def refresh(self, tenant: str, organizer_key: str) -> None:
        self.view(tenant, organizer_key, fresh=True)

    def written(self, count: QuotaCount | None) -> None:
        """A shard as just written: the view takes it (keeping its age: the other shards are no fresher)."""
        if count is None:
            return
        key = (count.tenant_id, count.organizer_key, count.month)
        with self._lock:
            kept = self._views.get(key)
            if kept is not None:
                self._views[key] = (kept[0].with_shard(count), kept[1])

    def figures(self, tenant: str, organizer_key: str) -> dict[str, int] | None:
        """``{"used", "limit"}`` from 90% of the limit, from what this process last saw of the counter (no read);
        None below, without a limit, or when it has not seen the counter."""
        if not self._limit:
            return None
        with self._lock:
            kept = self._views.get((tenant, organizer_key, month_of(self._clock())))
        if kept is None or kept[0].used < math.ceil(self._limit * WARN_FROM):
            return None
        return {"used": kept[0].used, "limit": self._limit}

    @property
    def _margin(self) -> int:
        return max(1, math.ceil(self._limit * (1 - WARN_FROM)))

    def _exceeded(self, count: QuotaCounts) -> OrganizerQuotaExceeded:
        now = self._clock()
        resets = next_month_start(now)
        return OrganizerQuotaExceeded(
            f"organizer {count.organizer_key} has {count.used} meetings created by this broker in {count.month}, "
            f"the limit (MONTHLY_MEETING_LIMIT) is {self._limit}; the count starts again at "
            f"{resets.isoformat().replace('+00:00', 'Z')}",
            retry_after=(resets - now).total_seconds(), extra={"quota": {"used": count.used, "limit": self._limit}})
