"""The rig of ``bench.reliability``: sizes, time, the shared Azurite and emulator, one app world per phase, and the
collection of result messages. One code path, two ways to drive it: live (the command: the host's queue workers, real
time) and stepped (tests/e2e/test_reliability_fast.py: ``host.drain()``, a ``SteppedTime`` that moves only when
someone sleeps, so nothing waits on a clock).
"""
from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import requests
from azure.core.exceptions import AzureError
from azure.storage.queue import QueueClient

from localdev.azurite import Azurite
from localdev.emulator import (
    ALICE_ID, ALICE_UPN, BOB_ID, BOB_UPN, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MI_CLIENT_ID,
    DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID, GraphEmulator,
)
from localdev.world import LocalWorld, environment
from shared import bootstrap
from shared.adapters.graph.client import RetryPolicy

from .results import Results

# A second tenant, named by GUID or by its domain, with one organizer who has the access policy.
FABRIKAM_ID = "7f3e2d1c-5b4a-4c3d-9e8f-0a1b2c3d4e5f"
FABRIKAM_DOMAIN = "fabrikam.example"
ERIN_ID, ERIN_UPN = "2c9d8e7f-6a5b-4c3d-8e1f-9a0b1c2d3e4f", "erin@fabrikam.example"
# (tenant id, [(object id, upn)]) of the organizers the requests name.
ORGANIZERS = {DEFAULT_TENANT_ID: [(ALICE_ID, ALICE_UPN), (BOB_ID, BOB_UPN)], FABRIKAM_ID: [(ERIN_ID, ERIN_UPN)]}
TENANT_NAMES: dict[str, list[str | None]] = {DEFAULT_TENANT_ID: [None, DEFAULT_TENANT_ID, DEFAULT_TENANT_ID.upper(), DEFAULT_TENANT_DOMAIN],
                FABRIKAM_ID: [FABRIKAM_ID, FABRIKAM_DOMAIN, FABRIKAM_DOMAIN.upper()]}
UPN_TO_ID = {upn.lower(): oid for people in ORGANIZERS.values() for oid, upn in people}


@dataclass(frozen=True)
class Sizes:
    """How much each phase does. FULL is ``python -m bench.reliability``; QUICK is ``--quick``; TEST is the fast test."""

    requests: int = 1200             # fault run: logical requests (HTTP sync, HTTP async, queue)
    fault_rate: float = 0.45         # share of createOrGet calls that get an injected fault
    clients: int = 8                 # concurrent callers in the fault run
    token_lifetime: int = 303        # seconds; MSAL treats a token as expired 300 s before its exp
    token_outage: float = 20.0       # seconds the token endpoint fails
    storage_outage: float = 6.0      # seconds Azurite is stopped
    read_timeout: float = 0.5        # the app's Graph read timeout; a delayed answer takes 3x that
    bursts: int = 3                  # rounds of three 50-way bursts (HTTP by UPN, HTTP by object id, queue)
    burst_size: int = 50
    fuzz_http: int = 10_000
    fuzz_queue: int = 2_000
    fuzz_poison: int = 300           # hostile bodies put straight on the poison queue
    fuzz_gets: int = 1_000
    schemathesis: int = 60           # examples per API operation; 0 skips schemathesis
    race_keys: int = 60              # lifecycle races: keys hit by overlapping create/PATCH/lock/DELETE/queue
    race_ops: int = 8                # requests per key (an If-Match pair counts once)
    race_limits: str = "3,6,10"      # one world per MONTHLY_MEETING_LIMIT, each with two quota organizers
    race_quota_over: int = 5         # a quota burst is limit + this many concurrent creates of new keys
    race_delay: float = 0.3          # Graph answers come up to this many seconds late (the operation is done at once)
    race_fault_rate: float = 0.05    # share of Graph calls answered 503 Retry-After: 0.2 (the operation not done)
    race_parallel_keys: int = 4      # keys raced at the same time
    settle: float = 240.0            # seconds to wait for the queues to settle after a phase
    seed: int = 20261122


FULL = Sizes()
QUICK = replace(FULL, requests=300, token_outage=8.0, storage_outage=3.0, bursts=1, fuzz_http=1_000,
                fuzz_queue=300, fuzz_poison=60, fuzz_gets=200, schemathesis=15, race_keys=21, race_ops=6,
                race_limits="3,10")
TEST = replace(FULL, requests=100, clients=4, token_lifetime=300, token_outage=3.0, storage_outage=0.0, read_timeout=0.2, bursts=1,
               fuzz_http=300, fuzz_queue=60, fuzz_poison=30, fuzz_gets=40, schemathesis=0, race_keys=8, race_ops=5,
               race_limits="3", race_quota_over=3, race_delay=0.05)


# ---- time -----------------------------------------------------------------------------------------------------------

class RealTime:
    live = True

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class SteppedTime:
    """Time that moves only when someone sleeps: ``sleep(s)`` adds s and returns at once."""

    live = False

    def __init__(self) -> None:
        self._now, self._lock = 0.0, threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)


# ---- the rig ----------------------------------------------------------------------------------------------------------

class Rig:
    """One persisted Azurite and one emulator for the whole run; each phase gets its own LocalWorld on them."""

    def __init__(self, stack: contextlib.ExitStack, sizes: Sizes, clock: RealTime | SteppedTime, state_dir: Path):
        self.sizes, self.clock, self.stack = sizes, clock, stack
        self.failed: Counter[str] = Counter()  # invocations that raised, per function (set by the log capture)
        self.azurite = stack.enter_context(Azurite(location=state_dir / "azurite"))
        self.emulator = stack.enter_context(GraphEmulator(state_dir / "emulator"))
        state = self.emulator.state
        state.directory.add_tenant(FABRIKAM_ID, domains=(FABRIKAM_DOMAIN,))
        state.directory.add_user(FABRIKAM_ID, ERIN_ID, ERIN_UPN, "Erin Example")
        state.directory.register_app(FABRIKAM_ID, DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET)
        state.directory.grant_policy(FABRIKAM_ID, DEFAULT_CLIENT_ID, ERIN_ID)
        state.token_lifetime = sizes.token_lifetime  # so that MSAL must fetch tokens all through the run
        state.require_passcode = True                # every meeting has a passcode that must never be logged
        stack.enter_context(environment(self.emulator.environment()))  # IDENTITY_ENDPOINT/HEADER for the FIC mode
        stack.callback(bootstrap.use, lambda: bootstrap.build_container(__import__("os").environ))

    def world(self, stack: contextlib.ExitStack, name: str, *, credential: str,
              retry_policy: RetryPolicy = RetryPolicy(), overrides: dict[str, str] | None = None) -> "PhaseWorld":
        overrides = {
            "ALLOWED_TENANTS": f"{DEFAULT_TENANT_ID},{FABRIKAM_ID}",
            "ALLOWED_ORGANIZERS": f"@{DEFAULT_TENANT_DOMAIN},@{FABRIKAM_DOMAIN},{ALICE_ID},{BOB_ID},{ERIN_ID}",
            # No grace window for a missing access policy (carol): the queue path tells the 403 at once instead of
            # trying again for 30 minutes (README "The queues"), so every request ends within the run.
            "ACCESS_POLICY_GRACE_MINUTES": "0",
            **(overrides or {}),
        }
        if credential == "managed_identity_fic":
            overrides.update(GRAPH_CREDENTIAL="managed_identity_fic", MANAGED_IDENTITY_CLIENT_ID=DEFAULT_MI_CLIENT_ID,
                             GRAPH_CLIENT_SECRET="")
        live = self.clock.live
        local = stack.enter_context(LocalWorld(
            azurite=self.azurite, emulator=self.emulator, overrides=overrides,
            suffix=f"{name}{uuid.uuid4().hex[:6]}", queue_workers=live, visibility_timeout=1 if live else 0,
            polling_interval=0.5, lease_seconds=30))
        container = bootstrap.build_container(local.settings, retry_policy=retry_policy, sleep=self.clock.sleep)
        bootstrap.use(lambda: container)
        return stack.enter_context(PhaseWorld(local, live))


class PhaseWorld:
    """A LocalWorld of one phase, with a plain HTTP session, its queues and the collector of its result messages."""

    def __init__(self, local: LocalWorld, live: bool) -> None:
        self.local, self.live = local, live
        assert local.host is not None
        self.host = local.host
        self.url = local.base_url
        self.http = requests.Session()
        self.http.trust_env = False  # plain HTTP to the local host, no proxy
        self.intake = self._queue("MEETING_REQUESTS_QUEUE")
        self.poison = self._queue("MEETING_REQUESTS_QUEUE", "-poison")
        # Where the host moves a poison message whose own invocation failed 5 times: no trigger reads it.
        self.poison_poison = self._queue("MEETING_REQUESTS_QUEUE", "-poison-poison")
        self.results = Results(self._queue("MEETING_RESULTS_QUEUE"), background=live)

    def _queue(self, setting: str, suffix: str = "") -> QueueClient:
        # retry_total=0: the caller decides about retries (and sees an outage as an error at once)
        return QueueClient.from_connection_string(self.local.connection_string, self.local.settings[setting] + suffix,
                                                  retry_total=0)

    def __enter__(self) -> "PhaseWorld":
        return self

    def __exit__(self, *exc: object) -> None:
        self.results.stop()
        self.http.close()

    def backlog(self) -> int:
        """Messages still in the intake and poison queues (in flight included)."""
        return sum(q.get_queue_properties().approximate_message_count or 0 for q in (self.intake, self.poison))

    def settle(self, done: Callable[[], bool], timeout: float, quiet_for: float = 5.0) -> bool:
        """Let the queues settle: live, wait until ``done()`` with both request queues and the results queue empty,
        or until they have stayed empty for ``quiet_for`` seconds (nothing more is coming), at most ``timeout``;
        stepped, drain until the request queues are empty. Returns ``done()``."""
        if not self.live:
            for _ in range(50):
                self.host.drain(max_rounds=500, parallel=True)
                if self.backlog() == 0:
                    break
            self.results.collect()
            return done()
        deadline, quiet_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                quiet = self.backlog() == 0 and self.results.pending() == 0
            except AzureError:
                quiet = False
            if not quiet:
                quiet_since = None
            else:
                self.results.collect()
                if done():
                    return True
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_for:
                    break
            time.sleep(0.25)
        self.results.collect()
        return done()

    def stranded(self) -> int:
        """Messages in the poison queue's own poison queue (no trigger reads them: their requests are lost)."""
        try:
            return self.poison_poison.get_queue_properties().approximate_message_count or 0
        except AzureError:  # never created: nothing was moved there
            return 0

    def rows(self) -> list[dict[str, Any]]:
        """The meeting records of the table, whatever the key layout: entities with a tenant, an organizer key, an
        externalId and a status (alias, index and counter rows lack one of them)."""
        return [dict(row) for row in self.local.table().list_entities()
                if all(row.get(name) is not None for name in ("TenantId", "OrganizerKey", "ExternalId", "Status"))]
