"""Use case: create a meeting, or get the one its (tenant, organizer, externalId) already has: createOrGet, then one
PATCH of the options it does not take; a passcode choice by plain create (``plain_create.py``), a calendar-backed
meeting by an Outlook event (``calendar.py``); a repeat from the table.
"""
from __future__ import annotations

from typing import Any

from shared.config.settings import MeetingChanges
from shared.domain.errors import BrokerError, MeetingKindDiffers, PasscodeSettingImmutable
from shared.domain.identifiers import organizer_object_id
from shared.domain.meeting_diff import not_applied
from shared.domain.meeting_options import differing
from shared.domain.meeting_request import MeetingChange, MeetingRequest
from shared.domain.records import Kind, MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, from_table, log, outcome, refused
from shared.usecases.guards import calendar_mode
from shared.usecases.keyed_write import tombstone
from shared.usecases.record_outcome import UNRECORDABLE, failed, record_meeting
from shared.usecases.collect_attendance import keep_attendance_due
from shared.usecases.shell import keyed_use_case


def create_meeting(deps: Deps, request: MeetingRequest, *, source: str, correlation_id: str,
                   final: bool) -> Outcome:
    """Create or get the meeting. Failures come back as a ``failed`` Outcome; with ``final`` false (the queue path)
    a retryable failure leaves the row pending (the adapter raises so the host retries), and a 403 within the
    access-policy grace window comes back ``deferred`` with a delayed intake copy."""
    context = Context(correlation_id, source, request)

    def checks(_: str) -> None:
        request.graph_body(deps.clock())  # every derived value is valid before anything is written
        calendar_mode(deps, request.calendar)
        if request.collect_attendance:
            deps.settings.artifacts.mode.require_attendance()

    done = keyed_use_case(deps, context, lambda tenant, key: _create(deps, context, request, tenant, key, final=final),
                          checks=checks, doing="create")
    return keep_attendance_due(deps, done, asked=request.collect_attendance)


def _create(deps: Deps, context: Context, request: MeetingRequest, tenant: str, key: MeetingKey, *,
            final: bool) -> Outcome:
    record = None if deps.organizers.nothing_keyed_by(key) else deps.repository.get(key)
    if record is not None and record.cancelled:
        return refused(deps, context, tombstone(record, status=409))
    if record is not None and record.kind.calendar != request.calendar:
        return refused(deps, context, MeetingKindDiffers(
            f"this externalId's meeting is {'calendar-backed' if record.kind.calendar else 'a standalone meeting'}; a "
            "key's kind is fixed by its first request: use a new externalId for the other kind"))
    if record is not None and record.has_meeting:
        return _repeat(deps, context, request, tenant, record)
    if request.plain_create or request.calendar:  # the lease holder alone takes a place under the limit
        # imported here, as in _repeat: a new instance loads what its requests ask for (docs/architecture.md)
        from shared.usecases.calendar import create_calendar
        from shared.usecases.plain_create import create_plain

        leased = create_calendar if request.calendar else create_plain
        return leased(deps, context, request, tenant, key, record, final=final)
    ticket = deps.quotas.admit(tenant, key.organizer_key, key.external_id)
    try:
        answer = deps.graph.create_or_get(tenant, request.organizer_id, request.graph_body(deps.clock()),
                                          correlation_id=context.correlation_id,
                                          accept_language=request.accept_language)
        meeting = _with_settings(deps, context, tenant, answer.meeting, request.settings)
    except BrokerError as error:
        deps.quotas.give_back(ticket)
        return failed(deps, context, request, tenant, key, record, error, final=final)
    try:
        stored = record_meeting(deps, context, request, key, record, meeting, not_applied(meeting, request.settings),
                                kind=Kind.CREATE_OR_GET, ticket=ticket, created=answer.created)
    except UNRECORDABLE as error:  # cancelled meanwhile, or no place left: the meeting was removed again
        return failed(deps, context, request, tenant, key, None, error, final=True)
    status = Status.CREATED if answer.created else Status.EXISTING
    log.info("meeting %s correlation=%s externalId=%r", status, context.correlation_id, request.external_id)
    quota = deps.quotas.figures(stored.key.tenant_id, stored.key.organizer_key)
    return outcome(deps, context, status, tenant=tenant, meeting=stored.meeting, record=stored,
                   not_applied=stored.settings_not_applied, quota=quota)


def _with_settings(deps: Deps, context: Context, tenant: str, meeting: dict[str, Any],
                   settings: dict[str, Any]) -> dict[str, Any]:
    """The meeting with the options asked for: one PATCH of those that differ (none: no call)."""
    patch = differing(settings, meeting)
    if not patch:
        return meeting
    return deps.graph.update(tenant, str(organizer_object_id(meeting)), meeting["id"], patch,
                             correlation_id=context.correlation_id)


def _repeat(deps: Deps, context: Context, request: MeetingRequest, tenant: str, record: MeetingRecord) -> Outcome:
    """A key whose meeting is recorded: the same request is answered from the table; other details are applied or
    kept as ``MEETING_CHANGES`` says."""
    if record.fingerprint == request.fingerprint:
        return from_table(deps, context, record)
    passcode = bool(((record.meeting or {}).get("joinMeetingIdSettings") or {}).get("isPasscodeRequired"))
    if request.passcode_required is not None and request.passcode_required != passcode:
        return refused(deps, context, PasscodeSettingImmutable(
            "this externalId's meeting was created with isPasscodeRequired "
            f"{str(passcode).lower()}; a passcode setting can only be chosen when a meeting is created: use a new "
            "externalId"))
    if deps.settings.meeting_changes is MeetingChanges.KEEP:
        return from_table(deps, context, record)
    from shared.usecases.update import apply_change

    start, end = (request.times(request.start) if request.start else (None, None))
    change = MeetingChange(organizer_id=request.organizer_id, external_id=request.external_id,
                           subject=request.subject, start=start, end=end,
                           attendees=(request.participants or {}).get("attendees"), settings=request.settings,
                           event_members=request.event_members)
    return apply_change(deps, context, tenant, record.key, change, current=record, fingerprint=request.fingerprint)
