"""Use case: the attendance of meetings created with ``collectAttendance``, collected by a timer after they end and
emitted once per occurrence as an ``attendance`` result: ``schedule_attendance`` keeps a due row, and
``collect_due_attendance`` claims the rows due, reads Graph, and finishes each with its one result or moves it to its
next look (docs/architecture.md, "Attendance after a meeting ends")."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from shared.config.artifacts import ArtifactSettings
from shared.domain.attendance import deadline, first_due, retry_at
from shared.domain.clock import parse_datetime
from shared.domain.errors import BrokerError, MeetingGone
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.ports import DueAttendance, DueChanged
from shared.usecases.attendance import attendance_result, read_attendance
from shared.usecases.callbacks import with_callback
from shared.usecases.context import Context, Deps, Outcome

log = logging.getLogger("shared.usecases")

# How long a collector holds a due row: longer than reading one meeting's reports and records takes with the Graph
# adapter's in-process retries; a collector that died is taken over after it.
CLAIM = timedelta(minutes=5)
SOURCE = "timer"


def schedule_attendance(deps: Deps, record: MeetingRecord, *, artifacts: ArtifactSettings,
                        correlation_id: str | None = None) -> DueAttendance | None:
    """Keep the attendance of the record's meeting due at its end plus the delay (again: moved to the meeting's
    current end). None when the meeting has no end to go by or its attendance was reported already."""
    end = _end(record)
    if end is None:
        return None
    due = DueAttendance(key=record.key, occurrence="", end=end, due_at=first_due(end, artifacts.delay),
                        correlation_id=correlation_id or record.correlation_id)
    for _ in range(3):
        try:
            return deps.repository.schedule_attendance(due)
        except DueChanged:  # scheduled or moved by a concurrent request meanwhile: look again
            continue
    return None


LIVE = frozenset({Status.CREATED, Status.EXISTING, Status.UPDATED})  # outcomes whose meeting stands


def keep_attendance_due(deps: Deps, done: Outcome, *, asked: bool = False) -> Outcome:
    """After a create or a change: the attendance of a meeting whose key asked for it (``asked`` by this request,
    or by the create the record remembers) kept due at its current end. Best effort: the meeting was made either
    way, and a repeat of the request schedules it again."""
    record = done.record
    if done.status not in LIVE or record is None or not record.has_meeting or not (asked or record.collect_attendance):
        return done
    try:
        if not record.collect_attendance:  # a repeat that asks for it: the record remembers, so later changes move it
            record = _remember_asked(deps, record)
        schedule_attendance(deps, record, artifacts=deps.settings.artifacts, correlation_id=record.correlation_id)
    except BrokerError as error:
        log.error("attendance not scheduled code=%s externalId=%r", error.code, record.key.external_id)
    return dataclasses.replace(done, record=record)


def _remember_asked(deps: Deps, record: MeetingRecord) -> MeetingRecord:
    def flag(row: MeetingRecord | None, _: MeetingKey) -> MeetingRecord | None:
        if row is None or row.cancelled or row.collect_attendance:
            return row
        return dataclasses.replace(row, collect_attendance=True, updated_at=deps.clock())

    written = deps.records.write(record.key, flag, current=record)
    return written.record if written is not None else record


Tell = Callable[[Outcome], None]


def collect_due_attendance(deps: Deps, now: datetime, limit: int, *, artifacts: ArtifactSettings,
                           tell: Tell | None = None) -> list[Outcome]:
    """The ``attendance`` outcomes of at most ``limit`` rows due at ``now``, each occurrence's (docs/architecture.md).
    ``tell`` sends an outcome's result (and its delivery) before its row is finished: a run that dies between the two
    leaves the row to its claim's expiry, and the next run tells it again (with the same correlation id and
    webhook-id), so a result is told at least once and never lost. A failure with one row (storage, or ``tell``)
    leaves it to its claim's expiry and goes on with the next. A claim runs from when it is taken (the clock), so a
    long run does not shorten the last ones."""
    owner, outcomes = uuid.uuid4().hex, []
    for due in deps.repository.due_attendance(now, limit):
        try:
            claimed = deps.repository.move_attendance(due, dataclasses.replace(
                due, due_at=max(now, deps.clock()) + CLAIM, lease_owner=owner))
        except DueChanged:
            continue  # another collector claimed it first
        except BrokerError as error:
            log.warning("attendance claim failed code=%s externalId=%r", error.code, due.key.external_id)
            continue
        try:
            collected = _collect(deps, claimed, now, artifacts, tell)
        except BrokerError as error:  # the table or the queue failed: the claim expires and a later run collects it
            log.warning("attendance collection failed code=%s externalId=%r", error.code, due.key.external_id)
            continue
        if collected is not None:
            outcomes.append(collected)
    return outcomes


def _collect(deps: Deps, claimed: DueAttendance, now: datetime, artifacts: ArtifactSettings,
             tell: Tell | None) -> Outcome | None:
    record = deps.records.get(claimed.key)
    if record is None or not record.has_meeting:
        why = "the meeting was cancelled" if record is not None and record.cancelled else "no meeting recorded"
        log.info("attendance not collected (%s) externalId=%r", why, claimed.key.external_id)
        _settle(deps, claimed)
        return None
    end = (_end(record) or claimed.end) if not claimed.occurrence else claimed.end
    if first_due(end, artifacts.delay) > now:  # the meeting was moved later since it was scheduled
        _move(deps, claimed, due_at=first_due(end, artifacts.delay), end=end)
        return None
    attempts = claimed.attempts + 1
    try:
        artifacts.mode.require_attendance()
        attendance = read_attendance(deps, record, organizer_id=record.organizer_id,
                                     correlation_id=claimed.correlation_id or _result_id(claimed))
    except BrokerError as error:
        later = None if isinstance(error, MeetingGone) else retry_at(end, now, attempts, window=artifacts.window,
                                                                     at_least=error.retry_after)
        log.warning("attendance look %d failed code=%s externalId=%r%s", attempts, error.code,
                    claimed.key.external_id, "" if later else "; giving up")
        if later is None:
            return _report(deps, claimed, record, now, None, error, tell)
        _move(deps, claimed, due_at=later, end=end, attempts=attempts, last_error=error.as_result_error())
        return None
    if attendance["reports"]:
        return _report(deps, claimed, record, now, attendance, None, tell)
    later = retry_at(end, now, attempts, window=artifacts.window)
    if later is None:
        log.info("no attendance report by %s externalId=%r", deadline(end, artifacts.window).isoformat(),
                 claimed.key.external_id)
        return _report(deps, claimed, record, now, attendance, None, tell)
    _move(deps, claimed, due_at=later, end=end, attempts=attempts, last_error=None)
    return None


def _report(deps: Deps, claimed: DueAttendance, record: MeetingRecord, now: datetime,
            attendance: dict[str, Any] | None, error: BrokerError | None, tell: Tell | None) -> Outcome | None:
    """The result of the occurrence, told (``tell``) and then its row finished on the claimed version. None when the
    claim was lost meanwhile: without ``tell`` nothing was told; with it, the result was told and the collector that
    took the claim over tells it again (the same ids)."""
    result_id = _result_id(claimed)
    result = attendance_result(record, attendance, error, correlation_id=claimed.correlation_id or result_id,
                               source=SOURCE, now=now)
    if claimed.occurrence:
        result["occurrence"] = claimed.occurrence
    shown = result["attendance"]
    unavailable = bool(result.get("attendanceUnavailable"))
    log.info("attendance reported (%d reports%s) externalId=%r", len(shown["reports"]),
             ", unavailable" if unavailable else "", record.key.external_id)
    told = Outcome(Status.ATTENDANCE, result, meeting=record.meeting, record=record, error=error)
    # The key's callbackUrl, with a webhook-id of the occurrence's own: a delivery told again is the same delivery.
    told = with_callback(deps, Context(str(result["correlationId"]), SOURCE), told,
                         webhook_id=result_id.replace("attendance-", "msg_attendance_", 1))
    if tell is not None:
        tell(told)
    if not _settle(deps, claimed):
        return None
    return told


def _settle(deps: Deps, claimed: DueAttendance) -> bool:
    """Finish the claimed row; False when the claim was lost meanwhile (someone else reports it)."""
    try:
        deps.repository.finish_attendance(claimed)
    except DueChanged:
        log.info("attendance claim lost before finishing externalId=%r", claimed.key.external_id)
        return False
    return True


def _move(deps: Deps, claimed: DueAttendance, *, due_at: datetime, end: datetime, attempts: int | None = None,
          last_error: dict[str, Any] | None = None) -> None:
    """Give the row back for a later look, unclaimed."""
    later = dataclasses.replace(claimed, due_at=due_at, end=end, lease_owner=None, last_error=last_error,
                                attempts=claimed.attempts if attempts is None else attempts)
    try:
        deps.repository.move_attendance(claimed, later)
    except DueChanged:
        log.info("attendance claim lost before moving externalId=%r", claimed.key.external_id)


def _end(record: MeetingRecord) -> datetime | None:
    try:
        return parse_datetime(record.end_date_time) if record.end_date_time else None
    except ValueError:
        return None


def _result_id(due: DueAttendance) -> str:
    """A stable correlation id for a result whose request named none: the same for every attempt."""
    parts = "\x1f".join((due.key.tenant_id, due.key.organizer_key, due.key.external_id, due.occurrence))
    return "attendance-" + hashlib.sha256(parts.encode("utf-8", "surrogatepass")).hexdigest()[:32]
