"""What every use case works with: its dependencies (``Deps``), who and what a request is about (``Context``), and the
``Outcome`` it returns."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from shared.config.settings import Settings
from shared.domain.calendar_event import event_summary
from shared.domain.clock import Clock
from shared.domain.errors import BrokerError
from shared.domain.meeting_request import MeetingCancel, MeetingChange, MeetingRequest
from shared.domain.messages import payload_ids, result_message, to_message
from shared.domain.records import MeetingRecord, Status
from shared.ports import GraphPort, MeetingRepository, TenantResolver
from shared.usecases.keyed_write import Records
from shared.usecases.organizers import OrganizerDirectory
from shared.usecases.quota import QuotaBook

log = logging.getLogger("shared.usecases")


@dataclass(frozen=True)
class Deps:
    """The ports and settings a use case works with; built once by ``shared.bootstrap``."""

    settings: Settings
    repository: MeetingRepository
    graph: GraphPort
    clock: Clock
    tenants: TenantResolver
    organizers: OrganizerDirectory
    quotas: QuotaBook
    sleep: Callable[[float], None] = time.sleep  # waiting for another request's lease (plain create)

    @property
    def records(self) -> Records:
        """The one way a record changes (``shared.usecases.keyed_write``)."""
        return Records(self.repository, self.organizers)


@dataclass(frozen=True)
class Outcome:
    """What one request came to."""

    status: Status
    result: dict[str, Any] | None        # the result message; None while nothing is to be emitted yet
    meeting: dict[str, Any] | None = None
    record: MeetingRecord | None = None
    error: BrokerError | None = None
    retry_in: timedelta | None = None    # DEFERRED: when the delayed copy becomes visible
    intake: str | None = None            # ACCEPTED / DEFERRED: the intake message to queue
    not_applied: tuple[str, ...] = ()    # options Graph kept its own value for
    quota: dict[str, int] | None = None  # the organizer's figures, from 90% of the monthly limit
    callback: str | None = None          # the result's first delivery to a callbackUrl (``usecases.callbacks``)

    @property
    def event(self) -> dict[str, Any] | None:
        """A calendar-backed meeting's event: ``{id, iCalUId, webLink}``."""
        return event_summary(self.record.event if self.record is not None else None)

    @property
    def message(self) -> str | None:
        """The result message as the results queue carries it."""
        return to_message(self.result) if self.result is not None else None

    @property
    def retryable_failure(self) -> bool:
        return self.error is not None and self.error.retryable


@dataclass(frozen=True)
class Context:
    """Who and what a result is about: the request (validated or not) and where it came from."""

    correlation_id: str
    source: str                                  # "http" or "queue"
    request: MeetingRequest | MeetingChange | MeetingCancel | None = None
    payload: Any = None                          # the raw payload, when the request did not validate

    def ids(self, default_tenant: str) -> tuple[str | None, str | None, str | None]:
        if self.request is not None:
            return self.request.tenant_id or default_tenant, self.request.organizer_id, self.request.external_id
        raw = payload_ids(self.payload)
        return raw["tenantId"] or default_tenant, raw["organizerId"], raw["externalId"]


def outcome(deps: Deps, context: Context, status: Status, *, tenant: str | None = None,
            meeting: dict[str, Any] | None = None, record: MeetingRecord | None = None,
            error: BrokerError | None = None, not_applied: tuple[str, ...] = (),
            quota: dict[str, int] | None = None) -> Outcome:
    """An outcome with its result message."""
    default_tenant, organizer_id, external_id = context.ids(deps.settings.tenant_id)
    result = result_message(
        correlation_id=context.correlation_id, tenant_id=tenant or default_tenant, organizer_id=organizer_id,
        external_id=external_id, status=status, meeting=meeting,
        error=error.as_result_error() if error else None, source=context.source, completed_at=deps.clock(),
    )
    if not_applied:
        result["settingsNotApplied"] = list(not_applied)
    if quota:
        result["quota"] = dict(quota)
    if record is not None and record.event:
        result["event"] = event_summary(record.event)
    return Outcome(status, result, meeting=meeting, record=record, error=error, not_applied=not_applied,
                   quota=quota)


def refused(deps: Deps, context: Context, error: BrokerError) -> Outcome:
    """A request that ends in ``error`` with nothing (more) stored: emitted as ``failed``."""
    return outcome(deps, context, Status.FAILED, error=error)


def from_table(deps: Deps, context: Context, record: MeetingRecord) -> Outcome:
    """A repeat of a request whose meeting is recorded: answered without calling Graph."""
    log.info("answered from the table correlation=%s externalId=%r", context.correlation_id,
             record.key.external_id)
    return outcome(deps, context, Status.EXISTING, tenant=record.key.tenant_id, meeting=record.meeting,
                   record=record, not_applied=record.settings_not_applied)

