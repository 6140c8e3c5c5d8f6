"""The code's own storage clients: connection string against Azurite, identity-based settings built offline."""
from __future__ import annotations

import base64
import json
import socket
import uuid

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.identity import ManagedIdentityCredential

from localdev.azurite import ACCOUNT_KEY
from shared.adapters import storage
from shared.adapters.network import Network
from shared.adapters.transport import Urllib3Transport
from shared.domain.errors import ConfigurationError, StorageUnavailable
from shared.config.settings import StorageSettings

USER_ASSIGNED_CLIENT_ID = "6e2b4c1a-0000-4000-8000-0000000000aa"
IDENTITY_SETTINGS = StorageSettings(
    table_service_uri="https://stbroker.table.core.windows.net",
    queue_service_uri="https://stbroker.queue.core.windows.net",
    credential="managedidentity",
    client_id=USER_ASSIGNED_CLIENT_ID,
)


class RecordingCredentialFactory:
    """Stands in for ManagedIdentityCredential: records how it was built and is never asked for a token."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self

    def get_token(self, *scopes, **kwargs):  # pragma: no cover - a test that reaches here has contacted something
        raise AssertionError("no token may be requested while building clients")


def unique_queue_name() -> str:
    return "q-" + uuid.uuid4().hex[:20]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local(azurite) -> StorageSettings:
    return StorageSettings(connection_string=azurite.connection_string)


def test_ensure_queue_creates_a_queue_and_can_run_again(local):
    client = storage.queue_client(local, unique_queue_name(), base64=True)
    storage.ensure_queue(client)
    storage.ensure_queue(client)
    assert client.get_queue_properties().name == client.queue_name
    client.delete_queue()


def test_a_base64_queue_client_puts_base64_on_the_wire_and_reads_it_back(local):
    name = unique_queue_name()
    sender = storage.queue_client(local, name, base64=True)
    storage.ensure_queue(sender)
    body = json.dumps({"externalId": "order/1", "subject": "Réunion 😀"}, ensure_ascii=False)
    sender.send_message(body)

    raw = storage.queue_client(local, name, base64=False).peek_messages()[0].content
    assert base64.b64decode(raw, validate=True).decode("utf-8") == body  # what the queue trigger will decode

    received = storage.queue_client(local, name, base64=True).receive_message()
    assert received.content == body
    sender.delete_queue()


def test_a_plain_queue_client_sends_the_text_unencoded(local):
    client = storage.queue_client(local, unique_queue_name(), base64=False)
    storage.ensure_queue(client)
    client.send_message('{"a": 1}')
    assert client.receive_message().content == '{"a": 1}'
    client.delete_queue()


def test_a_table_client_from_the_connection_string_reaches_azurite(local, azurite):
    client = storage.table_client(local, "t" + uuid.uuid4().hex[:20])
    assert client.url.startswith(azurite.endpoint("table"))
    client.create_table()
    client.create_entity({"PartitionKey": "p", "RowKey": "r", "Value": 1})
    assert client.get_entity("p", "r")["Value"] == 1
    client.delete_table()


class CountingTransport(Urllib3Transport):
    """The app's transport, counting the attempts that reach it."""

    def __init__(self) -> None:
        super().__init__(ca_bundle=Network().ca_bundle)
        self.attempts = 0

    def send(self, request, **kwargs):
        self.attempts += 1
        return super().send(request, **kwargs)


def dead_settings(azurite) -> StorageSettings:
    dead = f"http://127.0.0.1:{closed_port()}/devstoreaccount1"
    return StorageSettings(connection_string=azurite.connection_string
                           .replace(azurite.endpoint("queue"), dead).replace(azurite.endpoint("table"), dead))


def test_a_queue_client_tries_three_times_then_gives_up(azurite):
    transport = CountingTransport()
    # Backoff zeroed so the test does not wait; the retry count is the module's own.
    client = storage.queue_client(dead_settings(azurite), "q-dead", base64=True, transport=transport,
                                  initial_backoff=0, increment_base=0, random_jitter_range=0)
    with pytest.raises(ServiceRequestError):
        client.get_queue_properties()
    assert transport.attempts == 1 + storage.CLIENT_OPTIONS["retry_total"] == 3


def test_a_table_client_tries_three_times_then_gives_up(azurite):
    transport = CountingTransport()
    client = storage.table_client(dead_settings(azurite), "meetings", transport=transport, retry_backoff_factor=0)
    with pytest.raises(ServiceRequestError):
        client.get_entity("p", "r")
    assert transport.attempts == 3


def test_ensure_queue_on_a_dead_endpoint_raises_storage_unavailable_without_the_key(azurite):
    client = storage.queue_client(dead_settings(azurite), "q-dead", base64=True, retry_total=0)
    with pytest.raises(StorageUnavailable) as raised:
        storage.ensure_queue(client)
    assert "'q-dead'" in str(raised.value)
    assert ACCOUNT_KEY[:20] not in str(raised.value) and "AccountKey" not in str(raised.value)


def test_identity_settings_build_clients_for_the_service_uris_with_the_user_assigned_identity():
    factory = RecordingCredentialFactory()
    table = storage.table_client(IDENTITY_SETTINGS, "meetings", credential_factory=factory)
    queue = storage.queue_client(IDENTITY_SETTINGS, "meeting-requests", base64=True, credential_factory=factory)

    assert table.url == "https://stbroker.table.core.windows.net" and table.table_name == "meetings"
    assert table.credential is factory
    assert queue.url == "https://stbroker.queue.core.windows.net/meeting-requests"
    assert factory.calls == [{"client_id": USER_ASSIGNED_CLIENT_ID}, {"client_id": USER_ASSIGNED_CLIENT_ID}]


def test_identity_settings_default_to_a_managed_identity_credential():
    table = storage.table_client(IDENTITY_SETTINGS, "meetings")
    assert isinstance(table.credential, ManagedIdentityCredential)


def test_without_a_client_id_the_system_assigned_identity_is_used():
    factory = RecordingCredentialFactory()
    settings = StorageSettings(table_service_uri="https://stbroker.table.core.windows.net")
    storage.table_client(settings, "meetings", credential_factory=factory)
    assert factory.calls == [{"client_id": None}]


def test_missing_storage_settings_raise_a_configuration_error():
    with pytest.raises(ConfigurationError):
        storage.table_client(StorageSettings(queue_service_uri="https://stbroker.queue.core.windows.net"), "meetings")
    with pytest.raises(ConfigurationError):
        storage.queue_client(StorageSettings(table_service_uri="https://stbroker.table.core.windows.net"), "q-one", base64=True)
