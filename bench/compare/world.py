"""The world both sides of ``python -m bench.compare`` run against, all on 127.0.0.1: one Graph/Entra emulator in its
own process (so neither side shares a GIL with it) and the SDK worker process for the whole run, and for each
repetition a fresh broker world (``broker.Broker``: an in-memory Azurite started with ``--disableTelemetry``
by LocalWorld, the local Functions host serving function_app.py, one app container shared by the in-process measures
and the host)."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any, Iterator

import msal
import requests

from localdev.emulator import (ALICE_ID, ALICE_UPN, BOB_ID, BOB_UPN, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                               DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID)
from localdev.processes import stop_process
from localdev.world import LocalWorld
from shared import bootstrap
from shared.domain.validation import validate_request
from shared.domain.clock import utc_now

from ..common import REPO_ROOT, meeting_body
from .broker import Broker
from .sdk_venv import SdkWorker, cpu_seconds

ORGANIZERS = [ALICE_UPN, BOB_UPN]
APP_OVERRIDES = {
    "ALLOWED_ORGANIZERS": f"@{DEFAULT_TENANT_DOMAIN},{ALICE_ID},{BOB_ID}",
    # A full run creates ~5,000 meetings per organizer; the default limit (2,000 a month) would refuse most of them.
    # Counting stays on (the same reads and writes per create); only the limit is out of reach.
    "MONTHLY_MEETING_LIMIT": "1000000",
}


class EmulatorProcess:
    """``python -m localdev.emulator`` in its own process, with what LocalWorld asks of an emulator (url, CA, app
    settings) and its admin API (``/_emulator``) for counters and traffic modes."""

    def __init__(self, workdir: Path, log: IO[str]) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "localdev.emulator", "--workdir", str(workdir)],
                                         stdout=subprocess.PIPE, stderr=log, text=True, cwd=str(REPO_ROOT))
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator did not start (exit code {self._process.wait()})")
        info = json.loads(line)
        self.url: str = info["url"]
        self.ca_bundle = Path(info["ca_bundle"])
        self.authority_host = self.graph_base_url = self.url
        self._admin = requests.Session()
        self._admin.trust_env = False
        self._admin.verify = str(self.ca_bundle)

    @property
    def pid(self) -> int:
        return self._process.pid

    def app_settings(self) -> dict[str, str]:
        """As ``GraphEmulator.app_settings``: the seeded app with its client secret."""
        return {"GRAPH_TENANT_ID": DEFAULT_TENANT_ID, "GRAPH_CLIENT_ID": DEFAULT_CLIENT_ID,
                "GRAPH_CREDENTIAL": "client_secret", "GRAPH_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                "GRAPH_AUTHORITY_HOST": self.url, "GRAPH_BASE_URL": self.url,
                "ALLOWED_ORGANIZERS": f"@{DEFAULT_TENANT_DOMAIN},{ALICE_ID},{BOB_ID}"}

    def admin(self, method: str, resource: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._admin.request(method, f"{self.url}/_emulator/{resource}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, int]:
        return self.admin("GET", "state")["counters"]

    def traffic(self, latency_ms: float = 0, rate_limit: float | None = None) -> dict[str, Any]:
        """Set both modes (a new rate limit starts with full buckets)."""
        return self.admin("POST", "traffic", {"latency_ms": latency_ms, "rate_limit": rate_limit})

    def stop(self) -> None:
        self._admin.close()
        stop_process(self._process)


AZURITE_WARM_OPERATIONS = 1500


def warm_azurite(connection_string: str, operations: int = AZURITE_WARM_OPERATIONS) -> None:
    """Run a new Azurite's table and queue code until Node's JIT has compiled it, on a table and a queue of their
    own (removed after, so no measured table holds more rows): a fresh Azurite spends about twice the CPU per request
    for its first few thousand requests (bench/README.md), which would fall on whichever side's block comes first in
    a repetition's rotation. Neither Table Storage nor a long-running Azurite has that cost."""
    from azure.data.tables import TableClient, UpdateMode
    from azure.storage.queue import QueueClient

    with TableClient.from_connection_string(connection_string, "warmup" + uuid.uuid4().hex[:8]) as table, \
            QueueClient.from_connection_string(connection_string, "warmup-" + uuid.uuid4().hex[:8]) as queue:
        table.create_table()
        queue.create_queue()
        for i in range(operations):
            entity = {"PartitionKey": f"p{i % 50}", "RowKey": f"r{i % 200}", "Subject": "warm", "Attempts": i}
            table.upsert_entity(entity, mode=UpdateMode.REPLACE)
            table.get_entity(entity["PartitionKey"], entity["RowKey"])
            if i % 3 == 0:
                queue.send_message("warm")
        table.delete_table()
        queue.delete_queue()


class CompareWorld:
    """The long-lived part of a comparison run (the emulator process and the SDK worker), and ``broker()``: a fresh
    storage world for the broker and the peer. Closed with the ExitStack it was given."""

    def __init__(self, stack: contextlib.ExitStack, sdk_python: Path, log: IO[str],
                 settings: dict[str, str] | None = None) -> None:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="compare-sdk-")))
        self.emulator = EmulatorProcess(workdir / "emulator", log)
        # Each repetition's LocalWorld writes its CA bundle (REQUESTS_CA_BUNDLE) here, not in a folder of its own that
        # its close removes: the broker's Graph client, kept across repetitions, goes on reading the first one's path.
        self._broker_dir = workdir / "broker"
        stack.callback(self.emulator.stop)
        self.overrides = {**APP_OVERRIDES, **(settings or {})}
        self._graph: Any = None   # the broker's Graph client (its token cache, its connections), kept across storages
        self._tenants: Any = None
        self._floor: tuple[requests.Session, str] | None = None
        self._stack = stack
        stack.callback(bootstrap.use, lambda: bootstrap.build_container(os.environ))
        # The body Graph gets from the broker for the typical request: the SDK sends the same.
        self.graph_body = validate_request(meeting_body("template"), queue=False).graph_body(utc_now())
        self.sdk = SdkWorker(sdk_python, self.sdk_config(), self.emulator.ca_bundle, log)
        stack.callback(self.sdk.close)

    def floor_session(self) -> tuple[requests.Session, str]:
        """A bare ``requests.Session`` trusting the emulator's CA, and an app token for it (MSAL, once per run)."""
        if self._floor is None:
            session = requests.Session()
            session.trust_env = False  # loopback: no proxy, and the CA is given here
            session.verify = str(self.emulator.ca_bundle)
            app = msal.ConfidentialClientApplication(
                DEFAULT_CLIENT_ID, client_credential=DEFAULT_CLIENT_SECRET, http_client=session,
                authority=f"{self.emulator.url}/{DEFAULT_TENANT_ID}", instance_discovery=False)
            answer = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
            if "access_token" not in answer:
                raise RuntimeError(f"no token for the floor measure: {answer.get('error')}")
            self._floor = (session, answer["access_token"])
            self._stack.callback(session.close)
        return self._floor

    def sdk_config(self, **extra: Any) -> dict[str, Any]:
        return {"url": self.emulator.url, "ca": str(self.emulator.ca_bundle), "tenant": DEFAULT_TENANT_ID,
                "client_id": DEFAULT_CLIENT_ID, "secret": DEFAULT_CLIENT_SECRET, "body": self.graph_body, **extra}

    @contextlib.contextmanager
    def broker(self) -> Iterator[Broker]:
        """A new in-memory Azurite, the local host on it and the app container, for one repetition.

        Azurite slows down as it holds more rows (a point read takes ~2 ms in a fresh Azurite, ~5 ms past 20,000
        rows, ~15 ms past 40,000, and stays slower after the table is deleted), which Table Storage does not: a full
        run writes ~40,000 rows, so each repetition gets its own. The container is new too (its repository and
        table), but keeps the Graph client of the first one: one process, one token cache, as in a Functions worker.
        """
        with LocalWorld(emulator=self.emulator, suffix=uuid.uuid4().hex[:8], overrides=self.overrides,
                        state_dir=self._broker_dir) as local:
            warm_azurite(local.connection_string)
            container = bootstrap.build_container(local.settings, graph=self._graph, tenants=self._tenants)
            self._graph, self._tenants = container.deps.graph, container.deps.tenants
            container.deps.repository.ensure_ready()  # as the template makes the table in Azure
            bootstrap.use(lambda: container)
            # The peer's table in the same Azurite (its own table, made before it is measured, as the broker's is).
            self.sdk.ask("storage", connection_string=local.connection_string,
                         table=f"peer{local.settings.get('MEETINGS_TABLE', 'meetings')}")
            with Broker(local, container.deps) as broker:
                yield broker

    def cpu(self, broker: Broker | None = None) -> dict[str, float | None]:
        """CPU seconds so far of each process (this one holds the broker, the local host and the clients)."""
        return {"bench": cpu_seconds(os.getpid()),
                "azurite": cpu_seconds(broker.azurite_pid()) if broker is not None else None,
                "emulator": cpu_seconds(self.emulator.pid), "sdk": cpu_seconds(self.sdk.pid)}
