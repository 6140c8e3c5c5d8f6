"""The meeting-artifacts part of the admin API under ``/_emulator``: end an occurrence of a meeting with the
participants a test names (its attendance report, and a transcript when asked), and the artifact lists' page size
(localdev/README.md, "Admin API")."""
from __future__ import annotations

from .replies import Reply
from .state import EmulatorState

RESOURCES = ("meetings", "artifacts")


def handle(state: EmulatorState, method: str, segments: list[str], data: dict) -> Reply | None:
    """The answer of an artifact admin route, or None when the path is not one of them."""
    if len(segments) == 3 and segments[0] == "meetings" and segments[2] == "occurrences" and method == "POST":
        attendees = data.get("attendees") or []
        if not isinstance(attendees, list):
            return Reply.json(400, {"error": "attendees must be a list"})
        report = state.artifacts.end_occurrence(segments[1], start=data.get("start"), end=data.get("end"),
                                                attendees=attendees, transcript=data.get("transcript"))
        return Reply.json(201, report)
    if segments == ["artifacts"] and method == "GET":
        return Reply.json(200, state.artifacts.summary())
    if segments == ["artifacts"] and method == "POST":
        state.artifacts.set_page_size(data.get("page_size"))  # type: ignore[arg-type]
        return Reply.json(200, state.artifacts.summary())
    return None
