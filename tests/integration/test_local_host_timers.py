"""The local host's timers: a ticker runs its tick once per interval until stopped, and a failing tick is logged,
not fatal. Driven with a scripted event: nothing waits."""
from __future__ import annotations

import threading

from localdev.host_timers import LocalTimerRequest, TimerTicker


class Script(threading.Event):
    """``wait`` answers "not stopped" ``rounds`` times, then "stopped"."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds, self.waited = rounds, []

    def wait(self, timeout=None) -> bool:
        self.waited.append(timeout)
        self.rounds -= 1
        return self.rounds < 0


def test_the_ticker_runs_once_per_interval_until_stopped_and_survives_a_failing_run():
    runs = []

    def tick() -> int:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the first run fails")
        return 0

    stop = Script(rounds=3)
    ticker = TimerTicker(tick, 15.0, stop)
    ticker.run()  # in this thread
    assert runs == [0, 1, 2] and stop.waited == [15.0] * 4


def test_a_local_timer_request_is_never_past_due():
    assert LocalTimerRequest().past_due is False and LocalTimerRequest(past_due=True).past_due is True
