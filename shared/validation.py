"""The rules a meeting request must pass. Every broken rule is collected, so the caller fixes a body in one round trip.

Rules come from Graph's createOrGet reference (see the seed documents): externalId is required; an end without a
start, or an end earlier than the start, is an error; participants are Graph's ``meetingParticipants``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from .errors import FieldError, ValidationFailed
from .meeting_request import DEFAULT_DURATION, MeetingRequest
from .values import UPN, UPN_RULE, format_datetime, has_control_chars, is_guid, is_tenant_id, parse_datetime, safe_text

MAX_BODY_BYTES = 64 * 1024
MAX_EXTERNAL_ID = 1000
MAX_ORGANIZER_ID = 256
MAX_SUBJECT = 1024
MAX_ATTENDEES = 1000
MAX_MEMBER_NAME = 100
LATEST_START_WITHOUT_END = datetime.max.replace(tzinfo=timezone.utc) - DEFAULT_DURATION

# Graph's onlineMeetingRole members a caller may send (unknownFutureValue is a sentinel, not a role).
ROLES = ("attendee", "presenter", "producer", "coorganizer")
REQUEST_MEMBERS = ("organizerId", "externalId", "tenantId", "subject", "startDateTime", "endDateTime", "participants",
                   "chatInfo")
QUEUE_ONLY_MEMBERS = ("correlationId",)


def _surrogate_paths(value: Any, path: str) -> list[str]:
    """Where a JSON document holds lone surrogates: valid JSON escapes, but not Unicode text (cannot be UTF-8)."""
    if isinstance(value, str):
        return [path or "(body)"] if any("\ud800" <= ch <= "\udfff" for ch in value) else []
    if isinstance(value, dict):
        found = []
        for name, member in value.items():
            inner = f"{path}.{safe_text(name, MAX_MEMBER_NAME)}".lstrip(".")
            found += _surrogate_paths(name, inner) + _surrogate_paths(member, inner)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _surrogate_paths(item, f"{path}[{i}]")]
    return []


class _Checker:
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


def _check_identity(check: _Checker, value: Any, field: str) -> None:
    identity = check.obj(value, field)
    if identity is None:
        return
    check.unknown(identity, ("id", "displayName", "tenantId"), f"{field}.")
    for name in ("id", "displayName", "tenantId"):
        check.string(identity, name, f"{field}.", max_len=MAX_ORGANIZER_ID)


def _check_participant(check: _Checker, value: Any, field: str) -> None:
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


def _check_participants(check: _Checker, value: Any) -> None:
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


def _check_chat_info(check: _Checker, value: Any, api_version: str) -> None:
    chat = check.obj(value, "chatInfo")
    if chat is None:
        return
    if api_version != "beta":
        check.add("chatInfo", "is only supported by Graph beta (GRAPH_API_VERSION=beta)")
    check.unknown(chat, ("threadId", "messageId", "replyChainMessageId"), "chatInfo.")
    for name in ("threadId", "messageId", "replyChainMessageId"):
        check.string(chat, name, "chatInfo.", max_len=MAX_ORGANIZER_ID)


def validate_request(payload: Any, *, api_version: str = "v1.0", queue: bool = False) -> MeetingRequest:
    """Check a decoded JSON payload against every rule; raise ValidationFailed listing all problems."""
    check = _Checker()
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("(body)", "must be a JSON object")])
    broken = _surrogate_paths(payload, "")
    if broken:
        raise ValidationFailed([FieldError(p, "contains a lone surrogate, which is not Unicode text")
                                for p in dict.fromkeys(broken)])
    check.unknown(payload, REQUEST_MEMBERS + (QUEUE_ONLY_MEMBERS if queue else ()), "")

    organizer = check.string(payload, "organizerId", "", max_len=MAX_ORGANIZER_ID, nullable=False)
    if "organizerId" not in payload or payload["organizerId"] is None:
        check.add("organizerId", "is required (the organizer's object id or UPN)")
    elif organizer is not None and (has_control_chars(organizer) or not (
            is_guid(organizer.strip()) or UPN.fullmatch(organizer.strip()))):
        check.add("organizerId", f"must be an object id (GUID) or a user principal name such as name@contoso.com "
                                 f"({UPN_RULE})")

    external_id = check.string(payload, "externalId", "", nullable=False)
    if "externalId" not in payload or payload["externalId"] is None:
        check.add("externalId", "is required")
    elif external_id is not None:
        if not external_id:
            check.add("externalId", "must not be empty")
        elif len(external_id) > MAX_EXTERNAL_ID:
            check.add("externalId", f"must be at most {MAX_EXTERNAL_ID} characters")
        elif has_control_chars(external_id):
            check.add("externalId", "must not contain control characters")

    tenant = check.string(payload, "tenantId", "", max_len=253)
    if tenant is not None and not is_tenant_id(tenant):
        check.add("tenantId", "must be a tenant id (GUID) or a verified domain")

    subject = check.string(payload, "subject", "", max_len=MAX_SUBJECT)
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
    if payload.get("endDateTime") is not None and payload.get("startDateTime") is None:
        check.add("endDateTime", "requires startDateTime (Graph rejects an end without a start)")
    if start and end and end < start:
        check.add("endDateTime", "must not be earlier than startDateTime")
    if start and not end and start > LATEST_START_WITHOUT_END:
        check.add("startDateTime", f"without endDateTime must leave room for the default {DEFAULT_DURATION} meeting "
                                   f"(at the latest {format_datetime(LATEST_START_WITHOUT_END)})")

    if payload.get("participants") is not None:
        _check_participants(check, payload["participants"])
    if payload.get("chatInfo") is not None:
        _check_chat_info(check, payload["chatInfo"], api_version)

    correlation_id = None
    if queue:
        correlation_id = check.string(payload, "correlationId", "", max_len=200)
        if correlation_id is not None and (not correlation_id or has_control_chars(correlation_id)):
            check.add("correlationId", "must be a non-empty string without control characters")

    if check.errors:
        raise ValidationFailed(check.errors)
    assert organizer is not None and external_id is not None
    return MeetingRequest(
        organizer_id=organizer.strip(),
        external_id=external_id,
        tenant_id=tenant.lower() if tenant else None,
        subject=subject,
        start=start,
        end=end,
        participants=payload.get("participants"),
        chat_info=payload.get("chatInfo"),
        correlation_id=correlation_id,
    )
