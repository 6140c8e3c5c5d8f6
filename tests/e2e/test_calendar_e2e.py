"""Calendar-backed meetings end to end: the local host with CALENDAR_MODE=enabled, Azurite, real MSAL, and the
emulator's Outlook calendars, which keep what every attendee receives. Each test counts exactly what Graph was asked
and what reached the mailboxes.

The emulator is shared by the session, so every test uses its own externalIds (the event's transactionId and its
extended property derive from them) and its own guest addresses (their mailboxes start empty)."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from urllib.parse import quote

import pytest
import requests

from localdev.emulator import ALICE_ID, ALICE_UPN, CAROL_UPN

KEY_PATH = "/api/meetings/{organizerId}/{externalId}"
TIMES = {"startDateTime": "2027-03-01T09:00:00+01:00", "endDateTime": "2027-03-01T10:00:00+01:00"}


@pytest.fixture
def world(make_world):
    made = make_world(CALENDAR_MODE="enabled")
    yield made
    made.emulator.state.calendars.clear_after_faults()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


def guests(count: int) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"guest{n}-{tag}@fabrikam.example" for n in range(1, count + 1)]


def request_body(external_id: str, people: list[str], **members) -> dict:
    return {"organizerId": ALICE_UPN, "externalId": external_id, "calendar": True, "subject": "Onboarding",
            "timeZone": "W. Europe Standard Time", "participants": {"attendees": [
                {"upn": address, "role": "attendee"} for address in people]}, **TIMES, **members}


def kinds(world, address: str) -> list[str]:
    return [message["kind"] for message in world.emulator.state.calendars.mailbox(address)]


def calls(world, endpoint: str, **filters) -> list[dict]:
    return world.emulator.state.calls(endpoint, organizer=ALICE_ID, **filters)


def events_with(world, external_id: str) -> list[dict]:
    """The events in alice's calendar that carry the externalId (from the emulator's own state)."""
    return [event for event in world.emulator.state.calendars.event_list(ALICE_ID)
            if any(p["value"] == external_id for p in event["singleValueExtendedProperties"])]


def test_a_calendar_meeting_is_one_event_with_one_invitation_per_attendee_and_a_repeat_changes_nothing(world):
    people, external_id = guests(3), unique("onboarding")
    body = request_body(external_id, people, body={"contentType": "html", "content": "<p>Welcome aboard</p>"},
                        location="Room 4", lobbyBypassSettings={"scope": "everyone"})
    created = world.post(body)

    assert created.status_code == 201, created.text
    answer = created.json()
    (event,) = events_with(world, external_id)
    assert answer["event"] == {"id": event["id"], "iCalUId": event["iCalUId"], "webLink": event["webLink"]}
    assert answer["joinWebUrl"] == event["onlineMeeting"]["joinUrl"]
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"
    assert event["start"] == {"dateTime": "2027-03-01T08:00:00.0000000", "timeZone": "UTC"}
    assert "Welcome aboard" in event["body"]["content"] and "Microsoft Teams meeting" in event["body"]["content"]
    assert event["location"]["displayName"] == "Room 4"
    assert sorted(a["emailAddress"]["address"] for a in event["attendees"]) == sorted(people)
    for address in people:
        (invitation,) = world.emulator.state.calendars.mailbox(address)
        assert invitation["kind"] == "invitation" and invitation["joinUrl"] == answer["joinWebUrl"]
    meeting = world.emulator.state.online_meetings.find_meeting(answer["id"])
    assert meeting.join_web_url == event["onlineMeeting"]["joinUrl"] and meeting.subject == "Onboarding"
    assert meeting.settings["lobbyBypassSettings"]["scope"] == "everyone", "the option went to the Teams meeting"
    assert answer["lobbyBypassSettings"]["scope"] == "everyone"

    creates = len(calls(world, "create_event"))
    repeat = world.post(body)
    assert repeat.status_code == 200 and repeat.json()["id"] == answer["id"]
    assert repeat.json()["event"]["id"] == event["id"]
    assert len(calls(world, "create_event")) == creates, "answered from the table"
    assert [kinds(world, address) for address in people] == [["invitation"]] * 3
    assert [result["status"] for result in world.results()] == ["created", "existing"]


@pytest.mark.parametrize("lost", ["503", "dropped connection"])
def test_a_lost_answer_after_the_event_exists_is_found_by_its_extended_property_on_redelivery(world, lost):
    people, external_id = guests(2), unique("lost")
    if lost == "503":
        world.emulator.state.calendars.inject_after("create_event", 503)
    else:
        world.emulator.state.calendars.inject_after("create_event", drop=True)
    world.send({**request_body(external_id, people), "correlationId": f"queued-{external_id}"})

    world.host.drain()

    (result,) = world.results()
    assert (result["status"], result["correlationId"]) == ("created", f"queued-{external_id}")
    (event,) = events_with(world, external_id)
    assert result["meeting"]["joinWebUrl"] == event["onlineMeeting"]["joinUrl"]
    assert result["event"]["id"] == event["id"]
    (create,) = [c for c in calls(world, "create_event") if c["body"]["singleValueExtendedProperties"][0]["value"]
                 == external_id]
    assert create["status"] in (503, 0), "the create acted, then its answer was lost"
    lookups = [c for c in calls(world, "list_events") if quote(external_id) in c["query"]]
    assert len(lookups) == 1 and lookups[0]["event_id"] == event["id"], "the redelivery found it, created nothing"
    assert [kinds(world, address) for address in people] == [["invitation"]] * 2


def test_twenty_concurrent_identical_requests_make_one_event_and_one_invitation_each(world):
    people, external_id = guests(3), unique("burst")
    body = request_body(external_id, people)
    start, answers = threading.Barrier(20), []

    def one() -> None:
        http = requests.Session()
        http.trust_env = False
        start.wait()
        answers.append(http.post(world.host.base_url + "/api/meetings", json=body, timeout=60))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses[201] == 1 and set(statuses) <= {200, 201, 409}, statuses
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "request_in_progress" and answer.json()["retryable"] is True
            assert answer.headers["Retry-After"]
    assert len({answer.json()["id"] for answer in answers if answer.status_code != 409}) == 1
    assert len(events_with(world, external_id)) == 1
    assert [kinds(world, address) for address in people] == [["invitation"]] * 3
    again = world.post(body)
    first = next(answer for answer in answers if answer.status_code == 201)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_a_new_body_keeps_the_join_block_and_each_attendee_hears_of_a_change_once(world):
    people, external_id = guests(3), unique("change")
    created = world.post(request_body(external_id, people, body={"contentType": "html", "content": "<p>v1</p>"}))
    path, join_url = created.headers["Location"], created.json()["joinWebUrl"]

    changed = world.call("PATCH", KEY_PATH, path, json={"body": {"contentType": "html",
                                                                 "content": "<p>Agenda v2</p>"}})

    assert changed.status_code == 200, changed.text
    (event,) = events_with(world, external_id)
    content = event["body"]["content"]
    assert "Agenda v2" in content and "v1" not in content.replace("v2", "")
    assert join_url in content and "Microsoft Teams meeting" in content, "the join block survived the new body"
    assert [kinds(world, address) for address in people] == [["invitation", "update"]] * 3
    (update,) = world.emulator.state.calendars.mailbox(people[0])[1:]
    assert join_url in update["body"]["content"]

    newcomer = guests(1)[0]
    everyone = [{"upn": address, "role": "attendee"} for address in [*people, newcomer]]
    added = world.call("PATCH", KEY_PATH, path, json={"participants": {"attendees": everyone}})
    assert added.status_code == 200, added.text
    assert kinds(world, newcomer) == ["invitation"]
    assert [kinds(world, address) for address in people] == [["invitation", "update"]] * 3, "nobody else heard"
    (event,) = events_with(world, external_id)
    assert newcomer in [a["emailAddress"]["address"] for a in event["attendees"]]
    assert join_url in event["body"]["content"]


def test_cancel_with_a_comment_reaches_each_attendee_once_and_a_second_delete_sends_nothing(world):
    people, external_id = guests(3), unique("cancel")
    path = world.post(request_body(external_id, people)).headers["Location"]
    comment = "The trainer is ill; a new date follows"

    first = world.call("DELETE", KEY_PATH, path + "?comment=" + quote(comment))

    assert first.status_code == 204 and not first.content
    assert events_with(world, external_id) == [], "the event left the organizer's calendar"
    for address in people:
        assert kinds(world, address) == ["invitation", "cancellation"]
        assert world.emulator.state.calendars.mailbox(address)[-1]["comment"] == comment
    cancels = len(calls(world, "cancel_event"))
    second = world.call("DELETE", KEY_PATH, path + "?comment=" + quote(comment))
    assert second.status_code == 204 and len(calls(world, "cancel_event")) == cancels
    assert [kinds(world, address) for address in people] == [["invitation", "cancellation"]] * 3
    gone = world.get(path)
    assert (gone.status_code, gone.json()["code"]) == (410, "meeting_cancelled")


def test_an_organizer_outside_the_apps_calendar_scope_is_refused_with_the_script_to_run(world):
    people, external_id = guests(1), unique("carol")
    body = {**request_body(external_id, people), "organizerId": CAROL_UPN}

    refused = world.post(body)

    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["code"] == "calendar_access_denied" and "grant-calendar-scope.ps1" in problem["detail"]
    (call,) = [c for c in world.emulator.state.calls("create_event") if c["user"] == CAROL_UPN
               and c["body"]["singleValueExtendedProperties"][0]["value"] == external_id]
    assert call["status"] == 403
    assert kinds(world, people[0]) == [], "nobody was invited"


def test_with_calendar_mode_disabled_a_calendar_request_is_refused_before_any_graph_call(make_world):
    world = make_world()  # CALENDAR_MODE defaults to disabled
    people, before = guests(1), len(world.emulator.state.requests)

    refused = world.post(request_body(unique("off"), people))

    assert refused.status_code == 403 and refused.json()["code"] == "calendar_mode_disabled"
    assert len(world.emulator.state.requests) == before, "Graph was not asked anything"
    assert kinds(world, people[0]) == []


# ---- defects the emulator showed, fixed: each test failed before its fix -------------------------------------------

def test_a_time_change_after_another_change_keeps_the_time_zone_the_meeting_was_created_in(world):
    people, external_id = guests(1), unique("zone")
    path = world.post(request_body(external_id, people)).headers["Location"]
    assert world.call("PATCH", KEY_PATH, path, json={"location": "Room 7"}).status_code == 200

    moved = world.call("PATCH", KEY_PATH, path, json={"startDateTime": "2027-03-02T09:00:00+01:00",
                                                      "endDateTime": "2027-03-02T10:00:00+01:00"})

    assert moved.status_code == 200, moved.text
    (event,) = events_with(world, external_id)
    assert event["start"] == {"dateTime": "2027-03-02T08:00:00.0000000", "timeZone": "UTC"}, "the new time"
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"


def test_after_a_lost_answer_a_key_differing_only_in_case_gets_its_own_event(world):
    tag = uuid.uuid4().hex[:8]
    first = world.post(request_body(f"Case-{tag}", guests(1)))
    assert first.status_code == 201
    world.emulator.state.calendars.inject_after("create_event", 503)
    people = guests(1)
    lost = world.post(request_body(f"case-{tag}", people))
    assert lost.status_code == 502 and lost.json()["retryable"] is True

    retried = world.post(request_body(f"case-{tag}", people))

    assert retried.status_code == 201, retried.text
    (own,) = events_with(world, f"case-{tag}")
    assert retried.json()["event"]["id"] == own["id"]
    assert retried.json()["joinWebUrl"] == own["onlineMeeting"]["joinUrl"] != first.json()["joinWebUrl"]


def test_repeating_a_body_change_changes_nothing(world):
    people, external_id = guests(2), unique("same-body")
    path = world.post(request_body(external_id, people)).headers["Location"]
    change = {"body": {"contentType": "html", "content": "<p>Agenda v2</p>"}}
    assert world.call("PATCH", KEY_PATH, path, json=change).status_code == 200
    patches = len(calls(world, "update_event"))

    again = world.call("PATCH", KEY_PATH, path, json=change)

    assert again.status_code == 200
    assert len(calls(world, "update_event")) == patches, "nothing differed"
    assert [result["status"] for result in world.results()][-1] == "existing"


def test_a_change_with_the_recurrence_the_meeting_already_has_changes_nothing(world):
    recurrence = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                  "range": {"type": "endDate", "startDate": "2027-03-01", "endDate": "2027-06-28"}}
    people, external_id = guests(1), unique("weekly")
    created = world.post(request_body(external_id, people, recurrence=recurrence))
    assert created.status_code == 201, created.text
    patches = len(calls(world, "update_event"))

    same = world.call("PATCH", KEY_PATH, created.headers["Location"], json={"recurrence": recurrence})

    assert same.status_code == 200
    assert len(calls(world, "update_event")) == patches, "nothing differed"
    assert [result["status"] for result in world.results()] == ["created", "existing"]


def test_a_change_of_time_zone_alone_is_applied_or_refused(world):
    people, external_id = guests(1), unique("tz-only")
    path = world.post(request_body(external_id, people)).headers["Location"]

    changed = world.call("PATCH", KEY_PATH, path, json={"timeZone": "Pacific Standard Time"})

    (event,) = events_with(world, external_id)
    assert changed.status_code == 400 or event["originalStartTimeZone"] == "Pacific Standard Time"


def test_a_location_in_graphs_own_shape_is_taken_and_its_name_repeats_it(world):
    people, external_id = guests(1), unique("located")
    created = world.post(request_body(external_id, people, location={"displayName": "Room 9"}))
    assert created.status_code == 201, created.text
    (event,) = events_with(world, external_id)
    assert event["location"]["displayName"] == "Room 9"
    repeat = world.post(request_body(external_id, people, location="Room 9"))
    assert (repeat.status_code, repeat.json()["id"]) == (200, created.json()["id"])
    assert [result["status"] for result in world.results()] == ["created", "existing"], "nothing differed"
    refused = world.post(request_body(unique("located"), people,
                                      location={"displayName": "Room 9", "coordinates": {"latitude": 52.5}}))
    assert refused.status_code == 400 and "location.coordinates" in refused.text
