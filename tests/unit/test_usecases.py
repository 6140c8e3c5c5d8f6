"""The use cases against hand-written fakes of the table and of Graph."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.errors import (
    AccessPolicyMissing,
    ConcurrentUpdate,
    GraphThrottled,
    GraphUnavailable,
    MeetingNotFound,
    OrganizerNotFound,
    StorageUnavailable,
)
from shared.domain.records import MeetingKey, RecordModified, Status
from shared.config.settings import load_settings
from shared.usecases import accept_meeting, create_meeting, exhaust_request, find_meeting
from shared.domain.validation import validate_request
from tests.fake_graph import ALICE_ID, BOB_ID, FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps

TENANT = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
OTHER_TENANT = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
ENV = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "GRAPH_TENANT_ID": TENANT,
    "GRAPH_CLIENT_ID": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
    "GRAPH_CREDENTIAL": "client_secret",
    "GRAPH_CLIENT_SECRET": "not-a-real-secret",
    "ALLOWED_ORGANIZERS": f"@contoso.example,{ALICE_ID},{BOB_ID}",
    "ALLOWED_TENANTS": OTHER_TENANT,
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def service(repo, graph, clock):
    return make_deps(load_settings(ENV), repo, graph, clock)


def request(service, **members):
    payload = {"organizerId": "alice@contoso.example", "externalId": "booking-1", "subject": "Intro", **members}
    return validate_request(payload, queue=False)


def submit(service, req, *, final=True, correlation_id="c-1", source="http"):
    return create_meeting(service, req, source=source, correlation_id=correlation_id, final=final)


def test_a_new_request_creates_a_meeting_and_records_it(service, repo, graph):
    outcome = submit(service, request(service))
    assert outcome.status == "created"
    assert outcome.result["status"] == "created" and outcome.result["meeting"]["id"] == outcome.meeting["id"]
    (record,) = repo.rows.values()
    assert record.status == Status.CREATED and record.meeting == outcome.meeting
    assert record.key == MeetingKey(TENANT, ALICE_ID, "booking-1")


def test_a_repeat_with_the_same_request_is_answered_from_the_table_without_graph(service, graph):
    first = submit(service, request(service))
    second = submit(service, request(service), correlation_id="c-2")
    assert second.status == "existing" and second.meeting["id"] == first.meeting["id"]
    assert len(graph.calls) == 1
    assert second.result["correlationId"] == "c-2"


def test_the_organizer_by_upn_and_by_object_id_end_on_one_row(service, repo, graph):
    by_upn = submit(service, request(service))
    by_id = submit(service, request(service, organizerId=ALICE_ID.upper()))
    assert by_id.meeting["id"] == by_upn.meeting["id"]
    assert len(repo.rows) == 1 and len(graph.calls) == 1
    assert find_meeting(service, "ALICE@contoso.example", "booking-1").meeting["id"] == by_upn.meeting["id"]


def test_two_organizers_with_one_external_id_get_two_meetings(service, repo):
    alice = submit(service, request(service))
    bob = submit(service, request(service, organizerId="bob@contoso.example"))
    assert alice.meeting["id"] != bob.meeting["id"]
    assert {key.organizer_key for key in repo.rows} == {ALICE_ID, BOB_ID}


def test_tenants_are_kept_apart(service, repo):
    default = submit(service, request(service))
    other = submit(service, request(service, tenantId=OTHER_TENANT))
    assert default.meeting["id"] != other.meeting["id"]
    assert {key.tenant_id for key in repo.rows} == {TENANT, OTHER_TENANT}
    assert other.result["tenantId"] == OTHER_TENANT


def test_a_repeat_with_other_details_changes_only_what_differs(service, graph):
    first = submit(service, request(service))
    changed = submit(service, request(service, subject="Another subject"))
    assert changed.status == "updated" and changed.meeting["id"] == first.meeting["id"]
    assert changed.meeting["subject"] == "Another subject"
    assert len(graph.calls) == 1 and graph.operations[-1] == ("update", first.meeting["id"])


def test_a_permanent_graph_failure_is_recorded_as_failed_and_not_retryable(service, repo, graph):
    graph.fail_next.append(OrganizerNotFound("no such user"))
    outcome = submit(service, request(service), final=False)
    assert outcome.status == "failed" and not outcome.retryable_failure
    assert outcome.result["error"] == {"code": "organizer_not_found", "message": "no such user", "retryable": False}
    (record,) = repo.rows.values()
    assert record.status == Status.FAILED and record.last_error["code"] == "organizer_not_found"
    assert record.last_error["status"] == 404


def test_a_403_on_the_http_path_fails_at_once(service, repo, graph):
    graph.fail_next.append(AccessPolicyMissing("no policy"))
    outcome = submit(service, request(service), final=True)
    assert outcome.status == "failed" and outcome.error.status == 403
    assert next(iter(repo.rows.values())).status == Status.FAILED


def test_a_403_on_the_queue_path_is_retried_with_growing_delays_within_the_grace_window(service, repo, graph, clock):
    delays = []
    for _ in range(5):
        graph.fail_next.append(AccessPolicyMissing("no policy"))
        outcome = submit(service, request(service), final=False)
        assert outcome.status == "deferred" and outcome.result is None
        delays.append(outcome.retry_in)
        clock.now += outcome.retry_in
    assert delays == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8),
                      timedelta(minutes=10)]
    record = next(iter(repo.rows.values()))
    assert record.status == Status.PENDING and record.last_error["code"] == "access_policy_missing"
    graph.fail_next.append(AccessPolicyMissing("no policy"))
    last = submit(service, request(service), final=False)
    assert last.status == "deferred" and last.retry_in == timedelta(minutes=5), "capped by what is left of 30 min"
    clock.now += last.retry_in
    graph.fail_next.append(AccessPolicyMissing("still no policy"))
    final = submit(service, request(service), final=False)
    assert final.status == "failed" and final.error.code == "access_policy_missing"
    assert next(iter(repo.rows.values())).status == Status.FAILED


def test_a_grant_that_applies_within_the_window_completes_the_request(service, repo, graph, clock):
    graph.fail_next.append(AccessPolicyMissing("no policy"))
    deferred = submit(service, request(service), final=False)
    clock.now += deferred.retry_in
    assert submit(service, request(service), final=False).status == "created"


def test_a_grace_window_of_zero_fails_the_queue_path_at_once(repo, graph, clock):
    service = make_deps(load_settings({**ENV, "ACCESS_POLICY_GRACE_MINUTES": "0"}), repo, graph, clock)
    graph.fail_next.append(AccessPolicyMissing("no policy"))
    assert submit(service, request(service), final=False).status == "failed"


def test_a_transient_failure_on_the_queue_path_stays_pending_and_a_retry_completes_it(service, repo, graph):
    graph.fail_next.append(GraphUnavailable("Graph is down"))
    first = submit(service, request(service), final=False)
    assert first.retryable_failure
    (record,) = repo.rows.values()
    assert record.status == Status.PENDING and record.last_error["code"] == "graph_unavailable"
    second = submit(service, request(service), final=False)
    assert second.status == "created"
    (record,) = repo.rows.values()
    assert record.status == Status.CREATED and record.attempts == 2 and record.last_error is None


def test_a_transient_failure_on_the_http_path_is_final_for_that_request(service, repo, graph):
    graph.fail_next.append(GraphThrottled("slow down", retry_after=30))
    outcome = submit(service, request(service), final=True)
    assert outcome.status == "failed" and outcome.error.retry_after == 30
    (record,) = repo.rows.values()
    assert record.status == Status.FAILED and record.last_error["retryable"] is True


def test_a_failed_request_is_tried_again_when_repeated(service, repo, graph):
    graph.fail_next.append(AccessPolicyMissing("no policy yet"))
    submit(service, request(service))
    again = submit(service, request(service))
    assert again.status == "created" and len(graph.calls) == 2


def test_a_created_row_keeps_its_meeting_when_a_later_call_fails(service, repo, graph):
    first = submit(service, request(service))
    graph.fail_next.append(AccessPolicyMissing("policy revoked"))
    later = submit(service, request(service, subject="changed"))
    assert later.status == "failed"
    (record,) = repo.rows.values()
    assert record.status == Status.CREATED and record.meeting["id"] == first.meeting["id"]


def test_a_storage_outage_fails_retryably_before_any_graph_call(service, repo, graph):
    repo.outage = StorageUnavailable("table down")
    outcome = submit(service, request(service), final=False)
    assert outcome.retryable_failure and outcome.error.code == "storage_unavailable"
    assert graph.calls == []


def test_organizers_outside_the_allowlist_are_refused_before_graph_and_not_stored(service, repo, graph):
    outcome = submit(service, request(service, organizerId="mallory@fabrikam.example"))
    assert outcome.status == "failed" and outcome.error.code == "organizer_not_allowed"
    assert outcome.result["organizerId"] == "mallory@fabrikam.example"
    assert graph.calls == [] and repo.rows == {}


def test_tenants_outside_the_allowlist_are_refused(service, graph):
    outcome = submit(service, request(service, tenantId="dddddddd-dddd-4ddd-8ddd-dddddddddddd"))
    assert outcome.error.code == "tenant_not_allowed" and graph.calls == []


def test_an_accepted_request_is_pending_until_processed(service, repo):
    req = request(service)
    acceptance = accept_meeting(service, req, correlation_id="async-1")
    assert acceptance.status == Status.ACCEPTED and acceptance.result is None
    assert json.loads(acceptance.intake)["correlationId"] == "async-1"
    assert find_meeting(service, "alice@contoso.example", "booking-1").status == Status.PENDING
    outcome = submit(service, req, source="queue", correlation_id="async-1", final=False)
    assert outcome.status == "created"
    record = find_meeting(service, "alice@contoso.example", "booking-1")
    assert record.status == Status.CREATED and record.correlation_id == "async-1"
    assert len(repo.rows) == 1, "the UPN-keyed pending row is replaced by the object-id row"


def test_accepting_a_request_that_already_has_its_meeting_answers_from_the_table(service):
    submit(service, request(service))
    acceptance = accept_meeting(service, request(service), correlation_id="async-2")
    assert acceptance.status == Status.EXISTING and acceptance.record.meeting is not None
    assert acceptance.intake is None and acceptance.result["correlationId"] == "async-2"


def test_an_unknown_meeting_is_not_found(service):
    with pytest.raises(MeetingNotFound):
        find_meeting(service, "alice@contoso.example", "nope")


def test_exhausted_retries_mark_the_row_failed_and_emit_retries_exhausted(service, repo, graph):
    graph.fail_next.append(GraphUnavailable("Graph is down"))
    submit(service, request(service), final=False)
    body = json.dumps({"organizerId": "alice@contoso.example", "externalId": "booking-1", "subject": "Intro",
                       "correlationId": "q-9"})
    outcome = exhaust_request(service, json.loads(body), message_id="msg-1", dequeue_count=5)
    assert outcome.result["status"] == "failed" and outcome.result["correlationId"] == "q-9"
    assert outcome.result["error"]["code"] == "retries_exhausted"
    assert "graph_unavailable" in outcome.result["error"]["message"]
    (record,) = repo.rows.values()
    assert record.status == Status.FAILED and record.last_error["code"] == "retries_exhausted"


def test_exhausted_retries_of_a_malformed_message_still_emit_a_result(service):
    outcome = exhaust_request(service, None, message_id="msg-2")
    assert outcome.result["status"] == "failed" and outcome.result["correlationId"] == "msg-2"
    assert outcome.result["externalId"] is None


def test_defaults_are_applied_at_processing_time(service, graph, clock):
    submit(service, validate_request({"organizerId": "alice@contoso.example", "externalId": "x"}, queue=False))
    body = graph.calls[0][2]
    assert body["startDateTime"] == "2026-03-01T09:00:00.0000000Z"
    assert body["endDateTime"] == "2026-03-01T10:00:00.0000000Z"


class RacingRepository(InMemoryMeetingRepository):
    """Another worker records the same meeting between our read (nothing there) and our conditional insert."""

    def __init__(self, graph: FakeGraph, clock: Clock) -> None:
        super().__init__()
        self.graph, self.clock, self.raced = graph, clock, False

    def commit(self, record, *, insert, alias=None, quota=None):
        if not self.raced and insert and record.status == Status.CREATED:
            self.raced = True
            rival = make_deps(load_settings(ENV), self, self.graph, self.clock)
            rival_request = validate_request({"organizerId": ALICE_ID, "externalId": "booking-1", "subject": "Intro"})
            assert submit(rival, rival_request, source="queue", correlation_id="rival", final=False).status == "existing"
        return super().commit(record, insert=insert, alias=alias, quota=quota)


def test_a_concurrent_writer_does_not_corrupt_the_row(graph, clock):
    repo = RacingRepository(graph, clock)
    service = make_deps(load_settings(ENV), repo, graph, clock)
    outcome = submit(service, request(service, organizerId=ALICE_ID))
    (record,) = repo.rows.values()
    assert repo.raced and record.status == Status.CREATED
    assert record.meeting["id"] == outcome.meeting["id"] and outcome.status == "created"
    assert record.correlation_id == "rival", "the row already held this meeting: it is read back, not rewritten"


def test_rows_that_keep_changing_give_up_with_a_clear_error(graph, clock):
    class Hostile(InMemoryMeetingRepository):
        def commit(self, record, *, insert, alias=None, quota=None):
            if insert:
                return super().commit(record, insert=insert, alias=alias, quota=quota)
            raise RecordModified("always stale")

    repo = Hostile()
    service = make_deps(load_settings(ENV), repo, graph, clock)
    graph.fail_next.append(AccessPolicyMissing("no policy"))
    submit(service, request(service, organizerId=ALICE_ID))  # the row is inserted; recording the failure is not
    clock.now += timedelta(minutes=1)
    refused = accept_meeting(service, request(service, organizerId=ALICE_ID), correlation_id="x")
    assert refused.status == Status.FAILED and isinstance(refused.error, ConcurrentUpdate)
    outcome = submit(service, request(service, organizerId=ALICE_ID))
    assert outcome.retryable_failure and outcome.error.code == "concurrent_update"
