"""Attendance end to end below the routes: the use cases over the real Table adapter (Azurite) and the real Graph
adapter (the emulator, over HTTPS): records that page, and collectors racing on the real table."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from localdev.emulator import (ALICE_UPN, ARTIFACT_ROLE, BOB_UPN, CAROL_UPN, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID,
                               ONLINE_MEETINGS_ROLE, GraphEmulator)
from shared.adapters import storage
from shared.adapters.graph.client import GraphClient
from shared.adapters.table.repository import TableMeetingRepository
from shared.config.artifacts import ArtifactSettings, ArtifactsMode
from shared.config.settings import StorageSettings, load_settings
from shared.domain.records import Status
from shared.domain.validation import validate_request
from shared.usecases import create_meeting
from shared.usecases.attendance import meeting_attendance
from shared.usecases.collect_attendance import collect_due_attendance, schedule_attendance
from tests.fakes import StaticTenants, StaticToken, make_deps

ON = ArtifactSettings(mode=ArtifactsMode("attendance"))
END = datetime(2030, 5, 6, 10, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = END - timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(emulator: GraphEmulator, azurite, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    emulator.state.artifacts.clear()
    table = storage.table_client(StorageSettings(connection_string=azurite.connection_string),
                                 "t" + uuid.uuid4().hex[:24])
    repository = TableMeetingRepository(table)
    repository.ensure_ready()
    token = emulator.mint_access_token(roles=(ONLINE_MEETINGS_ROLE, ARTIFACT_ROLE))
    graph = GraphClient(requests.Session(), StaticToken(token), base_url=emulator.graph_base_url,
                        api_version="v1.0", app_id=DEFAULT_CLIENT_ID)
    settings = load_settings({"AzureWebJobsStorage": azurite.connection_string, "GRAPH_TENANT_ID": DEFAULT_TENANT_ID,
                              "GRAPH_CLIENT_ID": DEFAULT_CLIENT_ID, "GRAPH_CREDENTIAL": "client_secret",
                              "GRAPH_CLIENT_SECRET": "not-used", "ALLOWED_ORGANIZERS": "@contoso.example"})
    clock = Clock()
    yield make_deps(settings, repository, graph, clock, tenants=StaticTenants()), clock
    table.delete_table()
    emulator.state.artifacts.clear()  # the session's emulator: its page size back to the default


def create(deps, external_id: str):
    body = {"organizerId": ALICE_UPN, "externalId": external_id, "startDateTime": "2030-05-06T09:00:00Z",
            "endDateTime": "2030-05-06T10:00:00Z",
            "participants": {"attendees": [{"upn": BOB_UPN, "role": "presenter"}, {"upn": CAROL_UPN}]}}
    outcome = create_meeting(deps, validate_request(body, queue=False), source="http", correlation_id="c-1",
                             final=True)
    assert outcome.status == Status.CREATED, outcome.error
    return outcome.record


def test_records_that_page_are_mapped_whole_and_reported_once(world, emulator):
    deps, clock = world
    record = create(deps, f"lesson-{uuid.uuid4()}")
    assert schedule_attendance(deps, record, artifacts=ON) is not None
    guests = [{"address": f"guest{n}@fabrikam.example"} for n in range(5)]
    emulator.state.artifacts.end_occurrence(record.meeting_id, attendees=[{"address": "bob@CONTOSO.example"}, *guests])
    emulator.state.artifacts.set_page_size(2)

    answer = meeting_attendance(deps, ALICE_UPN, record.key.external_id, mode=ON.mode)
    [report] = answer["reports"]
    assert len(report["attendees"]) == 6 and report["absentees"] == [CAROL_UPN]
    assert [a["invited"] for a in report["attendees"]] == [True] + [False] * 5

    calls = len(emulator.state.calls("list_attendance_records"))
    clock.now = END + timedelta(minutes=10)
    [outcome] = collect_due_attendance(deps, clock(), 10, artifacts=ON)
    assert outcome.result["attendance"]["reports"] == answer["reports"]
    assert len(emulator.state.calls("list_attendance_records")) - calls == 3, "six records, two a page"
    assert collect_due_attendance(deps, clock() + timedelta(days=3), 10, artifacts=ON) == []


def test_collectors_racing_on_the_table_report_each_meeting_once(world, emulator):
    deps, clock = world
    names = [f"race-{n}-{uuid.uuid4()}" for n in range(6)]
    for name in names:
        record = create(deps, name)
        schedule_attendance(deps, record, artifacts=ON)
        emulator.state.artifacts.end_occurrence(record.meeting_id, attendees=[{"address": BOB_UPN}])
    clock.now = END + timedelta(minutes=15)
    start, results, lock = threading.Barrier(4), [], threading.Lock()

    def timer():
        start.wait(5)
        outcomes = collect_due_attendance(deps, clock(), 10, artifacts=ON)
        with lock:
            results.extend(outcomes)

    threads = [threading.Thread(target=timer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o.result["externalId"] for o in results) == sorted(names)
