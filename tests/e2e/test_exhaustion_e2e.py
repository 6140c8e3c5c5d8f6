"""Requests that run out of retries, from outside: the poison copy of a message whose last attempt died untold is
filed under the id its sender saw, and a lookup replays the last error's status (never a 500)."""
from __future__ import annotations

import json

from shared import bootstrap
from shared.domain.errors import GraphUnavailable

ALICE = "alice@contoso.example"


class ScriptedGraph:
    """A Graph port whose every call either raises the next scripted error or crashes (not a BrokerError: a bug, an
    out-of-memory, a timeout that kills the attempt without the app telling its result)."""

    def __init__(self, handled_failures: int) -> None:
        self.calls, self._handled = 0, handled_failures

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls += 1
            if self.calls <= self._handled:
                raise GraphUnavailable("Graph answered 503")
            raise RuntimeError("the attempt died")
        return call


def _use_graph(world, graph: ScriptedGraph) -> None:
    bootstrap.use(lambda: bootstrap.build_container(world.env, sleep=world.sleeps.append, graph=graph))


def test_a_poison_copy_after_a_crashed_last_attempt_is_told_under_the_message_id_the_sender_saw(world):
    graph = ScriptedGraph(handled_failures=4)  # four handled failures, then the last attempt dies untold
    _use_graph(world, graph)
    sent = world.requests_queue.send_message(json.dumps({"organizerId": ALICE, "externalId": "crash-last"}))
    assert world.host.drain() == 6, "five attempts, then the poison trigger"
    assert graph.calls == 5
    (result,) = world.results()
    assert (result["status"], result["error"]["code"]) == ("failed", "retries_exhausted")
    assert result["correlationId"] == sent.id, "the poison copy's own id is one the sender never saw"
    assert "graph_unavailable" in result["error"]["message"]
    stored = world.get(f"/api/meetings/{ALICE}/crash-last")
    assert (stored.status_code, stored.json()["code"]) == (502, "retries_exhausted")


def test_a_message_whose_every_attempt_died_untold_is_still_told_under_its_message_id(world):
    """No attempt wrote anything: the retries keep the message id on the key's record themselves."""
    _use_graph(world, ScriptedGraph(handled_failures=0))
    sent = world.requests_queue.send_message(json.dumps({"organizerId": ALICE, "externalId": "crash-all"}))
    assert world.host.drain() == 6
    (result,) = world.results()
    assert (result["correlationId"], result["error"]["code"]) == (sent.id, "retries_exhausted")
    stored = world.get(f"/api/meetings/{ALICE}/crash-all")
    assert (stored.status_code, stored.json()["code"]) == (503, "retries_exhausted"), "no attempt told an error"
    assert stored.headers["Retry-After"]


def test_a_request_with_its_own_correlation_id_keeps_it_and_the_record_is_not_claimed(world):
    _use_graph(world, ScriptedGraph(handled_failures=0))
    world.send({"organizerId": ALICE, "externalId": "crash-own", "correlationId": "crm-7"})
    world.host.drain()
    (result,) = world.results()
    assert result["correlationId"] == "crm-7"
    assert world.get(f"/api/meetings/{ALICE}/crash-own").status_code == 404, "nothing to keep: the body has the id"


def test_a_request_throttled_to_the_end_replays_429_with_its_retry_after(world):
    world.emulator.state.inject("graph", 429, count=None, retry_after=7)
    world.send({"organizerId": ALICE, "externalId": "throttled", "correlationId": "throttled-1"})
    assert world.host.drain() == 5
    world.emulator.state.clear_faults()
    (result,) = world.results()
    assert (result["correlationId"], result["error"]["code"]) == ("throttled-1", "retries_exhausted")
    stored = world.get(f"/api/meetings/{ALICE}/throttled")
    assert (stored.status_code, stored.json()["code"]) == (429, "retries_exhausted")
    assert stored.headers["Retry-After"] == "7"
