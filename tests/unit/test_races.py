"""Overlapping requests against the write protocol (``shared.usecases.keyed_write``), with fakes that let one request land inside
another's Graph call: a tombstone always wins, ``If-Match`` is exclusive, changes of one key go one at a time, the
monthly limit holds under any concurrency and however the organizer is named, and a key whose create failed for good
is answered as such at once."""
from __future__ import annotations

import dataclasses
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shared.usecases.keyed_write import claim, compare_and_set
from shared.domain.errors import AccessPolicyMissing, ChangeInProgress, MeetingCancelled, PreconditionFailed
from shared.domain.meeting_request import MeetingCancel
from shared.domain.records import Status
from shared.config.settings import load_settings
from shared.usecases import cancel_meeting, create_meeting, update_meeting
from shared.domain.validation import validate_change, validate_request
from tests.fake_graph import ALICE_ID, FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.test_usecases import ENV, Clock

ALICE = "alice@contoso.example"


@pytest.fixture
def deps(repo, graph, clock):
    return make_deps(load_settings(ENV), repo, graph, clock)


def create(deps, external_id="k", organizer=ALICE_ID, correlation_id="c", **members):
    return create_meeting(deps, validate_request({"organizerId": organizer, "externalId": external_id, **members}),
                          source="http", correlation_id=correlation_id, final=True)


def change(deps, body, external_id="k", if_match=None):
    return update_meeting(deps, validate_change(body, key={"organizerId": ALICE_ID, "externalId": external_id}),
                          source="http", correlation_id="u", if_match=if_match)


def cancel(deps, external_id="k", mode="delete"):
    return cancel_meeting(deps, MeetingCancel(ALICE_ID, external_id, mode=mode), source="http", correlation_id="d")


def meanwhile(graph, operation: str, interlude, *, after: bool = False) -> None:
    """The next call of ``operation`` on ``graph`` runs ``interlude`` (other requests) before it reaches Graph, or,
    with ``after``, once Graph has acted but before its answer arrives; later calls are plain."""
    real = getattr(graph, operation)

    def once(*args, **kwargs):
        setattr(graph, operation, real)
        if not after:
            interlude()
        answer = real(*args, **kwargs)
        if after:
            interlude()
        return answer

    setattr(graph, operation, once)


# --- the protocol itself -----------------------------------------------------------------------------------------

def test_no_change_turns_a_tombstone_into_anything_else(deps, repo):
    create(deps)
    cancel(deps)
    (tombstone,) = repo.rows.values()
    revived = dataclasses.replace(tombstone, status=Status.CREATED)
    with pytest.raises(MeetingCancelled) as refused:
        compare_and_set(repo, tombstone.key, lambda row: revived)
    assert refused.value.status == 409
    assert next(iter(repo.rows.values())).status == Status.CANCELLED
    noted = compare_and_set(repo, tombstone.key, lambda row: dataclasses.replace(row, last_error={"code": "x"}))
    assert noted.record.status == Status.CANCELLED, "a tombstone may still be annotated"


def test_a_claim_excludes_every_other_claimant_until_it_is_released_or_expires(deps, repo, clock):
    create(deps)
    (row,) = repo.rows.values()
    held = claim(repo, row.key, lambda r: True, owner="a", now=clock())
    assert held.lease_owner == "a"
    with pytest.raises(ChangeInProgress) as busy:
        claim(repo, row.key, lambda r: True, owner="b", now=clock())
    assert busy.value.retryable and 1 <= busy.value.retry_after <= 60
    with pytest.raises(PreconditionFailed):  # a request's own rules come first: If-Match names the old version
        claim(repo, row.key, lambda r: (_ for _ in ()).throw(PreconditionFailed("x")) if r.etag == held.etag
              else True, owner="b", now=clock())
    later = clock() + (held.lease_expires_at - clock()) * 2
    assert claim(repo, row.key, lambda r: True, owner="b", now=later).lease_owner == "b", "an expired claim is taken"


# --- D1: a cancelled key never comes back ------------------------------------------------------------------------

def test_a_create_that_answers_after_the_key_was_cancelled_is_refused_and_its_meeting_deleted(deps, repo, graph):
    def a_creates_and_deletes():
        assert create(deps, correlation_id="A").status == Status.CREATED   # A: the same POST answers 201
        assert cancel(deps).status == Status.CANCELLED                      # DELETE answers 204

    meanwhile(graph, "create_or_get", a_creates_and_deletes)  # B read "no row" and waits for Graph
    late = create(deps, correlation_id="B")
    assert (late.status, late.error.status, late.error.code) == (Status.FAILED, 409, "meeting_cancelled")
    assert graph.meetings == {}, "the meeting B made after the key was cancelled does not stay live"
    assert graph.count("createOrGet") == 2 and graph.count("delete") == 2
    (row,) = repo.rows.values()
    assert row.status == Status.CANCELLED
    assert create(deps, correlation_id="C").error.code == "meeting_cancelled"


def test_a_plain_create_under_a_lease_cannot_record_over_a_tombstone(deps, repo, graph):
    def buried():  # someone buries the key while Graph answers (a takeover after the lease expired)
        (row,) = repo.rows.values()
        repo.commit(dataclasses.replace(row, status=Status.CANCELLED, cancelled_at=row.updated_at), insert=False)

    meanwhile(graph, "create", buried, after=True)
    late = create(deps, joinMeetingIdSettings={"isPasscodeRequired": True})
    assert late.error.code == "meeting_cancelled" and graph.meetings == {}
    assert next(iter(repo.rows.values())).status == Status.CANCELLED


# --- D2 and D3: changes of one key go one at a time ----------------------------------------------------------------

def test_two_patches_with_one_if_match_give_one_200_and_one_412_and_one_graph_call(deps, repo, graph):
    etag = create(deps).record.etag
    inner = []
    meanwhile(graph, "update", lambda: inner.append(change(deps, {"subject": "B"}, if_match=etag)))  # mid-call
    first = change(deps, {"subject": "A"}, if_match=etag)
    assert first.status == Status.UPDATED
    assert (inner[0].error.status, inner[0].error.code) == (412, "precondition_failed")
    assert graph.count("update") == 1
    (row,) = repo.rows.values()
    assert row.subject == "A" == graph.meetings[row.meeting_id]["subject"]


def test_a_lock_during_a_lobby_change_is_refused_and_nothing_differs_is_decided_on_graphs_state(deps, repo, graph):
    create(deps)
    during = []
    meanwhile(graph, "update", lambda: during.append(cancel(deps, mode="lock")))
    everyone = {"lobbyBypassSettings": {"scope": "everyone"}}
    assert change(deps, everyone).status == Status.UPDATED
    assert during[0].error.code == "change_in_progress"
    assert cancel(deps, mode="lock").status == Status.LOCKED
    (row,) = repo.rows.values()
    assert row.meeting["lobbyBypassSettings"]["scope"] == "organizer" == \
        graph.meetings[row.meeting_id]["lobbyBypassSettings"]["scope"]
    again = change(deps, everyone)
    assert again.status == Status.UPDATED, "the lobby differs from Graph's state, so it is changed again"
    assert graph.meetings[row.meeting_id]["lobbyBypassSettings"]["scope"] == "everyone"


def test_a_change_whose_graph_call_fails_releases_the_key(deps, repo, graph):
    create(deps)
    graph.fail_next.append(AccessPolicyMissing("no policy"))
    assert change(deps, {"subject": "x"}).error.code == "access_policy_missing"
    assert next(iter(repo.rows.values())).lease_owner is None
    assert change(deps, {"subject": "x"}).status == Status.UPDATED


# --- D4 and D5: the monthly limit ----------------------------------------------------------------------------------

def _burst(deps, count: int, prefix: str, organizer: str = ALICE_ID) -> list:
    start, outcomes = threading.Barrier(count), []

    def one(index: int) -> None:
        start.wait()
        outcomes.append(create(deps, f"{prefix}-{index}", organizer=organizer, correlation_id=f"{prefix}-{index}"))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 40), made_share=st.floats(0, 1), concurrent=st.integers(1, 20))
def test_the_monthly_limit_holds_for_every_value_under_concurrency(limit, made_share, concurrent):
    repo, graph = InMemoryMeetingRepository(), FakeGraph()
    deps = make_deps(load_settings({**ENV, "MONTHLY_MEETING_LIMIT": str(limit)}), repo, graph, Clock())
    made = int(made_share * limit)
    for index in range(made):
        assert create(deps, f"before-{index}").status == Status.CREATED
    outcomes = _burst(deps, concurrent, "burst")
    created = sum(outcome.status == Status.CREATED for outcome in outcomes)
    assert created == min(concurrent, limit - made), "every free place is used, none twice"
    assert len(graph.meetings) == made + created <= limit
    refused = [o.error for o in outcomes if o.status == Status.FAILED]
    assert all(error.code in ("organizer_quota_exceeded", "concurrent_update") for error in refused)
    assert repo.get_quota(deps.settings.tenant_id, ALICE_ID, "2026-03").used == made + created


def test_an_organizer_named_by_a_new_upn_is_refused_at_the_limit_and_its_meeting_removed(repo, graph):
    deps = make_deps(load_settings({**ENV, "MONTHLY_MEETING_LIMIT": "3"}), repo, graph, Clock())
    for index in range(3):
        create(deps, f"by-id-{index}")
    outcomes = _burst(deps, 8, "by-upn", organizer=ALICE)  # the UPN's object id is not known yet
    assert {o.error.code for o in outcomes} == {"organizer_quota_exceeded"}
    assert len(graph.meetings) == 3, "meetings Graph made before naming the organizer's object id were removed"
    assert repo.get_quota(deps.settings.tenant_id, ALICE_ID, "2026-03").used == 3


def test_below_the_limit_a_new_upn_counts_in_the_records_write(repo, graph):
    deps = make_deps(load_settings({**ENV, "MONTHLY_MEETING_LIMIT": "5"}), repo, graph, Clock())
    create(deps, "by-id")
    outcomes = _burst(deps, 8, "by-upn", organizer=ALICE)
    assert sum(o.status == Status.CREATED for o in outcomes) == 4 and len(graph.meetings) == 5
    assert repo.get_quota(deps.settings.tenant_id, ALICE_ID, "2026-03").used == 5


# --- D7: a create that failed for good -----------------------------------------------------------------------------

def test_a_key_whose_create_failed_for_good_is_answered_final_at_once(deps, graph):
    graph.fail_next.append(AccessPolicyMissing("no policy for this organizer"))
    assert create(deps).error.code == "access_policy_missing"
    for outcome in (change(deps, {"subject": "x"}), cancel(deps), cancel(deps, mode="lock")):
        assert (outcome.error.status, outcome.error.code, outcome.error.retryable) == \
            (409, "meeting_create_failed", False)
        assert "access_policy_missing" in outcome.error.detail


# --- a recorded failure keeps its Retry-After: the poison trigger's exhaustion answers with it ----------------------

def test_an_exhaustion_told_by_the_poison_trigger_keeps_the_last_throttles_retry_after(deps, graph):
    from shared.domain.errors import GraphThrottled
    from shared.usecases import exhaust_request

    payload = {"organizerId": ALICE_ID, "externalId": "throttled"}
    graph.fail_next.append(GraphThrottled("slow down", retry_after=7))
    attempt = create_meeting(deps, validate_request(payload, queue=True), source="queue", correlation_id="m-1",
                             final=False)
    assert attempt.error.code == "graph_throttled"  # recorded on the row, retried by the host
    told = exhaust_request(deps, payload, message_id="poison-copy", poison=True)  # no cause: the record tells it
    assert (told.error.code, told.error.status, told.error.retry_after) == ("retries_exhausted", 429, 7)
    assert told.result["correlationId"] == "m-1"
