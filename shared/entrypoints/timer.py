"""The timer adapter: the attendance of meetings created with ``collectAttendance``, collected after they end
(issue 23). Each run claims at most ``BATCH`` due rows (bounded work; the rest waits for the next run) and tells each
occurrence's one ``attendance`` result: to the results queue, and to the key's callbackUrl where one is set, the
delivery's body the stamped result byte for byte (``Told.stamped``)."""
from __future__ import annotations

from typing import Callable

from shared import telemetry
from shared.bootstrap import Container
from shared.entrypoints.told import Told
from shared.usecases.collect_attendance import collect_due_attendance

SCHEDULE = "0 */5 * * * *"  # every five minutes (NCRONTAB, with seconds)
BATCH = 50


def collect_attendance(container_factory: Callable[[], Container]) -> list[Told]:
    """One run, at the app's clock: what each collected occurrence comes to."""
    with telemetry.span("timer collect_attendance", {"broker.source": "timer"}):
        deps = container_factory().deps
        outcomes = collect_due_attendance(deps, deps.clock(), BATCH, artifacts=deps.settings.artifacts)
        for outcome in outcomes:
            telemetry.request_done("collect_attendance", "timer", outcome.status)
        return [Told.of(outcome).stamped() for outcome in outcomes]
