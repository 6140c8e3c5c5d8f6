"""The onlineMeeting options a caller may ask for (lobby, presenters, chat, recording, ...): their Graph v1.0 types
(``tests/unit/test_meeting_settings.py`` keeps them equal to the schema in ``localdev/graph``), and how a meeting
differs from what was asked. createOrGet takes none of them: they are applied with PATCH. Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

LOBBY_SCOPES = ("organizer", "organization", "organizationAndFederated", "everyone", "invited",
                "organizationExcludingGuests")


@dataclass(frozen=True)
class Rule:
    """A setting's type: ``bool``, ``enum`` (one of ``values``), ``string`` (at most ``max_length``), or ``object``
    (of the named ``members``)."""

    kind: str
    values: tuple[str, ...] = ()
    members: tuple[tuple[str, "Rule"], ...] = ()
    max_length: int = 64


BOOL = Rule("bool")
SETTINGS: dict[str, Rule] = {
    "lobbyBypassSettings": Rule("object", members=(("scope", Rule("enum", LOBBY_SCOPES)),
                                                   ("isDialInBypassEnabled", BOOL))),
    "allowedPresenters": Rule("enum", ("everyone", "organization", "roleIsPresenter", "organizer")),
    "allowMeetingChat": Rule("enum", ("enabled", "disabled", "limited")),
    "allowTeamworkReactions": BOOL,
    "isEntryExitAnnounced": BOOL,
    "recordAutomatically": BOOL,
    "allowAttendeeToEnableCamera": BOOL,
    "allowAttendeeToEnableMic": BOOL,
    "allowedLobbyAdmitters": Rule("enum", ("organizerAndCoOrganizersAndPresenters", "organizerAndCoOrganizers")),
    "allowRecording": BOOL,
    "allowTranscription": BOOL,
    "allowBreakoutRooms": BOOL,
    "allowPowerPointSharing": BOOL,
    "allowWhiteboard": BOOL,
    "allowLiveShare": Rule("enum", ("enabled", "disabled")),
    "allowCopyingAndSharingMeetingContent": BOOL,
    "allowParticipantsToChangeName": BOOL,
    "watermarkProtection": Rule("object", members=(("isEnabledForContentSharing", BOOL), ("isEnabledForVideo", BOOL))),
    "meetingSpokenLanguageTag": Rule("string", max_length=35),  # a BCP 47 tag such as en-US
}


def problems(name: str, value: Any, rule: Rule) -> list[tuple[str, str]]:
    """(field, message) for each way ``value`` breaks ``rule``; none when it fits."""
    if rule.kind == "bool":
        return [] if isinstance(value, bool) else [(name, "must be true or false")]
    if rule.kind == "enum":
        return [] if value in rule.values else [(name, f"must be one of {', '.join(rule.values)}")]
    if rule.kind == "string":
        if not isinstance(value, str) or not 0 < len(value) <= rule.max_length:
            return [(name, f"must be a string of 1 to {rule.max_length} characters")]
        return []
    if not isinstance(value, dict):
        return [(name, "must be a JSON object")]
    known = dict(rule.members)
    found = [(f"{name}.{member}", f"unknown member; allowed: {', '.join(known)}") for member in value
             if member not in known]
    if not value:
        found.append((name, f"must name at least one of {', '.join(known)}"))
    for member, member_rule in rule.members:
        if member in value:
            found += problems(f"{name}.{member}", value[member], member_rule)
    return found


def differing(wanted: Mapping[str, Any], meeting: Mapping[str, Any]) -> dict[str, Any]:
    """The settings whose wanted value the meeting does not have, as a PATCH sends them: an object setting whole,
    the wanted members laid over the meeting's current value (so PATCH means the same whether Graph merges or
    replaces complex values)."""
    patch: dict[str, Any] = {}
    for name, value in wanted.items():
        current = meeting.get(name)
        if isinstance(value, dict):
            base = current if isinstance(current, dict) else {}
            if any(base.get(member) != member_value for member, member_value in value.items()):
                patch[name] = {**base, **value}
        elif current != value:
            patch[name] = value
    return patch
