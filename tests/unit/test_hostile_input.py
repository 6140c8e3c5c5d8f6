"""Hostile input and concurrency: every request, however malformed, deep, huge or concurrent, ends in exactly one
final outcome its sender can match (an answer and one result message), and nothing echoed can break encoding."""
from __future__ import annotations

import json
import re
import threading

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from hypothesis import HealthCheck, given, settings, strategies as st

from shared import bootstrap
from shared.domain.errors import GraphThrottled, GraphUnavailable, StorageUnavailable
from shared.adapters.graph.answers import parse_retry_after
from shared.entrypoints.http_io import problem
from shared.domain.jsontext import MAX_DEPTH, fits_queue
from shared.domain.records import Status
from shared.ports import Alias
from shared.config.settings import load_settings
from shared.usecases import create_meeting
from shared.domain.validation import validate_request
from shared.entrypoints.queue import MAX_DEQUEUE_COUNT
from tests.fake_graph import ALICE_ID, FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.harness import ENV, Out, call, post
from tests.unit.test_usecases import Clock

DOCUMENTED_POST_STATUSES = {200, 201, 202, 400, 403, 404, 409, 413, 415, 429, 500, 502, 503}


def post_raw(functions, raw: bytes, headers=None):
    results, intake = Out(), Out()
    answer = call(functions, "create_meeting", post(raw, headers), results=results, intake=intake)
    return answer, results.value, intake.value


# XML 1.0's Char production: the queue service carries a message inside an XML body, so anything else cannot be sent.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def queueable(message: str) -> bool:
    """A message the queue service takes: within its size, UTF-8, and only characters XML 1.0 allows."""
    message.encode("utf-8")
    return fits_queue(message) and _NOT_XML.search(message) is None


def assert_one_sound_outcome(answer, result: str | None) -> dict:
    """Never a 500 without a problem body; the answer's bytes are UTF-8; one result message the queue takes."""
    assert answer.status_code in DOCUMENTED_POST_STATUSES and answer.status_code != 500
    body = json.loads(answer.get_body().decode("utf-8"))
    assert result is not None and queueable(result)
    return body


def nested(depth: int) -> bytes:
    return ('{"organizerId": "alice@contoso.example", "externalId": "deep", "participants": '
            + "[" * depth + "]" * depth + "}").encode()


def test_deeply_nested_json_is_a_400_naming_the_limit_and_emits_a_failed_result(functions, world):
    answer, result, _ = post_raw(functions, nested(600))
    problem_body = assert_one_sound_outcome(answer, result)
    assert (answer.status_code, problem_body["code"]) == (400, "malformed_json")
    assert f"more than {MAX_DEPTH} levels" in problem_body["detail"]
    assert json.loads(result)["status"] == "failed"


def test_nesting_within_the_limit_is_judged_by_the_rules_instead(functions, world):
    answer, result, _ = post_raw(functions, nested(MAX_DEPTH - 1))
    assert json.loads(answer.get_body())["code"] == "validation_failed"


def test_lone_surrogates_are_refused_and_never_echoed_raw(functions, world):
    raw = b'{"organizerId": "alice@contoso.example", "externalId": "\\ud800x", "\\udfffcolour": 1}'
    answer, result, _ = post_raw(functions, raw)
    problem_body = assert_one_sound_outcome(answer, result)
    assert answer.status_code == 400
    fields = {error["field"] for error in problem_body["errors"]}
    assert fields == {"externalId", "\ufffdcolour"}
    assert json.loads(result)["externalId"] == "\ufffdx"


def test_thousands_of_broken_rules_are_listed_in_part_and_counted(functions, world):
    body = {"organizerId": "alice@contoso.example", "externalId": "many",
            **{f"u{i}": i for i in range(1500)}}
    answer, result, _ = post_raw(functions, json.dumps(body).encode())
    problem_body = assert_one_sound_outcome(answer, result)
    assert len(problem_body["errors"]) == 20 and problem_body["errorCount"] == 1500
    assert problem_body["detail"].startswith("1500 broken rules, the first 20: ")


def test_a_start_too_late_for_the_default_hour_is_a_400_not_an_overflow(functions, world):
    body = {"organizerId": "alice@contoso.example", "externalId": "late", "startDateTime": "9999-12-31T23:30:00Z"}
    answer, result, _ = post_raw(functions, json.dumps(body).encode())
    problem_body = assert_one_sound_outcome(answer, result)
    assert [error["field"] for error in problem_body["errors"]] == ["startDateTime"]
    repo, graph = world
    assert repo.rows == {} and graph.calls == []


def test_a_look_alike_upn_is_refused_before_the_allowlist(functions, world):
    body = {"organizerId": "\u212aim@contoso.example", "externalId": "kelvin"}  # KELVIN SIGN, not K
    answer, result, _ = post_raw(functions, json.dumps(body).encode())
    problem_body = assert_one_sound_outcome(answer, result)
    assert [error["field"] for error in problem_body["errors"]] == ["organizerId"]
    assert "ASCII" in problem_body["errors"][0]["message"]


def test_an_async_request_too_large_to_queue_is_refused_before_anything_is_recorded(functions, world):
    repo, graph = world
    attendees: list[dict] = []
    body = {"organizerId": "alice@contoso.example", "externalId": "big", "subject": "",
            "participants": {"attendees": attendees}}
    while len(json.dumps(body, separators=(",", ":"))) < 64 * 1024 - 800:
        attendees.append({"upn": f"{'u' * 40}{len(attendees):04d}@contoso.example", "role": "attendee"})
    compact = len(json.dumps(body, separators=(",", ":")).encode())
    body["subject"] = "s" * (64 * 1024 - 60 - compact)  # the body fits; with tenant and correlation id it does not
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert 64 * 1024 - 100 < len(raw) < 64 * 1024
    answer, result, intake = post_raw(functions, raw, {"Prefer": "respond-async"})
    problem_body = assert_one_sound_outcome(answer, result)
    assert (answer.status_code, problem_body["code"]) == (413, "payload_too_large")
    assert intake is None and repo.rows == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)
request_like = st.fixed_dictionaries(
    {"organizerId": st.sampled_from(["alice@contoso.example", ALICE_ID, "\u212a@x.y", "", "x" * 300]),
     "externalId": st.text(max_size=30) | st.integers()},
    optional={"subject": json_values, "startDateTime": st.sampled_from(["2026-01-01T00:00:00Z", "9999-12-31T23:59Z",
                                                                       "nope", "0001-01-01T00:00:00+14:00"]),
              "participants": json_values, "tenantId": st.text(max_size=20), "chatInfo": json_values})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values | request_like, surrogate=st.booleans(), use_async=st.booleans())
def test_any_json_body_ends_in_one_documented_answer_and_one_result(functions, world, payload, surrogate,
                                                                     use_async):
    text = json.dumps(payload)
    if surrogate:
        text = text.replace('"', '"\\udc80', 1)  # a lone surrogate inside the first string or member name
    headers = {"Prefer": "respond-async"} if use_async else {}
    answer, result, intake = post_raw(functions, text.encode(), headers)
    if answer.status_code == 202:
        assert result is None and intake is not None and queueable(intake)  # the queue worker will tell it
    else:
        assert_one_sound_outcome(answer, result)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_the_poison_trigger_tells_one_result_whatever_the_body(functions, world, raw):
    results = Out()
    call(functions, "process_poison_request", QueueMessage(id="poison-copy", body=raw, dequeue_count=1),
         results=results)
    result = json.loads(results.value)
    assert result["status"] in (Status.FAILED, Status.EXISTING) and queueable(results.value)


@pytest.mark.parametrize("text", [
    '{"organizerId": "alice@contoso.example", "externalId": "nonchar-\uffff", "subject": "\ufffe"}',  # created
    '{"organizerId": "alice@contoso.example", "externalId": "x", "\ufffe": 1}',  # refused, the member echoed
    '{"organizerId": "alice@contoso.example", "externalId": "raw-￿"}',  # the character itself, not escaped
])
@pytest.mark.parametrize("use_async", [False, True])
def test_the_two_characters_xml_lacks_are_carried_as_json_escapes_in_every_message(functions, world, text,
                                                                                   use_async):
    """U+FFFE and U+FFFF are valid JSON and UTF-8 but not XML 1.0, which the queue service's bodies are: echoed raw,
    the result (or the intake message) could not be sent, the answer would be a 500 and the sender told nothing."""
    answer, result, intake = post_raw(functions, text.encode("utf-8"), {"Prefer": "respond-async"} if use_async
                                      else {})
    if answer.status_code == 202:
        assert result is None and queueable(intake) and "\\uffff" in intake
        outcome = json.loads(call_queue(functions, intake))
    else:
        assert_one_sound_outcome(answer, result)
        outcome = json.loads(result)
    assert outcome["externalId"] in ("nonchar-\uffff", "x", "raw-\uffff")


def call_queue(functions, body: str) -> str:
    results = Out()
    call(functions, "process_meeting_request", QueueMessage(id="m-1", body=body.encode("utf-8"), dequeue_count=1),
         results=results)
    assert results.value is not None and queueable(results.value)
    return results.value


def test_the_poison_trigger_never_raises_even_when_the_app_itself_breaks(functions):
    def broken():
        raise RuntimeError("a bug, not a BrokerError")

    bootstrap.use(broken)
    try:
        results = Out()
        call(functions, "process_poison_request", QueueMessage(id="p-1", body=nested(900), dequeue_count=1),
             results=results)
    finally:
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))
    result = json.loads(results.value)
    assert (result["status"], result["error"]["code"], result["correlationId"]) == ("failed", "retries_exhausted",
                                                                                   "p-1")


def test_a_deep_queue_message_fails_for_good_at_once(functions, world):
    results = Out()
    call(functions, "process_meeting_request", QueueMessage(id="q-deep", body=nested(700), dequeue_count=1),
         results=results)
    assert json.loads(results.value)["error"]["code"] == "malformed_json"


def test_the_last_attempt_tells_retries_exhausted_under_the_original_message_id(functions, world):
    repo, graph = world
    body = json.dumps({"organizerId": ALICE_ID, "externalId": "flaky"}).encode()
    for attempt in range(1, MAX_DEQUEUE_COUNT):
        graph.fail_next.append(GraphUnavailable("down"))
        with pytest.raises(GraphUnavailable):
            call(functions, "process_meeting_request", QueueMessage(id="orig-1", body=body, dequeue_count=attempt),
                 results=Out())
    graph.fail_next.append(GraphUnavailable("still down"))
    results = Out()
    call(functions, "process_meeting_request", QueueMessage(id="orig-1", body=body, dequeue_count=MAX_DEQUEUE_COUNT),
         results=results)  # no raise: the host would only move it to the poison queue, under another message id
    result = json.loads(results.value)
    assert (result["correlationId"], result["error"]["code"]) == ("orig-1", "retries_exhausted")
    assert "graph_unavailable" in result["error"]["message"]
    (record,) = repo.rows.values()
    assert record.status == Status.FAILED and record.attempts == MAX_DEQUEUE_COUNT


def test_host_json_gives_up_after_as_many_attempts_as_the_worker_expects():
    from tests.conftest import REPO_ROOT

    host = json.loads((REPO_ROOT / "host.json").read_text())
    assert host["extensions"]["queues"]["maxDequeueCount"] == MAX_DEQUEUE_COUNT


@pytest.mark.parametrize("header", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_a_retry_after_that_is_not_a_finite_number_is_ignored(header):
    assert parse_retry_after(header, now=0.0) is None


@pytest.mark.parametrize("retry_after, header", [(float("inf"), "1"), (1e12, "2764800"), (2.1, "3"), (None, "1")])
def test_the_retry_after_we_answer_is_whole_seconds_within_32_days(retry_after, header):
    answer = problem(GraphThrottled("slow down", retry_after=retry_after))
    assert answer.headers["Retry-After"] == header


def test_health_does_not_echo_a_bad_setting_value(functions):
    pasted = "https://admin:Pa55word@example.invalid/graph"
    bootstrap.use(lambda: bootstrap.build_container({**ENV, "GRAPH_BASE_URL": pasted.replace("https", "http")}))
    try:
        response = call(functions, "health", func.HttpRequest("GET", "http://localhost/api/health", body=b""))
    finally:
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))
    assert response.status_code == 503 and b"GRAPH_BASE_URL" in response.get_body()
    assert b"Pa55word" not in response.get_body() and b"admin" not in response.get_body()


# --- concurrency -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("organizer", ["alice@contoso.example", ALICE_ID])
def test_concurrent_identical_requests_all_get_the_one_meeting_and_one_is_created(organizer):
    repo, graph, clock = InMemoryMeetingRepository(), FakeGraph(), Clock()
    deps = make_deps(load_settings(ENV), repo, graph, clock)
    request = validate_request({"organizerId": organizer, "externalId": "burst", "subject": "Same"})
    start, outcomes = threading.Barrier(50), []

    def one(index: int) -> None:
        start.wait()
        outcomes.append(create_meeting(deps, request, source="http", correlation_id=f"c-{index}", final=True))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(outcome.status for outcome in outcomes)
    assert statuses.count(Status.CREATED) == 1 and statuses.count(Status.EXISTING) == 49
    assert len({outcome.meeting["id"] for outcome in outcomes}) == 1
    assert len(repo.rows) == 1 and len(graph.meetings) == 1


def test_a_row_keyed_by_a_upn_is_moved_when_another_request_learns_the_object_id():
    repo, graph, clock = InMemoryMeetingRepository(), FakeGraph(), Clock()
    deps = make_deps(load_settings(ENV), repo, graph, clock)
    graph.fail_next.append(GraphUnavailable("down"))
    first = create_meeting(deps, validate_request({"organizerId": "alice@contoso.example", "externalId": "one"}),
                           source="queue", correlation_id="q-1", final=False)
    assert first.retryable_failure and {key.organizer_key for key in repo.rows} == {"alice@contoso.example"}

    other = make_deps(load_settings(ENV), repo, graph, clock)  # another process: its own alias cache
    create_meeting(other, validate_request({"organizerId": "alice@contoso.example", "externalId": "two"}),
                   source="http", correlation_id="h-1", final=True)
    assert {key.organizer_key for key in repo.rows} == {ALICE_ID}, "no row is left under the UPN"
    retried = create_meeting(deps, validate_request({"organizerId": "alice@contoso.example", "externalId": "one"}),
                             source="queue", correlation_id="q-1", final=False)
    assert retried.status == Status.CREATED and len(repo.rows) == 2
    assert repo.rows[retried.record.key].attempts == 2


def test_a_row_keyed_by_a_upn_after_the_alias_appeared_is_moved_by_its_own_writer():
    repo, graph, clock = InMemoryMeetingRepository(), FakeGraph(), Clock()
    deps = make_deps(load_settings(ENV), repo, graph, clock)

    class AliasAppearsDuringTheCall(FakeGraph):
        def create_or_get(self, tenant_id, organizer_id, body, *, correlation_id, accept_language=None):
            tenant, upn = ENV["GRAPH_TENANT_ID"], "alice@contoso.example"
            repo.aliases[(tenant, upn)] = Alias(tenant, upn, ALICE_ID, etag='W/"learned"')  # by someone else
            raise GraphUnavailable("down")

    racing = make_deps(load_settings(ENV), repo, AliasAppearsDuringTheCall(), clock)
    create_meeting(racing, validate_request({"organizerId": "alice@contoso.example", "externalId": "late"}),
                   source="queue", correlation_id="q-2", final=False)
    assert {key.organizer_key for key in repo.rows} == {ALICE_ID}, "the failure was recorded under the object id"
    assert deps is not racing


def test_one_tenant_named_by_domain_or_guid_has_one_row(functions, world):
    repo, graph = world
    for tenant in ("contoso.example", ENV["GRAPH_TENANT_ID"].upper()):
        body = {"organizerId": ALICE_ID, "externalId": "tenant-names", "tenantId": tenant}
        answer, result, _ = post_raw(functions, json.dumps(body).encode())
        assert answer.status_code in (200, 201)
        assert json.loads(result)["tenantId"] == ENV["GRAPH_TENANT_ID"]
    assert len(repo.rows) == 1 and len(graph.calls) == 1


def test_a_storage_outage_is_a_retryable_503_with_one_result(functions, world):
    repo, _ = world
    repo.outage = StorageUnavailable("table down")
    answer, result, _ = post_raw(functions, json.dumps({"organizerId": ALICE_ID, "externalId": "s"}).encode())
    problem_body = assert_one_sound_outcome(answer, result)
    assert (answer.status_code, problem_body["retryable"]) == (503, True)
