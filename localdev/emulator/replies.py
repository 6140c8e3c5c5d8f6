"""What the emulator's endpoints answer with: ``Reply`` (one HTTP answer, or ``DroppedReply``: none) and ``Fault`` (an
injected answer that replaces one)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """One HTTP answer, built by the endpoint modules and written by the HTTP layer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> "Reply":
        merged = {"Content-Type": "application/json; charset=utf-8"}
        merged.update(headers or {})
        return cls(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), merged)


class DroppedReply(Reply):
    """No answer: the transport closes the connection (the operation has acted)."""

    drop = True


@dataclass
class Fault:
    target: str
    status: int | None
    remaining: int | None  # None: until clear_faults()
    retry_after: float | int | str | None = None
    body: bytes | None = None
    delay: float = 0.0
    error_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "status": self.status, "remaining": self.remaining,
                "retry_after": self.retry_after, "delay": self.delay, "error_code": self.error_code,
                "body": None if self.body is None else self.body.decode("utf-8", "replace")}
