"""Fixtures of the integration tests: the emulator on a clock the test moves (one per module), and local Functions
hosts on the toy app with fresh queue names."""
from __future__ import annotations

import azure.functions as func
import pytest
import requests

from localdev.emulator import GraphEmulator
from localdev.host import LocalFunctionsHost
from tests.integration.toyapp import HOST_JSON, make_app, new_queue_name
from tests.support import Clock


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def clocked_emulator(tmp_path_factory, clock):
    """A fresh emulator for the module whose token lifetimes follow ``clock``; reset it between tests."""
    with GraphEmulator(tmp_path_factory.mktemp("graph-emulator"), now=clock) as emu:
        yield emu


@pytest.fixture
def fresh_emulator(clocked_emulator, clock, monkeypatch):
    """The module's emulator, reset (seeded directory, no meetings, calls, faults or policies) on a reset clock, with
    REQUESTS_CA_BUNDLE naming its CA."""
    clock.reset()
    clocked_emulator.state.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(clocked_emulator.ca_bundle))
    return clocked_emulator


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def token(http, emulator) -> str:
    """An app-only Graph token of the seeded broker app (client secret), from the token endpoint."""
    from tests.integration.emulator_support import secret_token

    return secret_token(http, emulator)


@pytest.fixture
def start_host(azurite):
    """Start a host on a fresh toy app (or a given app) with fresh queue names; stopped at teardown.

    ``start(app=None, *, host_json=HOST_JSON, workers=False, env=None, queue=None, **host_kwargs) -> (host, queue
    name)``; the queue name (fresh unless given) is the app setting TOY_QUEUE. ``visibility_timeout`` defaults to 0
    (failed messages retry at once)."""
    started: list[LocalFunctionsHost] = []

    def start(app: func.FunctionApp | None = None, *, host_json: dict = HOST_JSON, workers: bool = False,
              env: dict | None = None, queue: str | None = None, **kwargs) -> tuple[LocalFunctionsHost, str]:
        queue = queue or new_queue_name()
        kwargs.setdefault("visibility_timeout", 0)
        host = LocalFunctionsHost(
            app or make_app(), env={"TOY_QUEUE": queue, **(env or {})}, host_json=host_json,
            storage_connection_string=azurite.connection_string, http_port=0, **kwargs,
        )
        started.append(host.start(run_queue_workers=workers))
        return host, queue

    yield start
    for host in started:
        host.stop()
