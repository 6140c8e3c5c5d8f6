"""Reading app settings: blank counts as unset, and every problem is collected (``SettingsReader``), with the
name rules of Azure queues and tables. Shared by ``settings`` and ``callback_settings``."""
from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import urlsplit

# Azure queue names: 3-63 chars, lowercase letters, digits and single hyphens; table names: 3-63 alphanumerics.
QUEUE_NAME = re.compile(r"(?=.{3,63}\Z)[a-z0-9]+(-[a-z0-9]+)*", re.ASCII)
TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}", re.ASCII)


def https_url(name: str, value: str, problems: list[str]) -> str:
    value = value.rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        problems.append(f"{name} must be an https:// URL")
    return value


class SettingsReader:
    """Reads app settings (blank counts as unset) and collects every problem found."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, name: str) -> str | None:
        value = self.env.get(name)
        value = value.strip() if isinstance(value, str) else None
        return value or None

    def get_or(self, name: str, default: str) -> str:
        return self.get(name) or default

    def choice(self, name: str, choices: tuple[str, ...], default: str, *, fold_case: bool = True) -> str:
        value = self.get_or(name, default).lower() if fold_case else self.get_or(name, default)
        if value not in choices:
            self.problems.append(f"{name} must be one of {', '.join(choices)}")
            return default
        return value

    def number(self, name: str, default: float, low: float, high: float, *, whole: bool, rule: str) -> float:
        try:
            value = int(self.get_or(name, str(default))) if whole else float(self.get_or(name, str(default)))
            if not low <= value <= high:
                raise ValueError
            return value
        except ValueError:
            self.problems.append(f"{name} must be {rule}")
            return default
