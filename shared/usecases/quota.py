"""The organizer's monthly quota (Graph allows about 2,000 meetings an organizer a month): a create takes its place in
one of ``QUOTA_SHARDS`` counter rows before it calls Graph, and gives it back when Graph created nothing
(docs/architecture.md, "The record").
"""
from __future__ import annotations

import dataclasses
import math
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared.domain.errors import ConcurrentUpdate, OrganizerQuotaExceeded
from shared.ports import QUOTA_SHARDS, MeetingRepository, QuotaChanged, QuotaCount, QuotaCounts
from shared.domain.clock import Clock

VIEW_TTL = timedelta(seconds=30)
WARN_FROM = 0.9          # answers and results carry the figures from 90% of the limit
RESERVE_ATTEMPTS = 3 * QUOTA_SHARDS
_STRIDE = 7  # coprime with QUOTA_SHARDS: successive attempts start on different shards


def month_of(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


def next_month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def share(limit: int, shard: int) -> int:
    """The part of ``limit`` that ``shard`` may hold: the shares of all shards add up to the limit."""
    return limit // QUOTA_SHARDS + (1 if shard < limit % QUOTA_SHARDS else 0)


def home_shard(external_id: str) -> int:
    """Where a create looks for its place first, so that concurrent creates spread over the shards."""
    return zlib.crc32(external_id.encode("utf-8", "surrogatepass")) % QUOTA_SHARDS


@dataclass(frozen=True)
class Ticket:
    """A create admitted under the quota: ``reserved`` when its place is taken already (in ``shard``)."""

    count: QuotaCounts | None  # None: no limit, or the organizer's object id is not known yet
    reserved: bool = False
    shard: int = 0


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

    def admit(self, tenant: str, organizer_key: str, external_id: str = "") -> Ticket:
        """Before a create calls Graph: its place taken (a reservation), or OrganizerQuotaExceeded at the limit. An
        organizer named by a UPN not known yet is admitted unreserved: ``counted`` takes its place with its record."""
        if not self._limit or "@" in organizer_key:  # off, or counted under the object id once Graph names it
            return Ticket(None)
        counts = self.view(tenant, organizer_key)
        for attempt in range(RESERVE_ATTEMPTS):
            place = self._place(counts, external_id, attempt)
            try:
                self.written(self._repository.put_quota(dataclasses.replace(place, used=place.used + 1)))
                return Ticket(self.view(tenant, organizer_key), reserved=True, shard=place.shard)
            except QuotaChanged:
                counts = self.view(tenant, organizer_key, fresh=True)
        raise ConcurrentUpdate(f"the monthly count of organizer {organizer_key} kept changing under concurrent "
                               "creates; retry")

    def counted(self, ticket: Ticket, tenant: str, organizer_key: str, external_id: str, *,
                created: bool) -> QuotaCount | None:
        """The counter shard to write with the record of a create that took no place before (its organizer's object
        id was not known): +1 in a shard with room, or OrganizerQuotaExceeded. None when the create made nothing or
        its reservation counted it already (a reservation whose create made nothing is given back by ``give_back``).
        """
        if not self._limit or ticket.reserved or not created:
            return None
        place = self._place(self.view(tenant, organizer_key), external_id)
        return dataclasses.replace(place, used=place.used + 1)

    def _place(self, counts: QuotaCounts, external_id: str, attempt: int = 0) -> QuotaCount:
        """A shard with room under its share, looked for from the create's home shard (moved on after each lost race,
        so that identical concurrent requests do not keep meeting on one row); OrganizerQuotaExceeded when the
        organizer is at the limit."""
        if counts.used < self._limit:
            first = home_shard(external_id) + attempt * _STRIDE
            for step in range(QUOTA_SHARDS):
                shard = counts.shards[(first + step) % QUOTA_SHARDS]
                if shard.used < share(self._limit, shard.shard):
                    return shard
        raise self._exceeded(counts)

    def give_back(self, ticket: Ticket) -> None:
        """A reserved place whose create made no meeting. Best effort: failing, the counter is one too high, which
        errs on the side of the limit."""
        if ticket.reserved and ticket.count is not None:
            for _ in range(RESERVE_ATTEMPTS):
                taken = self.view(ticket.count.tenant_id, ticket.count.organizer_key, fresh=True).shards[ticket.shard]
                try:
                    self.written(self._repository.put_quota(dataclasses.replace(taken, used=max(0, taken.used - 1))))
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

    def highest_ratio(self) -> float | None:
        """The highest share of the limit used by an organizer this process saw this month (a gauge's value); None
        without a limit or before any count was seen."""
        month = month_of(self._clock())
        with self._lock:
            used = [counts.used for (_, _, seen), (counts, _) in self._views.items() if seen == month]
        return max(used) / self._limit if used and self._limit else None

    def _exceeded(self, count: QuotaCounts) -> OrganizerQuotaExceeded:
        now = self._clock()
        resets = next_month_start(now)
        return OrganizerQuotaExceeded(
            f"organizer {count.organizer_key} has {count.used} meetings created by this broker in {count.month}, "
            f"the limit (MONTHLY_MEETING_LIMIT) is {self._limit}; the count starts again at "
            f"{resets.isoformat().replace('+00:00', 'Z')}",
            retry_after=(resets - now).total_seconds(), extra={"quota": {"used": count.used, "limit": self._limit}})
