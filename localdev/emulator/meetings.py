"""onlineMeeting model of the emulator: date handling (100-ns ticks, 7 fractional digits), the meeting record with
its settings and their Teams defaults, and creation (ids, join URL, join meeting id, passcode)."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

TICKS_PER_SECOND = 10_000_000
HOUR_TICKS = 3600 * TICKS_PER_SECOND
_EPOCH = dt.datetime(1970, 1, 1)
_DATETIME = re.compile(
    r"^(?P<year>[0-9]{4,})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):"
    r"(?P<second>[0-9]{2})(?:[.](?P<fraction>[0-9]{1,12}))?(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})$"
)
# The settings a meeting carries, PATCH may change and plain create may set, with the values Teams gives a new meeting.
SETTING_DEFAULTS: dict[str, Any] = {
    "allowedPresenters": "everyone",
    "allowMeetingChat": "enabled",
    "allowTeamworkReactions": True,
    "isEntryExitAnnounced": True,
    "recordAutomatically": False,
    "allowAttendeeToEnableCamera": True,
    "allowAttendeeToEnableMic": True,
    "allowRecording": True,
    "allowTranscription": True,
    "allowBreakoutRooms": True,
    "allowPowerPointSharing": True,
    "allowWhiteboard": True,
    "allowLiveShare": "enabled",
    "allowCopyingAndSharingMeetingContent": True,
    "allowParticipantsToChangeName": False,
    "allowedLobbyAdmitters": "organizerAndCoOrganizersAndPresenters",
    "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
    "watermarkProtection": {"isEnabledForContentSharing": False, "isEnabledForVideo": False},
    "meetingSpokenLanguageTag": None,
}
_PASSCODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


class InvalidDateTime(ValueError):
    pass


def ticks_from_epoch(seconds: float) -> int:
    return int(round(seconds * TICKS_PER_SECOND))


def parse_datetime(text: str) -> int:
    """Graph Edm.DateTimeOffset text -> UTC ticks since the epoch (fractions past 7 digits are truncated)."""
    match = _DATETIME.match(text)
    if not match:
        raise InvalidDateTime(f"'{text}' is not a valid DateTimeOffset")
    parts = match.groupdict()
    try:
        moment = dt.datetime(int(parts["year"]), int(parts["month"]), int(parts["day"]),
                             int(parts["hour"]), int(parts["minute"]), int(parts["second"]))
    except ValueError as exc:
        raise InvalidDateTime(f"'{text}' is not a valid DateTimeOffset") from exc
    fraction = int(((parts["fraction"] or "") + "0000000")[:7])
    zone = parts["zone"]
    offset_seconds = 0
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset_seconds = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    whole = int((moment - _EPOCH).total_seconds()) - offset_seconds
    return whole * TICKS_PER_SECOND + fraction


def format_ticks(ticks: int) -> str:
    """UTC ticks -> '2024-05-01T10:00:00.1234567Z' (always 7 fractional digits, like Graph)."""
    whole, fraction = divmod(ticks, TICKS_PER_SECOND)
    moment = _EPOCH + dt.timedelta(seconds=whole)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"


@dataclass
class Meeting:
    id: str
    tenant_id: str
    organizer_id: str
    organizer_upn: str
    organizer_name: str
    external_id: str | None
    subject: str | None
    start_ticks: int
    end_ticks: int
    created_ticks: int
    thread_id: str
    join_web_url: str
    join_meeting_id: str
    video_teleconference_id: str
    chat_info: dict[str, Any]
    attendees: list[dict[str, Any]] = field(default_factory=list)
    created_by_app: str = ""
    created_on: str = "v1.0"
    created_with: str = "createOrGet"  # or "create" (plain POST)
    language: str = "en-US"  # of joinInformation, fixed at creation from Accept-Language
    passcode: str | None = None  # generated when joinMeetingIdSettings.isPasscodeRequired was true on create
    settings: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(SETTING_DEFAULTS))


def _meeting_thread_id() -> str:
    while True:  # Teams thread ids: 19:meeting_<base64 of a GUID-like string>@thread.v2, alphanumeric in practice
        token = base64.b64encode(str(uuid.uuid4()).encode("ascii")).decode("ascii").rstrip("=")
        if token.isalnum():
            return f"19:meeting_{token}@thread.v2"


def _join_web_url(thread_id: str, tenant_id: str, organizer_id: str) -> str:
    def lower_escapes(text: str) -> str:  # Teams writes percent-escapes in lower case: 19%3ameeting_...%40thread.v2
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)

    encoded_thread = lower_escapes(quote(thread_id, safe=""))
    context = '{"Tid":"%s","Oid":"%s"}' % (tenant_id, organizer_id)
    encoded_context = lower_escapes(quote(context, safe=""))
    return f"https://teams.microsoft.com/l/meetup-join/{encoded_thread}/0?context={encoded_context}"


def new_meeting(*, tenant_id: str, organizer_id: str, organizer_upn: str, organizer_name: str,
                external_id: str | None, subject: str | None, start_ticks: int, end_ticks: int, created_ticks: int,
                attendees: list[dict[str, Any]], chat_info: dict[str, Any] | None, app_id: str, version: str,
                created_with: str = "createOrGet", language: str = "en-US", passcode_required: bool = False,
                settings: dict[str, Any] | None = None) -> Meeting:
    thread_id = _meeting_thread_id()
    raw_id = f"1*{organizer_id}*0**{thread_id}".encode("utf-8")
    meeting_id = base64.urlsafe_b64encode(raw_id).decode("ascii").rstrip("=")
    chat = {"threadId": thread_id, "messageId": "0", "replyChainMessageId": None}
    for key in ("threadId", "messageId", "replyChainMessageId"):
        if chat_info and chat_info.get(key) is not None:
            chat[key] = chat_info[key]
    return Meeting(
        id=meeting_id,
        tenant_id=tenant_id,
        organizer_id=organizer_id,
        organizer_upn=organizer_upn,
        organizer_name=organizer_name,
        external_id=external_id,
        subject=subject,
        start_ticks=start_ticks,
        end_ticks=end_ticks,
        created_ticks=created_ticks,
        thread_id=thread_id,
        join_web_url=_join_web_url(thread_id, tenant_id, organizer_id),
        join_meeting_id=str(secrets.randbelow(9 * 10**11) + 10**11),  # 12 digits
        video_teleconference_id=str(secrets.randbelow(9 * 10**9) + 10**9),
        chat_info=chat,
        attendees=copy.deepcopy(attendees),
        created_by_app=app_id,
        created_on=version,
        created_with=created_with,
        language=language,
        passcode="".join(secrets.choice(_PASSCODE_ALPHABET) for _ in range(6)) if passcode_required else None,
        settings=copy.deepcopy(settings if settings is not None else SETTING_DEFAULTS),
    )
