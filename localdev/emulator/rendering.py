"""The onlineMeeting JSON the emulator answers with, per Graph version, and its joinInformation in the language the
meeting was created in (``Accept-Language`` on create and createOrGet; English by default, as the Create page says).

Evolvable enums: members listed after ``unknownFutureValue`` in the version's schema (v1.0 roles producer and
coorganizer, lobby scopes invited and organizationExcludingGuests) come back as ``unknownFutureValue`` unless the
request asked with ``Prefer: include-unknown-enum-members``.
"""
from __future__ import annotations

import copy
import html
from typing import Any
from urllib.parse import quote

from .meetings import Meeting, format_ticks
from .schemas import GraphSchemas

DEFAULT_LANGUAGE = "en-US"
# joinInformation texts per language: title, join link, meeting id label, passcode label.
JOIN_TEXTS: dict[str, tuple[str, str, str, str]] = {
    "en-US": ("Microsoft Teams meeting", "Join the meeting now", "Meeting ID:", "Passcode:"),
    "de-DE": ("Microsoft Teams-Besprechung", "Jetzt an der Besprechung teilnehmen", "Besprechungs-ID:", "Kennung:"),
    "fr-FR": ("Réunion Microsoft Teams", "Rejoindre la réunion maintenant", "ID de réunion :", "Code secret :"),
}


def negotiate_language(header: str | None) -> str:
    """The supported language an ``Accept-Language`` header prefers most (q-values honoured; a primary subtag such
    as ``de`` or ``de-AT`` selects ``de-DE``); the default when nothing supported is asked for."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        exact = next((lang for lang in JOIN_TEXTS if lang.lower() == tag), None)
        primary = next((lang for lang in JOIN_TEXTS if lang.lower().split("-")[0] == tag.split("-")[0]), None)
        if exact or primary:
            return exact or primary  # type: ignore[return-value]
    return DEFAULT_LANGUAGE


def join_information(meeting: Meeting) -> dict[str, str]:
    title, join, meeting_id_label, passcode_label = JOIN_TEXTS.get(meeting.language, JOIN_TEXTS[DEFAULT_LANGUAGE])
    digits = meeting.join_meeting_id
    passcode = f"<div>{passcode_label} {html.escape(meeting.passcode)}</div>" if meeting.passcode else ""
    markup = (
        '<div style="width:100%;height:20px;">________________________________________________________________'
        '</div><div class="me-email-text"><div style="margin-bottom:24px;overflow:hidden;white-space:nowrap;">'
        f'<span style="font-size:24px;font-weight:700;">{html.escape(title)}</span></div>'
        f'<div><a href="{html.escape(meeting.join_web_url)}">{html.escape(join)}</a></div>'
        f'<div>{meeting_id_label} {digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}</div>{passcode}</div>'
    )
    return {"content": "data:text/html," + quote(markup, safe=""), "contentType": "html"}


def _visible(value: str, hidden: set[str]) -> str:
    return "unknownFutureValue" if value in hidden else value


def _render_attendee(attendee: dict[str, Any], hidden_roles: set[str]) -> dict[str, Any]:
    out = copy.deepcopy(attendee)
    out["role"] = _visible(out.get("role") or "attendee", hidden_roles)
    return out


def _render_settings(meeting: Meeting, version: str, schemas: GraphSchemas, include_unknown: bool) -> dict[str, Any]:
    settings = copy.deepcopy(meeting.settings)
    hidden_scopes = set() if include_unknown else schemas.members_after_unknown(version, "lobbyBypassScope")
    lobby = settings["lobbyBypassSettings"]
    lobby["scope"] = _visible(lobby["scope"], hidden_scopes)
    if schemas.property_type(version, "allowLiveShare") == "Edm.Boolean":  # beta: a boolean, v1.0: an enum
        settings["allowLiveShare"] = settings["allowLiveShare"] == "enabled"
    return settings


def render_meeting(meeting: Meeting, *, version: str, include_unknown_enum_members: bool, graph_root: str,
                   user_segment: str, schemas: GraphSchemas) -> dict[str, Any]:
    """The onlineMeeting JSON Graph returns for ``version`` (v1.0 or beta)."""
    hidden_roles = set() if include_unknown_enum_members else schemas.members_after_unknown(version,
                                                                                         "onlineMeetingRole")
    participants: dict[str, Any] = {
        "organizer": {
            "upn": meeting.organizer_upn,
            "role": "presenter",
            "identity": {
                "application": None,
                "device": None,
                "user": {"id": meeting.organizer_id, "displayName": meeting.organizer_name,
                         "tenantId": meeting.tenant_id, "identityProvider": "AAD"},
            },
        },
        "attendees": [_render_attendee(a, hidden_roles) for a in meeting.attendees],
    }
    if version == "beta":
        participants["producers"] = []
        participants["contributors"] = []
    body: dict[str, Any] = {
        "@odata.context": f"{graph_root}/{version}/$metadata#users('{user_segment}')/onlineMeetings/$entity",
        "id": meeting.id,
        "creationDateTime": format_ticks(meeting.created_ticks),
        "startDateTime": format_ticks(meeting.start_ticks),
        "endDateTime": format_ticks(meeting.end_ticks),
        "joinWebUrl": meeting.join_web_url,
        "meetingCode": meeting.join_meeting_id,
        "subject": meeting.subject,
        "isBroadcast": False,
        "autoAdmittedUsers": "everyoneInCompany",  # legacy member still sent by the service
        "outerMeetingAutoAdmittedUsers": None,
        "capabilities": [],
        "externalId": meeting.external_id,
        "videoTeleconferenceId": meeting.video_teleconference_id,
        **_render_settings(meeting, version, schemas, include_unknown_enum_members),
        "broadcastSettings": None,
        "audioConferencing": None,
        "meetingInfo": None,
        "participants": participants,
        "joinMeetingIdSettings": {
            "isPasscodeRequired": meeting.passcode is not None,
            "joinMeetingId": meeting.join_meeting_id,
            "passcode": meeting.passcode,
        },
        "chatInfo": dict(meeting.chat_info),
        "joinInformation": join_information(meeting),
    }
    if version == "beta":
        body["joinUrl"] = meeting.join_web_url
        body["meetingTemplateId"] = None
    return body
