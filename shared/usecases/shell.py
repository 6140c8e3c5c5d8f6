"""The shell a use case about one key runs in: the callbackUrl, allowlists, early checks, the key, one ``failed``
outcome for any BrokerError on the way, and the result's delivery to its callbackUrl."""
from __future__ import annotations

from typing import Callable

from shared import telemetry
from shared.domain.errors import BrokerError
from shared.domain.records import MeetingKey, Status
from shared.usecases.callbacks import check_callback_url, with_callback
from shared.usecases.context import Context, Deps, Outcome, log, outcome
from shared.usecases.guards import authorize


def keyed_use_case(deps: Deps, context: Context, step: Callable[[str, MeetingKey], Outcome], *,
                   checks: Callable[[str], None] | None = None, doing: str) -> Outcome:
    """The shell of a use case about one key: a callbackUrl the request names may be called
    (``callbacks.check_callback_url``), the request's tenant and organizer are allowed (``guards.authorize``),
    ``checks(tenant)`` pass, the key is resolved, and ``step(tenant, key)`` does the work; a BrokerError on the way
    ends in a ``failed`` outcome (logged, not recorded: a step records what it must itself). The result goes to its
    callbackUrl too (``callbacks.with_callback``)."""
    request = context.request
    assert request is not None
    key: MeetingKey | None = None
    with telemetry.span(f"usecase {doing}", {"broker.usecase": doing, "broker.source": context.source}) as span:
        try:
            check_callback_url(deps, request)
            tenant = authorize(deps, request)
            if checks is not None:
                checks(tenant)
            key = deps.records.key(tenant, request.organizer_id, request.external_id)
            done = step(tenant, key)
        except BrokerError as error:
            log.warning("%s failed code=%s correlation=%s externalId=%r", doing, error.code, context.correlation_id,
                        request.external_id)
            done = outcome(deps, context, Status.FAILED, error=error, quota=error.extra.get("quota"))
        span.set("broker.status", done.status)
        if done.error is not None:
            span.fail(done.error.code)
        return with_callback(deps, context, done, key)
