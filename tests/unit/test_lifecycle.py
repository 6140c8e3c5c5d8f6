"""The rest of a meeting's life, against fakes: cancel (a tombstone stays) or lock, lookups by join link, and the
organizer's monthly quota."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.errors import MeetingGone
from shared.domain.meeting_request import MeetingCancel
from shared.usecases.quota import Ticket
from shared.domain.records import Status
from shared.config.settings import load_settings
from shared.usecases import (cancel_meeting, create_meeting, find_by_join_link, find_meeting, organizer_quota,
                             update_meeting)
from shared.domain.validation import validate_change, validate_request
from tests.fake_graph import ALICE_ID, FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.test_usecases import ENV, TENANT

ALICE = "alice@contoso.example"


@pytest.fixture
def deps(repo, graph, clock):
    return make_deps(load_settings(ENV), repo, graph, clock)


def ask(deps, external_id="lesson-1", *, correlation_id="c-1", source="http", final=True, **members):
    body = {"organizerId": ALICE, "externalId": external_id} | members
    return create_meeting(deps, validate_request(body), source=source, correlation_id=correlation_id, final=final)


def cancel(deps, external_id="lesson-1", mode="delete", organizer=ALICE):
    return cancel_meeting(deps, MeetingCancel(organizer, external_id, mode=mode), source="http", correlation_id="x-1")


def change(deps, body, external_id="lesson-1"):
    return update_meeting(deps, validate_change(body, key={"organizerId": ALICE, "externalId": external_id}),
                          source="http", correlation_id="u-1")


# --- cancel and lock --------------------------------------------------------------------------------------------

def test_delete_removes_the_meeting_in_graph_and_leaves_a_tombstone_once(deps, repo, graph, clock):
    created = ask(deps)
    outcome = cancel(deps)
    assert outcome.status == Status.CANCELLED and outcome.result["status"] == "cancelled"
    assert graph.operations[-1] == ("delete", created.meeting["id"]) and created.meeting["id"] not in graph.meetings
    (row,) = repo.rows.values()
    assert row.status == Status.CANCELLED and row.cancelled_at == clock.now
    assert row.meeting_id == created.meeting["id"] and row.join_web_url == created.meeting["joinWebUrl"]
    again = cancel(deps)
    assert again.status == Status.CANCELLED and graph.count("delete") == 1, "a second DELETE calls nobody"


def test_a_meeting_graph_no_longer_has_is_cancelled_all_the_same(deps, graph):
    created = ask(deps)
    graph.meetings.pop(created.meeting["id"])  # deleted in Teams meanwhile
    assert cancel(deps).status == Status.CANCELLED


def test_a_cancelled_key_stays_cancelled(deps, graph):
    ask(deps)
    cancel(deps)
    calls = len(graph.operations)
    again = ask(deps, correlation_id="c-2")
    assert (again.error.status, again.error.code, again.error.retryable) == (409, "meeting_cancelled", False)
    assert again.error.extra["cancelledAt"] and len(graph.operations) == calls, "no Graph call"
    changed = change(deps, {"subject": "back?"})
    assert (changed.error.status, changed.error.code) == (410, "meeting_cancelled")
    assert find_meeting(deps, ALICE, "lesson-1").status == Status.CANCELLED
    assert cancel(deps, mode="lock").error.code == "meeting_cancelled"


def test_cancel_of_an_unknown_or_pending_key_is_refused(deps, repo):
    assert cancel(deps, "nope").error.code == "meeting_not_found"
    ask(deps, "pending-1")
    (row,) = repo.rows.values()
    repo.rows[row.key] = type(row)(**{**row.__dict__, "status": Status.PENDING, "meeting": None})
    assert cancel(deps, "pending-1").error.code == "meeting_pending"


def test_lock_closes_the_lobby_and_the_chat_and_a_later_change_unlocks(deps, repo, graph):
    created = ask(deps)
    locked = cancel(deps, mode="lock")
    assert locked.status == Status.LOCKED and locked.result["status"] == "locked"
    meeting = graph.meetings[created.meeting["id"]]
    assert meeting["lobbyBypassSettings"] == {"scope": "organizer", "isDialInBypassEnabled": False}
    assert meeting["allowMeetingChat"] == "disabled" and next(iter(repo.rows.values())).status == Status.LOCKED
    assert change(deps, {"subject": "still locked"}).record.status == Status.LOCKED
    unlocked = change(deps, {"lobbyBypassSettings": {"scope": "organization"}, "allowMeetingChat": "enabled"})
    assert unlocked.status == Status.UPDATED and unlocked.record.status == Status.CREATED


def test_a_delete_during_a_change_waits_its_turn_then_wins(deps, repo, graph):
    created = ask(deps)
    during = []

    class DeleteDuringThePatch(FakeGraph):
        def update(self, tenant_id, organizer_id, meeting_id, patch, *, correlation_id):
            answer = graph.update(tenant_id, organizer_id, meeting_id, patch, correlation_id=correlation_id)
            during.append(cancel(deps))  # another caller's DELETE arrives while Graph applies the change
            return answer

    racing = type(deps)(**{**deps.__dict__, "graph": DeleteDuringThePatch()})
    assert change(racing, {"subject": "in flight"}).status == Status.UPDATED
    (refused,) = during
    assert (refused.error.status, refused.error.code, refused.error.retryable) == (409, "change_in_progress", True)
    assert refused.error.retry_after and graph.count("delete") == 0, "the DELETE did not reach Graph mid-change"
    assert next(iter(repo.rows.values())).subject == "in flight"
    assert cancel(deps).status == Status.CANCELLED and created.meeting["id"] not in graph.meetings
    (row,) = repo.rows.values()
    assert row.status == Status.CANCELLED and row.lease_owner is None


def test_a_change_whose_claim_expired_loses_to_the_tombstone(deps, repo, graph, clock):
    ask(deps)

    class SlowPatch(FakeGraph):
        def update(self, tenant_id, organizer_id, meeting_id, patch, *, correlation_id):
            answer = graph.update(tenant_id, organizer_id, meeting_id, patch, correlation_id=correlation_id)
            clock.now += timedelta(minutes=5)  # the holder hung past its claim: a DELETE takes the key over
            assert cancel(deps).status == Status.CANCELLED
            return answer

    slow = type(deps)(**{**deps.__dict__, "graph": SlowPatch()})
    raced = change(slow, {"subject": "too late"})
    assert (raced.status, raced.error.code) == (Status.FAILED, "meeting_cancelled")
    (row,) = repo.rows.values()
    assert row.status == Status.CANCELLED, "the tombstone wins: no resurrection"


def test_concurrent_deletes_and_changes_end_in_one_consistent_tombstone(deps, repo, graph):
    ask(deps)
    start, outcomes = threading.Barrier(8), []

    def worker(index: int) -> None:
        start.wait()
        outcomes.append(cancel(deps) if index % 2 else change(deps, {"subject": f"edit {index}"}))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (row,) = repo.rows.values()
    assert row.status == Status.CANCELLED and graph.count("delete") >= 1
    assert all(o.status in (Status.CANCELLED, Status.UPDATED, Status.FAILED) for o in outcomes)
    assert ask(deps, correlation_id="after").error.code == "meeting_cancelled"


def test_a_change_graph_answers_404_to_is_meeting_gone(deps, graph):
    created = ask(deps)
    graph.meetings.pop(created.meeting["id"])
    failed = change(deps, {"subject": "x"})
    assert isinstance(failed.error, MeetingGone) and failed.error.status == 410


# --- lookups by join link ---------------------------------------------------------------------------------------

def test_a_meeting_is_found_by_its_join_url_or_join_meeting_id_and_so_is_its_tombstone(deps):
    created = ask(deps).meeting
    url, join_id = created["joinWebUrl"], created["joinMeetingIdSettings"]["joinMeetingId"]
    for spelling in (url, url.replace("%3a", "%3A").replace("https://teams.microsoft.com", "HTTPS://Teams.Microsoft.COM"),
                     url.replace("%3a", ":").replace("%40", "@")):
        assert find_by_join_link(deps, join_web_url=spelling).meeting_id == created["id"]
    assert find_by_join_link(deps, join_meeting_id=join_id).meeting_id == created["id"]
    cancel(deps)
    assert find_by_join_link(deps, join_meeting_id=join_id).status == Status.CANCELLED
    with pytest.raises(Exception) as missing:
        find_by_join_link(deps, join_meeting_id="404404404")
    assert missing.value.code == "meeting_not_found"


# --- the monthly quota ------------------------------------------------------------------------------------------

def concurrently(count: int, call):
    """``call(i)`` for i in range(count) on as many threads, released together; their outcomes."""
    start, outcomes = threading.Barrier(count), []

    def one(index: int) -> None:
        start.wait()
        outcomes.append(call(index))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def limited(repo, graph, clock, limit):
    return make_deps(load_settings({**ENV, "MONTHLY_MEETING_LIMIT": str(limit)}), repo, graph, clock)


def test_at_the_limit_a_create_is_refused_before_graph_until_next_month(repo, graph, clock):
    deps = limited(repo, graph, clock, 3)
    for index in range(3):
        assert ask(deps, f"m-{index}", organizerId=ALICE_ID).status == Status.CREATED
    calls = len(graph.operations)
    refused = ask(deps, "m-3", organizerId=ALICE_ID)
    error = refused.error
    assert (error.status, error.code, error.retryable) == (429, "organizer_quota_exceeded", False)
    next_month = datetime(2026, 4, 1, tzinfo=timezone.utc)
    assert error.retry_after == (next_month - clock.now).total_seconds() and len(graph.operations) == calls
    assert refused.result["quota"] == {"used": 3, "limit": 3}
    clock.now = next_month + timedelta(seconds=1)
    assert ask(deps, "m-4", organizerId=ALICE_ID).status == Status.CREATED, "a new month, a new count"


def test_a_repeat_or_an_existing_meeting_is_not_counted_and_plain_create_is(repo, graph, clock):
    deps = limited(repo, graph, clock, 100)
    ask(deps, "a", organizerId=ALICE_ID)
    ask(deps, "a", organizerId=ALICE_ID, correlation_id="again")                # repeat: from the table
    other = make_deps(load_settings({**ENV, "MONTHLY_MEETING_LIMIT": "100"}), InMemoryMeetingRepository(), graph,
                      clock)
    assert ask(other, "a", organizerId=ALICE_ID).status == Status.EXISTING       # createOrGet answered 200
    ask(deps, "p", organizerId=ALICE_ID, joinMeetingIdSettings={"isPasscodeRequired": True})
    assert organizer_quota(deps, ALICE_ID)["used"] == 2
    ask(deps, "u", organizerId=ALICE)  # named by UPN: counted under the object id Graph names
    assert organizer_quota(deps, ALICE)["used"] == organizer_quota(deps, ALICE_ID)["used"] == 3


def test_from_90_percent_answers_and_results_carry_the_figures(repo, graph, clock):
    deps = limited(repo, graph, clock, 10)
    outcomes = [ask(deps, f"m-{i}", organizerId=ALICE_ID) for i in range(9)]
    assert all(o.quota is None for o in outcomes[:8])
    assert outcomes[8].quota == {"used": 9, "limit": 10} and outcomes[8].result["quota"] == {"used": 9, "limit": 10}
    figures = organizer_quota(deps, ALICE_ID)
    assert (figures["used"], figures["limit"], figures["remaining"], figures["month"]) == (9, 10, 1, "2026-03")
    assert figures["resetsAt"] == "2026-04-01T00:00:00.0000000Z"


def test_concurrent_creates_at_the_boundary_never_pass_the_limit(repo, graph, clock):
    deps = limited(repo, graph, clock, 20)
    for index in range(17):
        ask(deps, f"warm-{index}", organizerId=ALICE_ID)
    outcomes = concurrently(8, lambda i: ask(deps, f"burst-{i}", organizerId=ALICE_ID, correlation_id=f"b-{i}"))
    statuses = sorted(o.status for o in outcomes)
    assert statuses.count(Status.CREATED) == 3 and statuses.count(Status.FAILED) == 5
    assert {o.error.code for o in outcomes if o.error} == {"organizer_quota_exceeded"}
    assert organizer_quota(deps, ALICE_ID)["used"] == 20 and len(graph.meetings) == 20


def test_instances_counting_for_one_organizer_from_the_same_view_write_different_shards(repo, graph, clock):
    """Two instances with the same (30 s) view of the counter each create a meeting for one organizer: counted in the
    shards of their externalIds, the second write does not conflict with the first (a single counter row would make
    it re-read and write again, and under load serialise every create for the organizer), and the count is exact."""
    first, second = limited(repo, graph, clock, 2000), limited(repo, graph, clock, 2000)
    assert ask(first, "warm", organizerId=ALICE_ID).status == Status.CREATED
    second.quotas.view(TENANT, ALICE_ID)  # both instances now hold the same view
    keys = iter(f"k-{index}" for index in range(100))
    a, b = next(keys), next(keys)
    shard_of = {key: first.quotas.counted(Ticket(None), TENANT, ALICE_ID, key, created=True).shard
                for key in (a, b)}
    while shard_of[a] == shard_of[b]:
        b = next(keys)
        shard_of[b] = first.quotas.counted(Ticket(None), TENANT, ALICE_ID, b, created=True).shard
    assert ask(first, a, organizerId=ALICE_ID).status == Status.CREATED
    reads = repo.calls.count("get_quota")
    assert ask(second, b, organizerId=ALICE_ID).status == Status.CREATED
    assert repo.calls.count("get_quota") == reads, "no conflict, so no fresh read of the counter"
    assert organizer_quota(first, ALICE_ID)["used"] == 3


def test_concurrent_creates_for_one_organizer_are_all_counted(repo, graph, clock):
    deps = limited(repo, graph, clock, 2000)
    outcomes = concurrently(12, lambda i: ask(deps, f"many-{i}", organizerId=ALICE_ID, correlation_id=f"c-{i}"))
    assert [o.status for o in outcomes].count(Status.CREATED) == 12
    assert organizer_quota(deps, ALICE_ID)["used"] == 12 == len(graph.meetings)


def test_without_a_limit_nothing_is_counted(repo, graph, clock):
    deps = limited(repo, graph, clock, 0)
    for index in range(3):
        ask(deps, f"m-{index}", organizerId=ALICE_ID)
    assert repo.counters == {} and organizer_quota(deps, ALICE_ID)["limit"] is None
    assert TENANT
