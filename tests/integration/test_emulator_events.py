"""Outlook events in the Graph emulator, over real HTTPS with real tokens: create with a Teams meeting and Outlook's
join block, transactionId, extended properties ($filter, $expand), time zones in answers, PATCH (a whole new body,
the linked meeting following), cancel (organizer only), what every attendee receives, who may use which calendar,
faults that strike after the event exists, the admin API and the record of every call."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests

from localdev.emulator import (ALICE_ID, ALICE_UPN, BOB_ID, BOB_UPN, CAROL_ID, CAROL_UPN, DEFAULT_CLIENT_ID,
                               DEFAULT_TENANT_ID, ONLINE_MEETINGS_ROLE)
from tests.integration.emulator_support import assert_graph_error, graph
from tests.schemas import validate_online_meeting

PROPERTY = "String {6f0b6e1a-4c1e-4b7e-9a55-3f2f1d1c7e21} Name brokerKey"
GUEST = "guest@fabrikam.example"
DATETIME_7Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$"


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


def event_body(**members) -> dict:
    return {"subject": "Algebra", "body": {"contentType": "HTML", "content": "<p>Bring a calculator</p>"},
            "start": {"dateTime": "2030-05-06T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2030-05-06T10:00:00", "timeZone": "Europe/Berlin"},
            "attendees": [{"emailAddress": {"address": BOB_UPN, "name": "Bob"}, "type": "required"},
                          {"emailAddress": {"address": GUEST}}],
            "location": {"displayName": "Room 12"}, "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness", **members}


def events(user: str = ALICE_UPN, event_id: str | None = None, action: str = "", query: str = "") -> str:
    path = f"/users/{user}/events" + (f"/{quote(event_id, safe='')}" if event_id else "") + action
    return path + (f"?{query}" if query else "")


def post(http, emulator, token, body=None, user=ALICE_UPN, **kwargs):
    return graph(http, emulator, token, "POST", events(user), json=event_body() if body is None else body, **kwargs)


def by_property(value: str, expand: bool = True, op: str = "ep/value eq '{v}'") -> str:
    condition = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROPERTY}' and {op.format(v=value)})"
    query = "$filter=" + quote(condition, safe="")
    if expand:
        query += "&$expand=" + quote(f"singleValueExtendedProperties($filter=id eq '{PROPERTY}')", safe="")
    return query


def kinds(emulator, address: str) -> list[str]:
    return [message["kind"] for message in emulator.state.calendars.mailbox(address)]


# --------------------------------------------------------------------------------------------------- create
def test_an_online_event_gets_a_teams_meeting_and_its_join_block_and_every_attendee_an_invitation(http, emulator,
                                                                                                  token):
    created = post(http, emulator, token, event_body(transactionId="tx-1", singleValueExtendedProperties=[
        {"id": PROPERTY, "value": "class-1"}]))

    assert created.status_code == 201, created.text
    event = created.json()
    assert re.fullmatch(DATETIME_7Z, event["createdDateTime"]) and event["iCalUId"] and event["changeKey"]
    assert event["webLink"] == ("https://outlook.office365.com/owa/?itemid=" + quote(event["id"], safe="")
                                + "&exvsurl=1&path=/calendar/item")
    assert event["start"] == {"dateTime": "2030-05-06T09:00:00.0000000", "timeZone": "W. Europe Standard Time"}
    assert event["end"] == {"dateTime": "2030-05-06T10:00:00.0000000", "timeZone": "Europe/Berlin"}
    assert event["originalStartTimeZone"] == "W. Europe Standard Time" and event["transactionId"] == "tx-1"
    assert event["subject"] == "Algebra" and event["location"]["displayName"] == "Room 12"
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["organizer"] == {"emailAddress": {"name": "Alice Example", "address": ALICE_UPN}}
    assert [a["status"]["response"] for a in event["attendees"]] == ["none", "none"]
    assert event["isOrganizer"] is True and "singleValueExtendedProperties" not in event, "only when $expand-ed"
    join_url = event["onlineMeeting"]["joinUrl"]
    body = event["body"]
    assert body["contentType"] == "html" and "<p>Bring a calculator</p>" in body["content"]
    block = body["content"][body["content"].index("_" * 40):]
    assert "Microsoft Teams meeting" in block and f'href="{join_url}"' in block

    found = graph(http, emulator, token, "GET", f"/users/{ALICE_ID}/onlineMeetings",
                  params={"$filter": f"JoinWebUrl eq '{quote(join_url, safe='')}'"}).json()["value"]
    (meeting,) = found
    validate_online_meeting(meeting, "v1.0")
    assert meeting["subject"] == "Algebra" and meeting["startDateTime"] == "2030-05-06T07:00:00.0000000Z"
    assert meeting["participants"]["organizer"]["identity"]["user"]["id"] == ALICE_ID
    assert sorted(a["upn"] for a in meeting["participants"]["attendees"]) == sorted([BOB_UPN, GUEST])
    patched = graph(http, emulator, token, "PATCH", f"/users/{ALICE_ID}/onlineMeetings/{meeting['id']}",
                    json={"lobbyBypassSettings": {"scope": "everyone"}})
    assert patched.status_code == 200 and patched.json()["lobbyBypassSettings"]["scope"] == "everyone"

    assert kinds(emulator, BOB_UPN) == ["invitation"] and kinds(emulator, GUEST) == ["invitation"]
    (invitation,) = emulator.state.calendars.mailbox(GUEST)
    assert (invitation["from"], invitation["event_id"], invitation["joinUrl"]) == (ALICE_UPN, event["id"], join_url)
    (copy,) = emulator.state.calendars.event_list(BOB_ID)
    assert copy["isOrganizer"] is False and copy["iCalUId"] == event["iCalUId"] and copy["id"] != event["id"]
    calendars = emulator.state.calendars
    assert calendars.event_list(ALICE_ID)[0]["id"] == event["id"] and calendars.event_count() == 2


def test_a_repeated_create_with_the_same_transaction_id_returns_the_first_event_and_invites_nobody_again(
        http, emulator, token):
    first = post(http, emulator, token, event_body(transactionId="tx-7")).json()
    again = post(http, emulator, token, event_body(transactionId="tx-7", subject="Other"))

    assert again.status_code == 201 and again.json()["id"] == first["id"] and again.json()["subject"] == "Algebra"
    assert again.json()["onlineMeeting"]["joinUrl"] == first["onlineMeeting"]["joinUrl"]
    assert emulator.state.online_meetings.meeting_count() == 1 and emulator.state.calendars.event_count(ALICE_ID) == 1
    assert kinds(emulator, GUEST) == ["invitation"]
    assert post(http, emulator, token, event_body(transactionId="tx-7"), user=BOB_UPN).json()["id"] != first["id"], \
        "a transactionId is one organizer's"
    plain = post(http, emulator, token, event_body(isOnlineMeeting=False, onlineMeetingProvider=None)).json()
    assert "transactionId" not in plain and plain["onlineMeeting"] is None and "Teams" not in plain["body"]["content"]
    assert kinds(emulator, GUEST) == ["invitation"] * 3


def test_a_text_body_gets_a_text_join_block(http, emulator, token):
    event = post(http, emulator, token, event_body(body={"contentType": "text", "content": "Bring a calculator"}))
    content = event.json()["body"]["content"]
    assert event.json()["body"]["contentType"] == "text" and content.startswith("Bring a calculator\r\n\r\n___")
    assert "Microsoft Teams meeting" in content and event.json()["onlineMeeting"]["joinUrl"] in content


# --------------------------------------------------------------------------------------------------- reads
def test_events_are_found_by_extended_property_and_expand_returns_only_that_property(http, emulator, token):
    other = "String {6f0b6e1a-4c1e-4b7e-9a55-3f2f1d1c7e21} Name other"
    wanted = post(http, emulator, token, event_body(singleValueExtendedProperties=[
        {"id": PROPERTY, "value": "Class-1"}, {"id": other, "value": "x"}])).json()
    post(http, emulator, token, event_body(singleValueExtendedProperties=[{"id": PROPERTY, "value": "class-2"}]))

    found = graph(http, emulator, token, "GET", events(query=by_property("class-1")))
    assert found.status_code == 200, found.text
    (event,) = found.json()["value"]
    assert event["id"] == wanted["id"], "values compare case-insensitively"
    assert event["singleValueExtendedProperties"] == [{"id": PROPERTY, "value": "Class-1"}]
    assert event["start"] == {"dateTime": "2030-05-06T07:00:00.0000000", "timeZone": "UTC"}, "reads are in UTC"
    bare = graph(http, emulator, token, "GET", events(query=by_property("class-1", expand=False))).json()["value"]
    assert [e["id"] for e in bare] == [wanted["id"]] and "singleValueExtendedProperties" not in bare[0]
    renamed = by_property("class-1").replace("brokerKey", "BrokerKey")
    assert graph(http, emulator, token, "GET", events(query=renamed)).json()["value"] == [], \
        "the Name in a property id is case-sensitive"
    starts = graph(http, emulator, token, "GET", events(query=by_property("CLASS", op="startswith(ep/value, '{v}')")))
    assert len(starts.json()["value"]) == 2
    assert len(graph(http, emulator, token, "GET", events(query=by_property("class-1", op="ep/value ne '{v}'")))
               .json()["value"]) == 1
    assert len(graph(http, emulator, token, "GET", events()).json()["value"]) == 2
    assert graph(http, emulator, token, "GET", events(BOB_UPN, query=by_property("class-1"))).json()["value"] == [], \
        "bob's copies carry no extended properties of alice's"
    unsupported = graph(http, emulator, token, "GET", events(query="$filter=" + quote("subject eq 'Algebra'")))
    assert_graph_error(unsupported, 400)

    one = graph(http, emulator, token, "GET", events(event_id=wanted["id"], query=by_property("x").split("&", 1)[1]),
                headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'})
    assert one.status_code == 200 and one.json()["singleValueExtendedProperties"][0]["value"] == "Class-1"
    assert one.json()["start"] == {"dateTime": "2030-05-06T00:00:00.0000000", "timeZone": "Pacific Standard Time"}
    assert one.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    assert_graph_error(graph(http, emulator, token, "GET", events(event_id="AAMkAnothere")), 404, "ErrorItemNotFound")
    assert_graph_error(graph(http, emulator, token, "GET", events(BOB_UPN, wanted["id"])), 404, "ErrorItemNotFound")


# --------------------------------------------------------------------------------------------------- update
def test_patch_replaces_the_whole_body_and_the_meeting_follows_subject_and_times(http, emulator, token):
    event = post(http, emulator, token).json()
    join_url = event["onlineMeeting"]["joinUrl"]

    changed = graph(http, emulator, token, "PATCH", events(event_id=event["id"]), json={
        "subject": "Algebra II", "body": {"contentType": "html", "content": "<p>New agenda</p>"},
        "start": {"dateTime": "2030-05-07T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2030-05-07T10:30:00", "timeZone": "W. Europe Standard Time"}})

    assert changed.status_code == 200, changed.text
    answer = changed.json()
    assert "New agenda" in answer["body"]["content"] and join_url not in answer["body"]["content"], \
        "a new body without the join block loses it"
    assert answer["onlineMeeting"]["joinUrl"] == join_url and answer["changeKey"] != event["changeKey"]
    assert answer["start"] == {"dateTime": "2030-05-07T07:00:00.0000000", "timeZone": "UTC"}, "PATCH answers in UTC"
    meeting = emulator.state.online_meetings.find_meeting(emulator.state.calendars.find_event(event["id"]).meeting_id)
    assert meeting.subject == "Algebra II" and meeting.join_web_url == join_url
    assert emulator.state.meetings[0]["endDateTime"] == "2030-05-07T08:30:00.0000000Z"
    assert kinds(emulator, GUEST) == ["invitation", "update"] and kinds(emulator, BOB_UPN) == ["invitation", "update"]
    (copy,) = emulator.state.calendars.event_list(BOB_ID)
    assert copy["subject"] == "Algebra II"

    same = graph(http, emulator, token, "PATCH", events(event_id=event["id"]), json={"subject": "Algebra II"})
    assert same.status_code == 200 and kinds(emulator, GUEST) == ["invitation", "update"], "nothing changed"
    refused = graph(http, emulator, token, "PATCH", events(event_id=event["id"]), json={"transactionId": "new"})
    assert_graph_error(refused, 400)
    backwards = graph(http, emulator, token, "PATCH", events(event_id=event["id"]), json={
        "subject": "Never", "end": {"dateTime": "2030-05-01T10:00:00", "timeZone": "UTC"}})
    assert_graph_error(backwards, 400)
    assert emulator.state.calendars.find_event(event["id"]).subject == "Algebra II", "a refused change changes nothing"


def test_an_attendees_only_change_reaches_only_the_attendees_added_or_removed(http, emulator, token):
    event = post(http, emulator, token).json()
    newcomer = "newcomer@fabrikam.example"
    people = [{"emailAddress": {"address": GUEST}}, {"emailAddress": {"address": newcomer}}]

    changed = graph(http, emulator, token, "PATCH", events(event_id=event["id"]), json={"attendees": people})

    assert changed.status_code == 200
    assert kinds(emulator, newcomer) == ["invitation"] and kinds(emulator, GUEST) == ["invitation"]
    assert kinds(emulator, BOB_UPN) == ["invitation", "cancellation"]
    (copy,) = emulator.state.calendars.event_list(BOB_ID)
    assert copy["isCancelled"] is True and copy["subject"] == "Canceled: Algebra"
    meeting = emulator.state.meetings[0]
    assert sorted(a["upn"] for a in meeting["participants"]["attendees"]) == sorted([GUEST, newcomer])


# --------------------------------------------------------------------------------------------------- cancel, delete
def test_cancel_notifies_each_attendee_once_with_the_comment_and_the_event_is_gone(http, emulator, token):
    event = post(http, emulator, token, event_body(transactionId="tx-1")).json()
    copy_id = emulator.state.calendars.event_list(BOB_ID)[0]["id"]
    by_attendee = graph(http, emulator, token, "POST", events(BOB_UPN, copy_id, "/cancel"), json={"comment": "no"})
    assert_graph_error(by_attendee, 400, "ErrorCalendarIsNotOrganizer")
    assert "organizer to cancel" in by_attendee.json()["error"]["message"] and kinds(emulator, GUEST) == ["invitation"]

    cancelled = graph(http, emulator, token, "POST", events(event_id=event["id"], action="/cancel"),
                      json={"Comment": "Cancelling for this week"})

    assert cancelled.status_code == 202 and cancelled.content == b""
    for address in (BOB_UPN, GUEST):
        assert kinds(emulator, address) == ["invitation", "cancellation"]
        assert emulator.state.calendars.mailbox(address)[-1]["comment"] == "Cancelling for this week"
    for method, action in (("GET", ""), ("PATCH", ""), ("POST", "/cancel")):
        gone = graph(http, emulator, token, method, events(event_id=event["id"], action=action),
                     json={"subject": "x"} if method == "PATCH" else ({} if action else None))
        assert_graph_error(gone, 404, "ErrorItemNotFound")
    assert kinds(emulator, GUEST) == ["invitation", "cancellation"]
    assert emulator.state.calendars.event_list(BOB_ID)[0]["isCancelled"] is True
    assert emulator.state.online_meetings.meeting_count() == 1, "the Teams meeting stays (its join link keeps working)"
    again = post(http, emulator, token, event_body(transactionId="tx-1"))
    assert again.status_code == 201 and again.json()["id"] != event["id"], "a cancelled event's transactionId is free"


def test_deleting_a_meeting_in_the_organizers_calendar_cancels_it_for_the_attendees(http, emulator, token):
    event = post(http, emulator, token).json()
    deleted = graph(http, emulator, token, "DELETE", events(event_id=event["id"]))
    assert deleted.status_code == 204 and kinds(emulator, GUEST) == ["invitation", "cancellation"]
    assert emulator.state.calendars.event_count(ALICE_ID) == 0


# --------------------------------------------------------------------------------------------------- access
def test_calendar_access_is_the_role_or_an_rbac_scope_and_needs_no_teams_access_policy(http, emulator, token):
    denied = post(http, emulator, token, user=CAROL_UPN)
    assert_graph_error(denied, 403, "ErrorAccessDenied")
    assert denied.json()["error"]["message"] == "Access is denied. Check credentials and try again."
    assert_graph_error(graph(http, emulator, token, "GET", events(CAROL_UPN)), 403, "ErrorAccessDenied")
    assert emulator.state.calendars.event_count() == 0 and kinds(emulator, GUEST) == []

    admin = f"{emulator.url}/_emulator/calendar-scopes"
    assert http.post(admin, json={"user": CAROL_UPN}, timeout=5).status_code == 200
    assert {"tenant_id": DEFAULT_TENANT_ID, "client_id": DEFAULT_CLIENT_ID, "user": CAROL_ID} in \
        http.get(admin, timeout=5).json()["value"]
    event = post(http, emulator, token, user=CAROL_UPN)
    assert event.status_code == 201, "carol has no Teams access policy: events do not need one"
    join_url = quote(event.json()["onlineMeeting"]["joinUrl"], safe="")
    meetings = graph(http, emulator, token, "GET", f"/users/{CAROL_ID}/onlineMeetings",
                     params={"$filter": f"JoinWebUrl eq '{join_url}'"})
    assert_graph_error(meetings, 403, "General")
    assert http.delete(admin, json={"user": CAROL_UPN}, timeout=5).status_code == 200
    assert_graph_error(post(http, emulator, token, user=CAROL_UPN), 403, "ErrorAccessDenied")

    tenant_wide = emulator.mint_access_token(roles=("Calendars.ReadWrite",))
    assert post(http, emulator, tenant_wide, user=CAROL_UPN).status_code == 201, "the role reaches every mailbox"
    reader = emulator.mint_access_token(roles=("Calendars.Read", ONLINE_MEETINGS_ROLE))
    emulator.state.calendars.revoke_calendar_scope(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, ALICE_ID)
    assert graph(http, emulator, reader, "GET", events()).status_code == 200
    assert_graph_error(post(http, emulator, reader), 403, "ErrorAccessDenied")


def test_bad_requests_are_refused_as_graph_refuses_them(http, emulator, token):
    assert_graph_error(post(http, emulator, token, user="nobody@contoso.example"), 404, "ErrorInvalidUser")
    assert_graph_error(post(http, emulator, token, event_body(colour="red")), 400, "RequestBodyRead")
    zone = post(http, emulator, token, event_body(start={"dateTime": "2030-05-06T09:00:00", "timeZone": "Mars/Base"}))
    assert_graph_error(zone, 400, "TimeZoneNotSupportedException")
    backwards = event_body(end={"dateTime": "2030-05-06T08:00:00", "timeZone": "W. Europe Standard Time"})
    assert_graph_error(post(http, emulator, token, backwards), 400)
    no_end = event_body()
    del no_end["end"]
    assert_graph_error(post(http, emulator, token, no_end), 400)
    assert_graph_error(post(http, emulator, token, event_body(id="mine")), 400)
    assert_graph_error(graph(http, emulator, token, "PUT", events()), 405)
    assert_graph_error(graph(http, emulator, None, "GET", events()), 401)
    assert emulator.state.calendars.event_count() == 0 and emulator.state.calendars.mailboxes() == {}


# --------------------------------------------------------------------------------------------------- faults
@pytest.mark.parametrize("drop", [False, True])
def test_an_after_fault_lets_the_create_act_and_then_loses_its_answer(http, emulator, token, drop):
    emulator.state.calendars.inject_after("create_event", None if drop else 503, drop=drop)
    if drop:
        with pytest.raises(requests.ConnectionError):
            post(http, emulator, token, event_body(transactionId="tx-lost"))
    else:
        assert_graph_error(post(http, emulator, token, event_body(transactionId="tx-lost")), 503,
                           "ServiceNotAvailable")
    assert emulator.state.calendars.event_count(ALICE_ID) == 1 and kinds(emulator, GUEST) == ["invitation"], "it acted"
    (call,) = emulator.state.calls("create_event")
    assert call["status"] == (0 if drop else 503) and call["event_id"] and call["fault"] is False
    retry = post(http, emulator, token, event_body(transactionId="tx-lost"))
    assert retry.status_code == 201 and retry.json()["id"] == call["event_id"]
    assert kinds(emulator, GUEST) == ["invitation"] and emulator.state.calendars.after_faults() == []


def test_injected_graph_faults_and_the_record_cover_event_calls(http, emulator, token):
    emulator.state.inject("graph", 429, retry_after="1")
    assert_graph_error(post(http, emulator, token), 429, "TooManyRequests")
    event = graph(http, emulator, token, "POST", f"/users/{ALICE_ID}/calendar/events", json=event_body(),
                  version="beta")
    assert event.status_code == 201, "the default calendar's events, in beta too"
    graph(http, emulator, token, "PATCH", events(event_id=event.json()["id"]), json={"subject": "x"})
    graph(http, emulator, token, "POST", events(event_id=event.json()["id"], action="/cancel"), json={})
    counters = emulator.state.counters
    assert (counters["create_event"], counters["update_event"], counters["cancel_event"]) == (2, 1, 1)
    (update,) = emulator.state.calls("update_event", organizer=ALICE_ID)
    assert update["event_id"] == event.json()["id"] and update["meeting_id"] == emulator.state.meetings[0]["id"]
    assert [c["status"] for c in emulator.state.calls("create_event")] == [429, 201]
    assert emulator.state.calls("create_event")[0]["fault"] is True
    with pytest.raises(ValueError):
        emulator.state.calendars.inject_after("create_meeting", 503)


# --------------------------------------------------------------------------------------------------- admin
def test_admin_api_shows_mailboxes_events_and_queues_after_faults(http, emulator, token):
    admin = f"{emulator.url}/_emulator"
    event = post(http, emulator, token).json()

    boxes = http.get(f"{admin}/mailboxes", timeout=5).json()["value"]
    assert {"address": GUEST, "messages": 1} in boxes
    guest = http.get(f"{admin}/mailboxes/{quote(GUEST)}", timeout=5).json()
    assert guest["address"] == GUEST and [m["kind"] for m in guest["value"]] == ["invitation"]
    listed = http.get(f"{admin}/events", params={"mailbox": ALICE_UPN}, timeout=5).json()["value"]
    assert [e["id"] for e in listed] == [event["id"]] and listed[0]["start"]["timeZone"] == "UTC"
    assert len(http.get(f"{admin}/events", timeout=5).json()["value"]) == 2, "bob's copy too"

    queued = http.post(f"{admin}/after-faults", json={"endpoint": "update_event", "status": 500}, timeout=5)
    assert queued.status_code == 201 and queued.json()["value"][0]["endpoint"] == "update_event"
    failed = graph(http, emulator, token, "PATCH", events(event_id=event["id"]), json={"subject": "Later"})
    assert_graph_error(failed, 500, "InternalServerError")
    assert emulator.state.calendars.find_event(event["id"]).subject == "Later", "the change was made"
    assert http.post(f"{admin}/after-faults", json={"endpoint": "nowhere"}, timeout=5).status_code == 400
    http.post(f"{admin}/after-faults", json={"endpoint": "cancel_event", "drop": True, "status": None}, timeout=5)
    assert http.delete(f"{admin}/after-faults", timeout=5).json()["value"] == []
    assert http.get(f"{admin}/after-faults", timeout=5).json()["value"] == []

    assert http.post(f"{admin}/reset", timeout=5).status_code == 200
    assert emulator.state.calendars.event_count() == 0 and emulator.state.calendars.mailboxes() == {}
    assert len(emulator.state.calendars.calendar_scopes()) == 2, "the seeded scope: alice and bob"
