"""The Table and Queue clients the app builds (``Network.azure_options``: the transport over urllib3) against Azurite:
entities, entity-group transactions, queue messages, and all of it through a proxy with credentials."""
from __future__ import annotations

import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from shared.adapters import storage
from shared.adapters.network import Network
from shared.adapters.transport import Urllib3Transport
from shared.config.settings import StorageSettings
from tests.integration.loopback import Proxy


@pytest.fixture
def local(azurite) -> StorageSettings:
    return StorageSettings(connection_string=azurite.connection_string)


@pytest.fixture
def table(local):
    client = storage.table_client(local, "t" + uuid.uuid4().hex[:20], network=Network())
    client.create_table()
    yield client
    client.delete_table()


def transport_of(client) -> Urllib3Transport:
    return client._client._client._pipeline._transport._transport  # the tables SDK wraps the one it was given


def test_the_app_s_table_client_sends_through_the_urllib3_transport(table):
    assert isinstance(transport_of(table), Urllib3Transport)


def test_an_entity_is_created_read_updated_replaced_on_its_etag_and_deleted(table):
    created = table.create_entity({"PartitionKey": "p", "RowKey": "r", "Subject": "Réunion 😀", "Count": 1})
    entity = table.get_entity("p", "r")
    assert entity["Subject"] == "Réunion 😀" and entity.metadata["etag"] == created["etag"]
    table.update_entity({"PartitionKey": "p", "RowKey": "r", "Count": 2}, mode=UpdateMode.MERGE)
    assert table.get_entity("p", "r")["Count"] == 2
    with pytest.raises(ResourceModifiedError):
        table.update_entity({"PartitionKey": "p", "RowKey": "r", "Count": 3}, mode=UpdateMode.REPLACE,
                            etag=created["etag"], match_condition=MatchConditions.IfNotModified)
    table.delete_entity("p", "r")
    with pytest.raises(ResourceNotFoundError):
        table.get_entity("p", "r")


def test_a_transaction_of_three_entities_commits_together_and_answers_each_etag(table):
    answers = table.submit_transaction([
        ("create", {"PartitionKey": "p", "RowKey": "m", "Value": "meeting"}),
        ("create", {"PartitionKey": "p", "RowKey": "j", "Value": "join url"}),
        ("upsert", {"PartitionKey": "p", "RowKey": "n", "Value": "join id"}, {"mode": UpdateMode.REPLACE}),
    ])
    stored = {e["RowKey"]: e.metadata["etag"] for e in table.query_entities("PartitionKey eq 'p'")}
    assert [a["etag"] for a in answers] == [stored["m"], stored["j"], stored["n"]]


def test_a_failed_transaction_writes_nothing_and_names_the_failing_operation(table):
    table.create_entity({"PartitionKey": "p", "RowKey": "taken"})
    with pytest.raises(TableTransactionError) as failed:
        table.submit_transaction([("create", {"PartitionKey": "p", "RowKey": "new"}),
                                  ("create", {"PartitionKey": "p", "RowKey": "taken"})])
    assert failed.value.error_code == "EntityAlreadyExists" and failed.value.status_code == 409
    assert [e["RowKey"] for e in table.list_entities()] == ["taken"]


def test_queue_messages_go_and_come_back_through_the_transport(local):
    client = storage.queue_client(local, "q-" + uuid.uuid4().hex[:20], base64=True, network=Network())
    storage.ensure_queue(client)
    storage.ensure_queue(client)  # the 409 of an existing queue is read as such
    client.send_message('{"subject": "Réunion 😀"}')
    assert client.peek_messages()[0].content == '{"subject": "Réunion 😀"}'
    message = client.receive_message()
    client.delete_message(message)
    assert client.receive_message() is None
    client.delete_queue()


def test_tables_and_queues_go_through_the_network_s_proxy_with_its_credentials(local, azurite):
    with Proxy(("broker", "p@ss")) as proxy:
        network = Network(True, {"http://127.0.0.1": proxy.url("broker:p%40ss")})
        table = storage.table_client(local, "t" + uuid.uuid4().hex[:20], network=network)
        table.create_table()
        table.submit_transaction([("create", {"PartitionKey": "p", "RowKey": str(n)}) for n in range(3)])
        assert len(list(table.list_entities())) == 3
        table.delete_table()
        queue = storage.queue_client(local, "q-" + uuid.uuid4().hex[:20], base64=False, network=network)
        storage.ensure_queue(queue)
        queue.send_message("through the proxy")
        queue.delete_queue()
    targets = [seen.target for seen in proxy.seen]
    assert len(targets) == 7 and all(t.startswith(azurite.endpoint("table")) for t in targets[:4])
    assert all(t.startswith(azurite.endpoint("queue")) for t in targets[4:])
    assert {seen.headers["Proxy-Authorization"] for seen in proxy.seen} == {proxy.expected}

