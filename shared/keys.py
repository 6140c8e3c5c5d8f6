"""Table keys built from arbitrary caller strings.

PartitionKey and RowKey may not contain ``/ \\ # ?`` or control characters (U+0000-U+001F, U+007F-U+009F) and are
at most 1 KiB: https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model
Each part is percent-escaped (the UTF-8 bytes of the forbidden characters, of ``%`` and of our ``|`` separator), so
distinct inputs give distinct keys and the key stays readable in Storage Explorer. A part that would grow past
``MAX_PART_LENGTH`` is replaced by ``%%`` + its SHA-256; escaped parts never contain ``%%``, so the two forms cannot
collide. Hashed parts cannot be decoded: the repository always keeps the raw value as a property.
"""
from __future__ import annotations

import hashlib
import re

from .values import normalize_organizer

SEPARATOR = "|"
# Measured in UTF-16 code units, as the Table service counts characters: 400 keeps a row key (and a partition key
# of two short parts) well inside 1 KiB whichever way the limit is read (1024 characters or 1024 bytes of UTF-16).
MAX_PART_LENGTH = 400
HASH_PREFIX = "%%"

_ESCAPED = frozenset("/\\#?%" + SEPARATOR) | frozenset(map(chr, range(0x00, 0x20))) | frozenset(map(chr, range(0x7F, 0xA0)))
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-F]{2})+")


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
    escaped = "".join(_escape(c) if c in _ESCAPED else c for c in value)
    if _utf16_length(escaped) > MAX_PART_LENGTH:
        return HASH_PREFIX + hashlib.sha256(raw).hexdigest()
    return escaped


def decode_key_part(part: str) -> str:
    """Reverse ``encode_key_part`` for an escaped part; a hashed part raises ValueError."""
    if part.startswith(HASH_PREFIX):
        raise ValueError("a hashed key part cannot be decoded; read the raw value from the entity")
    if "%" in _ESCAPE_RUN.sub("", part):
        raise ValueError(f"malformed escape in key part {part!r}")
    return _ESCAPE_RUN.sub(lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8"), part)


def meeting_partition_key(tenant_id: str, organizer_key: str) -> str:
    return f"m{SEPARATOR}{encode_key_part(tenant_id)}{SEPARATOR}{encode_key_part(organizer_key)}"


def meeting_row_key(external_id: str) -> str:
    return encode_key_part(external_id)


def alias_partition_key(tenant_id: str) -> str:
    return f"u{SEPARATOR}{encode_key_part(tenant_id)}"


def alias_row_key(upn: str) -> str:
    return encode_key_part(normalize_organizer(upn))
