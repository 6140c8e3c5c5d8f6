"""Read `local.settings.json` (the Core Tools file) and merge app settings: process env > its Values > defaults.

The file is `{"IsEncrypted": false, "Values": {...}}`; it is git-ignored, the repo ships local.settings.sample.json.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_SETTINGS = REPO_ROOT / "local.settings.json"


class LocalSettingsError(ValueError):
    """local.settings.json exists but cannot be used."""


def read_local_settings(path: Path = LOCAL_SETTINGS) -> dict[str, str]:
    """The Values of a local.settings.json, as strings; {} when the file does not exist."""
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise LocalSettingsError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise LocalSettingsError(f"{path}: expected a JSON object")
    if document.get("IsEncrypted"):
        raise LocalSettingsError(f"{path}: IsEncrypted is true; the local host cannot decrypt it (`func settings decrypt`)")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise LocalSettingsError(f"{path}: Values must be an object")
    return {str(name): _as_setting(value) for name, value in values.items() if value is not None}


def _as_setting(value: object) -> str:
    # App settings are strings; Core Tools passes JSON true/false/numbers through as their JSON text.
    return value if isinstance(value, str) else json.dumps(value)


def merged_settings(
    defaults: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path = LOCAL_SETTINGS,
) -> dict[str, str]:
    """defaults, overridden by local.settings.json Values, overridden by the process environment."""
    return {**(defaults or {}), **read_local_settings(path), **(os.environ if environ is None else environ)}


def is_configured(name: str, *, environ: Mapping[str, str] | None = None, path: Path = LOCAL_SETTINGS) -> bool:
    """Whether name has a real value in the process environment or local.settings.json (defaults not counted).

    A placeholder copied from local.settings.sample.json ("<your tenant id (GUID)>") counts as not configured.
    """
    return not is_placeholder(merged_settings(environ=environ, path=path).get(name, ""))


def is_placeholder(value: str) -> bool:
    """True for an empty value or one copied from the sample file ("<your tenant id (GUID)>")."""
    value = value.strip()
    return not value or (value.startswith("<") and value.endswith(">"))
