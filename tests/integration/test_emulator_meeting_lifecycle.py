"""The rest of a meeting's life in the Graph emulator, over real HTTPS with real tokens: plain create (not idempotent,
passcodes), Accept-Language, GET, DELETE, find by join URL, the access policy on every operation, and the record of
every call."""
from __future__ import annotations

import uuid
from urllib.parse import quote, unquote

import pytest

from localdev.emulator import ALICE_ID, ALICE_UPN, BOB_ID, CAROL_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID
from tests.integration.emulator_support import assert_graph_error, create, graph
from tests.schemas import validate_online_meeting

TIMES = {"startDateTime": "2030-05-01T09:00:00+02:00", "endDateTime": "2030-05-01T10:00:00+02:00"}


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


def meetings(user: str) -> str:
    return f"/users/{user}/onlineMeetings"


def join_text(meeting: dict) -> str:
    return unquote(meeting["joinInformation"]["content"].removeprefix("data:text/html,"))


def post(http, emulator, token, body, user=ALICE_ID, **kwargs):
    return graph(http, emulator, token, "POST", meetings(user), json=body, **kwargs)


def test_plain_create_is_not_idempotent_each_call_is_a_new_meeting(http, emulator, token):
    body = {"subject": "Weekly", "externalId": "crm-7", **TIMES}
    first, second = post(http, emulator, token, body), post(http, emulator, token, body)

    assert (first.status_code, second.status_code) == (201, 201)
    one, two = first.json(), second.json()
    assert one["id"] != two["id"] and one["joinWebUrl"] != two["joinWebUrl"]
    for meeting in (one, two):
        validate_online_meeting(meeting, "v1.0")
        assert meeting["subject"] == "Weekly" and meeting["externalId"] == "crm-7"
        assert meeting["startDateTime"] == "2030-05-01T07:00:00.0000000Z"
        assert meeting["joinMeetingIdSettings"]["joinMeetingId"].isdigit()
        assert meeting["joinMeetingIdSettings"]["isPasscodeRequired"] is False
        assert meeting["joinMeetingIdSettings"]["passcode"] is None
    assert one["joinMeetingIdSettings"]["joinMeetingId"] != two["joinMeetingIdSettings"]["joinMeetingId"]
    # Plain creates are not createOrGet's: the same externalId through createOrGet is one more, new meeting.
    by_external_id = create(http, emulator, token, ALICE_ID, {"externalId": "crm-7"})
    assert by_external_id.status_code == 201 and by_external_id.json()["id"] not in (one["id"], two["id"])
    assert emulator.state.online_meetings.meeting_count() == 3


def test_a_passcode_is_generated_only_when_required_and_custom_passcodes_are_refused(http, emulator, token):
    required = post(http, emulator, token, {**TIMES, "joinMeetingIdSettings": {"isPasscodeRequired": True}}).json()
    settings = required["joinMeetingIdSettings"]
    assert settings["isPasscodeRequired"] is True and isinstance(settings["passcode"], str)
    assert len(settings["passcode"]) >= 6 and settings["passcode"].isalnum()
    assert f"Passcode: {settings['passcode']}" in join_text(required)
    not_required = post(http, emulator, token, {**TIMES, "joinMeetingIdSettings": {"isPasscodeRequired": False}})
    assert not_required.json()["joinMeetingIdSettings"]["passcode"] is None
    assert "Passcode" not in join_text(not_required.json())

    custom = post(http, emulator, token, {**TIMES, "joinMeetingIdSettings": {"isPasscodeRequired": True,
                                                                             "passcode": "123456"}})
    assert "passcode" in assert_graph_error(custom, 400, "BadRequest")["message"]
    own_id = post(http, emulator, token, {"joinMeetingIdSettings": {"joinMeetingId": "1234567890"}})
    assert_graph_error(own_id, 400, "BadRequest")
    assert emulator.state.online_meetings.meeting_count() == 2


@pytest.mark.parametrize("body, words", [
    ({"id": "mine"}, "read-only"),
    ({"joinWebUrl": "https://teams.microsoft.com/l/meetup-join/x"}, "read-only"),
    ({"chatInfo": {"threadId": "19:x@thread.v2"}}, "read-only"),
    ({"colour": "blue"}, "does not exist"),
    ({"isEndToEndEncryptionEnabled": True}, "cannot be set"),
    ({"allowedPresenters": "boss"}, "onlineMeetingPresenters"),
    ({"endDateTime": "2030-05-01T10:00:00Z"}, "without startDateTime"),
    ({"startDateTime": "2030-05-01T10:00:00Z", "endDateTime": "2030-05-01T09:59:59Z"}, "earlier"),
    ({"participants": {"organizer": {"identity": {"user": {"id": BOB_ID}}}}}, "organizer"),
    ({"allowedPresenters": "roleIsPresenter"}, "presenter"),
    ({"participants": {"attendees": [{"upn": "guest@fabrikam.example", "role": "presenter"}]}}, "Entra"),
])
def test_plain_create_refuses_what_graph_refuses(http, emulator, token, body, words):
    error = assert_graph_error(post(http, emulator, token, body), 400, "BadRequest")
    assert words in error["message"]
    assert emulator.state.online_meetings.meeting_count() == 0


def test_plain_create_takes_settings_and_sdk_annotations(http, emulator, token):
    body = {"@odata.type": "#microsoft.graph.onlineMeeting", **TIMES, "allowedPresenters": "roleIsPresenter",
            "participants": {"attendees": [{"upn": "bob@contoso.example", "role": "presenter"}]},
            "lobbyBypassSettings": {"scope": "organizer"}, "allowMeetingChat": "limited", "recordAutomatically": True}
    meeting = post(http, emulator, token, body).json()

    assert (meeting["allowedPresenters"], meeting["allowMeetingChat"], meeting["recordAutomatically"]) == (
        "roleIsPresenter", "limited", True)
    assert meeting["lobbyBypassSettings"] == {"scope": "organizer", "isDialInBypassEnabled": False}
    assert meeting["allowTranscription"] is True  # untouched settings keep Teams' defaults
    assert meeting["participants"]["attendees"] == [{"upn": "bob@contoso.example", "role": "presenter"}]
    validate_online_meeting(meeting, "v1.0")


def test_accept_language_localizes_join_information_as_created(http, emulator, token):
    english = post(http, emulator, token, TIMES).json()
    german = post(http, emulator, token, TIMES, headers={"Accept-Language": "de-DE"}).json()
    french = create(http, emulator, token, ALICE_ID, {"externalId": "fr"},
                    headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}).json()
    unsupported = post(http, emulator, token, TIMES, headers={"Accept-Language": "ja-JP"}).json()

    assert "Join the meeting now" in join_text(english) and "Meeting ID:" in join_text(english)
    assert "Jetzt an der Besprechung teilnehmen" in join_text(german) and "Join the meeting" not in join_text(german)
    assert "Rejoindre la réunion maintenant" in join_text(french)
    assert "Join the meeting now" in join_text(unsupported)
    preferred = post(http, emulator, token, TIMES, headers={"Accept-Language": "en;q=0.4, de-AT;q=0.8"}).json()
    assert "Jetzt an der Besprechung teilnehmen" in join_text(preferred)

    # Later calls do not translate: the meeting keeps the language it was created in.
    again = graph(http, emulator, token, "GET", f"{meetings(ALICE_ID)}/{german['id']}",
                  headers={"Accept-Language": "en-US"}).json()
    assert join_text(again) == join_text(german)
    repeat = create(http, emulator, token, ALICE_ID, {"externalId": "fr"}, headers={"Accept-Language": "de-DE"})
    assert repeat.status_code == 200 and join_text(repeat.json()) == join_text(french)


def test_get_answers_only_the_organizers_own_meeting(http, emulator, token):
    meeting = post(http, emulator, token, TIMES).json()

    own = graph(http, emulator, token, "GET", f"{meetings(ALICE_UPN)}/{meeting['id']}")
    assert own.status_code == 200 and own.json()["id"] == meeting["id"]
    assert_graph_error(graph(http, emulator, token, "GET", f"{meetings(BOB_ID)}/{meeting['id']}"), 404, "NotFound")
    assert_graph_error(graph(http, emulator, token, "GET", f"{meetings(ALICE_ID)}/MSo{uuid.uuid4().hex}"), 404,
                       "NotFound")


def test_delete_removes_the_meeting_for_good_and_create_or_get_then_makes_a_new_one(http, emulator, token):
    first = create(http, emulator, token, ALICE_ID, {"externalId": "booking-9", "subject": "Before"}).json()
    item = f"{meetings(ALICE_ID)}/{first['id']}"
    assert_graph_error(graph(http, emulator, token, "DELETE", f"{meetings(BOB_ID)}/{first['id']}"), 404, "NotFound")

    deleted = graph(http, emulator, token, "DELETE", item)

    assert deleted.status_code == 204 and deleted.content == b""
    assert deleted.headers["request-id"] and deleted.headers["client-request-id"]
    assert_graph_error(graph(http, emulator, token, "GET", item), 404, "NotFound")
    assert_graph_error(graph(http, emulator, token, "PATCH", item, json={"subject": "After"}), 404, "NotFound")
    assert_graph_error(graph(http, emulator, token, "DELETE", item), 404, "NotFound")
    again = create(http, emulator, token, ALICE_ID, {"externalId": "booking-9", "subject": "After"})
    assert again.status_code == 201, "createOrGet after a delete creates a new meeting"
    assert again.json()["id"] != first["id"] and again.json()["subject"] == "After"
    assert [m["id"] for m in emulator.state.meetings] == [again.json()["id"]]


def test_find_by_join_url_accepts_the_url_encoded_and_plain(http, emulator, token):
    wanted, other = post(http, emulator, token, TIMES).json(), post(http, emulator, token, TIMES).json()
    bobs = post(http, emulator, token, TIMES, user=BOB_ID).json()

    def find(literal: str, user: str = ALICE_ID):
        return graph(http, emulator, token, "GET", meetings(user), params={"$filter": f"JoinWebUrl eq '{literal}'"})

    encoded = find(quote(wanted["joinWebUrl"], safe=""))
    assert encoded.status_code == 200 and [m["id"] for m in encoded.json()["value"]] == [wanted["id"]]
    validate_online_meeting(encoded.json()["value"][0], "v1.0")
    assert [m["id"] for m in find(wanted["joinWebUrl"]).json()["value"]] == [wanted["id"]]
    assert find(quote(other["joinWebUrl"], safe="")).json()["value"][0]["id"] == other["id"]
    assert find("https://teams.microsoft.com/l/meetup-join/nothing").json()["value"] == []
    assert find(quote(bobs["joinWebUrl"], safe="")).json()["value"] == [], "another organizer's meeting"
    lower_case = graph(http, emulator, token, "GET", meetings(ALICE_ID),
                       params={"$filter": f"joinWebUrl eq '{quote(wanted['joinWebUrl'], safe='')}'"})
    assert len(lower_case.json()["value"]) == 1
    assert_graph_error(graph(http, emulator, token, "GET", meetings(ALICE_ID)), 400, "BadRequest")
    assert_graph_error(graph(http, emulator, token, "GET", meetings(ALICE_ID),
                             params={"$filter": "subject eq 'x'"}), 400, "BadRequest")


@pytest.mark.parametrize("method, suffix, body", [
    ("POST", "/createOrGet", {"externalId": "x"}), ("POST", "", TIMES), ("GET", "/{id}", None),
    ("PATCH", "/{id}", {"subject": "x"}), ("DELETE", "/{id}", None), ("GET", "?$filter=JoinWebUrl eq 'x'", None),
])
def test_every_operation_needs_the_access_policy(http, emulator, token, method, suffix, body):
    emulator.state.directory.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, CAROL_ID)
    carols = post(http, emulator, token, TIMES, user=CAROL_ID).json()
    emulator.state.directory.revoke_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, CAROL_ID)

    path, _, query = (meetings(CAROL_ID) + suffix.format(id=carols["id"])).partition("?")
    response = graph(http, emulator, token, method, path + (f"?{query}" if query else ""), json=body)

    assert assert_graph_error(response, 403, "General")["message"] == "No application access policy found for this app."
    assert_graph_error(graph(http, emulator, None, method, path, json=body), 401, "InvalidAuthenticationToken")
    assert emulator.state.online_meetings.meeting_count() == 1


def test_every_call_is_recorded_by_operation_meeting_and_organizer(http, emulator, token):
    meeting = post(http, emulator, token, TIMES, headers={"Accept-Language": "de-DE", "client-request-id": "c-1"})
    item = f"{meetings(ALICE_ID)}/{meeting.json()['id']}"
    for subject in ("one", "two"):
        graph(http, emulator, token, "PATCH", item, json={"subject": subject})
    graph(http, emulator, token, "PATCH", item, json={"colour": "blue"})
    graph(http, emulator, token, "GET", item)
    post(http, emulator, token, TIMES, user=BOB_ID)
    state, meeting_id = emulator.state, meeting.json()["id"]

    assert [c["status"] for c in state.calls("update_meeting", meeting_id=meeting_id)] == [200, 200, 400]
    assert len(state.calls(meeting_id=meeting_id)) == 5
    assert len(state.calls("create_meeting")) == 2 and len(state.calls("create_meeting", organizer=BOB_ID)) == 1
    [created] = state.calls("create_meeting", organizer=ALICE_ID)
    assert (created["accept_language"], created["client_request_id"], created["method"]) == ("de-DE", "c-1", "POST")
    assert created["body"] == TIMES and created["headers"]["authorization"] == "Bearer <redacted>"
    assert state.calls("update_meeting", status=400)[0]["body"] == {"colour": "blue"}
    assert state.counters["update_meeting"] == 3 and state.counters["get_meeting"] == 1
    admin = http.get(f"{emulator.url}/_emulator/requests",
                     params={"endpoint": "update_meeting", "meeting_id": meeting_id, "status": "200"}, timeout=5)
    assert [c["body"]["subject"] for c in admin.json()["value"]] == ["one", "two"]
    with pytest.raises(ValueError):
        state.calls("patch")


def test_injected_faults_hit_the_new_operations_too(http, emulator, token):
    meeting = post(http, emulator, token, TIMES).json()
    item = f"{meetings(ALICE_ID)}/{meeting['id']}"
    emulator.state.inject("graph", 429, retry_after="1.5")
    emulator.state.inject("graph", 503)

    throttled = graph(http, emulator, token, "PATCH", item, json={"subject": "x"})
    unavailable = graph(http, emulator, token, "DELETE", item)

    assert_graph_error(throttled, 429, "TooManyRequests")
    assert throttled.headers["Retry-After"] == "1.5"
    assert_graph_error(unavailable, 503, "ServiceNotAvailable")
    assert graph(http, emulator, token, "GET", item).json()["subject"] is None, "the faulted PATCH changed nothing"
    assert [(c["endpoint"], c["fault"]) for c in emulator.state.calls(meeting_id=meeting["id"])] == [
        ("create_meeting", False), ("update_meeting", True), ("delete_meeting", True), ("get_meeting", False)]
