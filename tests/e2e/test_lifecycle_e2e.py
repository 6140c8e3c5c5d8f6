"""The rest of a meeting's life, end to end: cancel and lock, tombstones, lookups by join link and the quota, through
the local host, Azurite and the emulator's Graph."""
from __future__ import annotations

from urllib.parse import quote

from localdev.emulator import ALICE_ID, ALICE_UPN

KEY_PATH = "/api/meetings/{organizerId}/{externalId}"


def test_delete_answers_204_twice_leaves_a_tombstone_and_the_key_stays_cancelled(world):
    created = world.post({"organizerId": ALICE_UPN, "externalId": "course-1", "subject": "Course"})
    path, meeting = created.headers["Location"], created.json()
    first = world.call("DELETE", KEY_PATH, path)
    assert first.status_code == 204 and not first.content
    assert world.emulator.state.online_meetings.find_meeting(meeting["id"]) is None, "deleted in Graph"
    deletes = len(world.emulator.state.calls("delete_meeting"))
    assert world.call("DELETE", KEY_PATH, path).status_code == 204
    assert len(world.emulator.state.calls("delete_meeting")) == deletes, "the second DELETE calls nobody"
    gone = world.get(path)
    assert (gone.status_code, gone.json()["code"]) == (410, "meeting_cancelled") and gone.json()["cancelledAt"]
    again = world.post({"organizerId": ALICE_UPN, "externalId": "course-1", "subject": "Course"})
    assert (again.status_code, again.json()["code"], again.json()["retryable"]) == (409, "meeting_cancelled", False)
    patched = world.call("PATCH", KEY_PATH, path, json={"subject": "x"})
    assert (patched.status_code, patched.json()["code"]) == (410, "meeting_cancelled")
    statuses = [result["status"] for result in world.results()]
    assert statuses == ["created", "cancelled", "cancelled", "failed", "failed"]


def test_lock_keeps_the_meeting_but_closes_lobby_and_chat(world):
    created = world.post({"organizerId": ALICE_UPN, "externalId": "course-2"})
    path = created.headers["Location"]
    locked = world.call("DELETE", KEY_PATH, path + "?mode=lock")
    assert locked.status_code == 200 and locked.json()["allowMeetingChat"] == "disabled"
    assert locked.json()["lobbyBypassSettings"] == {"scope": "organizer", "isDialInBypassEnabled": False}
    assert world.get(path).status_code == 200
    unknown = world.call("DELETE", "/api/meetings", "/api/meetings?organizerId=alice%40contoso.example&externalId=no")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "meeting_not_found")


def test_a_meeting_is_found_from_the_join_link_a_person_pastes(world):
    meeting = world.post({"organizerId": ALICE_UPN, "externalId": "course-3"}).json()
    url = meeting["joinWebUrl"]
    pasted = url.replace("%3a", ":").replace("%40", "@")  # as a browser shows it
    by_url = world.get("/api/meetings?joinWebUrl=" + quote(pasted, safe=""))
    assert by_url.status_code == 200 and by_url.json()["id"] == meeting["id"]
    join_id = meeting["joinMeetingIdSettings"]["joinMeetingId"]
    assert world.get(f"/api/meetings?joinMeetingId={join_id}").json()["id"] == meeting["id"]
    assert world.get("/api/meetings?joinMeetingId=99999999999").status_code == 404
    bad = world.get("/api/meetings?joinMeetingId=12ab")
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (400, "joinMeetingId")


def test_the_quota_is_enforced_and_answered(make_world):
    world = make_world(MONTHLY_MEETING_LIMIT="2")
    for index in range(2):
        assert world.post({"organizerId": ALICE_ID, "externalId": f"q-{index}"}).status_code == 201
    creates = len(world.emulator.state.calls("create_or_get"))
    refused = world.post({"organizerId": ALICE_ID, "externalId": "q-2"})
    assert (refused.status_code, refused.json()["code"]) == (429, "organizer_quota_exceeded")
    assert int(refused.headers["Retry-After"]) > 0 and len(world.emulator.state.calls("create_or_get")) == creates
    figures = world.call("GET", "/api/organizers/{organizerId}/quota", f"/api/organizers/{ALICE_ID}/quota").json()
    assert (figures["used"], figures["limit"], figures["remaining"]) == (2, 2, 0)


def test_cancel_and_lock_through_the_queue_yield_one_result_each(world):
    world.post({"organizerId": ALICE_UPN, "externalId": "queued-1"})
    world.post({"organizerId": ALICE_UPN, "externalId": "queued-2"})
    world.results()
    world.send({"action": "cancel", "organizerId": ALICE_UPN, "externalId": "queued-1", "correlationId": "del-1"})
    world.send({"action": "cancel", "mode": "lock", "organizerId": ALICE_UPN, "externalId": "queued-2",
                "correlationId": "lock-1"})
    world.host.drain()
    results = {result["correlationId"]: result["status"] for result in world.results()}
    assert results == {"del-1": "cancelled", "lock-1": "locked"}
