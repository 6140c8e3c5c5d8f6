"""Values every layer shares: the clock, UTC date-times as Graph writes them, and identifiers. Standard library only.

One clock type (``Clock``) and one source of the current time (``utc_now``), injected wherever time is read; one
rule for naming an organizer (``normalize_organizer``); one place that knows where Graph puts the organizer's
object id in a meeting (``organizer_object_id``).
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

Clock = Callable[[], datetime]

# fullmatch and ASCII everywhere: "$" would accept a trailing newline and "\d" any script's digits.
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)
_DOMAIN_PATTERN = r"(?=.{1,253}\Z)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}"
_DOMAIN = re.compile(_DOMAIN_PATTERN, re.ASCII)
# Entra ID user principal names are ASCII ("can't contain accent characters"): a local part of letters, digits and
# the username-policy symbols, and a verified (ASCII) domain. Refusing anything else also refuses look-alikes such as
# U+212A KELVIN SIGN for K, which str.lower() would turn into a plain k after an allowlist check.
# https://learn.microsoft.com/graph/api/resources/user (userPrincipalName)
UPN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.=?^_`{|}~]{1,64}@" + _DOMAIN_PATTERN, re.ASCII)
UPN_RULE = "ASCII letters, digits and !#$%&'*+-.=?^_`{|}~ before the @, a domain name after it"
# ISO 8601 with a mandatory offset and any number of fractional digits (Graph sends seven).
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


def is_guid(value: str) -> bool:
    return bool(_GUID.fullmatch(value))


def is_tenant_id(value: str) -> bool:
    """A tenant is named by its GUID or one of its verified domains."""
    return is_guid(value) or bool(_DOMAIN.fullmatch(value))


def normalize_organizer(organizer_id: str) -> str:
    """The one spelling of an organizer: object ids and UPNs are case-insensitive."""
    return organizer_id.strip().lower()


_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(value: str, limit: int = 256) -> str:
    """Caller-given text made safe to echo: lone surrogates (valid JSON escapes, but not Unicode, so not UTF-8)
    become U+FFFD and the text is cut to ``limit`` characters."""
    cleaned = _SURROGATE.sub("\ufffd", value)
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "\u2026"


def has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def organizer_object_id(meeting: Mapping[str, Any] | None) -> str | None:
    """The organizer's object id as Graph names it in an onlineMeeting (``participants.organizer.identity.user.id``),
    normalized."""
    value: Any = meeting
    for step in ("participants", "organizer", "identity", "user", "id"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return normalize_organizer(value) if isinstance(value, str) and value else None
