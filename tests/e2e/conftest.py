"""End-to-end world: real Azurite, the HTTPS Graph/Entra emulator, real MSAL, and the app served by the local host.

Queue processing is driven with ``host.drain()`` (deterministic, no waiting); HTTP goes over real loopback sockets.
"""
from __future__ import annotations

import importlib.util
import itertools
import json

import pytest
import requests
from azure.storage.queue import QueueClient

from localdev.host import LocalFunctionsHost
from shared import bootstrap
from tests.conftest import REPO_ROOT
from tests.openapi_check import assert_documented

_names = itertools.count(1)


def load_app():
    """A private instance of function_app: get_functions() may be called once per FunctionApp instance."""
    spec = importlib.util.spec_from_file_location(f"function_app_e2e_{next(_names)}", REPO_ROOT / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


class World:
    """One app deployment: its own table and queues, so tests never see each other's messages."""

    def __init__(self, azurite, emulator, env_overrides: dict[str, str], monkeypatch) -> None:
        n = next(_names)
        self.emulator = emulator
        self.env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "MEETINGS_TABLE": f"meetings{n}",
            "MEETING_REQUESTS_QUEUE": f"requests-{n}",
            "MEETING_RESULTS_QUEUE": f"results-{n}",
            **emulator.app_settings(),
            **env_overrides,
        }
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
        self.sleeps: list[float] = []
        bootstrap.use(lambda: bootstrap.build_container(self.env, sleep=self.sleeps.append))
        host_json = json.loads((REPO_ROOT / "host.json").read_text())
        self.host = LocalFunctionsHost(load_app(), env=self.env, host_json=host_json,
                                       storage_connection_string=azurite.connection_string, http_port=0,
                                       visibility_timeout=0)
        self.host.start(run_queue_workers=False)
        self.http = requests.Session()
        self.http.trust_env = False  # plain HTTP to the local host; no proxy, no CA
        conn = azurite.connection_string
        # host.json messageEncoding "none": messages are plain JSON text both ways.
        self.requests_queue = QueueClient.from_connection_string(conn, self.env["MEETING_REQUESTS_QUEUE"])
        self.poison_queue = QueueClient.from_connection_string(conn, self.env["MEETING_REQUESTS_QUEUE"] + "-poison")
        self.results_queue = QueueClient.from_connection_string(conn, self.env["MEETING_RESULTS_QUEUE"])

    def close(self) -> None:
        self.host.stop()
        self.emulator.state.clear_faults()
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))

    # ---- HTTP, every answer checked against the OpenAPI document --------------------------------------------------

    def call(self, method: str, template: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, self.host.base_url + path, timeout=30, **kwargs)
        is_json = (response.headers.get("content-type") or "").split(";")[0].endswith("json")
        assert_documented(method, template, response.status_code, response.headers.get("content-type"),
                          response.json() if is_json else None)
        return response

    def post(self, body, headers=None) -> requests.Response:
        return self.call("POST", "/api/meetings", "/api/meetings", json=body, headers=headers or {})

    def get(self, path: str) -> requests.Response:
        template = "/api/meetings" if path.startswith("/api/meetings?") else "/api/meetings/{organizerId}/{externalId}"
        return self.call("GET", template, path)

    # ---- queues ------------------------------------------------------------------------------------------------------

    def send(self, message) -> None:
        self.requests_queue.send_message(message if isinstance(message, str) else json.dumps(message))

    def results(self) -> list[dict]:
        """Every result message emitted so far (consumed)."""
        found = []
        while True:
            batch = list(self.results_queue.receive_messages(max_messages=32, visibility_timeout=60))
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message.content))
                self.results_queue.delete_message(message)


@pytest.fixture
def make_world(azurite, emulator, monkeypatch):
    worlds = []

    def make(**env_overrides) -> World:
        world = World(azurite, emulator, env_overrides, monkeypatch)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


@pytest.fixture
def world(make_world) -> World:
    return make_world()
