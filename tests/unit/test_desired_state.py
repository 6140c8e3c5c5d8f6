"""Meetings as desired state, against fakes: options applied with one PATCH of what differs, passcode meetings by
plain create made idempotent by the record's lease, repeats with other details applied or kept, and changes."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shared.domain.errors import GraphUnavailable, ValidationFailed
from shared.domain.meeting_request import MeetingChange
from shared.domain.records import Kind, Status
from shared.config.settings import load_settings
from shared.usecases import create_meeting, update_meeting
from shared.domain.validation import validate_change, validate_request
from tests.fake_graph import ALICE_ID, FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.test_usecases import ENV

ALICE = "alice@contoso.example"


def deps_for(repo, graph, clock, **env):
    return make_deps(load_settings({**ENV, **env}), repo, graph, clock)


@pytest.fixture
def deps(repo, graph, clock):
    return deps_for(repo, graph, clock)


def ask(deps, *, correlation_id="c-1", source="http", final=True, **members):
    body = {"organizerId": ALICE, "externalId": "lesson-1"} | members
    return create_meeting(deps, validate_request(body), source=source, correlation_id=correlation_id, final=final)


# --- options on create ------------------------------------------------------------------------------------------

def test_options_createorget_does_not_take_follow_in_one_patch_of_only_what_differs(deps, graph):
    outcome = ask(deps, allowMeetingChat="disabled", allowTeamworkReactions=True,
                  lobbyBypassSettings={"scope": "organizer"})
    assert outcome.status == Status.CREATED
    assert [name for name, _ in graph.operations] == ["createOrGet", "update"]
    patch = graph.meetings[outcome.meeting["id"]]
    assert patch["allowMeetingChat"] == "disabled" and patch["lobbyBypassSettings"]["scope"] == "organizer"
    assert outcome.meeting["allowMeetingChat"] == "disabled", "the stored and returned meeting is PATCH's answer"
    assert outcome.record.meeting == outcome.meeting and outcome.not_applied == ()


def test_options_the_meeting_already_has_cost_no_patch(deps, graph):
    ask(deps, allowMeetingChat="enabled", lobbyBypassSettings={"scope": "organization"})
    assert [name for name, _ in graph.operations] == ["createOrGet"]


def test_an_option_graph_keeps_its_own_value_for_is_reported_not_failed(deps, graph):
    graph.forced = {"allowedPresenters": "everyone"}  # a tenant policy overrules the meeting
    outcome = ask(deps, allowedPresenters="organizer", allowMeetingChat="limited")
    assert outcome.status == Status.CREATED and outcome.not_applied == ("allowedPresenters",)
    assert outcome.result["settingsNotApplied"] == ["allowedPresenters"]
    assert outcome.record.settings_not_applied == ("allowedPresenters",)


def test_role_is_presenter_needs_a_presenter_among_the_attendees():
    with pytest.raises(ValidationFailed) as refused:
        validate_request({"organizerId": ALICE, "externalId": "x", "allowedPresenters": "roleIsPresenter",
                          "participants": {"attendees": [{"upn": "bob@contoso.example", "role": "attendee"}]}})
    assert [e.field for e in refused.value.errors] == ["allowedPresenters"]
    validate_request({"organizerId": ALICE, "externalId": "x", "allowedPresenters": "roleIsPresenter",
                      "participants": {"attendees": [{"upn": "bob@contoso.example", "role": "presenter"}]}})


@pytest.mark.parametrize("members, field", [
    ({"allowMeetingChat": "sometimes"}, "allowMeetingChat"),
    ({"lobbyBypassSettings": {"scope": "unknownFutureValue"}}, "lobbyBypassSettings.scope"),
    ({"lobbyBypassSettings": {"colour": "red"}}, "lobbyBypassSettings.colour"),
    ({"watermarkProtection": {"isEnabledForVideo": "yes"}}, "watermarkProtection.isEnabledForVideo"),
    ({"recordAutomatically": 1}, "recordAutomatically"),
    ({"joinMeetingIdSettings": {"isPasscodeRequired": True, "passcode": "1234"}}, "joinMeetingIdSettings.passcode"),
    ({"joinMeetingIdSettings": {}}, "joinMeetingIdSettings.isPasscodeRequired"),
])
def test_options_are_checked_against_graphs_types(members, field):
    with pytest.raises(ValidationFailed) as refused:
        validate_request({"organizerId": ALICE, "externalId": "x", **members})
    assert field in [e.field for e in refused.value.errors]


# --- passcode meetings: plain create ----------------------------------------------------------------------------

def test_a_passcode_choice_is_served_by_plain_create_with_the_whole_body_in_one_call(deps, graph):
    outcome = ask(deps, subject="Exam", joinMeetingIdSettings={"isPasscodeRequired": True},
                  allowMeetingChat="disabled")
    assert outcome.status == Status.CREATED and [name for name, _ in graph.operations] == ["create"]
    assert outcome.meeting["joinMeetingIdSettings"]["isPasscodeRequired"] is True
    assert outcome.meeting["allowMeetingChat"] == "disabled" and outcome.record.kind == Kind.CREATE
    assert outcome.record.lease_owner is None, "the lease is released with the meeting recorded"
    again = ask(deps, subject="Exam", joinMeetingIdSettings={"isPasscodeRequired": True}, allowMeetingChat="disabled",
                correlation_id="c-2")
    assert again.status == Status.EXISTING and graph.count("create") == 1


def test_concurrent_identical_passcode_requests_make_one_graph_create_and_all_get_its_meeting(repo, graph, clock):
    recorded = threading.Event()

    class Signalling(InMemoryMeetingRepository):
        def replace(self, record):
            stored = super().replace(record)
            if stored.has_meeting:
                recorded.set()
            return stored

    repo = Signalling()
    deps = make_deps(load_settings(ENV), repo, graph, clock)
    deps = type(deps)(**{**deps.__dict__, "sleep": lambda seconds: recorded.wait(5)})
    start, outcomes = threading.Barrier(20), []

    def one(index: int) -> None:
        start.wait()
        outcomes.append(ask(deps, joinMeetingIdSettings={"isPasscodeRequired": True}, correlation_id=f"c-{index}"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert graph.count("create") == 1
    assert sorted(outcome.status for outcome in outcomes).count(Status.CREATED) == 1
    assert {outcome.meeting["id"] for outcome in outcomes} == {next(iter(graph.meetings))}


def test_a_lease_whose_holder_died_is_taken_over_once_it_expires(deps, repo, graph, clock):
    graph.fail_next.append(GraphUnavailable("timed out after sending"))
    first = ask(deps, joinMeetingIdSettings={"isPasscodeRequired": False}, source="queue", final=False)
    assert first.retryable_failure
    (row,) = repo.rows.values()
    assert row.status == Status.PENDING and row.lease_owner is None, "a failed holder releases its lease"
    stale = type(row)(**{**row.__dict__, "lease_owner": "dead-worker", "lease_expires_at": clock.now + timedelta(seconds=60)})
    repo.rows[row.key] = stale  # a holder that died while creating
    waiting = ask(deps, joinMeetingIdSettings={"isPasscodeRequired": False}, correlation_id="c-2")
    assert waiting.error.code == "request_in_progress" and waiting.error.retryable
    assert graph.count("create") == 1, "no create while another request holds the key"
    assert 1 <= waiting.error.retry_after <= 60
    clock.now += timedelta(seconds=61)
    taken = ask(deps, joinMeetingIdSettings={"isPasscodeRequired": False}, correlation_id="c-3")
    assert taken.status == Status.CREATED and graph.count("create") == 2, "the ambiguous first try may be orphaned"


@pytest.mark.parametrize("organizer", [ALICE, ALICE_ID])
def test_a_late_creator_returns_the_recorded_meeting_and_deletes_its_duplicate(repo, clock, organizer):
    class RecordedMeanwhile(FakeGraph):
        """While this request creates, an earlier holder (its lease expired) records its own meeting first."""

        def create(self, tenant_id, organizer_id, body, *, correlation_id, accept_language=None):
            earlier = super().create(tenant_id, organizer_id, body, correlation_id="earlier")
            (row,) = repo.rows.values()
            repo.replace(type(row)(**{**row.__dict__, "status": Status.CREATED, "meeting": earlier.meeting}))
            return super().create(tenant_id, organizer_id, body, correlation_id=correlation_id)

    graph = RecordedMeanwhile()
    deps = make_deps(load_settings(ENV), repo, graph, clock)
    late = ask(deps, joinMeetingIdSettings={"isPasscodeRequired": True}, correlation_id="c-late",
               organizerId=organizer)
    (row,) = repo.rows.values()
    assert late.status == Status.EXISTING and late.meeting["id"] == row.meeting_id, "one meeting per key, ever"
    assert graph.count("create") == 2 and graph.count("delete") == 1
    assert list(graph.meetings) == [row.meeting_id], "the duplicate was deleted from Graph"


# --- a repeat with other details --------------------------------------------------------------------------------

def test_apply_patches_only_the_subject_when_only_the_subject_changed(deps, graph):
    first = ask(deps, subject="Intro", startDateTime="2026-12-01T09:00:00Z")
    changed = ask(deps, subject="Intro, moved", startDateTime="2026-12-01T09:00:00Z", correlation_id="c-2")
    assert changed.status == Status.UPDATED and changed.result["status"] == "updated"
    assert graph.operations[-1] == ("update", first.meeting["id"]) and graph.count("update") == 1
    assert graph.meetings[first.meeting["id"]]["subject"] == "Intro, moved"
    repeat = ask(deps, subject="Intro, moved", startDateTime="2026-12-01T09:00:00Z", correlation_id="c-3")
    assert repeat.status == Status.EXISTING and len(graph.operations) == 2, "the new details are now the fingerprint"


def test_apply_with_nothing_different_after_all_calls_nobody(deps, graph):
    ask(deps, subject="Intro", startDateTime="2026-12-01T09:00:00Z")
    same = ask(deps, startDateTime="2026-12-01T09:00:00.000Z", correlation_id="c-2")
    assert same.status == Status.EXISTING and len(graph.operations) == 1


def test_a_different_passcode_choice_cannot_be_applied(deps, graph):
    ask(deps, joinMeetingIdSettings={"isPasscodeRequired": True})
    other = ask(deps, joinMeetingIdSettings={"isPasscodeRequired": False}, correlation_id="c-2")
    assert (other.error.status, other.error.code) == (409, "passcode_setting_immutable")
    assert graph.count("create") == 1 and graph.count("update") == 0


def test_keep_answers_the_meeting_as_it_is(repo, graph, clock):
    deps = deps_for(repo, graph, clock, MEETING_CHANGES="keep")
    first = ask(deps, subject="Intro")
    kept = ask(deps, subject="Something else", correlation_id="c-2")
    assert kept.status == Status.EXISTING and kept.meeting["subject"] == "Intro"
    assert kept.meeting["id"] == first.meeting["id"] and graph.count("update") == 0


# --- changes ----------------------------------------------------------------------------------------------------

def change(deps, body, *, if_match=None, organizer=ALICE, external_id="lesson-1"):
    requested = validate_change(body, key={"organizerId": organizer, "externalId": external_id})
    return update_meeting(deps, requested, source="http", correlation_id="u-1", if_match=if_match)


def test_a_change_sends_graph_the_times_together_and_the_attendees_as_a_whole_list(deps, graph):
    created = ask(deps, participants={"attendees": [{"upn": "bob@contoso.example", "role": "attendee"}]})
    attendees = [{"upn": "carol@contoso.example", "role": "presenter"}]
    updated = change(deps, {"startDateTime": "2027-01-01T10:00:00+01:00", "endDateTime": "2027-01-01T11:00:00+01:00",
                            "participants": {"attendees": attendees}, "allowedPresenters": "roleIsPresenter"})
    assert updated.status == Status.UPDATED
    meeting = graph.meetings[created.meeting["id"]]
    assert meeting["startDateTime"].startswith("2027-01-01T09:00:00") and meeting["participants"]["attendees"] == attendees
    assert updated.record.meeting == updated.meeting


@pytest.mark.parametrize("body, field", [
    ({"startDateTime": "2027-01-01T10:00:00Z"}, "endDateTime"),
    ({"endDateTime": "2027-01-01T10:00:00Z"}, "startDateTime"),
    ({"startDateTime": "2027-01-01T10:00:00Z", "endDateTime": "2027-01-01T09:00:00Z"}, "endDateTime"),
    ({"joinMeetingIdSettings": {"isPasscodeRequired": True}}, "joinMeetingIdSettings"),
    ({"participants": {"organizer": {"upn": "bob@contoso.example"}, "attendees": []}}, "participants"),
    ({}, "(body)"),
])
def test_a_change_that_breaks_graphs_patch_rules_is_refused(body, field):
    with pytest.raises(ValidationFailed) as refused:
        validate_change(body, key={"organizerId": ALICE, "externalId": "x"})
    assert field in [e.field for e in refused.value.errors]


def test_changing_an_unknown_key_a_pending_key_or_a_stale_version_is_refused(deps, repo, graph):
    assert change(deps, {"subject": "x"}).error.code == "meeting_not_found"
    ask(deps, subject="Intro")
    (row,) = repo.rows.values()
    assert change(deps, {"subject": "x"}, if_match='W/"not-this-one"').error.code == "precondition_failed"
    assert change(deps, {"subject": "y"}, if_match=row.etag).status == Status.UPDATED
    repo.rows[row.key] = type(row)(**{**repo.rows[row.key].__dict__, "status": Status.PENDING, "meeting": None})
    assert change(deps, {"subject": "z"}).error.code == "meeting_pending"


def test_a_change_to_nothing_new_is_existing_without_a_graph_call(deps, graph):
    ask(deps, subject="Intro")
    assert change(deps, {"subject": "Intro"}).status == Status.EXISTING and graph.count("update") == 0


def test_accept_language_is_forwarded_and_part_of_the_fingerprint():
    english = validate_request({"organizerId": ALICE, "externalId": "x"}, accept_language="en-US")
    german = validate_request({"organizerId": ALICE, "externalId": "x"}, accept_language="de-DE, en;q=0.5")
    assert english.fingerprint != german.fingerprint and german.accept_language == "de-DE, en;q=0.5"
    with pytest.raises(ValidationFailed):
        validate_request({"organizerId": ALICE, "externalId": "x"}, accept_language="<script>")


def test_an_organizer_by_object_id_works_for_changes_too(deps):
    ask(deps, subject="Intro")
    assert change(deps, {"subject": "Renamed"}, organizer=ALICE_ID).status == Status.UPDATED
    assert isinstance(MeetingChange(organizer_id=ALICE, external_id="x").settings, dict)
