"""The timer adapter: the attendance of meetings created with ``collectAttendance``, collected after they end
(issue 23). Each run claims at most ``BATCH`` due rows (bounded work; the rest waits for the next run) and tells each
occurrence's ``attendance`` result: to the results queue, and to the key's callbackUrl where one is set, the
delivery's body the stamped result byte for byte (``Told.stamped``). Both are sent (the container's outbox) before
the occurrence's row is finished, not returned to output bindings: the host writes those only after the function
returned, and a host that died in between lost them, with the row finished."""
from __future__ import annotations

from typing import Callable

from shared import telemetry
from shared.bootstrap import Container
from shared.entrypoints.told import Told
from shared.usecases.collect_attendance import collect_due_attendance
from shared.usecases.context import Outcome

SCHEDULE = "0 */5 * * * *"  # every five minutes (NCRONTAB, with seconds)
BATCH = 50


def collect_attendance(container_factory: Callable[[], Container]) -> list[Told]:
    """One run, at the app's clock: what each collected occurrence came to, told already."""
    with telemetry.span("timer collect_attendance", {"broker.source": "timer"}):
        container = container_factory()
        deps, told = container.deps, []

        def tell(outcome: Outcome) -> None:
            stamped = Told.of(outcome).stamped()
            container.outbox(stamped.result, stamped.callback)
            told.append(stamped)

        for outcome in collect_due_attendance(deps, deps.clock(), BATCH, artifacts=deps.settings.artifacts,
                                              tell=tell):
            telemetry.request_done("collect_attendance", "timer", outcome.status)
        return told
