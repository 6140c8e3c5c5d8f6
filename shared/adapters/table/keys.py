"""Table keys built from arbitrary caller strings.

One partition per tenant (``t|<tenant id>``) holds that tenant's meetings, so that a meeting, its organizer's monthly
counter and a learned UPN alias change together in one entity-group transaction (atomic, one round trip):
https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions
Row keys: ``m|<organizer>|<externalId>`` (a meeting), ``a|<upn>`` (an alias), ``q|<organizer object id>|<yyyy-mm>``
(a counter). The index rows that find a meeting by join link, ``j|<sha256 of the join URL>`` and ``n|<join meeting
id>``, are never written in a transaction: each is in a partition of its own (``t|<tenant id>|<index row key>``), so
that they do not add to the tenant partition's load (index rows written before that are still read from the tenant
partition).

PartitionKey and RowKey may not contain ``/ \\ # ?`` or control characters (U+0000-U+001F, U+007F-U+009F) and are
at most 1 KiB: https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model
Each part is percent-escaped (the UTF-8 bytes of the forbidden characters, of ``%`` and of our ``|`` separator), so
distinct inputs give distinct keys and the key stays readable in Storage Explorer. A part that would grow past
``MAX_PART_LENGTH`` is replaced by ``%%`` + its SHA-256; escaped parts never contain ``%%``, so the two forms cannot
collide. Hashed parts cannot be decoded: the repository always keeps the raw values as properties.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from shared.domain.identifiers import normalize_organizer

SEPARATOR = "|"
# Measured in UTF-16 code units, as the Table service counts characters: two parts of 250 and their prefixes keep a
# row key within 1 KiB whichever way the limit is read (1,024 characters or 1,024 bytes of UTF-16).
MAX_PART_LENGTH = 250
HASH_PREFIX = "%%"

_ESCAPED = frozenset("/\\#?%" + SEPARATOR) | frozenset(map(chr, range(0x00, 0x20))) | frozenset(map(chr, range(0x7F, 0xA0)))
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-F]{2})+")
_NEEDS_ESCAPE = re.compile("[" + re.escape("".join(sorted(_ESCAPED))) + "]")


def _utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def encode_key_part(value: str) -> str:
    """Escape ``value`` for use in a table key, or hash it when the escaped form would be too long."""
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: not text the Table service can store
        raise ValueError("a key part must be valid Unicode text (it contains a lone surrogate)") from exc
    escaped = "".join(_escape(c) if c in _ESCAPED else c for c in value) if _NEEDS_ESCAPE.search(value) else value
    if len(escaped) * 2 > MAX_PART_LENGTH and _utf16_length(escaped) > MAX_PART_LENGTH:  # at most 2 units a char
        return HASH_PREFIX + hashlib.sha256(raw).hexdigest()
    return escaped


def decode_key_part(part: str) -> str:
    """Reverse ``encode_key_part`` for an escaped part; a hashed part raises ValueError."""
    if part.startswith(HASH_PREFIX):
        raise ValueError("a hashed key part cannot be decoded; read the raw value from the entity")
    if "%" in _ESCAPE_RUN.sub("", part):
        raise ValueError(f"malformed escape in key part {part!r}")
    return _ESCAPE_RUN.sub(lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8"), part)


def partition_key(tenant_id: str) -> str:
    return f"t{SEPARATOR}{encode_key_part(tenant_id)}"


def index_partition_key(tenant_id: str, index_row: str) -> str:
    """The partition of one index row (``join_url_row_key`` or ``join_id_row_key``): the row alone in it."""
    return f"{partition_key(tenant_id)}{SEPARATOR}{index_row}"


def meeting_row_key(organizer_key: str, external_id: str) -> str:
    return f"m{SEPARATOR}{encode_key_part(organizer_key)}{SEPARATOR}{encode_key_part(external_id)}"


def organizer_row_range(organizer_key: str) -> tuple[str, str]:
    """The row keys of one organizer key's meetings: ``ge`` the first, ``lt`` the second (``}`` follows ``|``)."""
    prefix = f"m{SEPARATOR}{encode_key_part(organizer_key)}{SEPARATOR}"
    return prefix, prefix[:-1] + "}"


def alias_row_key(upn: str) -> str:
    return f"a{SEPARATOR}{encode_key_part(normalize_organizer(upn))}"


def quota_row_key(organizer_key: str, month: str, shard: int = 0) -> str:
    """Shard 0 is ``q|<organizer>|<yyyy-mm>``, the others add ``|<nn>``: one range holds every shard."""
    base = f"q{SEPARATOR}{encode_key_part(organizer_key)}{SEPARATOR}{month}"
    return base if shard == 0 else f"{base}{SEPARATOR}{shard:02d}"


def quota_row_range(organizer_key: str, month: str) -> tuple[str, str]:
    """RowKey bounds (inclusive, exclusive) of every shard of one organizer's month."""
    base = quota_row_key(organizer_key, month)
    return base, base + chr(ord(SEPARATOR) + 1)


def normalize_join_url(url: str) -> str:
    """A join URL in one spelling: scheme and host lower-case, path and query percent-decoded (Teams writes
    ``19%3ameeting_...%40thread.v2``, a browser may show ``19:meeting_...@thread.v2`` or upper-case escapes)."""
    text = url.strip()
    for _ in range(3):  # links pasted from mail or chat are sometimes encoded twice
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    parts = urlsplit(text)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def join_url_row_key(url: str) -> str:
    return f"j{SEPARATOR}{hashlib.sha256(normalize_join_url(url).encode('utf-8')).hexdigest()}"


def join_id_row_key(join_meeting_id: str) -> str:
    return f"n{SEPARATOR}{encode_key_part(join_meeting_id.replace(' ', ''))}"
