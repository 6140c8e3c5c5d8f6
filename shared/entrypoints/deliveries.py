"""The callbacks queue adapter (issue 21): one message on MEETING_CALLBACKS_QUEUE is one attempt of one result's
delivery to its callbackUrl (``usecases.deliver``). The next attempt is queued, or the delivery kept on the failed
queue, before this message completes; an error of those queues or of the record raises, so the host hands the message
out again (the attempt is repeated: receivers deduplicate on webhook-id). A message that is no delivery is logged and
kept on the failed queue; one the host gave up on (its poison queue) is kept there too. Nothing is dropped."""
from __future__ import annotations

import logging
from typing import Callable

from shared import telemetry
from shared.bootstrap import Container
from shared.domain.callbacks import AttemptResult, CallbackDelivery, FailedDelivery, malformed_delivery
from shared.domain.clock import Clock
from shared.usecases.callbacks import callback_gone, note_callback_gone
from shared.usecases.deliver import DeliveryPorts, DeliveryReport, deliver_attempt

log = logging.getLogger(__name__)


def deliver(body: bytes, *, message_id: str, container_factory: Callable[[], Container]) -> DeliveryReport | None:
    """Make the attempt a delivery message stands for; None when the message is no delivery (kept as failed)."""
    container = container_factory()
    deps, outlets = container.deps, container.callbacks
    try:
        delivery = CallbackDelivery.from_json(body)
    except ValueError as error:
        log.error("callbacks queue message %s is not a delivery (%s): kept on the failed queue", message_id, error)
        outlets.dead_letter(malformed_delivery(_text(body), str(error), deps.clock()))
        telemetry.callback_delivered("malformed")
        return None

    def dead_letter(failed: FailedDelivery) -> None:
        outlets.dead_letter(failed.to_json())

    ports = DeliveryPorts(send=outlets.send, requeue=outlets.requeue, dead_letter=dead_letter,
                          note_gone=lambda gone: note_callback_gone(deps, gone),
                          is_gone=lambda asked: callback_gone(deps, asked), clock=deps.clock)
    report = deliver_attempt(delivery, deps.settings.callbacks.retry_schedule, ports)
    telemetry.callback_delivered(report.ending)
    return report


def poisoned(body: bytes, *, message_id: str, clock: Clock) -> str:
    """The failed queue's record of a delivery message the host gave up on (every dequeue of it failed: storage or
    settings unavailable, a bug). Needs neither settings nor storage: the output binding writes it."""
    problem = "the callbacks function failed on every dequeue of this attempt (host.json maxDequeueCount)"
    log.error("callback delivery message %s given up by the host: kept on the failed queue", message_id)
    telemetry.callback_delivered("poisoned")
    try:
        delivery = CallbackDelivery.from_json(body)
    except ValueError as error:
        return malformed_delivery(_text(body), f"{problem}; {error}", clock())
    return FailedDelivery(delivery, AttemptResult.not_sent(problem), clock()).to_json()


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")
