"""End-to-end world: real Azurite, the HTTPS Graph/Entra emulator, real MSAL, and the app served by the local host.

Queue processing is driven with ``host.drain()`` (deterministic, no waiting); HTTP goes over real loopback sockets.
"""
from __future__ import annotations

import itertools
import json

import pytest
import requests

from localdev.emulator import DEFAULT_CLIENT_SECRET
from localdev.world import LocalWorld
from shared import bootstrap
from tests.openapi_check import assert_documented
from tests.telemetry_support import Collector, attribute_values, install

_names = itertools.count(1)


class World:
    """One app deployment (a ``LocalWorld`` on the session's Azurite and emulator): its own table and queues, so
    tests never see each other's messages. The app's container is built from the world's settings, with its sleeps
    recorded instead of slept."""

    def __init__(self, azurite, emulator, env_overrides: dict[str, str]) -> None:
        self.emulator = emulator
        self.local = LocalWorld(azurite=azurite, emulator=emulator, overrides=env_overrides,
                                suffix=str(next(_names)), visibility_timeout=0).start()
        self.env = self.local.settings
        self.host = self.local.host
        self.sleeps: list[float] = []
        bootstrap.use(lambda: bootstrap.build_container(self.env, sleep=self.sleeps.append))
        self.http = requests.Session()
        self.http.trust_env = False  # plain HTTP to the local host; no proxy, no CA
        # host.json messageEncoding "none": messages are plain JSON text both ways.
        self.requests_queue = self.local.queue("MEETING_REQUESTS_QUEUE")
        self.poison_queue = self.local.queue("MEETING_REQUESTS_QUEUE", poison=True)
        self.results_queue = self.local.queue("MEETING_RESULTS_QUEUE")

    def close(self) -> None:
        self.local.close()
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
def make_world(azurite, emulator):
    worlds = []

    def make(**env_overrides) -> World:
        world = World(azurite, emulator, env_overrides)
        worlds.append(world)
        return world

    yield make
    for world in reversed(worlds):  # each world restores the environment it found (REQUESTS_CA_BUNDLE)
        world.close()


@pytest.fixture
def world(make_world) -> World:
    return make_world()


# ---- telemetry: the whole e2e suite runs traced, and no span attribute carries a value that must stay private ----------

PRIVATE_MEMBERS = frozenset({"joinWebUrl", "joinUrl", "subject", "passcode", "address", "upn", "to", "from"})


@pytest.fixture(scope="session")
def telemetry():
    """The SDK providers (span collector, metric reader), installed for the rest of the test process."""
    return install()


@pytest.fixture(autouse=True)
def spans(telemetry, emulator):
    """Every span that ends during the test; afterwards, every attribute of each (events, links and resource too) is
    checked against what the emulator saw: secrets and tokens it issued, passcodes, join URLs, subjects, addresses."""
    collector: Collector = telemetry[0]
    with collector.recording() as recorded:
        yield recorded
    private = private_values(emulator)
    leaked = [(name, key, value) for name, key, value in attribute_values(recorded)
              if any(value == secret or (len(secret) >= 8 and secret in value) for secret in private)]
    assert not leaked, f"span attributes carry private values: {leaked[:5]}"


def private_values(emulator) -> set[str]:
    state = emulator.state
    found = {DEFAULT_CLIENT_SECRET, *state.issued_secrets(), *state.calendars.mailboxes()}

    def walk(node, member=None):
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            for item in node:
                walk(item, member)
        elif isinstance(node, str) and member in PRIVATE_MEMBERS:
            found.add(node)

    walk([state.meetings, state.calendars.event_list(), list(state.calendars.mailboxes().values())])
    return {value for value in found if len(value) >= 4}
