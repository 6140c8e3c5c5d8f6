"""Calendars of the emulator (``CalendarStore``, ``EmulatorState.calendars``): events by id, the transactionId index,
what attendees receive (a log per mailbox address), who may write which calendar, and faults that strike after an
event operation has acted (localdev/README.md, "State and its stores")."""
from __future__ import annotations

import collections
import copy
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .directory import ALICE_ID, BOB_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID
from .events import CALENDARS_READ_ROLE, CALENDARS_ROLE, EVENT_ENDPOINTS, Event, render_event


@dataclass
class AfterFault:
    """The operation acts, then the answer is replaced: an error status, or the connection is dropped unanswered."""

    endpoint: str
    status: int | None
    drop: bool
    remaining: int
    error_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "status": self.status, "drop": self.drop, "remaining": self.remaining,
                "error_code": self.error_code}


class CalendarStore:
    """Events, mailboxes, calendar scopes and after-faults; guarded by ``lock`` (the state's, which every store
    shares). ``graph_root``: the emulator's URL, for the JSON of ``event_list``."""

    def __init__(self, lock: threading.RLock, graph_root: Callable[[], str]) -> None:
        self.lock = lock
        self._graph_root = graph_root
        self.clear()

    def clear(self) -> None:
        """Forget every event, message, calendar scope and after-fault."""
        with self.lock:
            self._events: dict[str, Event] = {}
            self._transactions: dict[tuple[str, str, str], str] = {}
            self._mailboxes: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
            self._calendar_scopes: set[tuple[str, str, str]] = set()
            self._after_faults: dict[str, collections.deque[AfterFault]] = collections.defaultdict(collections.deque)

    def seed_defaults(self) -> None:
        """The seeded broker app's calendar scopes: alice's and bob's mailboxes (not carol's)."""
        with self.lock:
            for user in (ALICE_ID, BOB_ID):
                self.grant_calendar_scope(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, user)

    # ----------------------------------------------------------------------------------------------- access
    def grant_calendar_scope(self, tenant_id: str, client_id: str, user_object_id_or_star: str) -> None:
        """RBAC for Applications: ``Application Calendars.ReadWrite`` for the app, scoped to a mailbox (or "*")."""
        with self.lock:
            self._calendar_scopes.add((tenant_id.lower(), client_id.lower(), user_object_id_or_star.lower()))

    def revoke_calendar_scope(self, tenant_id: str, client_id: str, user_object_id_or_star: str) -> None:
        with self.lock:
            self._calendar_scopes.discard((tenant_id.lower(), client_id.lower(), user_object_id_or_star.lower()))

    def calendar_scopes(self) -> list[dict[str, str]]:
        with self.lock:
            return [{"tenant_id": t, "client_id": c, "user": u} for t, c, u in sorted(self._calendar_scopes)]

    def may_use_calendar(self, tenant_id: str, client_id: str, user_object_id: str, roles: Iterable[str], *,
                         write: bool) -> bool:
        granted = set(roles)
        if CALENDARS_ROLE in granted or (not write and CALENDARS_READ_ROLE in granted):
            return True
        t, c = tenant_id.lower(), client_id.lower()
        with self.lock:
            return (t, c, user_object_id.lower()) in self._calendar_scopes or (t, c, "*") in self._calendar_scopes

    # ----------------------------------------------------------------------------------------------- after-faults
    def inject_after(self, endpoint: str, status: int | None = 503, *, drop: bool = False, count: int = 1,
                     error_code: str | None = None) -> None:
        """The next ``count`` calls of an event endpoint act (an event is created, changed, cancelled), then answer
        ``status`` with Graph's error body, or, with ``drop``, close the connection without an answer: the
        ambiguous failure a client cannot tell from "nothing happened"."""
        if endpoint not in EVENT_ENDPOINTS:
            raise ValueError(f"unknown event endpoint {endpoint!r}; expected one of {EVENT_ENDPOINTS}")
        if count < 1 or (status is None and not drop) or (status is not None and not 400 <= status <= 599):
            raise ValueError("give a 4xx/5xx status or drop=True, and a positive count")
        with self.lock:
            self._after_faults[endpoint].append(AfterFault(endpoint, status, drop, count, error_code))

    def take_after_fault(self, endpoint: str) -> AfterFault | None:
        with self.lock:
            queue = self._after_faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return copy.copy(fault)

    def after_faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.as_dict() for queue in self._after_faults.values() for f in queue]

    def clear_after_faults(self) -> None:
        with self.lock:
            self._after_faults.clear()

    # ----------------------------------------------------------------------------------------------- events
    def store_event(self, event: Event) -> Event:
        with self.lock:
            self._events[event.id] = event
            if event.transaction_id and event.is_organizer:
                self._transactions[(event.tenant_id, event.mailbox_id, event.transaction_id)] = event.id
            return event

    def event_by_transaction(self, tenant_id: str, mailbox_id: str, transaction_id: str) -> Event | None:
        with self.lock:
            event_id = self._transactions.get((tenant_id, mailbox_id, transaction_id))
            return self._events.get(event_id) if event_id else None

    def find_event(self, event_id: str) -> Event | None:
        """The stored event itself (change it only while holding the lock)."""
        with self.lock:
            return self._events.get(event_id)

    def remove_event(self, event_id: str) -> Event | None:
        with self.lock:
            event = self._events.pop(event_id, None)
            for key in [k for k, v in self._transactions.items() if v == event_id]:
                del self._transactions[key]
            return event

    def calendar(self, tenant_id: str, mailbox_id: str) -> list[Event]:
        """The events in one user's calendar, oldest first (the stored objects: read them under the lock)."""
        with self.lock:
            return [e for e in self._events.values() if e.tenant_id == tenant_id and e.mailbox_id == mailbox_id]

    def copies_of(self, event_id: str) -> list[Event]:
        with self.lock:
            return [e for e in self._events.values() if e.master_id == event_id]

    def event_count(self, mailbox_id: str | None = None) -> int:
        """Events in every calendar (or one user's: object id), attendees' copies included."""
        with self.lock:
            return sum(1 for e in self._events.values() if mailbox_id is None or e.mailbox_id == mailbox_id.lower())

    def event_list(self, mailbox_id: str | None = None) -> list[dict[str, Any]]:
        """The events of every calendar, or of one user's (object id), oldest first: Graph v1.0 JSON in UTC, with all
        their extended properties."""
        with self.lock:
            return [render_event(e, graph_root=self._graph_root(), version="v1.0",
                                 user_segment=e.mailbox_id, zone="UTC", expand=("*",))
                    for e in self._events.values() if mailbox_id is None or e.mailbox_id == mailbox_id.lower()]

    # ----------------------------------------------------------------------------------------------- mailboxes
    def deliver(self, address: str, message: dict[str, Any]) -> None:
        with self.lock:
            self._mailboxes[address.lower()].append({**copy.deepcopy(message), "to": address})

    def mailbox(self, address: str) -> list[dict[str, Any]]:
        """What one address received (invitations, updates, cancellations), oldest first."""
        with self.lock:
            return copy.deepcopy(self._mailboxes.get(address.lower(), []))

    def mailboxes(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return copy.deepcopy(dict(self._mailboxes))
