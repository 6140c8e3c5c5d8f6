"""The Graph adapter's meeting artifacts against the emulator over real HTTPS: lists read to their last page (however
Graph spells the next one), the WebVTT text, and each 403 read by what it means."""
from __future__ import annotations

import uuid

import pytest
import requests

from localdev.emulator import (ALICE_ID, ALICE_UPN, ARTIFACT_ROLE, BOB_UPN, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID,
                               ONLINE_MEETINGS_ROLE, TRANSCRIPT_ROLE)
from shared.adapters.graph.client import GraphClient, RetryPolicy
from shared.domain.errors import AccessPolicyMissing, ArtifactAccessDenied, GraphUnavailable, MeetingGone
from tests.fakes import StaticToken

ROLES = (ONLINE_MEETINGS_ROLE, ARTIFACT_ROLE, TRANSCRIPT_ROLE, "Calendars.ReadWrite")


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


@pytest.fixture
def sleeps():
    return []


def client_with(emulator, sleeps, roles=ROLES) -> GraphClient:
    return GraphClient(requests.Session(), StaticToken(emulator.mint_access_token(roles=roles)),
                       base_url=emulator.graph_base_url, api_version="v1.0", app_id=DEFAULT_CLIENT_ID,
                       sleep=sleeps.append, jitter=lambda: 0.5, policy=RetryPolicy(read_timeout=2))


@pytest.fixture
def client(emulator, sleeps):
    return client_with(emulator, sleeps)


def standalone(client) -> str:
    return client.create_or_get(DEFAULT_TENANT_ID, ALICE_ID, {"externalId": f"a-{uuid.uuid4()}"},
                                correlation_id="test").meeting["id"]


def calendar_backed(client, emulator) -> str:
    event = client.create_event(DEFAULT_TENANT_ID, ALICE_UPN, {
        "subject": "Algebra", "start": {"dateTime": "2030-05-06T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-05-06T10:00:00", "timeZone": "UTC"}, "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness"}, correlation_id="test")
    [meeting] = emulator.state.online_meetings.meetings_with_join_url(DEFAULT_TENANT_ID, ALICE_ID,
                                                                      event["onlineMeeting"]["joinUrl"])
    return meeting.id


def test_records_that_page_are_read_to_the_last_page(client, emulator):
    meeting_id = standalone(client)
    people = [{"address": f"student{n}@fabrikam.example"} for n in range(7)]
    report = emulator.state.artifacts.end_occurrence(meeting_id, attendees=people)
    emulator.state.artifacts.set_page_size(3)
    [listed] = client.attendance_reports(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")
    assert listed["id"] == report["id"] and listed["attendanceRecords"] == []
    records = client.attendance_records(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, report["id"], correlation_id="test")
    assert [r["emailAddress"] for r in records] == [p["address"] for p in people]
    calls = emulator.state.calls("list_attendance_records")
    assert len(calls) == 3 and [c["query"] for c in calls] == ["", "$skiptoken=3", "$skiptoken=6"]


def test_a_next_page_in_odata_key_syntax_is_followed_verbatim(client, emulator):
    meeting_id = calendar_backed(client, emulator)
    for day in ("06", "13", "20"):
        emulator.state.artifacts.end_occurrence(meeting_id, start=f"2030-05-{day}T09:00:00Z",
                                                end=f"2030-05-{day}T10:00:00Z", transcript=f"WEBVTT\n\n{day}")
    emulator.state.artifacts.set_page_size(2)
    items = client.transcripts(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")
    assert len(items) == 3
    assert emulator.state.calls("list_transcripts")[1]["path"].startswith(f"/v1.0/users('{ALICE_ID}')/")
    text = client.transcript_content(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, items[0]["id"], correlation_id="test")
    assert text == "WEBVTT\n\n20"


def test_a_throttled_page_is_retried_and_the_list_still_complete(client, emulator, sleeps):
    meeting_id = standalone(client)
    report = emulator.state.artifacts.end_occurrence(meeting_id, attendees=[{"address": BOB_UPN}] * 4)
    emulator.state.artifacts.set_page_size(2)
    client.attendance_reports(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")
    emulator.state.inject("graph", 429, retry_after="1")
    records = client.attendance_records(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, report["id"], correlation_id="t")
    assert len(records) == 4 and sleeps == [1.0]


def test_a_next_page_outside_graph_is_not_followed(client, emulator):
    meeting_id = standalone(client)
    emulator.state.inject("graph", 200, body='{"value": [], "@odata.nextLink": "https://attacker.example/v1.0/x"}')
    with pytest.raises(GraphUnavailable, match="next page outside"):
        client.attendance_reports(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")


@pytest.mark.parametrize("lacking, permission", [(ARTIFACT_ROLE, "OnlineMeetingArtifact.Read.All"),
                                                  (TRANSCRIPT_ROLE, "OnlineMeetingTranscript.Read.All")])
def test_the_permission_missing_is_artifact_access_denied_naming_it(client, emulator, sleeps, lacking, permission):
    meeting_id = calendar_backed(client, emulator)
    limited = client_with(emulator, sleeps, roles=tuple(r for r in ROLES if r != lacking))
    read = limited.attendance_reports if lacking == ARTIFACT_ROLE else limited.transcripts
    with pytest.raises(ArtifactAccessDenied) as denied:
        read(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")
    assert denied.value.extra["permission"] == permission and permission in denied.value.detail
    assert sleeps == [], "a 403 is not retried"


def test_the_access_policy_missing_answers_as_for_creates(client, emulator):
    meeting_id = standalone(client)
    emulator.state.directory.revoke_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, ALICE_ID)
    with pytest.raises(AccessPolicyMissing):
        client.attendance_reports(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")


def test_a_meeting_deleted_in_graph_is_gone(client, emulator):
    meeting_id = standalone(client)
    client.delete(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")
    with pytest.raises(MeetingGone):
        client.attendance_reports(DEFAULT_TENANT_ID, ALICE_ID, meeting_id, correlation_id="test")
