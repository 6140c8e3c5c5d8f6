"""Meetings as desired state, end to end: the local host, Azurite, real MSAL, and the emulator's Graph (which records
every call, so each test counts exactly what Graph was asked)."""
from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import unquote

import requests

from localdev.emulator import ALICE_ID, ALICE_UPN


def meeting_calls(world, endpoint: str, meeting_id: str | None = None) -> list[dict]:
    return world.emulator.state.calls(endpoint, meeting_id=meeting_id, organizer=ALICE_ID)


def test_options_follow_createorget_in_one_patch_of_only_what_differs(world):
    body = {"organizerId": ALICE_UPN, "externalId": "options-1", "allowMeetingChat": "disabled",
            "allowTeamworkReactions": True, "lobbyBypassSettings": {"scope": "organizer"}}
    created = world.post(body)
    assert created.status_code == 201 and created.json()["allowMeetingChat"] == "disabled"
    (patch,) = meeting_calls(world, "update_meeting", created.json()["id"])
    assert set(patch["body"]) == {"allowMeetingChat", "lobbyBypassSettings"}, "allowTeamworkReactions already was"
    assert patch["body"]["lobbyBypassSettings"]["scope"] == "organizer"
    assert created.headers["ETag"] and world.get(created.headers["Location"]).headers["ETag"] == created.headers["ETag"]
    assert world.post(body).status_code == 200 and len(meeting_calls(world, "update_meeting", created.json()["id"])) == 1


def test_an_option_a_tenant_policy_overrules_is_reported_in_the_answer_and_the_result(world):
    world.emulator.state.online_meetings.force_setting("allowedPresenters", "everyone")
    try:
        answer = world.post({"organizerId": ALICE_UPN, "externalId": "policy-1", "allowedPresenters": "organizer"})
    finally:
        world.emulator.state.online_meetings.clear_forced_settings()
    assert answer.status_code == 201 and answer.json()["settingsNotApplied"] == ["allowedPresenters"]
    (result,) = world.results()
    assert result["settingsNotApplied"] == ["allowedPresenters"]


def test_a_passcode_meeting_is_made_by_plain_create_with_its_join_information_in_the_asked_language(world):
    body = {"organizerId": ALICE_UPN, "externalId": "exam-1", "subject": "Exam",
            "joinMeetingIdSettings": {"isPasscodeRequired": True}}
    created = world.post(body, headers={"Accept-Language": "de-DE"})
    meeting = created.json()
    assert created.status_code == 201 and meeting["joinMeetingIdSettings"]["passcode"]
    assert "Jetzt an der Besprechung teilnehmen" in unquote(meeting["joinInformation"]["content"])
    (create,) = meeting_calls(world, "create_meeting", meeting["id"])
    assert create["accept_language"] == "de-DE" and create["body"]["joinMeetingIdSettings"] == {
        "isPasscodeRequired": True}
    assert meeting_calls(world, "create_or_get") == [] or all(
        call["body"]["externalId"] != "exam-1" for call in meeting_calls(world, "create_or_get"))
    (result,) = world.results()
    assert result["meeting"]["isPasscodeRequired"] is True and "passcode" not in str(result)


def test_twenty_concurrent_identical_passcode_requests_make_one_graph_create_and_get_one_meeting(world):
    body = {"organizerId": ALICE_ID, "externalId": "exam-burst", "joinMeetingIdSettings": {"isPasscodeRequired": True}}
    start, answers = threading.Barrier(20), []

    def one() -> None:
        http = requests.Session()
        http.trust_env = False
        start.wait()
        for _ in range(500):  # a client retries what the broker calls retryable (request_in_progress)
            answer = http.post(world.host.base_url + "/api/meetings", json=body, timeout=60)
            if answer.status_code != 409:
                break
            assert answer.json()["code"] == "request_in_progress" and answer.headers["Retry-After"]
        answers.append(answer)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(answer.status_code for answer in answers) == {201: 1, 200: 19}
    assert len({answer.json()["id"] for answer in answers}) == 1
    creates = [call for call in meeting_calls(world, "create_meeting") if call["body"].get("externalId") == "exam-burst"]
    assert len(creates) == 1


def test_a_repeat_with_a_new_subject_sends_one_patch_with_only_the_subject(world):
    body = {"organizerId": ALICE_UPN, "externalId": "repeat-1", "subject": "Intro",
            "startDateTime": "2027-03-01T09:00:00Z"}
    meeting_id = world.post(body).json()["id"]
    changed = world.post({**body, "subject": "Intro (moved room)"})
    assert changed.status_code == 200 and changed.json()["subject"] == "Intro (moved room)"
    (patch,) = meeting_calls(world, "update_meeting", meeting_id)
    assert patch["body"] == {"subject": "Intro (moved room)"}
    assert [r["status"] for r in world.results()] == ["created", "updated"]


def test_patch_changes_a_meeting_and_if_match_stops_a_second_editor(world):
    created = world.post({"organizerId": ALICE_UPN, "externalId": "edit-1", "subject": "Draft"})
    path, etag = created.headers["Location"], created.headers["ETag"]
    first = world.call("PATCH", "/api/meetings/{organizerId}/{externalId}", path, json={"subject": "Final"},
                       headers={"If-Match": etag})
    assert first.status_code == 200 and first.json()["subject"] == "Final" and first.headers["ETag"] != etag
    second = world.call("PATCH", "/api/meetings/{organizerId}/{externalId}", path, json={"subject": "Mine"},
                        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"})
    assert (second.status_code, second.json()["code"]) == (412, "precondition_failed")
    assert world.get(path).json()["subject"] == "Final"
    times = world.call("PATCH", "/api/meetings/{organizerId}/{externalId}", path,
                       json={"startDateTime": "2027-04-01T10:00:00Z"})
    assert (times.status_code, times.json()["errors"][0]["field"]) == (400, "endDateTime")
    unknown = world.call("PATCH", "/api/meetings", "/api/meetings?organizerId=alice%40contoso.example&externalId=none",
                         json={"subject": "x"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "meeting_not_found")


def test_an_update_through_the_queue_yields_one_updated_result(world):
    world.post({"organizerId": ALICE_UPN, "externalId": "queued-edit", "subject": "Old"})
    world.results()
    world.send({"action": "update", "organizerId": ALICE_UPN, "externalId": "queued-edit", "subject": "New",
                "correlationId": "edit-42"})
    world.host.drain()
    (result,) = world.results()
    assert (result["status"], result["correlationId"], result["meeting"]["subject"]) == ("updated", "edit-42", "New")
