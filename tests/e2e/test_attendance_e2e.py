"""Attendance and transcripts end to end: the local host with MEETING_ARTIFACTS on, Azurite, real MSAL and the
emulator, whose admin route ends a meeting's occurrence with the participants a test names. The timer runs when the
test asks (``host.run_timers``), at a clock the test sets: no sleeps."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from localdev.emulator import ALICE_UPN, BOB_UPN, CAROL_UPN
from shared import bootstrap

START, END = "2027-04-01T09:00:00Z", "2027-04-01T10:00:00Z"
ATTENDANCE = "/api/meetings/{organizerId}/{externalId}/attendance"
TRANSCRIPTS = "/api/meetings/{organizerId}/{externalId}/transcripts"


@pytest.fixture
def world(make_world):
    return make_world(CALENDAR_MODE="enabled", MEETING_ARTIFACTS="attendanceAndTranscripts",
                      ATTENDANCE_DELAY_MINUTES="10")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


def create(world, external_id: str, **members) -> dict:
    body = {"organizerId": ALICE_UPN, "externalId": external_id, "subject": "Algebra", "startDateTime": START,
            "endDateTime": END, "participants": {"attendees": [{"upn": BOB_UPN}, {"upn": CAROL_UPN}]}, **members}
    response = world.post(body)
    assert response.status_code == 201, response.text
    return response.json()


def end_occurrence(world, meeting_id: str, *addresses: str) -> None:
    answer = world.http.post(f"{world.emulator.url}/_emulator/meetings/{quote(meeting_id, safe='')}/occurrences",
                             json={"start": START, "end": END, "attendees": [{"address": a} for a in addresses]},
                             timeout=10, verify=str(world.local.trust_bundle))
    assert answer.status_code == 201, answer.text


def path(template: str, external_id: str) -> str:
    return template.format(organizerId=ALICE_UPN, externalId=quote(external_id, safe=""))


def test_attendance_after_an_occurrence_ended_and_the_timer_tells_it_once(world):
    external_id = unique("lesson")
    meeting = create(world, external_id, collectAttendance=True)
    world.results()  # the create's own result
    end_occurrence(world, meeting["id"], ALICE_UPN, BOB_UPN.upper(), "guest@fabrikam.example")

    answer = world.call("GET", ATTENDANCE, path(ATTENDANCE, external_id))
    assert answer.status_code == 200, answer.text
    (report,) = answer.json()["reports"]
    invited = {a["emailAddress"].lower(): a["invited"] for a in report["attendees"]}
    assert invited[BOB_UPN.lower()] is True and invited["guest@fabrikam.example"] is False
    assert report["absentees"] == [CAROL_UPN]

    world.host.run_timers()
    assert world.results() == [], "not due before the end plus the delay"
    later = datetime(2027, 4, 1, 10, 11, tzinfo=timezone.utc)
    bootstrap.use(lambda: bootstrap.build_container(world.env, sleep=world.sleeps.append, clock=lambda: later))
    assert world.host.run_timers() == 0, "no output binding: the timer sends its result itself, then finishes the row"
    (result,) = world.results()
    assert result["status"] == "attendance" and result["externalId"] == external_id
    assert result["attendance"]["reports"][0]["absentees"] == [CAROL_UPN]
    assert world.host.run_timers() == 0 and world.results() == [], "reported once"


def test_transcripts_of_a_calendar_meeting_and_409_for_a_standalone_key(world):
    calendar_key, standalone_key = unique("cal"), unique("standalone")
    meeting = create(world, calendar_key, calendar=True)
    world.emulator.state.artifacts.end_occurrence(meeting["id"], attendees=[{"address": BOB_UPN}], transcript=True)
    listed = world.call("GET", TRANSCRIPTS, path(TRANSCRIPTS, calendar_key))
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["transcripts"]
    text = world.http.get(world.host.base_url + item["contentUrl"], timeout=30)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/vtt")
    assert text.text.startswith("WEBVTT") and "Hello from" in text.text

    create(world, standalone_key)
    refused = world.call("GET", TRANSCRIPTS, path(TRANSCRIPTS, standalone_key))
    assert refused.status_code == 409 and refused.json()["code"] == "transcripts_need_calendar_meeting"


def test_artifacts_off_answers_403_naming_the_setting(make_world):
    world = make_world(MEETING_ARTIFACTS="off")
    external_id = unique("off")
    create(world, external_id)
    refused = world.call("GET", ATTENDANCE, path(ATTENDANCE, external_id))
    assert refused.status_code == 403 and refused.json()["code"] == "artifacts_disabled"
    assert "MEETING_ARTIFACTS" in refused.json()["detail"]
