"""The bookkeeping of a queue attempt costs nothing on the happy path (a first attempt)."""
from __future__ import annotations

from shared.usecases.attempts import note_attempt, queued_correlation


class Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"a first attempt touched deps.{name}")


def test_a_first_attempt_reads_and_writes_nothing():
    payload = {"organizerId": "alice@contoso.example", "externalId": "x"}
    assert note_attempt(Untouchable(), payload, message_id="m-1", dequeue_count=1) is None


def test_an_update_or_cancel_message_is_not_noted():
    for action in ("update", "cancel"):
        payload = {"action": action, "organizerId": "alice@contoso.example", "externalId": "x"}
        assert note_attempt(Untouchable(), payload, message_id="m-1", dequeue_count=3) is None


def test_no_record_or_no_request_gives_no_correlation():
    assert queued_correlation(None, None) is None
