"""Calendar-backed meetings against fakes: an Outlook event with its Teams meeting, one event per key whatever
happens, changes that reach the attendees and keep the join block, and cancellations they receive once."""
from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timezone

import pytest

from shared.domain.calendar_event import EXTERNAL_ID_PROPERTY, time_zone, transaction_id, wall_time, with_join_block
from shared.domain.errors import GraphUnavailable, ValidationFailed
from shared.domain.meeting_request import MeetingCancel
from shared.domain.records import Kind, Status
from shared.config.settings import load_settings
from shared.usecases import cancel_meeting, create_meeting, update_meeting
from shared.domain.validation import validate_change, validate_request
from tests.fake_graph import ALICE_ID
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.test_usecases import ENV, TENANT, Clock

ALICE = "alice@contoso.example"
CALENDAR_ENV = {**ENV, "CALENDAR_MODE": "enabled"}
ATTENDEES = [{"upn": "bob@contoso.example", "role": "attendee"}, {"upn": "carol@contoso.example", "role": "presenter"}]


@pytest.fixture
def deps(repo, graph):
    return make_deps(load_settings(CALENDAR_ENV), repo, graph, Clock())


def ask(deps, external_id="class-1", *, correlation_id="c-1", final=True, **members):
    body = {"organizerId": ALICE, "externalId": external_id, "calendar": True, "subject": "Algebra",
            "startDateTime": "2026-12-07T08:00:00Z", "endDateTime": "2026-12-07T09:00:00Z",
            "timeZone": "Europe/Berlin", "participants": {"attendees": ATTENDEES}} | members
    return create_meeting(deps, validate_request(body, queue=True), source="queue", correlation_id=correlation_id,
                          final=final)


def test_a_calendar_request_is_refused_before_graph_unless_calendar_mode_is_on(repo, graph):
    off = make_deps(load_settings(ENV), repo, graph, Clock())
    refused = ask(off)
    assert (refused.error.status, refused.error.code) == (403, "calendar_mode_disabled")
    assert "CALENDAR_MODE=enabled" in refused.error.detail and graph.operations == []


def test_an_event_with_its_teams_meeting_is_created_in_the_organizers_calendar(deps, graph):
    outcome = ask(deps, location="Room 12", body={"contentType": "html", "content": "<p>Bring a calculator</p>"},
                  reminderMinutesBeforeStart=15)
    assert outcome.status == Status.CREATED and outcome.record.kind == Kind.CALENDAR
    (event,) = graph.events.values()
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["start"] == {"dateTime": "2026-12-07T09:00:00.0000000", "timeZone": "Europe/Berlin"}
    assert event["transactionId"] == transaction_id(TENANT, ALICE, "class-1")
    assert event["singleValueExtendedProperties"] == [{"id": EXTERNAL_ID_PROPERTY, "value": "class-1"}]
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == ["bob@contoso.example", "carol@contoso.example"]
    assert {a["type"] for a in event["attendees"]} == {"required"} and event["location"]["displayName"] == "Room 12"
    assert outcome.meeting["joinWebUrl"] == event["onlineMeeting"]["joinUrl"], "the onlineMeeting behind the event"
    roles = {a["upn"]: a["role"] for a in graph.meetings[outcome.meeting["id"]]["participants"]["attendees"]}
    assert roles["carol@contoso.example"] == "presenter", "presenters become presenters of the online meeting"
    assert outcome.result["event"] == {"id": event["id"], "iCalUId": event["iCalUId"], "webLink": event["webLink"]}
    assert sorted(graph.mailbox) == [("invitation", "bob@contoso.example", event["id"]),
                                     ("invitation", "carol@contoso.example", event["id"])]
    again = ask(deps, location="Room 12", body={"contentType": "html", "content": "<p>Bring a calculator</p>"},
                reminderMinutesBeforeStart=15, correlation_id="c-2")
    assert again.status == Status.EXISTING and graph.count("createEvent") == 1


def test_a_lost_answer_after_the_event_exists_is_found_by_its_extended_property_on_retry(deps, graph):
    graph.crash_after_event_create = True
    graph.crash_after_event_create_with = GraphUnavailable("the connection broke after the event was created")
    first = ask(deps, final=False)
    assert first.retryable_failure and len(graph.events) == 1
    retried = ask(deps, final=False, correlation_id="c-2")
    assert retried.status == Status.CREATED and len(graph.events) == 1
    assert [name for name, _ in graph.operations].count("findEvent") == 1
    assert graph.count("createEvent") == 1, "found, not created again"


def test_concurrent_identical_calendar_requests_make_one_event(repo, graph):
    recorded = threading.Event()

    class Signalling(InMemoryMeetingRepository):
        def commit(self, record, **kwargs):
            written = super().commit(record, **kwargs)
            if written.record.has_meeting:
                recorded.set()
            return written

    deps = make_deps(load_settings(CALENDAR_ENV), Signalling(), graph, Clock())
    deps = type(deps)(**{**deps.__dict__, "sleep": lambda seconds: recorded.wait(5)})
    start, outcomes = threading.Barrier(20), []

    def one(index: int) -> None:
        start.wait()
        outcomes.append(ask(deps, correlation_id=f"c-{index}"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(graph.events) == 1 and graph.count("createEvent") == 1
    assert len({o.meeting["id"] for o in outcomes if o.meeting}) == 1


def change(deps, body):
    return update_meeting(deps, validate_change(body, key={"organizerId": ALICE, "externalId": "class-1"}),
                          source="http", correlation_id="u-1")


def test_a_change_goes_to_the_event_and_a_new_body_keeps_the_join_block(deps, graph):
    created = ask(deps)
    updated = change(deps, {"subject": "Algebra II", "body": {"contentType": "html", "content": "<p>New room</p>"}})
    assert updated.status == Status.UPDATED
    (event,) = graph.events.values()
    assert event["subject"] == "Algebra II" and updated.meeting["subject"] == "Algebra II"
    assert event["body"]["content"].startswith("<p>New room</p>")
    assert created.meeting["joinWebUrl"] in event["body"]["content"], "the Teams join block is kept"
    assert sorted(kind for kind, _, _ in graph.mailbox) == ["invitation", "invitation", "update", "update"]
    assert change(deps, {"subject": "Algebra II"}).status == Status.EXISTING, "nothing differs: no Graph call"


def test_cancel_cancels_the_event_and_every_attendee_hears_once(deps, graph, repo):
    ask(deps)
    cancelled = cancel_meeting(deps, MeetingCancel(ALICE, "class-1", comment="Snow day"), source="http",
                               correlation_id="x-1")
    assert cancelled.status == Status.CANCELLED
    assert cancel_meeting(deps, MeetingCancel(ALICE, "class-1"), source="http", correlation_id="x-2").status == \
        Status.CANCELLED
    cancellations = [(kind, who) for kind, who, _ in graph.mailbox if kind == "cancellation"]
    assert sorted(cancellations) == [("cancellation", "bob@contoso.example"), ("cancellation", "carol@contoso.example")]
    assert next(iter(repo.rows.values())).status == Status.CANCELLED


def test_a_keys_kind_is_fixed_by_its_first_request(deps):
    ask(deps)
    standalone = create_meeting(deps, validate_request({"organizerId": ALICE, "externalId": "class-1"}),
                                source="http", correlation_id="s", final=True)
    assert (standalone.error.status, standalone.error.code) == (409, "meeting_kind_differs")
    create_meeting(deps, validate_request({"organizerId": ALICE_ID, "externalId": "plain"}), source="http",
                   correlation_id="p", final=True)
    other = ask(deps, "plain", organizerId=ALICE_ID)
    assert other.error.code == "meeting_kind_differs"


@pytest.mark.parametrize("members, field", [
    ({"calendar": False, "location": "Room 1"}, "location"),
    ({"timeZone": "Mars/Olympus"}, "timeZone"),
    ({"joinMeetingIdSettings": {"isPasscodeRequired": True}}, "joinMeetingIdSettings"),
    ({"body": {"contentType": "markdown", "content": "x"}}, "body.contentType"),
    ({"recurrence": {"pattern": {"type": "weekly"}, "range": {"type": "numbered", "startDate": "2026-12-07"}}},
     "recurrence.pattern.daysOfWeek"),
    ({"recurrence": {"pattern": {"type": "daily"}, "range": {"type": "numbered", "startDate": "2026-12-07"}}},
     "recurrence.range.numberOfOccurrences"),
    ({"reminderMinutesBeforeStart": -5}, "reminderMinutesBeforeStart"),
    ({"location": {"displayName": "Room 1", "address": {"city": "Berlin"}}}, "location.address"),
    ({"location": {}}, "location.displayName"),
    ({"location": {"displayName": 12}}, "location.displayName"),
    ({"location": {"displayName": None}}, "location.displayName"),
    ({"location": {"displayName": "R" * 257}}, "location.displayName"),
    ({"location": ["Room 1"]}, "location"),
])
def test_calendar_members_are_checked(members, field):
    body = {"organizerId": ALICE, "externalId": "x", "calendar": True} | members
    with pytest.raises(ValidationFailed) as refused:
        validate_request(body)
    assert field in [e.field for e in refused.value.errors]


def test_a_weekly_recurrence_in_a_windows_time_zone_is_accepted():
    request = validate_request({"organizerId": ALICE, "externalId": "x", "calendar": True,
                                "timeZone": "W. Europe Standard Time", "recurrence": {
                                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                                    "range": {"type": "endDate", "startDate": "2026-12-07",
                                              "endDate": "2027-03-29"}}})
    assert request.calendar and request.event_members["timeZone"] == "W. Europe Standard Time"


def test_times_are_wall_clock_readings_in_the_zone_asked_for_windows_and_iana_alike():
    moment = datetime(2026, 7, 1, 7, 0, tzinfo=timezone.utc)
    assert wall_time(moment, "Europe/Berlin")["dateTime"] == "2026-07-01T09:00:00.0000000"
    assert wall_time(moment, "W. Europe Standard Time") == {"dateTime": "2026-07-01T09:00:00.0000000",
                                                            "timeZone": "W. Europe Standard Time"}
    assert time_zone("UTC") is timezone.utc


def test_a_replaced_body_keeps_the_join_block_or_gets_a_link():
    url = "https://teams.microsoft.com/l/meetup-join/abc"
    current = {"contentType": "html", "content": f"<p>Old</p><div>________________ <a href='{url}'>Join</a></div>"}
    kept = with_join_block({"contentType": "html", "content": "<p>New</p>"}, current, url)
    assert kept["content"].startswith("<p>New</p>") and f"________________ <a href='{url}'>" in kept["content"]
    plain = with_join_block({"contentType": "text", "content": "New"}, {}, url)
    assert plain["content"] == f"New\n\nJoin the meeting now: {url}"
    assert with_join_block({"contentType": "html", "content": f"<a href='{url}'>x</a>"}, current, url)["content"] == \
        f"<a href='{url}'>x</a>", "the caller kept the link itself"


def test_a_location_in_graphs_own_shape_is_the_same_location_as_its_name():
    base = {"organizerId": ALICE, "externalId": "x", "calendar": True}
    named = validate_request(base | {"location": "Room 4"})
    shaped = validate_request(base | {"location": {"displayName": "Room 4"}})
    assert shaped.event_members["location"] == named.event_members["location"] == "Room 4"
    assert shaped.fingerprint == named.fingerprint, "a repeat in the other shape is the same request"


def test_an_event_made_after_its_key_was_buried_is_cancelled_and_the_tombstone_stays(deps, graph, repo):
    real = graph.create_event

    def buried_meanwhile(*args, **kwargs):  # a DELETE takes the key over (the lease expired) while Graph answers
        made = real(*args, **kwargs)
        (row,) = repo.rows.values()
        repo.commit(dataclasses.replace(row, status=Status.CANCELLED, cancelled_at=row.updated_at), insert=False)
        return made

    graph.create_event = buried_meanwhile
    late = ask(deps)
    assert (late.error.status, late.error.code) == (409, "meeting_cancelled")
    cancellations = sorted(who for kind, who, _ in graph.mailbox if kind == "cancellation")
    assert cancellations == ["bob@contoso.example", "carol@contoso.example"], "the invitees learn it is off"
    assert next(iter(repo.rows.values())).status == Status.CANCELLED
