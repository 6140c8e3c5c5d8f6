"""Timer triggers for the local host: a timer function runs when a test or the local run asks (``run_timers``), and,
when the host is given an interval, every that many seconds on a thread of its own. The NCRONTAB schedule is not
interpreted: locally what matters is that the function runs, on demand or often."""
from __future__ import annotations

import logging
import threading
from typing import Callable

import azure.functions as func

log = logging.getLogger("localdev.host")


class LocalTimerRequest(func.TimerRequest):
    """What a timer function gets: never past due locally."""

    def __init__(self, past_due: bool = False) -> None:
        self._past_due = past_due

    @property
    def past_due(self) -> bool:
        return self._past_due


class TimerTicker(threading.Thread):
    """Calls ``tick`` every ``interval`` seconds until ``stop`` is set; a failing tick is logged, not fatal."""

    def __init__(self, tick: Callable[[], int], interval: float, stop: threading.Event) -> None:
        super().__init__(name="local-host-timers", daemon=True)
        self._tick, self._interval, self._halt = tick, interval, stop

    def run(self) -> None:
        while not self._halt.wait(self._interval):
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the host keeps running, as the real one does
                log.exception("a timer run failed")
