"""One attempt of one result callback (issue 21): send it, then delivered, re-enqueued for the next attempt,
dead-lettered after the last, or stopped by a 410.

The next attempt is enqueued (with the schedule's visibility delay) before this one returns, so the queue message
of this attempt completes only once the next one exists: a crash in between repeats this attempt (the receiver sees
the same webhook-id again and deduplicates) and loses none. The same holds for the failed queue and for noting a 410.
An error raised by a port propagates: the host retries the message.

Ports are plain callables (``DeliveryPorts``), so the queue adapter wires them in a few lines:
``send`` is ``adapters.callbacks.CallbackSender.send``; ``requeue`` sends ``delivery.to_json()`` to
MEETING_CALLBACKS_QUEUE with ``visibility_timeout=delay``; ``dead_letter`` sends ``record.to_json()`` to
MEETING_CALLBACKS_FAILED_QUEUE; ``note_gone`` remembers (key, url) and ``is_gone`` reads it back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable

from shared.domain.callbacks import AttemptOutcome, AttemptResult, CallbackDelivery, FailedDelivery
from shared.domain.clock import Clock, utc_now

log = logging.getLogger(__name__)


def _never_gone(delivery: CallbackDelivery) -> bool:
    return False


@dataclass(frozen=True)
class DeliveryPorts:
    send: Callable[[CallbackDelivery], AttemptResult]
    requeue: Callable[[CallbackDelivery, int], None]      # the next attempt, visible after ``delay`` seconds
    dead_letter: Callable[[FailedDelivery], None]
    note_gone: Callable[[CallbackDelivery], None]         # a 410: stop delivering to this url for this key
    is_gone: Callable[[CallbackDelivery], bool] = _never_gone
    clock: Clock = utc_now


class Ending(StrEnum):
    DELIVERED = "delivered"
    REQUEUED = "requeued"          # another attempt is on the queue
    DEAD_LETTERED = "dead_lettered"
    STOPPED = "stopped"            # the receiver answered 410 Gone
    SKIPPED = "skipped"            # an earlier 410 for this key and url: not sent


@dataclass(frozen=True)
class DeliveryReport:
    ending: Ending
    attempt: AttemptResult | None = None   # None when not sent
    delay: int | None = None               # seconds before the next attempt, when requeued


def deliver_attempt(delivery: CallbackDelivery, schedule: tuple[int, ...], ports: DeliveryPorts) -> DeliveryReport:
    """Make attempt ``delivery.attempt`` of ``1 + len(schedule)``; ``schedule[n - 1]`` seconds pass before attempt
    ``n + 1``."""
    total = len(schedule) + 1
    if ports.is_gone(delivery):
        log.info("callback skipped webhook-id=%s host=%s attempt=%d/%d: its receiver answered 410 Gone before",
                 delivery.webhook_id, delivery.host, delivery.attempt, total)
        return DeliveryReport(Ending.SKIPPED)
    result = ports.send(delivery)
    _log_attempt(delivery, total, result)
    if result.outcome is AttemptOutcome.DELIVERED:
        return DeliveryReport(Ending.DELIVERED, result)
    if result.outcome is AttemptOutcome.GONE:
        ports.note_gone(delivery)
        return DeliveryReport(Ending.STOPPED, result)
    if delivery.attempt < total:
        delay = schedule[delivery.attempt - 1]
        ports.requeue(delivery.next_attempt(), delay)
        return DeliveryReport(Ending.REQUEUED, result, delay)
    ports.dead_letter(FailedDelivery(delivery, result, ports.clock()))
    log.warning("callback gave up webhook-id=%s host=%s after %d attempts: moved to the failed queue",
                delivery.webhook_id, delivery.host, delivery.attempt)
    return DeliveryReport(Ending.DEAD_LETTERED, result)


def _log_attempt(delivery: CallbackDelivery, total: int, result: AttemptResult) -> None:
    level = logging.INFO if result.outcome is AttemptOutcome.DELIVERED else logging.WARNING
    log.log(level, "callback attempt %d/%d webhook-id=%s host=%s status=%s duration_ms=%d outcome=%s%s",
            delivery.attempt, total, delivery.webhook_id, delivery.host,
            result.status if result.status is not None else "-", result.duration_ms, result.outcome,
            f" error={result.error}" if result.error else "")
