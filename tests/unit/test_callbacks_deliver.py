"""One attempt of one callback delivery (issue 21), with its ports as plain callables: delivered, re-enqueued with
the schedule's delay before the attempt completes, dead-lettered after the last attempt, stopped by a 410."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest

from shared.domain.callbacks import AttemptResult, CallbackDelivery, FailedDelivery
from shared.usecases.deliver import DeliveryPorts, Ending, deliver_attempt

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
BODY = '{"correlationId":"c-1","status":"created","meeting":{"id":"m1"}}'
URL = "https://hooks.example.com/hook?token=s3cr3t"


class Queues:
    """The ports: a scripted receiver, the callbacks queue, the failed queue and the 410 notes, in call order."""

    def __init__(self, *answers: AttemptResult) -> None:
        self.answers = list(answers)
        self.sent: list[CallbackDelivery] = []
        self.queued: list[tuple[CallbackDelivery, int]] = []
        self.failed: list[FailedDelivery] = []
        self.gone: set[tuple[str | None, str]] = set()
        self.events: list[str] = []

    def send(self, delivery: CallbackDelivery) -> AttemptResult:
        self.sent.append(delivery)
        self.events.append(f"send {delivery.attempt}")
        return self.answers.pop(0)

    def requeue(self, delivery: CallbackDelivery, delay: int) -> None:
        self.queued.append((CallbackDelivery.from_json(delivery.to_json()), delay))  # as the queue would carry it
        self.events.append(f"requeue {delivery.attempt} after {delay}")

    def dead_letter(self, record: FailedDelivery) -> None:
        self.failed.append(record)
        self.events.append("dead letter")

    def note_gone(self, delivery: CallbackDelivery) -> None:
        self.gone.add((delivery.key, delivery.url))

    def ports(self) -> DeliveryPorts:
        return DeliveryPorts(self.send, self.requeue, self.dead_letter, self.note_gone,
                             is_gone=lambda d: (d.key, d.url) in self.gone, clock=lambda: NOW)

    def run(self, delivery: CallbackDelivery, schedule: tuple[int, ...]) -> list[Ending]:
        """Attempts until none is queued: what the queue trigger does, message by message."""
        endings = []
        while True:
            endings.append(deliver_attempt(delivery, schedule, self.ports()).ending)
            if not self.queued or endings[-1] is not Ending.REQUEUED:
                return endings
            delivery, _ = self.queued[-1]


def first() -> CallbackDelivery:
    return CallbackDelivery.first(url=URL, body=BODY, now=NOW, key="tenant|organizer|ext-1")


def test_a_2xx_is_delivered_on_the_first_attempt():
    queues = Queues(AttemptResult.answered(204, 30))
    report = deliver_attempt(first(), (5, 300), queues.ports())
    assert report.ending is Ending.DELIVERED and report.attempt == AttemptResult.answered(204, 30)
    assert queues.queued == [] and queues.failed == []


def test_500_then_200_is_two_attempts_of_one_webhook_id_the_second_after_the_first_delay():
    queues = Queues(AttemptResult.answered(500), AttemptResult.answered(200))
    assert queues.run(first(), (5, 300)) == [Ending.REQUEUED, Ending.DELIVERED]
    assert [d.attempt for d in queues.sent] == [1, 2]
    assert len({d.webhook_id for d in queues.sent}) == 1 and queues.sent[1].body == BODY
    assert [delay for _, delay in queues.queued] == [5]


def test_the_next_attempt_is_enqueued_before_the_current_one_returns_so_a_failing_enqueue_repeats_it():
    queues = Queues(AttemptResult.not_sent("connect timeout"))

    def broken_queue(delivery, delay):
        raise ConnectionError("queue unavailable")

    ports = DeliveryPorts(queues.send, broken_queue, queues.dead_letter, queues.note_gone)
    with pytest.raises(ConnectionError):
        deliver_attempt(first(), (5,), ports)  # the message is not completed: the host delivers it again


def test_a_410_stops_delivering_for_the_key_and_url():
    queues = Queues(AttemptResult.answered(410))
    assert queues.run(first(), (5, 300)) == [Ending.STOPPED]
    assert queues.gone == {("tenant|organizer|ext-1", URL)} and queues.queued == [] and queues.failed == []
    later = CallbackDelivery.first(url=URL, body=BODY, now=NOW, key="tenant|organizer|ext-1")
    assert deliver_attempt(later, (5,), queues.ports()).ending is Ending.SKIPPED
    assert len(queues.sent) == 1, "nothing is sent to a url that answered 410 for this key"


def test_every_attempt_failing_ends_dead_lettered_with_the_result_intact():
    schedule = (0, 60, 3600)
    queues = Queues(AttemptResult.answered(503), AttemptResult.not_sent("read timeout", 15000),
                    AttemptResult.answered(302, 12), AttemptResult.answered(500, 40))
    assert queues.run(first(), schedule) == [Ending.REQUEUED] * 3 + [Ending.DEAD_LETTERED]
    assert queues.events == ["send 1", "requeue 2 after 0", "send 2", "requeue 3 after 60", "send 3",
                             "requeue 4 after 3600", "send 4", "dead letter"]
    record = json.loads(queues.failed[0].to_json())
    assert record["result"] == json.loads(BODY) and record["callbackUrl"] == URL and record["attempts"] == 4
    assert record["lastAnswer"] == {"status": 500, "error": None, "durationMs": 40}
    assert record["webhookId"] == queues.sent[0].webhook_id


def test_an_attempt_past_a_shortened_schedule_is_the_last():
    delivery = first().next_attempt().next_attempt().next_attempt()  # attempt 4 of a schedule now 1 retry long
    queues = Queues(AttemptResult.answered(500))
    assert deliver_attempt(delivery, (5,), queues.ports()).ending is Ending.DEAD_LETTERED


def test_with_no_retries_the_first_failure_is_dead_lettered():
    queues = Queues(AttemptResult.answered(404))
    assert queues.run(first(), ()) == [Ending.DEAD_LETTERED]


def test_each_attempt_is_logged_with_webhook_id_host_status_and_duration_never_the_query(caplog):
    queues = Queues(AttemptResult.answered(500, 87), AttemptResult.answered(200, 12))
    with caplog.at_level(logging.INFO, logger="shared.usecases.deliver"):
        queues.run(first(), (5,))
    lines = [record.getMessage() for record in caplog.records]
    webhook_id = queues.sent[0].webhook_id
    assert lines[0] == (f"callback attempt 1/2 webhook-id={webhook_id} host=hooks.example.com status=500 "
                        "duration_ms=87 outcome=retry")
    assert lines[1] == (f"callback attempt 2/2 webhook-id={webhook_id} host=hooks.example.com status=200 "
                        "duration_ms=12 outcome=delivered")
    assert not any("s3cr3t" in line or "token" in line for line in lines)
