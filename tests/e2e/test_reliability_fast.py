"""The fast subset of ``python -m bench.reliability`` (bench/README.md, "Reliability"): the same code on small sizes,
stepped instead of live. A fault run of 100 requests under injected Graph faults, a token-endpoint outage and an
Azurite stop/start; one round of 50-way bursts; a few hundred hypothesis examples of POST bodies, queue and poison
messages and GETs, and the fixed poison cases; lifecycle races on 8 keys and one world of MONTHLY_MEETING_LIMIT=3. Nothing here waits on a clock: time is a ``SteppedTime`` that moves
when the callers or the app "sleep", and the queues are processed with ``host.drain()``.

Each phase is its own test, so that a failure names its phase; every row of its ledger must pass."""
from __future__ import annotations

import pytest

from bench.reliability.command import run
from bench.reliability.ledger import Ledger
from bench.reliability.rig import TEST


def failures(ledger: Ledger) -> str:
    return "\n" + ledger.markdown()


@pytest.mark.parametrize("phase", ["faults", "bursts", "fuzz", "races"])
def test_the_reliability_ledger_passes_on_small_sizes(phase, tmp_path):
    ledger = run(TEST, live=False, log_path=tmp_path / "run.log", phases=(phase,))
    assert ledger.ok, failures(ledger)
    checked = [row for row in ledger.rows if row.ok is not None]
    assert len(checked) >= 8, "the phase ran its checks"
    assert any(row.section.startswith("5.") and row.ok for row in ledger.rows), "and the log-hygiene checks"

