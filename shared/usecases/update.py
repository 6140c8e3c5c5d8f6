"""Use case: change a recorded meeting to what the caller wants (PATCH /meetings/..., an intake ``update``, and a
repeated POST with other details when ``MEETING_CHANGES=apply``).

The stored meeting is compared with the change; only the members that differ are sent to Graph in one PATCH, and the
record keeps Graph's answer. Nothing differs: no Graph call. An option Graph kept its own value for (tenant policy)
is reported in ``settingsNotApplied`` instead of failing.
"""
from __future__ import annotations

import dataclasses

from ..cas import compare_and_set
from ..errors import BrokerError, FieldError, MeetingNotFound, MeetingPending, PreconditionFailed, ValidationFailed
from ..meeting_changes import attendees_of, not_applied, patch_for
from ..meeting_request import MeetingChange
from ..records import MeetingRecord, Status
from .common import Context, Deps, Outcome, authorize, log, outcome, record_key


def update_meeting(deps: Deps, change: MeetingChange, *, source: str, correlation_id: str,
                   if_match: str | None = None) -> Outcome:
    """``updated`` (Graph changed), ``existing`` (nothing to change), or ``failed``."""
    context = Context(correlation_id, source, change)
    try:
        tenant = authorize(deps, change)
        record = deps.repository.get(record_key(deps, tenant, change.organizer_id, change.external_id))
        if record is None:
            raise MeetingNotFound(f"no meeting is recorded for organizer {change.organizer_id} and this externalId")
        if not record.has_meeting:
            raise MeetingPending("this key has no meeting yet: change it once its create request has succeeded")
        if if_match is not None and if_match != record.etag:
            raise PreconditionFailed("the meeting's record changed since the ETag in If-Match was read: read it "
                                     "again and repeat the change if it still applies")
        return apply_change(deps, context, tenant, record, change)
    except BrokerError as error:
        log.warning("update failed code=%s correlation=%s", error.code, correlation_id)
        return outcome(deps, context, Status.FAILED, error=error)


def apply_change(deps: Deps, context: Context, tenant: str, record: MeetingRecord, change: MeetingChange, *,
                 fingerprint: str | None = None) -> Outcome:
    """PATCH the differences between the recorded meeting and ``change``, and record Graph's answer (with
    ``fingerprint``, the request the meeting now matches, when a POST asked for it)."""
    meeting = record.meeting or {}
    attendees = change.attendees if change.attendees is not None else attendees_of(meeting)
    if change.settings.get("allowedPresenters") == "roleIsPresenter" and not any(
            isinstance(a, dict) and a.get("role") == "presenter" for a in attendees):
        raise ValidationFailed([FieldError("allowedPresenters", "roleIsPresenter needs at least one attendee with "
                                                                "role presenter")])
    patch = patch_for(meeting, change)
    if not patch:
        return outcome(deps, context, Status.EXISTING, tenant=tenant, meeting=meeting, record=record,
                       not_applied=record.settings_not_applied)
    updated = deps.graph.update(tenant, record.organizer_object_id or record.key.organizer_key,
                                str(record.meeting_id), patch, correlation_id=context.correlation_id)
    kept = not_applied(updated, change.settings)
    now = deps.clock()

    def store(current: MeetingRecord | None) -> MeetingRecord:
        if current is None:  # deleted meanwhile (cancelled): Graph's answer is still what the caller gets
            raise MeetingNotFound("the meeting's record was removed while it was being changed")
        return dataclasses.replace(current, meeting=updated, settings_not_applied=kept, last_error=None,
                                   fingerprint=fingerprint or current.fingerprint,
                                   correlation_id=context.correlation_id, source=context.source, updated_at=now)

    stored = compare_and_set(deps.repository, record.key, store, current=record)
    log.info("meeting updated members=%s correlation=%s", ",".join(sorted(patch)), context.correlation_id)
    return outcome(deps, context, Status.UPDATED, tenant=tenant, meeting=updated, record=stored, not_applied=kept)
