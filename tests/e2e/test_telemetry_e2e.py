"""Traces and metrics end to end, with the in-memory SDK of tests/telemetry_support.py: one request is one connected
trace (HTTP, use case, Graph, storage, result message), the queue worker continues the trace its message carries, a
caller's traceparent is continued, and the Graph metrics move for a 429 and a 403."""
from __future__ import annotations

import json

from opentelemetry.trace import SpanKind

from shared.telemetry import metrics as names
from shared.telemetry.tracing import TRACER_NAME
from tests.telemetry_support import metric_points, metric_total

ALICE, CAROL = "alice@contoso.example", "carol@contoso.example"
CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def _trace(spans, root_name):
    """The spans of the trace whose root (in this process) is ``root_name``: checked connected, root first."""
    (root,) = [s for s in spans if s.name == root_name]
    members = [s for s in spans if s.context.trace_id == root.context.trace_id]
    ids = {s.context.span_id for s in members}
    for member in members:
        if member is not root:
            assert member.parent is not None and member.parent.span_id in ids, f"{member.name} is not connected"
    return root, members


def _traceparent(span) -> str:
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def test_one_http_create_is_one_connected_trace_from_the_request_to_its_result_message(world, spans):
    response = world.post({"organizerId": ALICE, "externalId": "otel-create-1", "subject": "Quarterly review"})
    assert response.status_code == 201
    (result,) = world.results()

    root, trace = _trace(spans, "POST create_meeting")
    assert root.kind == SpanKind.SERVER and root.parent is None
    assert root.attributes["http.response.status_code"] == 201 and root.attributes["broker.status"] == "created"
    kinds = {(s.name, s.kind) for s in trace}
    assert ("usecase create", SpanKind.INTERNAL) in kinds
    assert ("Graph createOrGet", SpanKind.CLIENT) in kinds
    assert any(name.startswith("TableClient.") for name, _ in kinds), "storage calls through the Azure SDK plug-in"
    (graph,) = [s for s in trace if s.name == "Graph createOrGet"]
    assert graph.attributes["http.response.status_code"] == 201 and graph.attributes["graph.attempt"] == 1
    assert graph.attributes["graph.request_id"], "Graph's request-id, to quote to Microsoft support"
    (producer,) = [s for s in trace if s.name == "create result"]
    assert producer.kind == SpanKind.PRODUCER
    assert result["traceparent"] == _traceparent(producer), "the result message carries its creation's context"
    broker_spans = [s for s in spans if s.instrumentation_scope.name == TRACER_NAME]
    assert all(s.context.trace_id == root.context.trace_id for s in broker_spans), "nothing of the app outside it"
    storage_urls = [s.attributes.get("url.full") or s.attributes.get("http.url") for s in trace
                    if s.kind == SpanKind.CLIENT and not s.name.startswith("Graph")]
    assert storage_urls and all("RowKey" not in url and "(" not in url for url in storage_urls), storage_urls


def test_an_async_request_is_continued_by_the_queue_worker_in_the_same_trace(world, spans):
    response = world.post({"organizerId": ALICE, "externalId": "otel-async-1"}, headers={"Prefer": "respond-async"})
    assert response.status_code == 202
    root, _ = _trace(spans, "POST create_meeting")
    (intake,) = [s for s in spans if s.name == "create intake"]
    world.host.drain()
    (result,) = world.results()

    (worker,) = [s for s in spans if s.name == "process intake"]
    assert worker.kind == SpanKind.CONSUMER and worker.context.trace_id == root.context.trace_id
    assert worker.parent.span_id == intake.context.span_id, "the intake message's creation is the worker's parent"
    assert [link.context.span_id for link in worker.links] == [intake.context.span_id]
    _, trace = _trace(spans, "POST create_meeting")  # one trace: the request, then the worker
    assert {"usecase accept", "create intake", "process intake", "usecase create", "Graph createOrGet",
            "create result"} <= {s.name for s in trace}
    assert result["status"] == "created" and result["traceparent"].startswith(f"00-{root.context.trace_id:032x}-")


def test_a_callers_traceparent_is_continued_and_reaches_the_result_message(world, spans):
    response = world.post({"organizerId": ALICE, "externalId": "otel-caller-1"},
                          headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert response.status_code == 201
    (root,) = [s for s in spans if s.name == "POST create_meeting"]
    assert f"{root.context.trace_id:032x}" == CALLER_TRACE and f"{root.parent.span_id:016x}" == CALLER_SPAN
    assert root.parent.is_remote
    (result,) = world.results()
    assert result["traceparent"].startswith(f"00-{CALLER_TRACE}-")


def test_an_invalid_traceparent_starts_a_new_trace(world, spans):
    response = world.post({"organizerId": ALICE, "externalId": "otel-caller-2"},
                          headers={"traceparent": f"00-{'0' * 32}-{CALLER_SPAN}-01"})
    assert response.status_code == 201
    (root,) = [s for s in spans if s.name == "POST create_meeting"]
    assert root.parent is None and f"{root.context.trace_id:032x}" != "0" * 32


def test_a_429_moves_the_throttling_metrics_and_the_wait_is_recorded_on_the_attempt(world, telemetry, spans):
    reader = telemetry[1]
    throttled = metric_total(reader, names.GRAPH_THROTTLED, operation="createOrGet")
    waited = metric_total(reader, names.GRAPH_RETRY_WAIT, operation="createOrGet")
    created = metric_total(reader, names.REQUESTS, route="create_meeting", status="created")
    world.emulator.state.inject("graph", 429, count=1, retry_after="2")

    assert world.post({"organizerId": ALICE, "externalId": "otel-429"}).status_code == 201
    assert world.sleeps == [2.0]
    assert metric_total(reader, names.GRAPH_THROTTLED, operation="createOrGet") == throttled + 1
    assert metric_total(reader, names.GRAPH_RETRY_WAIT, operation="createOrGet") == waited + 2.0
    assert metric_total(reader, names.REQUESTS, route="create_meeting", status="created") == created + 1
    statuses = {p.attributes["status"] for p in metric_points(reader, names.GRAPH_DURATION)
                if p.attributes["operation"] == "createOrGet"}
    assert {"429", "201"} <= statuses
    first, second = sorted((s for s in spans if s.name == "Graph createOrGet"),
                           key=lambda s: s.attributes["graph.attempt"])
    assert first.attributes["http.response.status_code"] == 429 and first.attributes["graph.retry_after"] == 2.0
    assert first.attributes["graph.retry_in"] == 2.0 and first.attributes["error.type"] == "graph_throttled"
    assert second.attributes["graph.attempt"] == 2 and second.attributes["http.response.status_code"] == 201


def test_a_403_counts_as_a_missing_access_policy_and_the_request_as_failed(world, telemetry, spans):
    reader = telemetry[1]
    forbidden = metric_total(reader, names.GRAPH_FORBIDDEN, operation="createOrGet", cause="access_policy")
    refused = {"route": "create_meeting", "status": "failed", "http.response.status_code": 403}
    failed = metric_total(reader, names.REQUESTS, **refused)

    assert world.post({"organizerId": CAROL, "externalId": "otel-403"}).status_code == 403
    assert metric_total(reader, names.GRAPH_FORBIDDEN, operation="createOrGet", cause="access_policy") == \
        forbidden + 1
    assert metric_total(reader, names.REQUESTS, **refused) == failed + 1
    (usecase,) = [s for s in spans if s.name == "usecase create"]
    assert usecase.attributes["error.type"] == "access_policy_missing"


def test_queue_metrics_tell_the_message_age_and_its_dequeue_count(world, telemetry):
    reader = telemetry[1]
    before = sum(p.count for p in metric_points(reader, names.MESSAGE_AGE) if p.attributes["queue"] == "intake")
    world.send({"organizerId": ALICE, "externalId": "otel-queue-1"})
    world.host.drain()
    assert [r["status"] for r in world.results()] == ["created"]
    ages = [p for p in metric_points(reader, names.MESSAGE_AGE) if p.attributes["queue"] == "intake"]
    assert sum(p.count for p in ages) == before + 1 and all(p.min >= 0 for p in ages)
    assert metric_total(reader, names.REQUESTS, route="process_meeting_request", source="intake") >= 1


def test_a_message_from_another_producer_keeps_its_trace_in_the_result(world, spans):
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    world.send(json.dumps({"organizerId": ALICE, "externalId": "otel-queue-2", "traceparent": traceparent}))
    world.host.drain()
    (result,) = world.results()
    assert result["status"] == "created" and result["traceparent"].startswith(f"00-{CALLER_TRACE}-")
    (worker,) = [s for s in spans if s.name == "process intake"]
    assert f"{worker.parent.span_id:016x}" == CALLER_SPAN


def test_a_message_out_of_retries_is_counted_once_and_every_attempt_continues_its_trace(world, telemetry, spans):
    reader = telemetry[1]
    exhausted = metric_total(reader, names.RETRIES_EXHAUSTED, source="queue")
    retried = metric_total(reader, names.REQUESTS, route="process_meeting_request", status="retry")
    world.emulator.state.inject("graph", 429, count=None, retry_after=7)
    world.send({"organizerId": ALICE, "externalId": "otel-exhausted",
                "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert world.host.drain() == 5
    world.emulator.state.clear_faults()
    (result,) = world.results()
    assert result["error"]["code"] == "retries_exhausted" and result["traceparent"].startswith(f"00-{CALLER_TRACE}-")
    assert metric_total(reader, names.RETRIES_EXHAUSTED, source="queue") == exhausted + 1
    assert metric_total(reader, names.REQUESTS, route="process_meeting_request", status="retry") == retried + 4
    attempts = [s for s in spans if s.name == "process intake"]
    assert len(attempts) == 5 and {f"{s.context.trace_id:032x}" for s in attempts} == {CALLER_TRACE}
    assert sorted(s.attributes["broker.dequeue_count"] for s in attempts) == [1, 2, 3, 4, 5]


def test_a_poison_message_is_counted_and_told_in_its_trace(world, telemetry, spans):
    from tests.e2e.test_exhaustion_e2e import ScriptedGraph, _use_graph

    reader = telemetry[1]
    poison = metric_total(reader, names.POISON_MESSAGES)
    exhausted = metric_total(reader, names.RETRIES_EXHAUSTED, source="poison")
    _use_graph(world, ScriptedGraph(handled_failures=0))
    world.send({"organizerId": ALICE, "externalId": "otel-poison", "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert world.host.drain() == 6
    (result,) = world.results()
    assert result["error"]["code"] == "retries_exhausted" and result["traceparent"].startswith(f"00-{CALLER_TRACE}-")
    assert metric_total(reader, names.POISON_MESSAGES) == poison + 1
    assert metric_total(reader, names.RETRIES_EXHAUSTED, source="poison") == exhausted + 1
    (told,) = [s for s in spans if s.name == "process poison"]
    assert f"{told.context.trace_id:032x}" == CALLER_TRACE
    crashed = [s for s in spans if s.name == "process intake"]
    assert len(crashed) == 5 and all(s.attributes["error.type"] == "RuntimeError" for s in crashed)
