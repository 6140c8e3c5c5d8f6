"""PATCH of an onlineMeeting in the Graph emulator, over real HTTPS with real tokens: Graph's update rules, settings
checked against the CSDL types, Teams' defaults, evolvable enums, and tenant setting policies that win silently."""
from __future__ import annotations

import pytest

from localdev.emulator import ALICE_ID, ALICE_UPN, BOB_ID, BOB_UPN
from localdev.emulator.meetings import SETTING_DEFAULTS
from tests.integration.emulator_support import assert_graph_error, create, graph
from tests.schemas import validate_online_meeting

ALICE_MEETINGS = f"/users/{ALICE_ID}/onlineMeetings"
BOB_AS_PRESENTER = {"upn": BOB_UPN, "role": "presenter", "identity": {"user": {"id": BOB_ID}}}


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


@pytest.fixture
def meeting(http, emulator, token) -> dict:
    body = {"externalId": "planning", "subject": "Planning", "startDateTime": "2030-02-06T09:00:00Z",
            "endDateTime": "2030-02-06T10:00:00Z",
            "participants": {"attendees": [{"upn": "guest1@fabrikam.example"}, {"upn": "guest2@fabrikam.example"}]}}
    return create(http, emulator, token, ALICE_ID, body).json()


def patch(http, emulator, token, meeting, body, *, version="v1.0", headers=None, user=ALICE_ID):
    return graph(http, emulator, token, "PATCH", f"/users/{user}/onlineMeetings/{meeting['id']}", json=body,
                 version=version, headers=headers)


def current(http, emulator, token, meeting) -> dict:
    return graph(http, emulator, token, "GET", f"{ALICE_MEETINGS}/{meeting['id']}").json()


def test_every_meeting_carries_teams_defaults_for_every_setting(meeting):
    assert {name: meeting[name] for name in SETTING_DEFAULTS} == SETTING_DEFAULTS
    assert (meeting["allowedPresenters"], meeting["allowMeetingChat"]) == ("everyone", "enabled")
    assert meeting["lobbyBypassSettings"] == {"scope": "organization", "isDialInBypassEnabled": False}


def test_patch_answers_the_whole_updated_meeting(http, emulator, token, meeting):
    response = patch(http, emulator, token, meeting, {
        "subject": "Planning v2", "allowedPresenters": "organizer", "allowMeetingChat": "disabled",
        "lobbyBypassSettings": {"scope": "everyone"}, "watermarkProtection": {"isEnabledForVideo": True},
        "allowRecording": False, "meetingSpokenLanguageTag": "de-de", "allowLiveShare": "disabled",
        "allowedLobbyAdmitters": "organizerAndCoOrganizers"})

    assert response.status_code == 200, response.text
    updated = response.json()
    validate_online_meeting(updated, "v1.0")
    assert updated["id"] == meeting["id"] and updated["joinWebUrl"] == meeting["joinWebUrl"]
    assert updated["participants"] == meeting["participants"] and updated["externalId"] == "planning"
    assert (updated["subject"], updated["allowedPresenters"], updated["allowMeetingChat"]) == (
        "Planning v2", "organizer", "disabled")
    assert updated["lobbyBypassSettings"] == {"scope": "everyone", "isDialInBypassEnabled": False}  # members merge
    assert updated["watermarkProtection"] == {"isEnabledForContentSharing": False, "isEnabledForVideo": True}
    assert (updated["allowRecording"], updated["meetingSpokenLanguageTag"], updated["allowLiveShare"]) == (
        False, "de-de", "disabled")
    assert updated["allowedLobbyAdmitters"] == "organizerAndCoOrganizers"
    assert updated["allowTranscription"] is True
    assert current(http, emulator, token, meeting) == {**updated}


def test_times_change_only_together_and_the_end_may_not_come_first(http, emulator, token, meeting):
    for body in ({"startDateTime": "2030-02-07T09:00:00Z"}, {"endDateTime": "2030-02-07T10:00:00Z"},
                 {"startDateTime": "2030-02-07T09:00:00Z", "endDateTime": "2030-02-07T08:59:59Z"},
                 {"startDateTime": "2030-02-07T09:00:00Z", "endDateTime": None}):
        assert_graph_error(patch(http, emulator, token, meeting, body), 400, "BadRequest")
    assert current(http, emulator, token, meeting)["startDateTime"] == "2030-02-06T09:00:00.0000000Z"

    moved = patch(http, emulator, token, meeting, {"startDateTime": "2030-02-07T09:00:00.5+01:00",
                                                   "endDateTime": "2030-02-07T09:30:00+01:00"}).json()
    assert (moved["startDateTime"], moved["endDateTime"]) == ("2030-02-07T08:00:00.5000000Z",
                                                              "2030-02-07T08:30:00.0000000Z")


def test_attendees_are_replaced_as_a_whole_list_and_the_organizer_stays(http, emulator, token, meeting):
    replaced = patch(http, emulator, token, meeting, {"participants": {"attendees": [{"upn": "guest3@fabrikam.example",
                                                                                      "role": "attendee"}]}})
    assert [a["upn"] for a in replaced.json()["participants"]["attendees"]] == ["guest3@fabrikam.example"]

    other = {"participants": {"organizer": {"identity": {"user": {"id": BOB_ID}}}}}
    assert "organizer" in assert_graph_error(patch(http, emulator, token, meeting, other), 400)["message"]
    same = {"participants": {"organizer": {"upn": ALICE_UPN.upper()}, "attendees": []}}
    assert patch(http, emulator, token, meeting, same).json()["participants"]["attendees"] == []
    assert current(http, emulator, token, meeting)["participants"]["organizer"]["identity"]["user"]["id"] == ALICE_ID


@pytest.mark.parametrize("member, value", [
    ("id", "other"), ("joinWebUrl", "https://teams.microsoft.com/l/meetup-join/x"),
    ("creationDateTime", "2030-01-01T00:00:00Z"), ("chatInfo", {"threadId": "19:x@thread.v2"}),
    ("joinInformation", {"content": "x", "contentType": "text"}), ("videoTeleconferenceId", "1"),
    ("audioConferencing", {"conferenceId": "1"}), ("externalId", "other"),
    ("joinMeetingIdSettings", {"isPasscodeRequired": True}), ("isEndToEndEncryptionEnabled", True),
    ("colour", "blue"),
])
def test_read_only_unknown_and_fixed_members_are_refused(http, emulator, token, meeting, member, value):
    response = patch(http, emulator, token, meeting, {"subject": "changed?", member: value})
    assert member in assert_graph_error(response, 400, "BadRequest")["message"]
    assert current(http, emulator, token, meeting)["subject"] == "Planning", "nothing of a refused PATCH applies"


@pytest.mark.parametrize("body", [
    {"allowedPresenters": "boss"}, {"allowedPresenters": None}, {"allowMeetingChat": True},
    {"allowMeetingChat": "readOnly"}, {"lobbyBypassSettings": {"scope": "nobody"}},
    {"lobbyBypassSettings": {"isDialInBypassEnabled": "yes"}}, {"lobbyBypassSettings": {"colour": 1}},
    {"lobbyBypassSettings": "everyone"}, {"allowRecording": "true"}, {"allowTranscription": 1},
    {"allowLiveShare": True}, {"allowedLobbyAdmitters": "everyone"}, {"watermarkProtection": {"isEnabledForVideo": 1}},
    {"meetingSpokenLanguageTag": 5}, {"subject": ["list"]}, {"recordAutomatically": None},
    {"participants": {"attendees": [{"role": "boss"}]}},
])
def test_settings_are_checked_against_the_csdl_types(http, emulator, token, meeting, body):
    assert_graph_error(patch(http, emulator, token, meeting, body), 400, "BadRequest")
    assert {k: v for k, v in current(http, emulator, token, meeting).items() if k in SETTING_DEFAULTS} == \
        SETTING_DEFAULTS


@pytest.mark.parametrize("name, value", [
    ("allowTeamworkReactions", False), ("isEntryExitAnnounced", False), ("recordAutomatically", True),
    ("allowAttendeeToEnableCamera", False), ("allowAttendeeToEnableMic", False), ("allowBreakoutRooms", False),
    ("allowPowerPointSharing", False), ("allowWhiteboard", False), ("allowCopyingAndSharingMeetingContent", False),
    ("allowParticipantsToChangeName", True), ("allowMeetingChat", "limited"), ("allowedPresenters", "organization"),
    ("lobbyBypassSettings", {"scope": "organizationAndFederated", "isDialInBypassEnabled": True}),
])
def test_each_setting_can_be_changed(http, emulator, token, meeting, name, value):
    assert patch(http, emulator, token, meeting, {name: value}).json()[name] == value
    assert current(http, emulator, token, meeting)[name] == value


def test_beta_carries_allow_live_share_as_a_boolean(http, emulator, token, meeting):
    beta = patch(http, emulator, token, meeting, {"allowLiveShare": False}, version="beta")
    assert beta.status_code == 200 and beta.json()["allowLiveShare"] is False
    validate_online_meeting(beta.json(), "beta")
    assert current(http, emulator, token, meeting)["allowLiveShare"] == "disabled"
    assert_graph_error(patch(http, emulator, token, meeting, {"allowLiveShare": "enabled"}, version="beta"), 400)


def test_role_is_presenter_needs_an_attendee_who_presents(http, emulator, token, meeting):
    alone = patch(http, emulator, token, meeting, {"allowedPresenters": "roleIsPresenter"})
    assert "presenter" in assert_graph_error(alone, 400, "BadRequest")["message"]

    together = patch(http, emulator, token, meeting, {"allowedPresenters": "roleIsPresenter",
                                                      "participants": {"attendees": [BOB_AS_PRESENTER]}})
    assert together.status_code == 200 and together.json()["allowedPresenters"] == "roleIsPresenter"
    dropping = patch(http, emulator, token, meeting, {"participants": {"attendees": [{"upn": BOB_UPN}]}})
    assert_graph_error(dropping, 400, "BadRequest")
    outsider = {"participants": {"attendees": [{"upn": "x@fabrikam.example", "role": "coorganizer"}]}}
    assert "Entra" in assert_graph_error(patch(http, emulator, token, meeting, outsider), 400)["message"]


def test_newer_lobby_scopes_need_prefer_include_unknown_enum_members(http, emulator, token, meeting):
    plain = patch(http, emulator, token, meeting, {"lobbyBypassSettings": {"scope": "invited"}})
    assert plain.json()["lobbyBypassSettings"]["scope"] == "unknownFutureValue"
    preferred = graph(http, emulator, token, "GET", f"{ALICE_MEETINGS}/{meeting['id']}",
                      headers={"Prefer": "include-unknown-enum-members"})
    assert preferred.json()["lobbyBypassSettings"]["scope"] == "invited"
    assert preferred.headers["Preference-Applied"] == "include-unknown-enum-members"


@pytest.mark.parametrize("setting", [{"allowedPresenters": "organizer"}, {"joinMeetingIdSettings":
                                                                          {"isPasscodeRequired": True}}])
def test_create_or_get_keeps_refusing_settings(http, emulator, token, setting):
    assert_graph_error(create(http, emulator, token, ALICE_ID, {"externalId": "x", **setting}), 400, "BadRequest")


def test_patch_of_a_meeting_that_is_not_the_organizers_is_404(http, emulator, token, meeting):
    assert_graph_error(patch(http, emulator, token, meeting, {"subject": "x"}, user=BOB_ID), 404, "NotFound")
    assert_graph_error(patch(http, emulator, token, {"id": "nothing"}, {"subject": "x"}), 404, "NotFound")


def test_a_setting_policy_keeps_its_value_whatever_patch_asks(http, emulator, token, meeting):
    emulator.state.online_meetings.force_setting("allowedPresenters", "everyone")

    answer = patch(http, emulator, token, meeting, {"allowedPresenters": "organizer", "subject": "Kept?"})

    assert answer.status_code == 200, "the PATCH succeeds"
    assert (answer.json()["allowedPresenters"], answer.json()["subject"]) == ("everyone", "Kept?")
    assert current(http, emulator, token, meeting)["allowedPresenters"] == "everyone"
    emulator.state.online_meetings.clear_forced_settings()
    assert patch(http, emulator, token, meeting, {"allowedPresenters": "organizer"}).json()["allowedPresenters"] == \
        "organizer"


def test_setting_policies_through_the_admin_api_per_organizer_and_on_create(http, emulator, token):
    admin = f"{emulator.url}/_emulator/setting-policies"
    forced = {"setting": "lobbyBypassSettings.scope", "value": "organizer", "organizer_id": BOB_ID}
    assert http.post(admin, json=forced, timeout=5).status_code == 201
    assert http.get(admin, timeout=5).json()["value"] == [{**forced, "organizer_id": BOB_ID.lower()}]
    body = {"externalId": "p", "subject": "S"}
    bobs = create(http, emulator, token, BOB_ID, body).json()
    alices = create(http, emulator, token, ALICE_ID, body).json()
    assert (bobs["lobbyBypassSettings"]["scope"], alices["lobbyBypassSettings"]["scope"]) == ("organizer",
                                                                                              "organization")
    changed = patch(http, emulator, token, bobs, {"lobbyBypassSettings": {"scope": "everyone",
                                                                          "isDialInBypassEnabled": True}}, user=BOB_ID)
    assert changed.json()["lobbyBypassSettings"] == {"scope": "organizer", "isDialInBypassEnabled": True}

    assert http.post(admin, json={"setting": "allowedPresenters", "value": "boss"}, timeout=5).status_code == 400
    assert http.post(admin, json={"setting": "subjectLine", "value": "x"}, timeout=5).status_code == 400
    assert http.delete(admin, json={"setting": "lobbyBypassSettings.scope"}, timeout=5).json()["value"] == []
    with pytest.raises(ValueError):
        emulator.state.online_meetings.force_setting("allowMeetingChat", True)
