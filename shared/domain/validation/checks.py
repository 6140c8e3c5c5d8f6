"""The pieces every request body is checked with. A ``Checker`` collects every broken rule instead of stopping at the
first, so a caller fixes a body in one round trip; field names are made safe before they are echoed."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from shared.domain.errors import FieldError
from shared.domain.meeting_options import SETTINGS, problems
from shared.domain.clock import format_datetime, parse_datetime
from shared.domain.identifiers import UPN, UPN_RULE, safe_text

MAX_ORGANIZER_ID = 256
MAX_ATTENDEES = 1000
MAX_MEMBER_NAME = 100
# Graph's onlineMeetingRole members a caller may send (unknownFutureValue is a sentinel, not a role).
ROLES = ("attendee", "presenter", "producer", "coorganizer")
# Accept-Language: language ranges with optional q-values (RFC 9110 section 12.5.4), kept short.
_LANGUAGES = re.compile(r"\s*(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)(\s*;\s*q=[01](\.\d{0,3})?)?\s*"
                        r"(,\s*(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)(\s*;\s*q=[01](\.\d{0,3})?)?\s*)*", re.ASCII)
MAX_ACCEPT_LANGUAGE = 200


def surrogate_paths(value: Any, path: str) -> list[str]:
    """Where a JSON document holds lone surrogates: valid JSON escapes, but not Unicode text (cannot be UTF-8)."""
    if isinstance(value, str):
        return [path or "(body)"] if any("\ud800" <= ch <= "\udfff" for ch in value) else []
    if isinstance(value, dict):
        found = []
        for name, member in value.items():
            inner = f"{path}.{safe_text(name, MAX_MEMBER_NAME)}".lstrip(".")
            found += surrogate_paths(name, inner) + surrogate_paths(member, inner)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in surrogate_paths(item, f"{path}[{i}]")]
    return []


class Checker:
    """Collects every problem in a payload instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def unknown(self, obj: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for name in obj:
            if name not in allowed:
                self.add(f"{prefix}{safe_text(name, MAX_MEMBER_NAME)}", f"unknown member; allowed: {', '.join(allowed)}")

    def string(self, obj: Mapping[str, Any], name: str, prefix: str, *, max_len: int | None = None,
               nullable: bool = True) -> str | None:
        if name not in obj or (obj[name] is None and nullable):
            return None
        value = obj[name]
        if not isinstance(value, str):
            self.add(f"{prefix}{name}", "must be a string")
            return None
        if max_len is not None and len(value) > max_len:
            self.add(f"{prefix}{name}", f"must be at most {max_len} characters")
            return None
        return value

    def obj(self, value: Any, field: str) -> Mapping[str, Any] | None:
        if not isinstance(value, dict):
            self.add(field, "must be a JSON object")
            return None
        return value


def _check_identity(check: Checker, value: Any, field: str) -> None:
    identity = check.obj(value, field)
    if identity is None:
        return
    check.unknown(identity, ("id", "displayName", "tenantId"), f"{field}.")
    for name in ("id", "displayName", "tenantId"):
        check.string(identity, name, f"{field}.", max_len=MAX_ORGANIZER_ID)


def _check_participant(check: Checker, value: Any, field: str) -> None:
    info = check.obj(value, field)
    if info is None:
        return
    check.unknown(info, ("identity", "upn", "role"), f"{field}.")
    upn = check.string(info, "upn", f"{field}.", max_len=MAX_ORGANIZER_ID)
    if upn is not None and not UPN.fullmatch(upn):
        check.add(f"{field}.upn", f"must be a user principal name such as name@contoso.com ({UPN_RULE})")
    role = info.get("role")
    if role is not None and role not in ROLES:
        check.add(f"{field}.role", f"must be one of {', '.join(ROLES)}")
    named = upn is not None
    if info.get("identity") is not None:
        identity_set = check.obj(info["identity"], f"{field}.identity")
        if identity_set is not None:
            check.unknown(identity_set, ("user", "application", "device"), f"{field}.identity.")
            for kind in ("user", "application", "device"):
                if identity_set.get(kind) is not None:
                    _check_identity(check, identity_set[kind], f"{field}.identity.{kind}")
                    named = named or bool(isinstance(identity_set[kind], dict) and identity_set[kind].get("id"))
    if not named:
        check.add(field, "must name the participant by upn or by an identity with an id")


def check_participants(check: Checker, value: Any) -> None:
    participants = check.obj(value, "participants")
    if participants is None:
        return
    check.unknown(participants, ("organizer", "attendees"), "participants.")
    if participants.get("organizer") is not None:
        _check_participant(check, participants["organizer"], "participants.organizer")
    attendees = participants.get("attendees")
    if attendees is None:
        return
    if not isinstance(attendees, list):
        check.add("participants.attendees", "must be an array")
        return
    if len(attendees) > MAX_ATTENDEES:
        check.add("participants.attendees", f"must have at most {MAX_ATTENDEES} entries")
        return
    for index, attendee in enumerate(attendees):
        _check_participant(check, attendee, f"participants.attendees[{index}]")


def check_chat_info(check: Checker, value: Any, api_version: str) -> None:
    chat = check.obj(value, "chatInfo")
    if chat is None:
        return
    if api_version != "beta":
        check.add("chatInfo", "is only supported by Graph beta (GRAPH_API_VERSION=beta)")
    check.unknown(chat, ("threadId", "messageId", "replyChainMessageId"), "chatInfo.")
    for name in ("threadId", "messageId", "replyChainMessageId"):
        check.string(chat, name, "chatInfo.", max_len=MAX_ORGANIZER_ID)

def check_times(check: Checker, payload: Mapping[str, Any], *, both_or_none: bool = False,
                default_duration: timedelta) -> tuple[datetime | None, datetime | None]:
    """startDateTime and endDateTime: ISO 8601 with an offset; the end not before the start; a derived end (start +
    ``default_duration``) a real date-time too. ``both_or_none``: Graph's PATCH rule, both times change together."""
    times: dict[str, datetime | None] = {}
    for name in ("startDateTime", "endDateTime"):
        raw = check.string(payload, name, "")
        times[name] = None
        if raw is not None:
            try:
                times[name] = parse_datetime(raw)
            except ValueError as exc:
                check.add(name, str(exc))
    start, end = times["startDateTime"], times["endDateTime"]
    given = {name for name in times if payload.get(name) is not None}
    if both_or_none and len(given) == 1:
        (missing,) = {"startDateTime", "endDateTime"} - given
        check.add(missing, "is required with the other time: Graph changes both times together")
    elif "endDateTime" in given and "startDateTime" not in given:
        check.add("endDateTime", "requires startDateTime (Graph rejects an end without a start)")
    if start and end and end < start:
        check.add("endDateTime", "must not be earlier than startDateTime")
    latest = datetime.max.replace(tzinfo=timezone.utc) - default_duration
    if start and not end and start > latest:
        check.add("startDateTime", f"without endDateTime must leave room for the default {default_duration} meeting "
                                   f"(at the latest {format_datetime(latest)})")
    return start, end


def check_settings(check: Checker, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The onlineMeeting options the payload asks for, each checked against Graph's type."""
    wanted = {name: payload[name] for name in SETTINGS if name in payload}
    for name, value in wanted.items():
        for field, message in problems(name, value, SETTINGS[name]):
            check.add(field, message)
    return wanted


def check_presenters(check: Checker, settings: Mapping[str, Any], attendees: Any) -> None:
    """Graph's rule: allowedPresenters roleIsPresenter needs at least one attendee whose role is presenter."""
    if settings.get("allowedPresenters") != "roleIsPresenter":
        return
    roles = [a.get("role") for a in attendees if isinstance(a, dict)] if isinstance(attendees, list) else []
    if "presenter" not in roles:
        check.add("allowedPresenters", "roleIsPresenter needs at least one attendee with role presenter")


def check_passcode(check: Checker, value: Any) -> bool | None:
    """joinMeetingIdSettings: only isPasscodeRequired can be chosen (Graph generates passcodes; custom ones are not
    supported)."""
    settings = check.obj(value, "joinMeetingIdSettings")
    if settings is None:
        return None
    check.unknown(settings, ("isPasscodeRequired",), "joinMeetingIdSettings.")
    required = settings.get("isPasscodeRequired")
    if not isinstance(required, bool):
        check.add("joinMeetingIdSettings.isPasscodeRequired", "is required: true or false (Graph generates the "
                                                              "passcode; custom passcodes are not supported)")
        return None
    return required


def check_language(check: Checker, value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ACCEPT_LANGUAGE or not _LANGUAGES.fullmatch(value):
        check.add(field, "must be a list of language tags such as en-US or de-DE;q=0.8")
        return None
    return value.strip()
