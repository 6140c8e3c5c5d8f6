"""The bookkeeping of a queue attempt costs nothing on the happy path (a first attempt)."""
from __future__ import annotations

from shared.domain.validation import validate_request
from shared.usecases.attempts import note_attempt, queued_correlation


def _request(**extra):
    return validate_request({"organizerId": "alice@contoso.example", "externalId": "x", **extra}, queue=True)


class Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"a first attempt touched deps.{name}")


def test_a_first_attempt_reads_and_writes_nothing():
    assert note_attempt(Untouchable(), _request(), message_id="m-1", dequeue_count=1) is None


def test_a_request_that_carries_its_own_correlation_id_is_not_noted():
    assert note_attempt(Untouchable(), _request(correlationId="c-1"), message_id="m-1", dequeue_count=3) is None


def test_no_record_or_no_request_gives_no_correlation():
    assert queued_correlation(None, None) is None
