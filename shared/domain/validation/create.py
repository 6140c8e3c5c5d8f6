"""The rules a meeting request must pass (POST /meetings, and an intake message with ``action`` create).

Rules come from Graph's createOrGet and Create onlineMeeting references (see the seed documents): externalId is
required; an end without a start, or an end earlier than the start, is an error; participants are Graph's
``meetingParticipants``; the options Graph's PATCH takes are checked against their Graph types.
"""
from __future__ import annotations

from typing import Any

from shared.domain.errors import FieldError, ValidationFailed
from shared.domain.meeting_request import DEFAULT_DURATION, MeetingRequest
from shared.domain.meeting_options import SETTINGS
from shared.domain.messages import TRACEPARENT
from shared.domain.identifiers import UPN, UPN_RULE, has_control_chars, is_guid, is_tenant_id
from shared.domain.calendar_event import EVENT_MEMBERS
from shared.domain.callback_urls import MAX_URL_LENGTH as MAX_CALLBACK_URL
from shared.domain.validation.calendar import check_calendar
from shared.domain.validation.checks import (MAX_ORGANIZER_ID, Checker, check_chat_info, check_language, check_participants, check_passcode,
                     check_presenters, check_settings, check_times, surrogate_paths)

MAX_BODY_BYTES = 64 * 1024
MAX_EXTERNAL_ID = 1000
MAX_SUBJECT = 1024
MAX_CORRELATION_ID = 200

KEY_MEMBERS = ("organizerId", "externalId", "tenantId")
REQUEST_MEMBERS = KEY_MEMBERS + ("subject", "startDateTime", "endDateTime", "participants", "chatInfo",
                                 "joinMeetingIdSettings", "calendar", "callbackUrl", "collectAttendance", *SETTINGS, *EVENT_MEMBERS)
QUEUE_ONLY_MEMBERS = ("correlationId", "acceptLanguage", "action", TRACEPARENT)


def start_checking(payload: Any) -> Checker:
    """A checker for a JSON object whose strings are all Unicode text (lone surrogates cannot be stored or echoed)."""
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError("(body)", "must be a JSON object")])
    broken = surrogate_paths(payload, "")
    if broken:
        raise ValidationFailed([FieldError(p, "contains a lone surrogate, which is not Unicode text")
                                for p in dict.fromkeys(broken)])
    return Checker()


def check_key(check: Checker, payload: dict[str, Any], *, queue: bool) -> tuple[str | None, str | None, str | None,
                                                                                  str | None]:
    """organizerId, externalId, tenantId and (queue) correlationId: what names a meeting and its request."""
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
    correlation_id = None
    if queue:
        correlation_id = check.string(payload, "correlationId", "", max_len=MAX_CORRELATION_ID)
        if correlation_id is not None and (not correlation_id or has_control_chars(correlation_id)):
            check.add("correlationId", "must be a non-empty string without control characters")
    return (organizer.strip() if organizer else None, external_id, tenant.lower() if tenant else None,
            correlation_id)


def validate_request(payload: Any, *, api_version: str = "v1.0", queue: bool = False,
                     accept_language: str | None = None) -> MeetingRequest:
    """Check a decoded JSON payload against every rule; raise ValidationFailed listing all problems.
    ``accept_language``: the HTTP request's Accept-Language header (an intake message carries ``acceptLanguage``)."""
    check = start_checking(payload)
    check.unknown(payload, REQUEST_MEMBERS + (QUEUE_ONLY_MEMBERS if queue else ()), "")
    if queue and payload.get("action", "create") != "create":
        check.add("action", "must be create, update, cancel or attendance")
    organizer, external_id, tenant, correlation_id = check_key(check, payload, queue=queue)
    subject = check.string(payload, "subject", "", max_len=MAX_SUBJECT)
    start, end = check_times(check, payload, default_duration=DEFAULT_DURATION)
    participants = payload.get("participants")
    if participants is not None:
        check_participants(check, participants)
    if payload.get("chatInfo") is not None:
        check_chat_info(check, payload["chatInfo"], api_version)
    settings = check_settings(check, payload)
    check_presenters(check, settings, (participants or {}).get("attendees") if isinstance(participants, dict) else None)
    passcode = check_passcode(check, payload["joinMeetingIdSettings"]) if "joinMeetingIdSettings" in payload else None
    if passcode is not None and payload.get("chatInfo") is not None:
        check.add("chatInfo", "cannot be combined with joinMeetingIdSettings (plain create does not take it)")
    language = check_language(check, payload.get("acceptLanguage") if queue else accept_language,
                              "acceptLanguage" if queue else "Accept-Language")
    calendar, event = check_calendar(check, payload)
    # Its rules (https, a listed host, ...) depend on CALLBACK_ALLOWED_HOSTS: the use case checks them (400
    # callback_not_allowed); a string of a URL's length is all that is asked here.
    callback_url = check.string(payload, "callbackUrl", "", max_len=MAX_CALLBACK_URL)
    collect_attendance = payload.get("collectAttendance", False)
    if not isinstance(collect_attendance, bool):
        check.add("collectAttendance", "must be true or false")

    if check.errors:
        raise ValidationFailed(check.errors)
    assert organizer is not None and external_id is not None
    return MeetingRequest(
        organizer_id=organizer, external_id=external_id, tenant_id=tenant, subject=subject, start=start, end=end,
        participants=participants, chat_info=payload.get("chatInfo"), correlation_id=correlation_id,
        settings=settings, passcode_required=passcode, accept_language=language, calendar=calendar,
        event_members=event, callback_url=callback_url,
        collect_attendance=collect_attendance is True,
    )

