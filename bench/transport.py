"""Benchmark of the storage clients' transport (issue 24): client CPU per Table and Queue operation against Azurite,
azure-core's ``RequestsTransport`` against the app's transport over urllib3 (bench/README.md, "A transport over
urllib3").

    python -m bench.transport [--calls 300] [--blocks 6] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from typing import Any, Callable

from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, UpdateMode

from localdev.azurite import Azurite
from shared.adapters import storage
from shared.adapters.network import Network
from shared.config.settings import StorageSettings

from .common import machine

SIDES = ("requests", "urllib3")
PADDING = "x" * 2000  # a record's size class: the app's meeting rows carry the meeting JSON


def clients(settings: StorageSettings, side: str, table: str, queue: str) -> tuple[TableClient, Any]:
    """The app's clients (storage.py's options) with either transport: as the app built them before (requests,
    the environment off, the same timeouts) or as it builds them now (``Network.azure_options``)."""
    if side == "requests":
        def made() -> dict[str, Any]:
            return {"transport": RequestsTransport(use_env_settings=False, connection_timeout=5, read_timeout=20)}
    else:
        def made() -> dict[str, Any]:
            return {"network": Network()}
    return (storage.table_client(settings, table, **made()),
            storage.queue_client(settings, queue, base64=False, **made()))


def operations(table: TableClient, queue: Any, run: str) -> dict[str, Callable[[int], Any]]:
    """One operation each, called with a counter that keeps its keys new."""
    def missing(i: int) -> None:
        try:
            table.get_entity("p", f"missing-{run}-{i}")
        except ResourceNotFoundError:
            pass

    def transaction(i: int) -> None:
        table.submit_transaction([("create", {"PartitionKey": "t", "RowKey": f"{run}-{i}-{n}", "A": PADDING})
                                  for n in range(3)])

    return {
        "get_entity (a hit)": lambda i: table.get_entity("p", "read"),
        "get_entity (404)": missing,
        "create_entity (2 KB)": lambda i: table.create_entity({"PartitionKey": "p", "RowKey": f"c-{run}-{i}",
                                                               "A": PADDING}),
        "upsert_entity (replace)": lambda i: table.upsert_entity({"PartitionKey": "p", "RowKey": f"u-{run}-{i % 50}",
                                                                  "A": "x"}, mode=UpdateMode.REPLACE),
        "transaction of 3 entities": transaction,
        "queue send_message": lambda i: queue.send_message('{"correlationId": "%s-%d"}' % (run, i)),
    }


def measure(calls: int, blocks: int) -> dict[str, dict[str, list[float]]]:
    """CPU ms per call of each operation, one sample per block, the two sides alternating block by block."""
    samples: dict[str, dict[str, list[float]]] = {}
    with Azurite() as azurite:
        settings = StorageSettings(connection_string=azurite.connection_string)
        table, queue = "bench" + uuid.uuid4().hex[:12], "bench-" + uuid.uuid4().hex[:12]
        made = {side: clients(settings, side, table, queue) for side in SIDES}
        made["urllib3"][0].create_table()
        storage.ensure_queue(made["urllib3"][1])
        made["urllib3"][0].create_entity({"PartitionKey": "p", "RowKey": "read", "A": PADDING})
        for block in range(blocks + 1):  # block 0 warms both sides up (connections, caches) and is not kept
            for side in (SIDES if block % 2 else SIDES[::-1]):
                run = f"{side[0]}{block}-{uuid.uuid4().hex[:6]}"
                for name, call in operations(*made[side], run).items():
                    began = time.process_time()
                    for i in range(calls if block else 20):
                        call(i)
                    if block:
                        samples.setdefault(name, {}).setdefault(side, []).append(
                            (time.process_time() - began) / calls * 1000)
            made["urllib3"][1].clear_messages()
    return samples


def report(samples: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = ["| operation | RequestsTransport, CPU ms (min–max) | urllib3 transport, CPU ms (min–max) | ratio |",
             "| --- | --- | --- | --- |"]
    for name, sides in samples.items():
        before, after = (statistics.median(sides[side]) for side in SIDES)
        spread = {side: f"{statistics.median(v):.3f} ({min(v):.3f}–{max(v):.3f})" for side, v in sides.items()}
        lines.append(f"| {name} | {spread['requests']} | {spread['urllib3']} | {after / before:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls of each operation per block")
    parser.add_argument("--blocks", type=int, default=6, help="measured blocks per side, alternating")
    parser.add_argument("--json", help="also write the samples here")
    args = parser.parse_args(argv)
    began = time.monotonic()
    samples = measure(args.calls, args.blocks)
    print("\n".join(report(samples)))
    print(f"\n{args.blocks} blocks of {args.calls} calls per side, {time.monotonic() - began:.0f} s; {machine()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"samples": samples, "machine": machine(), "calls": args.calls}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
