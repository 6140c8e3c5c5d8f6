"""Time: the one clock type, the one source of the current time, and UTC date-times as Graph writes them.

Standard library only. ``Clock`` is injected wherever time is read; ``utc_now`` is the only place that reads the
system time.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def utc_now() -> datetime:
    """The process clock: the only place that reads the system time."""
    return datetime.now(timezone.utc)


def parse_datetime(value: str) -> datetime:
    """Parse ISO 8601 with an offset into an aware UTC datetime; ValueError names what is wrong."""
    match = _DATETIME.fullmatch(value)
    if not match:
        raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2026-05-01T09:00:00Z")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if offset == "Z":
        tz = timezone.utc
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("has an offset out of range")
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ValueError("is not a valid calendar date-time") from exc


def format_datetime(value: datetime) -> str:
    """UTC, seven fractional digits and Z, the way Graph writes date-times."""
    v = value.astimezone(timezone.utc)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}."
            f"{v.microsecond:06d}0Z")
