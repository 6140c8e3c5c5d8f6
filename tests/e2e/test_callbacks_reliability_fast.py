"""The fast subset of ``python -m bench.callbacks`` (bench/README.md, "Result callbacks"): its reliability part on
small sizes, stepped (``host.drain()``; retries visible at once), against a receiver on 127.0.0.1 that fails 30 % of
the attempts and one that always fails. Every result must be delivered or dead-lettered exactly as the results queue
saw it; every row of the ledger must pass."""
from __future__ import annotations

from bench.callbacks import TEST, run


def test_every_result_is_delivered_or_dead_lettered_as_the_results_queue_saw_it():
    ledger = run(TEST, live=False)
    assert ledger.ok, "\n" + ledger.markdown()
    checked = [row for row in ledger.rows if row.ok is not None]
    assert len(checked) >= 10, "the checks ran"
    statuses = next(row.value for row in ledger.rows if row.check.startswith("attempts answered"))
    assert statuses.get(200) and any(status != 200 for status in statuses), "both delivered and failed attempts"
