"""Storage round trips per request, counted on the fake (each call is one request to Table Storage: a point read,
a conditional write or one entity-group transaction; a ``commit`` that records a new join link also upserts its two
index rows first, one request each), so the number cannot creep back. Steady state: the organizer's UPN alias and quota
view are known to the process; a cold process pays one read for each, once.

What each write buys: a new meeting takes its place under the monthly limit before Graph is called (``put_quota``: the
limit holds under any concurrency), a change or a cancel claims the key before Graph is called (the first ``commit``:
one change of a key at a time, so the record follows Graph), and the last ``commit`` records Graph's answer."""
from __future__ import annotations

import pytest

from shared.config.settings import load_settings
from shared.usecases import cancel_meeting, create_meeting, update_meeting
from shared.domain.meeting_request import MeetingCancel
from shared.domain.validation import validate_change, validate_request
from tests.fake_graph import ALICE_ID, FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.test_usecases import ENV, Clock

ALICE = "alice@contoso.example"


@pytest.fixture
def world():
    repo = InMemoryMeetingRepository()
    deps = make_deps(load_settings(ENV), repo, FakeGraph(), Clock())
    create_meeting(deps, validate_request({"organizerId": ALICE, "externalId": "warm-up"}), source="http",
                   correlation_id="w", final=True)  # the alias and the quota view are known from now on
    repo.calls.clear()
    return deps, repo


def trips(world, body):
    deps, repo = world
    repo.calls.clear()
    outcome = create_meeting(deps, validate_request(body), source="http", correlation_id="c", final=True)
    return outcome.status, repo.calls


@pytest.mark.parametrize("organizer", [ALICE, ALICE_ID])
def test_a_new_meeting_by_createorget_costs_three_round_trips_and_a_repeat_one(world, organizer):
    body = {"organizerId": organizer, "externalId": f"new-{organizer[:5]}", "subject": "Intro"}
    assert trips(world, body) == ("created", ["get", "put_quota", "commit"]), \
        "read, its place under the limit, then the record (after its index rows)"
    assert trips(world, body) == ("existing", ["get"])


def test_without_a_monthly_limit_a_new_meeting_costs_two(world):
    deps, repo = world
    unlimited = make_deps(load_settings({**ENV, "MONTHLY_MEETING_LIMIT": "0"}), repo, FakeGraph(), Clock())
    repo.calls.clear()
    outcome = create_meeting(unlimited, validate_request({"organizerId": ALICE_ID, "externalId": "free"}),
                             source="http", correlation_id="c", final=True)
    assert (outcome.status, repo.calls) == ("created", ["get", "commit"])


def test_a_passcode_meeting_by_plain_create_costs_four(world):
    body = {"organizerId": ALICE_ID, "externalId": "exam", "joinMeetingIdSettings": {"isPasscodeRequired": True}}
    assert trips(world, body) == ("created", ["get", "commit", "put_quota", "commit"]), \
        "read, lease, place (the lease holder alone takes one), record"


def test_a_cold_process_pays_one_read_for_the_alias_and_one_for_the_quota_view():
    repo = InMemoryMeetingRepository()
    deps = make_deps(load_settings(ENV), repo, FakeGraph(), Clock())
    create_meeting(deps, validate_request({"organizerId": ALICE, "externalId": "cold"}), source="http",
                   correlation_id="c", final=True)
    assert repo.calls == ["get_alias", "get_quota", "commit"], "no row can be keyed by a UPN without its alias row"


def test_a_change_and_a_cancel_cost_three_and_a_change_of_nothing_one(world):
    deps, repo = world
    key = {"organizerId": ALICE_ID, "externalId": "warm-up"}
    repo.calls.clear()
    update_meeting(deps, validate_change({"subject": "New"}, key=key), source="http", correlation_id="u")
    assert repo.calls == ["get", "commit", "commit"], "read, claim, record Graph's answer"
    repo.calls.clear()
    update_meeting(deps, validate_change({"subject": "New"}, key=key), source="http", correlation_id="u")
    assert repo.calls == ["get"], "nothing differs: no claim, no Graph call"
    repo.calls.clear()
    cancel_meeting(deps, MeetingCancel(ALICE_ID, "warm-up"), source="http", correlation_id="d")
    assert repo.calls == ["get", "commit", "commit"], "read, claim, tombstone"
