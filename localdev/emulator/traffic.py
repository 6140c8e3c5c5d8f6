"""Traffic modes of the emulator's Graph: latency and a per-app rate limit (a token bucket on the state's clock), for
benchmarks (localdev/README.md, "Traffic modes")."""
from __future__ import annotations

import base64
import json
import math
import threading
from typing import Any, Callable, Mapping

from .replies import Fault, Reply


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity``; starts full."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be above 0 and capacity at least 1")
        self.rate, self.capacity = float(rate), float(capacity)
        self.tokens, self._at = float(capacity), now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there will be one (nothing taken)."""
        if now > self._at:
            self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
            self._at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class GraphTraffic:
    """Latency and rate limit of Graph answers; thread-safe. ``clock``: seconds (the emulator state's ``now``)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.latency = 0.0
        self.rate: float | None = None
        self.burst: float | None = None
        self._buckets: dict[str, TokenBucket] = {}
        self.throttled = 0
        self.admitted = 0

    def set_latency(self, seconds: float) -> None:
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError("latency must be a finite number of seconds, 0 or more")
        self.latency = float(seconds)

    def set_rate_limit(self, rate: float | None, burst: float | None = None) -> None:
        """``rate`` requests per second per app (None: no limit); ``burst``: the bucket's size (default ``rate``).
        Every app's bucket starts full again; the counters restart."""
        if rate is not None and (not rate > 0 or math.isinf(rate)):
            raise ValueError("rate_limit must be a positive number of requests per second, or null")
        if burst is not None and (not burst >= 1 or math.isinf(burst)):
            raise ValueError("burst must be at least 1")
        with self._lock:
            self.rate = None if rate is None else float(rate)
            self.burst = None if rate is None else float(burst if burst is not None else max(1.0, rate))
            self._buckets.clear()
            self.throttled = self.admitted = 0

    def off(self) -> None:
        self.set_latency(0.0)
        self.set_rate_limit(None)

    def throttle(self, headers: Mapping[str, str]) -> Fault | None:
        """The 429 this request gets under the rate limit, or None (admitted, or no limit)."""
        if self.rate is None:
            return None
        app = _app_of(headers.get("authorization") or "")
        with self._lock:
            if self.rate is None or self.burst is None:
                return None
            now = self._clock()
            bucket = self._buckets.get(app)
            if bucket is None:
                bucket = self._buckets[app] = TokenBucket(self.rate, self.burst, now)
            wait = bucket.take(now)
            if wait <= 0:
                self.admitted += 1
                return None
            self.throttled += 1
        return Fault("graph", 429, 1, retry_after=max(1, math.ceil(wait)))

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"latency_ms": round(self.latency * 1000, 3), "rate_limit": self.rate, "burst": self.burst,
                    "throttled": self.throttled, "admitted": self.admitted}


def _app_of(authorization: str) -> str:
    """The bucket's key: tenant id and app id from the bearer token's payload (not verified here: the request is
    authenticated after throttling, as a fault is), or "-" when there is none."""
    raw = authorization.partition(" ")[2].strip()
    parts = raw.split(".")
    if len(parts) != 3:
        return "-"
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return "-"
    if not isinstance(claims, dict):
        return "-"
    return f"{claims.get('tid')}/{claims.get('appid') or claims.get('azp')}"


def admin(traffic: GraphTraffic, method: str, data: Mapping[str, Any]) -> Reply:
    """``/_emulator/traffic``: GET the modes and counters; POST ``{"latency_ms"?, "rate_limit"? (null: off),
    "burst"?}`` to change what is given; DELETE turns both off."""
    if method == "GET":
        return Reply.json(200, traffic.as_dict())
    if method == "DELETE":
        traffic.off()
        return Reply.json(200, traffic.as_dict())
    if method != "POST":
        return Reply.json(405, {"error": "use GET, POST or DELETE"})
    unknown = sorted(set(data) - {"latency_ms", "rate_limit", "burst"})
    if unknown:
        return Reply.json(400, {"error": f"unknown members {unknown}: use latency_ms, rate_limit, burst"})
    try:
        if "latency_ms" in data:
            traffic.set_latency(float(data["latency_ms"] or 0) / 1000)
        if "rate_limit" in data or "burst" in data:
            rate = data.get("rate_limit", traffic.rate)
            burst = data.get("burst")
            traffic.set_rate_limit(None if rate is None else float(rate), None if burst is None else float(burst))
    except (TypeError, ValueError) as exc:
        return Reply.json(400, {"error": str(exc)})
    return Reply.json(200, traffic.as_dict())
