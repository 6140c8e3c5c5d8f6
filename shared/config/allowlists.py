"""Who the app may act as: the organizer allowlist (``ALLOWED_ORGANIZERS``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrganizerAllowlist:
    """Who the app may act as: object ids, UPNs, ``@domain`` suffixes, or ``*``."""

    entries: frozenset[str]

    @classmethod
    def parse(cls, raw: str) -> "OrganizerAllowlist":
        return cls(frozenset(part.strip().lower() for part in raw.split(",") if part.strip()))

    def allows(self, organizer_id: str) -> bool:
        organizer = organizer_id.lower()
        if "*" in self.entries or organizer in self.entries:
            return True
        domain = organizer.rpartition("@")[2] if "@" in organizer else None
        return domain is not None and f"@{domain}" in self.entries
