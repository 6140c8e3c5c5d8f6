"""The comparison benchmark warms each new Azurite before it measures (bench/README.md): the warm-up runs on a table
and a queue of its own and leaves nothing behind that a measured block could see."""
from __future__ import annotations

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from bench.compare.world import warm_azurite


def test_warming_azurite_leaves_no_table_and_no_queue_behind(azurite):
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)

    def names() -> tuple[set[str], set[str]]:
        return {t.name for t in tables.list_tables()}, {q.name for q in queues.list_queues()}

    before = names()
    warm_azurite(azurite.connection_string, operations=30)
    assert names() == before
