"""The app settings of meeting attendance and transcripts (issue 23), read by a pure function of a Mapping so that
``load_settings`` takes them in with a few lines: ``artifacts, problems = read_artifact_settings(env)``, the problems
joining the others and the names joining SETTING_NAMES.

- ``MEETING_ARTIFACTS``: ``off`` (default) | ``attendance`` | ``attendanceAndTranscripts``. Opt-in like calendar
  mode: each needs an application permission the deployment grants only accordingly (OnlineMeetingArtifact.Read.All;
  OnlineMeetingTranscript.Read.All as well for transcripts).
- ``ATTENDANCE_DELAY_MINUTES`` (default 10): how long after a meeting's end its attendance is first collected.
- ``ATTENDANCE_WINDOW_HOURS`` (default 48): how long after the end it is looked for before the result says it is
  unavailable.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping

from shared.config.reader import SettingsReader
from shared.domain.attendance import DEFAULT_DELAY, DEFAULT_WINDOW
from shared.domain.errors import ArtifactsDisabled

ARTIFACT_SETTING_NAMES: tuple[str, ...] = ("MEETING_ARTIFACTS", "ATTENDANCE_DELAY_MINUTES", "ATTENDANCE_WINDOW_HOURS")
ARTIFACT_MODES = ("off", "attendance", "attendanceAndTranscripts")
ATTENDANCE_PERMISSION = "OnlineMeetingArtifact.Read.All"
TRANSCRIPT_PERMISSION = "OnlineMeetingTranscript.Read.All"


@dataclass(frozen=True)
class ArtifactsMode:
    """What ``MEETING_ARTIFACTS`` turns on."""

    name: str = "off"

    @property
    def attendance(self) -> bool:
        return self.name in ("attendance", "attendanceAndTranscripts")

    @property
    def transcripts(self) -> bool:
        return self.name == "attendanceAndTranscripts"

    def require_attendance(self) -> None:
        """ArtifactsDisabled unless attendance is on."""
        if not self.attendance:
            raise ArtifactsDisabled(_off("attendance reports", "attendance", ATTENDANCE_PERMISSION, self.name))

    def require_transcripts(self) -> None:
        """ArtifactsDisabled unless transcripts are on."""
        if not self.transcripts:
            raise ArtifactsDisabled(_off("transcripts", "attendanceAndTranscripts",
                                         f"{ATTENDANCE_PERMISSION} and {TRANSCRIPT_PERMISSION}", self.name))


def parse_artifacts_mode(value: str | None) -> ArtifactsMode:
    """The mode a ``MEETING_ARTIFACTS`` value names (case-insensitively; blank is ``off``); ValueError otherwise."""
    wanted = (value or "").strip().lower() or "off"
    for mode in ARTIFACT_MODES:
        if mode.lower() == wanted:
            return ArtifactsMode(mode)
    raise ValueError(f"must be one of {', '.join(ARTIFACT_MODES)}")


@dataclass(frozen=True)
class ArtifactSettings:
    mode: ArtifactsMode = ArtifactsMode()
    delay: timedelta = DEFAULT_DELAY
    window: timedelta = DEFAULT_WINDOW


def read_artifact_settings(env: Mapping[str, str]) -> tuple[ArtifactSettings, list[str]]:
    """The settings (defaults where a value is wrong) and every problem found, for ``load_settings`` to merge."""
    reader = SettingsReader(env)
    try:
        mode = parse_artifacts_mode(reader.get("MEETING_ARTIFACTS"))
    except ValueError as error:
        reader.problems.append(f"MEETING_ARTIFACTS {error}")
        mode = ArtifactsMode()
    delay = reader.number("ATTENDANCE_DELAY_MINUTES", int(DEFAULT_DELAY.total_seconds() // 60), 0, 24 * 60, whole=True,
                          rule="a whole number of minutes from 0 to 1440")
    window = reader.number("ATTENDANCE_WINDOW_HOURS", int(DEFAULT_WINDOW.total_seconds() // 3600), 1, 30 * 24,
                           whole=True, rule="a whole number of hours from 1 to 720")
    return ArtifactSettings(mode, timedelta(minutes=delay), timedelta(hours=window)), reader.problems


def _off(what: str, mode: str, permission: str, current: str) -> str:
    return (f"meeting {what} are off in this deployment (MEETING_ARTIFACTS={current}): reading them needs the "
            f"application permission {permission}, which the deployment grants only when asked. Turn them on with "
            f"MEETING_ARTIFACTS={mode} (azd env set MEETING_ARTIFACTS {mode}; azd provision)")
