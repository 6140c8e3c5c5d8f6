"""What one invocation tells its output bindings: the result message and that result's delivery to a callbackUrl,
the delivery's body the result message byte for byte, also once the result carries its ``traceparent``."""
from __future__ import annotations

from dataclasses import dataclass

from shared import telemetry
from shared.domain.callbacks import with_body
from shared.usecases.context import Outcome


@dataclass(frozen=True)
class Told:
    """What one message comes to: its result message (None: deferred) and that result's delivery to a callbackUrl,
    whose body is the result message byte for byte."""

    result: str | None = None
    callback: str | None = None

    @classmethod
    def of(cls, outcome: Outcome | None) -> "Told":
        return cls(outcome.message, outcome.callback) if outcome is not None else cls()

    def stamped(self) -> "Told":
        """The result with the current span's ``traceparent``, and its delivery carrying that very text."""
        result = telemetry.stamp("result", self.result)
        callback = with_body(self.callback, result) if self.callback is not None and result is not None else \
            self.callback
        return Told(result, callback)
