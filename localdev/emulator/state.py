"""In-memory state of the Graph/Entra/managed-identity emulator: ``EmulatorState``, its four stores
(``state.directory``, ``state.online_meetings``, ``state.calendars``, ``state.artifacts``), injected faults, counters,
the record of every Graph call and the clock; one re-entrant lock, shared by the stores (localdev/README.md, "State
and its stores")."""
from __future__ import annotations

import collections
import copy
import threading
import time
from typing import Any, Callable

from .artifact_store import ArtifactStore
from .artifacts import ARTIFACT_ENDPOINTS
from .calendar_store import CalendarStore
from .directory import Directory
from .events import EVENT_ENDPOINTS
from .meeting_store import MeetingStore
from .replies import Fault
from .traffic import GraphTraffic

FAULT_TARGETS = ("token", "identity", "graph", "discovery")
# Graph endpoint names: the ``endpoint`` of recorded calls, the keys of ``counters`` next to the Entra ones.
GRAPH_ENDPOINTS = ("create_or_get", "create_meeting", "get_meeting", "update_meeting", "delete_meeting",
                   "list_meetings", *EVENT_ENDPOINTS, *ARTIFACT_ENDPOINTS)
COUNTER_NAMES = ("token", "identity", "discovery", "jwks", *GRAPH_ENDPOINTS)


class EmulatorState:
    """The stores (directory, online meetings, calendars, artifacts), faults, counters, recorded calls and the
    clock."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self._now = now
        self._clock_offset = 0.0
        self.base_url = ""  # set by GraphEmulator.start(); issuer and endpoint URLs derive from it
        self.directory = Directory(self.lock)
        self.online_meetings = MeetingStore(self.lock, lambda: self.base_url)
        self.calendars = CalendarStore(self.lock, lambda: self.base_url)
        self.artifacts = ArtifactStore(self.lock, self.online_meetings, self.directory)
        self._clear()

    def _clear(self) -> None:
        with self.lock:
            self.directory.clear()
            self.online_meetings.clear()
            self.calendars.clear()
            self.artifacts.clear()
            self._faults: dict[str, collections.deque[Fault]] = {t: collections.deque() for t in FAULT_TARGETS}
            self._counters: collections.Counter[str] = collections.Counter({name: 0 for name in COUNTER_NAMES})
            self._requests: list[dict[str, Any]] = []
            self._fault_plans: dict[str, Callable[[], Fault | None]] = {}
            self._issued: list[str] = []
            # None: the real lifetimes (tokens.ACCESS_TOKEN_LIFETIME, MANAGED_IDENTITY_TOKEN_LIFETIME). Set (seconds)
            # to make every token the emulator issues short-lived, so clients must fetch new ones during a run.
            self.token_lifetime: int | None = None
            # A tenant policy that requires a passcode on every meeting createOrGet makes (as Teams tenants may).
            self.require_passcode = False
            # Latency and rate-limit modes of Graph (off until set), on this state's clock.
            self.traffic = GraphTraffic(self.now)

    def reset(self, *, seed: bool = True) -> None:
        """Forget everything (directory, faults, counters, calls, meetings, setting policies, artifacts, clock
        offset)."""
        with self.lock:
            self._clear()
            self._clock_offset = 0.0
            if seed:
                self.seed_defaults()

    def seed_defaults(self) -> None:
        """The contoso.example tenant, the broker app, its trusted managed identity, alice/bob/carol, the app's access
        policies for alice and bob, and its calendar scopes for their mailboxes."""
        with self.lock:
            self.directory.seed_defaults()
            self.calendars.seed_defaults()

    @property
    def meetings(self) -> list[dict[str, Any]]:
        """The stored meetings as Graph v1.0 onlineMeeting JSON (all enum members), in creation order: what
        ``GET /_emulator/meetings`` shows (``online_meetings.rendered()``)."""
        return self.online_meetings.rendered()

    # ----------------------------------------------------------------------------------------------- clock
    def now(self) -> float:
        return self._now() + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock (on top of the injected one); returns the new now()."""
        with self.lock:
            self._clock_offset += float(seconds)
            return self.now()

    # ----------------------------------------------------------------------------------------------- faults
    def inject(self, target: str, status: int | None, *, count: int | None = 1,
               retry_after: float | int | str | None = None, body: bytes | str | None = None,
               delay: float = 0.0, error_code: str | None = None) -> None:
        """Queue a fault: the next ``count`` requests to ``target`` get it (``count=None``: until clear_faults).

        ``status=None`` keeps the normal answer (use with ``delay`` for latency only). A 4xx/5xx without ``body``
        gets a service-shaped error body; a 2xx/3xx without ``body`` an empty one. Faults queue in order.
        """
        if target not in FAULT_TARGETS:
            raise ValueError(f"unknown fault target {target!r}; expected one of {FAULT_TARGETS}")
        if count is not None and count < 1:
            raise ValueError("count must be a positive integer or None")
        if delay < 0:
            raise ValueError("delay must not be negative")
        raw = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self._faults[target].append(Fault(target, status, count, retry_after, raw, float(delay), error_code))

    def clear_faults(self, target: str | None = None) -> None:
        """Drop the queued faults (of one target only, when given) and the fault plans (of that target)."""
        if target is not None and target not in FAULT_TARGETS:
            raise ValueError(f"unknown fault target {target!r}; expected one of {FAULT_TARGETS}")
        with self.lock:
            for name, queue in self._faults.items():
                if target in (None, name):
                    queue.clear()
                    self._fault_plans.pop(name, None)

    def set_fault_plan(self, target: str, plan: Callable[[], Fault | None] | None) -> None:
        """Consult ``plan()`` for every request to ``target`` that finds no queued fault: it returns the Fault that
        request gets (build one with ``make_fault``) or None for a normal answer. Called under ``state.lock``, so
        a seeded random plan gives each request its own draw. ``None`` removes the plan."""
        if target not in FAULT_TARGETS:
            raise ValueError(f"unknown fault target {target!r}; expected one of {FAULT_TARGETS}")
        with self.lock:
            if plan is None:
                self._fault_plans.pop(target, None)
            else:
                self._fault_plans[target] = plan

    @staticmethod
    def make_fault(target: str, status: int | None, *, retry_after: float | int | str | None = None,
                   body: bytes | str | None = None, delay: float = 0.0, error_code: str | None = None) -> Fault:
        """One fault as ``inject`` would queue it (for fault plans)."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        return Fault(target, status, 1, retry_after, raw, float(delay), error_code)

    def take_fault(self, target: str) -> Fault | None:
        with self.lock:
            queue = self._faults[target]
            if not queue:
                plan = self._fault_plans.get(target)
                return plan() if plan is not None else None
            fault = queue[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
            return copy.copy(fault)

    def faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.as_dict() for queue in self._faults.values() for f in queue]

    # ----------------------------------------------------------------------------------------------- bookkeeping
    def count(self, name: str) -> None:
        with self.lock:
            self._counters[name] += 1

    @property
    def counters(self) -> dict[str, int]:
        with self.lock:
            return dict(self._counters)

    def record_issued(self, secret: str) -> None:
        """Remember a token or assertion the emulator handed out (for log-hygiene checks; never logged)."""
        with self.lock:
            self._issued.append(secret)

    def issued_secrets(self) -> list[str]:
        """Every access token and assertion issued since the last reset, and the passcode of every stored meeting:
        the values that must never show up in a client's logs."""
        with self.lock:
            return [*self._issued, *self.online_meetings.passcodes()]

    def record_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every recorded Graph call, oldest first: method, path, version, endpoint, user (path segment), organizer
        (object id, once known), meeting_id, event_id, headers (Authorization redacted), accept_language,
        client_request_id, body (parsed JSON or None), status, app_id and tenant_id (from a valid token), fault (bool)."""
        with self.lock:
            return copy.deepcopy(self._requests)

    def calls(self, endpoint: str | None = None, *, meeting_id: str | None = None, organizer: str | None = None,
              method: str | None = None, status: int | None = None) -> list[dict[str, Any]]:
        """The recorded Graph calls matching every given filter (``organizer``: object id, case-insensitive)."""
        if endpoint is not None and endpoint not in GRAPH_ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {GRAPH_ENDPOINTS}")
        wanted_organizer = organizer.lower() if organizer else None
        return [entry for entry in self.requests
                if (endpoint is None or entry["endpoint"] == endpoint)
                and (meeting_id is None or entry.get("meeting_id") == meeting_id)
                and (wanted_organizer is None or entry.get("organizer") == wanted_organizer)
                and (method is None or entry["method"] == method.upper())
                and (status is None or entry["status"] == status)]
