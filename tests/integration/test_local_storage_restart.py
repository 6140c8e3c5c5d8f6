"""A persisted Azurite stopped and started again, as a storage outage in the middle of a run: same ports (connection
strings handed out before stay valid), same data."""
from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from localdev.azurite import Azurite, AzuriteError
from localdev.world import LocalWorld
from tests.integration.toyapp import HOST_JSON, make_app, new_queue_name


def test_a_persisted_azurite_comes_back_on_its_ports_with_its_tables_and_queues(tmp_path):
    with Azurite(location=tmp_path / "azurite") as azurite:
        ports, connection = dict(azurite.ports), azurite.connection_string
        table = TableClient.from_connection_string(connection, "kept", retry_total=0)
        table.create_table()
        table.create_entity({"PartitionKey": "p", "RowKey": "r", "Value": 42})
        queue = QueueClient.from_connection_string(connection, "kept", retry_total=0)
        queue.create_queue()
        queue.send_message("still here")
        azurite.stop()
        assert not azurite.running
        with pytest.raises(ServiceRequestError):
            table.get_entity("p", "r")
        azurite.start(same_ports=True)
        assert azurite.ports == ports and azurite.connection_string == connection
        assert table.get_entity("p", "r")["Value"] == 42
        assert [message.content for message in queue.peek_messages()] == ["still here"]
        with pytest.raises(AzuriteError):
            azurite.start()


def test_same_ports_needs_an_earlier_start(tmp_path):
    with pytest.raises(AzuriteError):
        Azurite(location=tmp_path / "azurite").start(same_ports=True)


def test_a_world_stops_and_starts_its_persisted_storage_while_the_host_keeps_running(tmp_path):
    queue_name = new_queue_name()
    settings = {"TOY_QUEUE": queue_name, "MEETINGS_TABLE": "meetings", "MEETING_REQUESTS_QUEUE": "unused",
                "MEETING_RESULTS_QUEUE": "unused"}
    with LocalWorld(app=make_app(), settings=settings, use_emulator=False, persist_storage=True,
                    state_dir=tmp_path, host_json=HOST_JSON, visibility_timeout=0) as world:
        connection = world.connection_string
        world.table().create_table()
        world.table().create_entity({"PartitionKey": "p", "RowKey": "r"})
        world.stop_storage()
        world.start_storage()
        world.start_storage()  # already running: nothing to do
        assert world.connection_string == connection and world.azurite.connection_string == connection
        assert world.table().get_entity("p", "r")["RowKey"] == "r"
        toy = QueueClient.from_connection_string(connection, queue_name,
                                                 message_encode_policy=TextBase64EncodePolicy())  # toy host.json
        toy.send_message(json.dumps({"op": "echo", "text": "after the outage"}))
        assert world.host.drain() == 1


def test_an_in_memory_world_refuses_a_storage_outage(azurite):
    with LocalWorld(app=make_app(), settings={"TOY_QUEUE": new_queue_name()}, use_emulator=False,
                    azurite=azurite, host_json=HOST_JSON) as world:
        with pytest.raises(RuntimeError):
            world.stop_storage()
        assert azurite.running


def test_the_hosts_lease_on_a_received_message_can_be_shortened(start_host):
    host, queue = start_host(lease_seconds=7)
    (spec,) = [s for s in host.queue_functions if s.trigger["queueName"] == queue]
    client = host.queues.client(spec.trigger)
    client.send_message("e30=")
    _, (message,) = host.queues.receive(spec)
    lease = (message.next_visible_on - message.inserted_on).total_seconds()
    assert 5 <= lease <= 9
