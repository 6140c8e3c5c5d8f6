"""Meeting artifacts in the Graph emulator, over real HTTPS with real tokens: attendance reports (listed without their
records, a report with them on $expand, records paged), transcripts of calendar-backed meetings (paged in OData key
syntax, the WebVTT content), Graph's errors for the rest, and the admin route that ends an occurrence."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from localdev.emulator import (ALICE_ID, ALICE_UPN, ARTIFACT_ROLE, BOB_ID, BOB_UPN, CAROL_UPN, DEFAULT_CLIENT_ID,
                               DEFAULT_TENANT_ID, ONLINE_MEETINGS_ROLE, TRANSCRIPT_ROLE)
from tests.integration.emulator_support import DATETIME_7, assert_graph_error, create, graph

GUEST = "Guest@Fabrikam.example"
ROLES = (ONLINE_MEETINGS_ROLE, ARTIFACT_ROLE, TRANSCRIPT_ROLE)


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


@pytest.fixture
def reader(emulator):
    """A token of the seeded app holding the artifact permissions as well."""
    return emulator.mint_access_token(roles=ROLES)


def standalone(http, emulator, token, external_id="lesson-1"):
    body = {"externalId": external_id, "startDateTime": "2030-05-06T09:00:00Z", "endDateTime": "2030-05-06T10:00:00Z",
            "participants": {"attendees": [{"upn": BOB_UPN, "role": "presenter"}, {"upn": CAROL_UPN}]}}
    response = create(http, emulator, token, ALICE_ID, body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def calendar_backed(http, emulator, token):
    event = {"subject": "Algebra", "start": {"dateTime": "2030-05-06T09:00:00", "timeZone": "UTC"},
             "end": {"dateTime": "2030-05-06T10:00:00", "timeZone": "UTC"}, "isOnlineMeeting": True,
             "onlineMeetingProvider": "teamsForBusiness",
             "attendees": [{"emailAddress": {"address": BOB_UPN}, "type": "required"}]}
    response = graph(http, emulator, emulator.mint_access_token(roles=("Calendars.ReadWrite",)), "POST",
                     f"/users/{ALICE_UPN}/events", json=event)
    assert response.status_code == 201, response.text
    join_url = response.json()["onlineMeeting"]["joinUrl"]
    [meeting] = emulator.state.online_meetings.meetings_with_join_url(DEFAULT_TENANT_ID, ALICE_ID, join_url)
    return meeting.id


def artifacts(meeting_id: str, tail: str = "attendanceReports", user: str = ALICE_ID) -> str:
    return f"/users/{user}/onlineMeetings/{quote(meeting_id, safe='')}/{tail}"


def every_page(http, emulator, token, path):
    """Follow @odata.nextLink as a client does; the items and the pages read."""
    response = graph(http, emulator, token, "GET", path)
    items, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body, pages = response.json(), pages + 1
        items += body["value"]
        if "@odata.nextLink" not in body:
            return items, pages
        response = http.get(body["@odata.nextLink"], headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_an_occurrence_ended_through_the_admin_route_gives_a_report_listed_without_its_records(http, emulator,
                                                                                              reader):
    meeting_id = standalone(http, emulator, reader)
    first = http.post(f"{emulator.url}/_emulator/meetings/{meeting_id}/occurrences", json={
        "start": "2030-05-06T09:00:00Z", "end": "2030-05-06T10:00:00Z",
        "attendees": [{"address": ALICE_UPN}, {"address": "BOB@contoso.example", "intervals": [
            {"join": "2030-05-06T09:05:00Z", "leave": "2030-05-06T09:20:00Z"},
            {"join": "2030-05-06T09:30:00Z", "leave": "2030-05-06T10:00:00Z"}]}, {"address": GUEST}]}, timeout=10)
    assert first.status_code == 201, first.text
    report = first.json()
    by_address = {record["emailAddress"]: record for record in report["attendanceRecords"]}
    assert by_address[ALICE_UPN]["role"] == "Organizer" and by_address[ALICE_UPN]["identity"]["id"] == ALICE_ID
    bob = by_address["BOB@contoso.example"]
    assert bob["role"] == "Presenter" and bob["identity"]["id"] == BOB_ID
    assert bob["totalAttendanceInSeconds"] == 45 * 60
    assert [i["durationInSeconds"] for i in bob["attendanceIntervals"]] == [15 * 60, 30 * 60]
    assert by_address[GUEST]["identity"]["id"] is None and by_address[GUEST]["role"] == "Attendee"
    emulator.state.artifacts.end_occurrence(meeting_id, start="2030-05-13T09:00:00Z", end="2030-05-13T09:30:00Z")

    listed = graph(http, emulator, reader, "GET", artifacts(meeting_id))
    assert listed.status_code == 200, listed.text
    reports = listed.json()["value"]
    assert [r["meetingStartDateTime"][:10] for r in reports] == ["2030-05-13", "2030-05-06"], "newest first"
    assert all(r["attendanceRecords"] == [] for r in reports), "the list returns the records empty"
    assert reports[1] == {"id": report["id"], "totalParticipantCount": 3, "attendanceRecords": [],
                          "meetingStartDateTime": "2030-05-06T09:00:00.0000000Z",
                          "meetingEndDateTime": "2030-05-06T10:00:00.0000000Z"}
    assert listed.json()["@odata.context"].endswith(f"/onlineMeetings('{meeting_id}')/attendanceReports")


def test_a_report_carries_its_records_only_on_expand_and_records_page_at_the_page_size(http, emulator, reader):
    meeting_id = standalone(http, emulator, reader)
    people = [{"address": f"student{n}@fabrikam.example"} for n in range(7)]
    report_id = emulator.state.artifacts.end_occurrence(meeting_id, attendees=people)["id"]
    one = graph(http, emulator, reader, "GET", artifacts(meeting_id, f"attendanceReports/{report_id}"))
    assert one.status_code == 200 and "attendanceRecords" not in one.json()
    expanded = graph(http, emulator, reader, "GET", artifacts(meeting_id, f"attendanceReports/{report_id}"),
                     params={"$expand": "attendanceRecords"})
    assert len(expanded.json()["attendanceRecords"]) == 7

    emulator.state.artifacts.set_page_size(3)
    records, pages = every_page(http, emulator, reader,
                                artifacts(meeting_id, f"attendanceReports/{report_id}/attendanceRecords"))
    assert pages == 3 and [r["emailAddress"] for r in records] == [p["address"] for p in people]
    assert all(re.fullmatch(DATETIME_7, i["joinDateTime"]) for r in records for i in r["attendanceIntervals"])
    assert len(emulator.state.calls("list_attendance_records")) == 3


def test_transcripts_of_a_calendar_backed_meeting_page_in_key_syntax_and_their_content_is_webvtt(http, emulator,
                                                                                              reader):
    meeting_id = calendar_backed(http, emulator, reader)
    for day in ("06", "13", "20"):
        emulator.state.artifacts.end_occurrence(meeting_id, start=f"2030-05-{day}T09:00:00Z",
                                                end=f"2030-05-{day}T10:00:00Z", attendees=[{"address": BOB_UPN}],
                                                transcript=True)
    emulator.state.artifacts.set_page_size(2)
    first = graph(http, emulator, reader, "GET", artifacts(meeting_id, "transcripts")).json()
    assert f"/users('{ALICE_ID}')/onlineMeetings('{meeting_id}')/transcripts?$skiptoken=2" in first["@odata.nextLink"]
    items, pages = every_page(http, emulator, reader, artifacts(meeting_id, "transcripts"))
    assert pages == 2 and [t["endDateTime"][:10] for t in items] == ["2030-05-20", "2030-05-13", "2030-05-06"]
    assert items[0]["meetingOrganizer"]["user"]["id"] == ALICE_ID

    content = graph(http, emulator, reader, "GET", artifacts(meeting_id, f"transcripts/{items[0]['id']}/content"))
    assert content.status_code == 200 and content.headers["Content-Type"] == "text/vtt"
    assert content.text.startswith("WEBVTT") and "<v Bob Example>" in content.text
    assert http.get(items[0]["transcriptContentUrl"], headers={"Authorization": f"Bearer {reader}"},
                    timeout=10).text == content.text


def test_a_standalone_meeting_has_no_transcripts_in_graph(http, emulator, reader):
    meeting_id = standalone(http, emulator, reader)
    emulator.state.artifacts.end_occurrence(meeting_id, transcript="WEBVTT\n")
    error = assert_graph_error(graph(http, emulator, reader, "GET", artifacts(meeting_id, "transcripts")), 400,
                               "BadRequest")
    assert "calendar backed" in error["message"]


@pytest.mark.parametrize("tail, role", [("attendanceReports", ARTIFACT_ROLE), ("transcripts", TRANSCRIPT_ROLE)])
def test_an_app_only_call_without_the_permission_is_forbidden(http, emulator, reader, tail, role):
    meeting_id = calendar_backed(http, emulator, reader)
    without = emulator.mint_access_token(roles=tuple(r for r in ROLES if r != role))
    error = assert_graph_error(graph(http, emulator, without, "GET", artifacts(meeting_id, tail)), 403, "Forbidden")
    assert role in error["message"]


def test_without_the_organizers_access_policy_the_answer_is_graphs_general_403(http, emulator, reader):
    meeting_id = standalone(http, emulator, reader)
    emulator.state.directory.revoke_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, ALICE_ID)
    error = assert_graph_error(graph(http, emulator, reader, "GET", artifacts(meeting_id)), 403, "General")
    assert "application access policy" in error["message"]


def test_another_organizers_meeting_an_unknown_report_and_an_unknown_meeting_are_not_found(http, emulator, reader):
    meeting_id = standalone(http, emulator, reader)
    assert_graph_error(graph(http, emulator, reader, "GET", artifacts(meeting_id, user=BOB_ID)), 404, "NotFound")
    assert_graph_error(graph(http, emulator, reader, "GET", artifacts(meeting_id, "attendanceReports/nope")), 404)
    assert_graph_error(graph(http, emulator, reader, "GET", artifacts("MSnope")), 404)
    assert_graph_error(graph(http, emulator, reader, "POST", artifacts(meeting_id)), 405)


def test_the_admin_route_refuses_an_unknown_meeting_and_shows_the_artifacts(http, emulator, reader):
    meeting_id = standalone(http, emulator, reader)
    unknown = http.post(f"{emulator.url}/_emulator/meetings/MSnope/occurrences", json={}, timeout=10)
    assert unknown.status_code == 400 and "no meeting" in unknown.json()["error"]
    backwards = http.post(f"{emulator.url}/_emulator/meetings/{meeting_id}/occurrences",
                          json={"start": "2030-05-06T10:00:00Z", "end": "2030-05-06T09:00:00Z"}, timeout=10)
    assert backwards.status_code == 400
    assert http.post(f"{emulator.url}/_emulator/artifacts", json={"page_size": 5}, timeout=10).json()["page_size"] == 5
    http.post(f"{emulator.url}/_emulator/meetings/{meeting_id}/occurrences", json={}, timeout=10)
    shown = http.get(f"{emulator.url}/_emulator/artifacts", timeout=10).json()
    assert len(shown["reports"][meeting_id]) == 1 and shown["transcripts"] == {}
    emulator.state.reset()
    assert emulator.state.artifacts.summary() == {"page_size": 50, "reports": {}, "transcripts": {}}
