"""The faults of ``bench.reliability``'s fault run: the emulator's fault plan for Graph, and the outages of the
token endpoint and of Azurite, started and ended as the run goes."""
from __future__ import annotations

import json
import random
import threading
from typing import Any

from .rig import PhaseWorld, Rig


class GraphFaults:
    """The emulator's fault plan for Graph: each createOrGet call draws its fault (or none) from a seeded RNG."""

    def __init__(self, state: Any, rng: random.Random, rate: float, read_timeout: float) -> None:
        make = state.make_fault
        bogus = json.dumps({"id": "bogus"})
        self.kinds = [  # (name, weight, fault)
            ("429 without Retry-After", 7, make("graph", 429)),
            ("429 Retry-After: 0.2", 6, make("graph", 429, retry_after="0.2")),
            ("429 Retry-After: 1.5", 3, make("graph", 429, retry_after="1.5")),
            ("429 Retry-After: 3 (over the in-process cap)", 2, make("graph", 429, retry_after="3")),
            ("500", 4, make("graph", 500)),
            ("502", 4, make("graph", 502)),
            ("503", 5, make("graph", 503)),
            ("503 Retry-After: 0.5", 3, make("graph", 503, retry_after="0.5")),
            ("504", 5, make("graph", 504)),
            ("timeout (answered after the read timeout)", 6, make("graph", None, delay=read_timeout * 3)),
            ('200 {"id":"bogus"}', 3, make("graph", 200, body=bogus)),
            ('201 {"id":"bogus"}', 3, make("graph", 201, body=bogus)),
            ("200 with an empty body", 2, make("graph", 200, body=b"")),
            ("201 not JSON", 2, make("graph", 201, body="{not json")),
        ]
        self.latency = make("graph", None, delay=min(0.1, read_timeout / 3))
        self.rng, self.rate = rng, rate
        self.calls = 0
        self.counts: dict[str, int] = {name: 0 for name, _, _ in self.kinds}
        self.counts["latency (answered late, within the timeout)"] = 0

    def __call__(self) -> Any:  # called under the emulator's lock
        self.calls += 1
        if self.rng.random() < self.rate:
            name, _, fault = self.rng.choices(self.kinds, [w for _, w, _ in self.kinds])[0]
            self.counts[name] += 1
            return fault
        if self.rng.random() < 0.08:
            self.counts["latency (answered late, within the timeout)"] += 1
            return self.latency
        return None

    @property
    def failures(self) -> int:
        return sum(n for name, n in self.counts.items() if not name.startswith("latency"))


class Outages:
    """The token-endpoint outage and the Azurite stop/start, started when 30 % and 60 % of the requests have been
    sent and ended after their duration (on ``tick()``, which every caller calls often, and on ``finish()``)."""

    def __init__(self, rig: Rig, world: PhaseWorld, total: int) -> None:
        self.rig, self.world, self.total = rig, world, total
        self.sizes, self.clock = rig.sizes, rig.clock
        self.started = self.in_flight = 0
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self.token: dict[str, Any] = {}
        self.storage: dict[str, Any] = {}
        self.token_refusals = 0

    def request_started(self) -> None:
        with self._idle:
            if not self.clock.live and not self.storage and self.started >= 0.6 * self.total:
                # Stepped: restart Azurite between requests (none in flight), so that no caller waits on the
                # storage SDK's retries in real time; live, it stops under full traffic.
                self._idle.wait_for(lambda: self.in_flight == 0)
                self._storage_down(self.clock.now())
                self._storage_up()
            self.started += 1
            self.in_flight += 1
        self.tick()

    def request_done(self) -> None:
        with self._idle:
            self.in_flight -= 1
            self._idle.notify_all()

    def tick(self) -> None:
        with self._lock:
            now = self.clock.now()
            if not self.token and self.started >= 0.3 * self.total:
                self._token_down(now)
            if self.token and "until" in self.token and now >= self.token["until"]:
                self._token_up()
            if self.clock.live and not self.storage and self.started >= 0.6 * self.total:
                self._storage_down(now)
            if self.storage and "until" in self.storage and now >= self.storage["until"]:
                self._storage_up()

    def _storage_down(self, now: float) -> None:
        self.storage = {"rows_before": len(self.world.rows()), "until": now + self.sizes.storage_outage, "from": now}
        self.world.local.stop_storage()

    def _token_down(self, now: float) -> None:
        state = self.rig.emulator.state
        statuses = random.Random(self.sizes.seed)
        # Live: Entra's 5xx without Retry-After (MSAL then holds the failure for 5 s). Stepped: Retry-After 0, so
        # that MSAL does not hold it for 5 s of wall time after the (stepped) outage has ended.
        retry_after = None if self.clock.live else "0"

        def refuse() -> Any:
            self.token_refusals += 1
            return state.make_fault("token", statuses.choice((500, 503, 504)), retry_after=retry_after)

        self.token = {"until": now + self.sizes.token_outage, "calls_before": state.counters["token"], "from": now}
        state.set_fault_plan("token", refuse)

    def _token_up(self) -> None:
        state = self.rig.emulator.state
        state.clear_faults("token")
        self.token["calls"] = state.counters["token"] - self.token.pop("calls_before")
        self.token["seconds"] = round(self.clock.now() - self.token.pop("from"), 1)
        del self.token["until"]

    def _storage_up(self) -> None:
        self.world.local.start_storage()
        del self.storage["until"]
        self.storage["seconds"] = round(self.clock.now() - self.storage.pop("from"), 1)
        self.storage["rows_after"] = len(self.world.rows())

    def finish(self) -> None:
        with self._lock:
            if self.token and "until" in self.token:
                self._token_up()
            if self.storage and "until" in self.storage:
                self._storage_up()
