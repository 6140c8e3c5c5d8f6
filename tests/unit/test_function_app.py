"""The function app as the host indexes it, and its triggers called the way the worker calls them."""
from __future__ import annotations

import json
from datetime import timedelta

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

import function_app
from shared import bootstrap
from shared.domain.errors import AccessPolicyMissing, GraphUnavailable, StorageUnavailable
from tests.fake_graph import ALICE_ID, FakeGraph
from tests.unit.harness import ENV, Out, call, post


def test_the_app_registers_every_function_with_its_bindings(functions):
    bindings = {name: {(b.type, b.name) for b in f.get_bindings()} for name, f in functions.items()}
    told = {("queue", "results"), ("queue", "callbacks")}  # every result, and its delivery to a callbackUrl
    assert bindings == {
        "create_meeting": {("httpTrigger", "req"), ("http", "$return"), ("queue", "intake"), *told},
        "get_meeting": {("httpTrigger", "req"), ("http", "$return")},
        "find_meeting": {("httpTrigger", "req"), ("http", "$return")},
        "update_meeting": {("httpTrigger", "req"), ("http", "$return"), *told},
        "change_meeting": {("httpTrigger", "req"), ("http", "$return"), *told},
        "cancel_meeting": {("httpTrigger", "req"), ("http", "$return"), *told},
        "end_meeting": {("httpTrigger", "req"), ("http", "$return"), *told},
        "organizer_quota": {("httpTrigger", "req"), ("http", "$return")},
        **{name: {("httpTrigger", "req"), ("http", "$return")} for name in (
            "get_attendance", "find_attendance", "get_transcripts", "find_transcripts", "get_transcript",
            "find_transcript")},
        "health": {("httpTrigger", "req"), ("http", "$return")},
        "openapi": {("httpTrigger", "req"), ("http", "$return")},
        "process_meeting_request": {("queueTrigger", "msg"), *told},
        "process_poison_request": {("queueTrigger", "msg"), *told},
        "deliver_callback": {("queueTrigger", "msg")},
        "process_poison_callback": {("queueTrigger", "msg"), ("queue", "failed")},
        # No output bindings: it sends each result before finishing its row (an output binding is written only
        # after the function returned, and a host that died in between lost it).
        "collect_attendance": {("timerTrigger", "timer")},
    }


def test_queue_bindings_name_app_settings_and_the_storage_connection(functions):
    queues = {}
    for name, f in functions.items():
        for b in json.loads(f.get_function_json())["bindings"]:
            if b["type"] in ("queue", "queueTrigger"):
                queues[(name, b["name"])] = (b["queueName"], b["connection"])
    assert queues == {
        ("create_meeting", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        ("create_meeting", "intake"): ("%MEETING_REQUESTS_QUEUE%", "AzureWebJobsStorage"),
        ("update_meeting", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        ("change_meeting", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        ("cancel_meeting", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        ("end_meeting", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        ("process_meeting_request", "msg"): ("%MEETING_REQUESTS_QUEUE%", "AzureWebJobsStorage"),
        ("process_meeting_request", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        ("process_poison_request", "msg"): ("%MEETING_REQUESTS_QUEUE%-poison", "AzureWebJobsStorage"),
        ("process_poison_request", "results"): ("%MEETING_RESULTS_QUEUE%", "AzureWebJobsStorage"),
        **{(name, "callbacks"): ("%MEETING_CALLBACKS_QUEUE%", "AzureWebJobsStorage") for name in (
            "create_meeting", "update_meeting", "change_meeting", "cancel_meeting", "end_meeting",
            "process_meeting_request", "process_poison_request")},
        ("deliver_callback", "msg"): ("%MEETING_CALLBACKS_QUEUE%", "AzureWebJobsStorage"),
        ("process_poison_callback", "msg"): ("%MEETING_CALLBACKS_QUEUE%-poison", "AzureWebJobsStorage"),
        ("process_poison_callback", "failed"): ("%MEETING_CALLBACKS_FAILED_QUEUE%", "AzureWebJobsStorage"),
    }


def test_only_health_and_openapi_are_anonymous(functions):
    levels = {}
    for name, f in functions.items():
        for b in json.loads(f.get_function_json())["bindings"]:
            if b["type"] == "httpTrigger":
                levels[name] = b["authLevel"]
    assert levels == {"create_meeting": "FUNCTION", "get_meeting": "FUNCTION", "find_meeting": "FUNCTION",
                      "update_meeting": "FUNCTION", "change_meeting": "FUNCTION", "cancel_meeting": "FUNCTION",
                      "end_meeting": "FUNCTION", "organizer_quota": "FUNCTION",
                      **dict.fromkeys(("get_attendance", "find_attendance", "get_transcripts", "find_transcripts",
                                       "get_transcript", "find_transcript"), "FUNCTION"),
                      "health": "ANONYMOUS", "openapi": "ANONYMOUS"}


def test_importing_the_app_reads_no_settings(monkeypatch):
    import importlib

    for name in list(__import__("os").environ):
        if name.startswith(("GRAPH_", "ALLOWED_", "MEETING")):
            monkeypatch.delenv(name)
    importlib.reload(function_app)  # would raise if settings were bound at import time


def test_post_creates_then_repeats_and_emits_one_result_each(functions, world):
    repo, graph = world
    body = {"organizerId": "alice@contoso.example", "externalId": "b-1", "subject": "Intro"}
    results, intake = Out(), Out()
    first = call(functions, "create_meeting", post(body), results=results, intake=intake)
    assert first.status_code == 201 and first.headers["Location"] == "/api/meetings/alice@contoso.example/b-1"
    assert json.loads(results.value)["status"] == "created" and intake.value is None
    results = Out()
    second = call(functions, "create_meeting", post(body), results=results, intake=Out())
    assert second.status_code == 200
    assert json.loads(second.get_body())["id"] == json.loads(first.get_body())["id"]
    assert json.loads(results.value)["status"] == "existing" and len(graph.calls) == 1


def test_invalid_json_is_a_problem_naming_the_code_and_emits_a_failed_result(functions, world):
    results = Out()
    response = call(functions, "create_meeting", post(b"{nope"), results=results, intake=Out())
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    problem = json.loads(response.get_body())
    assert problem["code"] == "malformed_json" and problem["status"] == 400
    assert json.loads(results.value)["error"]["code"] == "malformed_json"


def test_validation_errors_list_each_field(functions, world):
    response = call(functions, "create_meeting", post({"externalId": "", "colour": "red"}), results=Out(),
                    intake=Out())
    problem = json.loads(response.get_body())
    assert response.status_code == 400 and problem["code"] == "validation_failed"
    assert {e["field"] for e in problem["errors"]} == {"organizerId", "externalId", "colour"}


def test_a_body_over_64_kib_is_413(functions, world):
    body = {"organizerId": "alice@contoso.example", "externalId": "x", "subject": "s" * (64 * 1024)}
    response = call(functions, "create_meeting", post(body), results=Out(), intake=Out())
    assert response.status_code == 413 and json.loads(response.get_body())["code"] == "payload_too_large"


def test_respond_async_queues_the_request_and_answers_202(functions, world):
    repo, graph = world
    intake = Out()
    body = {"organizerId": "alice@contoso.example", "externalId": "a/1", "subject": "Later"}
    response = call(functions, "create_meeting", post(body, {"Prefer": "respond-async"}), results=Out(),
                    intake=intake)
    assert response.status_code == 202
    answer = json.loads(response.get_body())
    assert answer["status"] == "accepted"
    assert response.headers["Location"] == "/api/meetings?organizerId=alice%40contoso.example&externalId=a%2F1"
    queued = json.loads(intake.value)
    assert queued["correlationId"] == answer["correlationId"] and queued["externalId"] == "a/1"
    assert graph.calls == []
    lookup = func.HttpRequest("GET", "http://localhost/api/meetings", params={"organizerId": "alice@contoso.example",
                                                                           "externalId": "a/1"}, body=b"")
    assert call(functions, "find_meeting", lookup).status_code == 202

    results = Out()
    message = QueueMessage(id="m-1", body=intake.value.encode(), dequeue_count=1)
    call(functions, "process_meeting_request", message, results=results)
    assert json.loads(results.value)["status"] == "created"
    assert json.loads(results.value)["correlationId"] == answer["correlationId"]
    found = call(functions, "find_meeting", lookup)
    assert found.status_code == 200 and json.loads(found.get_body())["externalId"] == "a/1"


def test_a_transient_failure_raises_so_the_host_retries_the_message(functions, world):
    repo, graph = world
    graph.fail_next.append(GraphUnavailable("down"))
    results = Out()
    message = QueueMessage(id="m-2", body=json.dumps({"organizerId": ALICE_ID, "externalId": "q-1"}).encode(),
                           dequeue_count=1)
    with pytest.raises(GraphUnavailable):
        call(functions, "process_meeting_request", message, results=results)
    assert results.value is None


def test_a_malformed_queue_message_fails_for_good(functions, world):
    results = Out()
    call(functions, "process_meeting_request", QueueMessage(id="m-3", body=b"\xff\xfe", dequeue_count=1),
         results=results)
    result = json.loads(results.value)
    assert result["status"] == "failed" and result["error"]["code"] == "malformed_json"
    assert result["correlationId"] == "m-3" and result["source"] == "queue"


def test_the_poison_trigger_emits_retries_exhausted(functions, world):
    results = Out()
    body = json.dumps({"organizerId": ALICE_ID, "externalId": "q-2"}).encode()
    call(functions, "process_poison_request", QueueMessage(id="m-4", body=body, dequeue_count=1), results=results)
    assert json.loads(results.value)["error"]["code"] == "retries_exhausted"


def test_get_of_an_unknown_meeting_is_404(functions, world):
    req = func.HttpRequest("GET", "http://localhost/api/meetings/x/y", route_params={"organizerId": ALICE_ID,
                                                                                  "externalId": "none"}, body=b"")
    response = call(functions, "get_meeting", req)
    assert response.status_code == 404 and json.loads(response.get_body())["code"] == "meeting_not_found"


def test_health_is_ok_and_503_when_storage_is_down(functions, world):
    repo, _ = world
    req = func.HttpRequest("GET", "http://localhost/api/health", body=b"")
    assert call(functions, "health", req).status_code == 200
    repo.outage = StorageUnavailable("down")
    response = call(functions, "health", req)
    assert response.status_code == 503 and json.loads(response.get_body())["code"] == "storage_unavailable"


def test_health_reports_every_configuration_problem_without_secrets(functions):
    secret = "s3cr3t-value-never-shown"
    bootstrap.use(lambda: bootstrap.build_container({"GRAPH_CREDENTIAL": "client_secret",
                                                     "GRAPH_CLIENT_SECRET": secret, "GRAPH_CLOUD": "mars"}))
    try:
        response = call(functions, "health", func.HttpRequest("GET", "http://localhost/api/health", body=b""))
    finally:
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))
    text = response.get_body().decode()
    problem = json.loads(text)
    assert response.status_code == 503 and problem["code"] == "configuration_error"
    assert secret not in text
    assert any("ALLOWED_ORGANIZERS" in p for p in problem["problems"])
    assert any("GRAPH_CLOUD" in p for p in problem["problems"])
    assert any("GRAPH_TENANT_ID" in p for p in problem["problems"])


def test_a_403_within_the_grace_window_requeues_a_delayed_copy_and_emits_nothing(functions, world, requeued):
    repo, graph = world
    graph.fail_next.append(AccessPolicyMissing("no policy yet"))
    results = Out()
    body = json.dumps({"organizerId": ALICE_ID, "externalId": "q-3"}).encode()
    call(functions, "process_meeting_request", QueueMessage(id="m-5", body=body, dequeue_count=1), results=results)
    assert results.value is None
    ((message, delay),) = requeued
    copy = json.loads(message)
    copy.pop("traceparent", None)  # the delayed copy's trace context, when a tracer provider is live
    assert copy == {"organizerId": ALICE_ID, "externalId": "q-3", "correlationId": "m-5",
                    "tenantId": ENV["GRAPH_TENANT_ID"]}, "the validated request, its tenant resolved"
    assert delay == timedelta(minutes=1)


def test_the_poison_trigger_still_emits_a_result_when_the_settings_are_broken(functions):
    bootstrap.use(lambda: bootstrap.build_container({"GRAPH_CLOUD": "mars"}))
    try:
        results = Out()
        body = json.dumps({"organizerId": ALICE_ID, "externalId": "q-9", "correlationId": "c-9"}).encode()
        call(functions, "process_poison_request", QueueMessage(id="m-9", body=body, dequeue_count=1),
             results=results)
    finally:
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))
    result = json.loads(results.value)
    assert result["correlationId"] == "c-9" and result["externalId"] == "q-9"
    assert result["error"]["code"] == "retries_exhausted" and "configuration_error" in result["error"]["message"]


def test_respond_async_for_a_meeting_that_exists_answers_200_and_emits_existing(functions, world):
    body = {"organizerId": "alice@contoso.example", "externalId": "b-2"}
    call(functions, "create_meeting", post(body), results=Out(), intake=Out())
    results, intake = Out(), Out()
    response = call(functions, "create_meeting", post(body, {"Prefer": "respond-async"}), results=results,
                    intake=intake)
    assert response.status_code == 200 and intake.value is None
    assert json.loads(results.value)["status"] == "existing"


def test_a_meeting_too_large_to_record_is_a_clear_502_and_a_final_failed_result_on_both_paths(functions, world):
    repo, graph = world
    graph.extra_members = {"joinInformation": {"content": "x" * 500_000}}  # a Graph answer no table row can hold
    results = Out()
    answer = call(functions, "create_meeting", post({"organizerId": ALICE_ID, "externalId": "huge-1"}),
                  results=results, intake=Out())
    problem = json.loads(answer.get_body())
    assert (answer.status_code, problem["code"], problem["retryable"]) == (502, "meeting_too_large", False)
    assert "at most 450000" in problem["detail"]
    assert json.loads(results.value)["error"]["code"] == "meeting_too_large"

    results = Out()
    body = json.dumps({"organizerId": ALICE_ID, "externalId": "huge-2"}).encode()
    call(functions, "process_meeting_request", QueueMessage(id="m-9", body=body, dequeue_count=1), results=results)
    result = json.loads(results.value)  # emitted at once: retrying cannot make Graph's answer smaller
    assert (result["status"], result["error"]["code"], result["correlationId"]) == ("failed", "meeting_too_large",
                                                                                   "m-9")
