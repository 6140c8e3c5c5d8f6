"""Identifiers: tenant ids, organizer names (GUIDs and UPNs), and caller text made safe to echo. Standard library only.

One rule for naming an organizer (``normalize_organizer``); one place that knows where Graph puts the organizer's
object id in a meeting (``organizer_object_id``).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Mapping

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
