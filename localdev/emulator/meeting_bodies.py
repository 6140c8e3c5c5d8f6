"""Request bodies that set onlineMeeting properties: plain create (``POST .../onlineMeetings``) and ``PATCH``, checked
and read into the changes they ask for (the rules: localdev/README.md, "Graph onlineMeetings")."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from .meetings import HOUR_TICKS, SETTING_DEFAULTS, InvalidDateTime, Meeting, parse_datetime
from .schemas import GraphSchemas

SETTINGS = tuple(SETTING_DEFAULTS)
UPDATABLE = ("subject", "startDateTime", "endDateTime", "participants", *SETTINGS)
CREATABLE = (*UPDATABLE, "externalId", "joinMeetingIdSettings")
READ_ONLY = ("id", "joinWebUrl", "joinUrl", "creationDateTime", "chatInfo", "joinInformation", "videoTeleconferenceId",
             "audioConferencing", "externalId", "meetingCode", "meetingOptionsWebUrl", "isBroadcast",
             "broadcastSettings", "capabilities", "attendeeReport", "meetingInfo", "autoAdmittedUsers")
NULLABLE = ("subject", "meetingSpokenLanguageTag")
ROLES_FOR_DIRECTORY_USERS = ("presenter", "coorganizer")


class BodyError(ValueError):
    """The body breaks a rule: the message becomes the 400 answer's error message."""


@dataclass
class MeetingChanges:
    """What a create or PATCH body sets; ``None`` members are left as they are."""

    present: set[str] = field(default_factory=set)
    subject: str | None = None
    start_ticks: int | None = None
    end_ticks: int | None = None
    attendees: list[dict[str, Any]] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    passcode_required: bool = False


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise BodyError("Empty Payload. JSON content expected.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BodyError("Unable to read JSON request payload. Please ensure Content-Type header is set and payload "
                        "is of valid JSON format.") from None
    if not isinstance(body, dict):
        raise BodyError("The request body must be a JSON object.")
    return body


def check_members(schemas: GraphSchemas, version: str, body: dict[str, Any], *, patch: bool) -> None:
    """Refuse members the call may not set and values of the wrong type (first problem wins)."""
    allowed = UPDATABLE if patch else CREATABLE
    for name, value in body.items():
        if "@" in name:
            continue
        if name not in allowed:
            if name == "joinMeetingIdSettings":
                raise BodyError("joinMeetingIdSettings cannot be changed after the meeting is created.")
            if name in READ_ONLY:
                raise BodyError(f"The property '{name}' is read-only and cannot be set.")
            if schemas.property_type(version, name):
                raise BodyError(f"The property '{name}' cannot be set by this request.")
            raise BodyError(f"The property '{name}' does not exist on type 'microsoft.graph.onlineMeeting'.")
        if value is None and name in NULLABLE:
            continue
        type_name = schemas.property_type(version, name) or "Edm.String"
        problem = schemas.csdl.check(type_name, value, name)
        if problem:
            raise BodyError(f"Invalid value: {problem}")
    if not patch:
        settings = body.get("joinMeetingIdSettings") or {}
        for member in ("passcode", "joinMeetingId"):
            if settings.get(member) is not None:
                raise BodyError(f"joinMeetingIdSettings.{member} cannot be set: it is generated (custom passcodes "
                                f"are not supported).")


def check_setting_path(schemas: GraphSchemas, path: str, value: Any) -> str | None:
    """None when ``path`` ("allowedPresenters", "lobbyBypassSettings.scope") names a meeting setting and ``value``
    fits its v1.0 type; else the reason."""
    head, _, member = path.partition(".")
    if head not in SETTINGS:
        return f"'{head}' is not a meeting setting; expected one of {', '.join(SETTINGS)}"
    type_name = schemas.property_type("v1.0", head) or "Edm.String"
    if member:
        members = schemas.csdl.properties(type_name.removeprefix("graph."))
        if member not in members:
            return f"'{head}' has no member '{member}'"
        type_name = members[member]
    if value is None and head in NULLABLE:
        return None
    return schemas.csdl.check(type_name, value, path)


def _times(body: dict[str, Any], now_ticks: int, *, patch: bool) -> tuple[int | None, int | None]:
    start_text, end_text = body.get("startDateTime"), body.get("endDateTime")
    if patch and (start_text is None) != (end_text is None):
        raise BodyError("Both startDateTime and endDateTime must be specified to change the time of the meeting.")
    if patch and start_text is None:
        return None, None
    if end_text and not start_text:
        raise BodyError("endDateTime cannot be specified without startDateTime.")
    try:
        start = parse_datetime(start_text) if start_text else now_ticks
        end = parse_datetime(end_text) if end_text else start + HOUR_TICKS
    except InvalidDateTime as exc:
        raise BodyError(str(exc)) from None
    if end < start:
        raise BodyError("endDateTime cannot be earlier than startDateTime.")
    return start, end


def _names_someone_else(organizer: dict[str, Any], organizer_id: str, organizer_upn: str) -> bool:
    named_id = (((organizer.get("identity") or {}).get("user") or {}).get("id") or "").lower()
    named_upn = (organizer.get("upn") or "").lower()
    return bool(named_id and named_id != organizer_id.lower()) or bool(named_upn and named_upn != organizer_upn.lower())


def meeting_changes(schemas: GraphSchemas, version: str, body: dict[str, Any], *, organizer_id: str,
                    organizer_upn: str, now_ticks: int, is_directory_user: Callable[[dict[str, Any]], bool],
                    meeting: Meeting | None) -> MeetingChanges:
    """The changes a checked body asks for (``meeting``: the one a PATCH changes; None for a create)."""
    patch = meeting is not None
    changes = MeetingChanges(present={name for name in body if "@" not in name})
    changes.subject = body.get("subject")
    changes.start_ticks, changes.end_ticks = _times(body, now_ticks, patch=patch)
    participants = body.get("participants") or {}
    if participants.get("organizer") and _names_someone_else(participants["organizer"], organizer_id, organizer_upn):
        raise BodyError("The organizer of a meeting cannot be changed: participants.organizer must be the user of "
                        "the request path.")
    if participants.get("attendees") is not None:
        changes.attendees = copy.deepcopy(participants["attendees"])
        for attendee in changes.attendees:
            if attendee.get("role") in ROLES_FOR_DIRECTORY_USERS and not is_directory_user(attendee):
                raise BodyError(f"Assigning the {attendee['role']} role to users who aren't registered in Microsoft "
                                f"Entra ID isn't currently supported.")
    for name in SETTINGS:
        if name not in body:
            continue
        value = copy.deepcopy(body[name])
        if name == "allowLiveShare" and isinstance(value, bool):  # beta's boolean form of the v1.0 enum
            value = "enabled" if value else "disabled"
        if isinstance(value, dict):
            base = copy.deepcopy(meeting.settings[name] if meeting else SETTING_DEFAULTS[name])
            value = {**base, **{k: v for k, v in value.items() if "@" not in k}}
        changes.settings[name] = value
    changes.external_id = body.get("externalId")
    changes.passcode_required = bool((body.get("joinMeetingIdSettings") or {}).get("isPasscodeRequired"))
    _check_presenters(changes, meeting)
    return changes


def _check_presenters(changes: MeetingChanges, meeting: Meeting | None) -> None:
    current = meeting.settings["allowedPresenters"] if meeting else SETTING_DEFAULTS["allowedPresenters"]
    presenters_rule = changes.settings.get("allowedPresenters", current)
    attendees = changes.attendees if changes.attendees is not None else (meeting.attendees if meeting else [])
    if presenters_rule == "roleIsPresenter" and not any(a.get("role") == "presenter" for a in attendees):
        raise BodyError("allowedPresenters 'roleIsPresenter' requires at least one attendee with the role "
                        "'presenter'.")


def apply_changes(meeting: Meeting, changes: MeetingChanges) -> None:
    """Write the changes of a PATCH into the stored meeting (under the state's lock)."""
    if "subject" in changes.present:
        meeting.subject = changes.subject
    if changes.start_ticks is not None and changes.end_ticks is not None:
        meeting.start_ticks, meeting.end_ticks = changes.start_ticks, changes.end_ticks
    if changes.attendees is not None:
        meeting.attendees = changes.attendees
    meeting.settings.update(copy.deepcopy(changes.settings))
