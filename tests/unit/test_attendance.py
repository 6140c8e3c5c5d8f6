"""Attendance and transcripts against fakes of the table and of Graph: the lookups (the key's rules, the mode, the
participants) and the collection after a meeting ends, once per occurrence whatever the timers do."""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from shared.config.artifacts import ArtifactSettings, ArtifactsMode, parse_artifacts_mode, read_artifact_settings
from shared.config.settings import load_settings
from shared.domain.errors import ArtifactAccessDenied, BrokerError, GraphThrottled
from shared.domain.meeting_request import MeetingCancel
from shared.domain.records import Status
from shared.domain.validation import validate_request
from shared.ports import DueAttendance, DueChanged
from shared.usecases import accept_meeting, cancel_meeting, create_meeting, update_meeting
from shared.domain.validation import validate_change
from shared.usecases.attendance import meeting_attendance
from shared.usecases.collect_attendance import CLAIM, collect_due_attendance, schedule_attendance
from shared.usecases.transcripts import meeting_transcripts, transcript_text
from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository, make_deps
from tests.unit.test_usecases import ENV, TENANT, Clock

ALICE = "alice@contoso.example"
ATTENDANCE = ArtifactsMode("attendance")
EVERYTHING = ArtifactsMode("attendanceAndTranscripts")
ON = ArtifactSettings(mode=ATTENDANCE)
PEOPLE = [{"upn": "Bob@Contoso.example", "role": "presenter"}, {"upn": "carol@contoso.example", "role": "attendee"}]
START, END = "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"


@pytest.fixture
def deps(repo, graph, clock):
    return make_deps(load_settings({**ENV, "CALENDAR_MODE": "enabled"}), repo, graph, clock)


def create(deps, external_id="lesson-1", **members) -> Any:
    body = {"organizerId": ALICE, "externalId": external_id, "subject": "Algebra", "startDateTime": START,
            "endDateTime": END, "participants": {"attendees": PEOPLE}, **members}
    outcome = create_meeting(deps, validate_request(body, queue=False), source="http",
                             correlation_id=f"c-{external_id}", final=True)
    assert outcome.status == Status.CREATED, outcome.error
    return outcome.record


def at(clock, moment: str, minutes: float = 0):
    from shared.domain.clock import parse_datetime

    clock.now = parse_datetime(moment) + timedelta(minutes=minutes)
    return clock.now


def collect(deps, clock, *, limit=10, artifacts=ON):
    return collect_due_attendance(deps, clock(), limit, artifacts=artifacts)


# ----------------------------------------------------------------------------------------------- GET attendance

def test_attendance_maps_each_report_against_the_participants_the_request_named(deps, graph):
    record = create(deps)
    graph.end_occurrence(record.meeting_id, "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z",
                         [("BOB@contoso.EXAMPLE", "Presenter", 3000), ("guest@fabrikam.example", "Attendee", 60)])
    graph.end_occurrence(record.meeting_id, "2026-03-08T10:00:00Z", "2026-03-08T11:00:00Z",
                         [("carol@contoso.example", "Attendee", 3600)])
    answer = meeting_attendance(deps, ALICE, "lesson-1", mode=ATTENDANCE)
    assert (answer["organizerId"], answer["externalId"], answer["tenantId"]) == (ALICE, "lesson-1", TENANT)
    newest, oldest = answer["reports"]
    assert newest["meetingStartDateTime"].startswith("2026-03-08") and newest["absentees"] == ["Bob@Contoso.example"]
    assert [(a["emailAddress"], a["invited"]) for a in oldest["attendees"]] == [
        ("BOB@contoso.EXAMPLE", True), ("guest@fabrikam.example", False)]
    assert oldest["absentees"] == ["carol@contoso.example"]
    assert graph.count("attendanceReports") == 1 and graph.count("attendanceRecords") == 2


def test_before_the_meeting_ends_there_is_no_report_yet(deps):
    create(deps)
    assert meeting_attendance(deps, ALICE, "lesson-1", mode=ATTENDANCE)["reports"] == []


def test_artifacts_off_is_refused_before_the_table_and_graph(deps, repo, graph):
    create(deps)
    calls, operations = len(repo.calls), len(graph.operations)
    with pytest.raises(BrokerError) as refused:
        meeting_attendance(deps, ALICE, "lesson-1", mode=ArtifactsMode())
    assert (refused.value.status, refused.value.code) == (403, "artifacts_disabled")
    assert "MEETING_ARTIFACTS=attendance" in refused.value.detail and "OnlineMeetingArtifact.Read.All" in \
        refused.value.detail
    assert (len(repo.calls), len(graph.operations)) == (calls, operations)


def test_the_key_must_hold_a_meeting_as_for_the_meeting_itself(deps):
    with pytest.raises(BrokerError) as unknown:
        meeting_attendance(deps, ALICE, "nobody", mode=ATTENDANCE)
    assert (unknown.value.status, unknown.value.code) == (404, "meeting_not_found")
    accept_meeting(deps, validate_request({"organizerId": ALICE, "externalId": "later"}, queue=False),
                   correlation_id="c-a")
    with pytest.raises(BrokerError) as pending:
        meeting_attendance(deps, ALICE, "later", mode=ATTENDANCE)
    assert (pending.value.status, pending.value.code) == (409, "meeting_pending")
    create(deps, "gone")
    cancel_meeting(deps, MeetingCancel(ALICE, "gone"), source="http", correlation_id="c-x")
    with pytest.raises(BrokerError) as cancelled:
        meeting_attendance(deps, ALICE, "gone", mode=ATTENDANCE)
    assert (cancelled.value.status, cancelled.value.code) == (410, "meeting_cancelled")


def test_the_permission_missing_is_told_as_graph_refused_it(deps, graph):
    create(deps)
    graph.fail_next = [ArtifactAccessDenied("needs OnlineMeetingArtifact.Read.All")]
    with pytest.raises(ArtifactAccessDenied):
        meeting_attendance(deps, ALICE, "lesson-1", mode=ATTENDANCE)


# ----------------------------------------------------------------------------------------------- transcripts

def test_a_standalone_key_has_no_transcripts_and_graph_is_not_asked(deps, graph):
    create(deps)
    before = len(graph.operations)
    with pytest.raises(BrokerError) as refused:
        meeting_transcripts(deps, ALICE, "lesson-1", mode=EVERYTHING)
    assert (refused.value.status, refused.value.code) == (409, "transcripts_need_calendar_meeting")
    assert '"calendar": true' in refused.value.detail and len(graph.operations) == before


def test_transcripts_need_the_mode_that_covers_them(deps):
    create(deps, calendar=True)
    with pytest.raises(BrokerError) as refused:
        meeting_transcripts(deps, ALICE, "lesson-1", mode=ATTENDANCE)
    assert refused.value.code == "artifacts_disabled" and "attendanceAndTranscripts" in refused.value.detail


def test_a_calendar_backed_meetings_transcripts_are_listed_and_served_by_the_broker(deps, graph):
    record = create(deps, "class/7", calendar=True)
    transcript_id = graph.add_transcript(record.meeting_id, "WEBVTT\n\n00:00.000 --> 00:05.000\n<v Bob>Hi</v>")
    listed = meeting_transcripts(deps, ALICE, "class/7", mode=EVERYTHING)
    assert listed == {"transcripts": [{"id": transcript_id, "createdDateTime": "2026-03-01T10:00:00Z",
                                       "endDateTime": "2026-03-01T10:00:00Z",
                                       "contentUrl": f"/api/meetings/{ALICE}/class%2F7/transcripts/{transcript_id}"}]}
    assert transcript_text(deps, ALICE, "class/7", transcript_id, mode=EVERYTHING).startswith("WEBVTT")
    with pytest.raises(BrokerError) as unknown:
        transcript_text(deps, ALICE, "class/7", "../other", mode=EVERYTHING)
    assert (unknown.value.status, unknown.value.code) == (404, "transcript_not_found")
    assert graph.count("transcriptContent") == 1


# ----------------------------------------------------------------------------------------------- settings

def test_the_settings_default_to_off_ten_minutes_and_48_hours_and_name_every_problem():
    settings, problems = read_artifact_settings({})
    assert (settings.mode.name, settings.delay, settings.window, problems) == (
        "off", timedelta(minutes=10), timedelta(hours=48), [])
    assert parse_artifacts_mode(" AttendanceAndTranscripts ").transcripts
    _, problems = read_artifact_settings({"MEETING_ARTIFACTS": "all", "ATTENDANCE_DELAY_MINUTES": "-1",
                                          "ATTENDANCE_WINDOW_HOURS": "1.5"})
    assert [p.split(" ")[0] for p in problems] == ["MEETING_ARTIFACTS", "ATTENDANCE_DELAY_MINUTES",
                                                   "ATTENDANCE_WINDOW_HOURS"]


# ----------------------------------------------------------------------------------------------- collection

def test_attendance_is_collected_once_after_the_end_plus_the_delay(deps, repo, graph, clock):
    record = create(deps)
    assert schedule_attendance(deps, record, artifacts=ON) is not None
    graph.end_occurrence(record.meeting_id, START, END, [("bob@contoso.example", "Presenter", 3000)])
    at(clock, END, 9)
    assert collect(deps, clock) == [] and graph.count("attendanceReports") == 0
    at(clock, END, 10)
    [outcome] = collect(deps, clock)
    result = outcome.result
    assert outcome.status == Status.ATTENDANCE and result["status"] == "attendance" and result["source"] == "timer"
    assert (result["correlationId"], result["externalId"], result["organizerId"]) == ("c-lesson-1", "lesson-1", ALICE)
    assert result["meeting"]["id"] == record.meeting_id and result["error"] is None
    [report] = result["attendance"]["reports"]
    assert [a["invited"] for a in report["attendees"]] == [True] and report["absentees"] == ["carol@contoso.example"]
    assert "attendanceUnavailable" not in result and "attendanceTruncated" not in result
    at(clock, END, 60 * 24 * 5)
    assert collect(deps, clock) == [] and repo.due == {}
    assert schedule_attendance(deps, record, artifacts=ON) is None, "an occurrence is reported once"


def test_no_report_yet_is_looked_for_again_with_growing_waits_then_unavailable(deps, repo, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ArtifactSettings(mode=ATTENDANCE, window=timedelta(hours=3)))
    artifacts = ArtifactSettings(mode=ATTENDANCE, window=timedelta(hours=3))
    looks = []
    at(clock, END, 10)
    while True:
        outcomes = collect(deps, clock, artifacts=artifacts)
        looks.append(clock())
        if outcomes:
            break
        [due] = repo.due.values()
        assert due.lease_owner is None and due.attempts == len(looks)
        clock.now = due.due_at
    [outcome] = outcomes
    assert outcome.result["attendanceUnavailable"] is True and outcome.result["attendance"]["reports"] == []
    assert [round((b - a).total_seconds() / 60) for a, b in zip(looks, looks[1:])] == [10, 20, 40, 80, 20]
    assert looks[-1] == at(clock, END, 180), "the last look is at the end plus the window"
    assert graph.count("attendanceReports") == len(looks)


def test_a_report_that_appears_on_a_later_look_is_reported_then(deps, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    at(clock, END, 10)
    assert collect(deps, clock) == []
    graph.end_occurrence(record.meeting_id, START, END, [("carol@contoso.example", "Attendee", 10)])
    at(clock, END, 20)
    [outcome] = collect(deps, clock)
    assert outcome.result["attendance"]["reports"][0]["absentees"] == ["Bob@Contoso.example"]


def test_two_collectors_that_read_the_same_rows_report_each_occurrence_once(deps, repo, graph, clock):
    for name in ("a", "b", "c"):
        record = create(deps, name)
        schedule_attendance(deps, record, artifacts=ON)
        graph.end_occurrence(record.meeting_id, START, END, [("bob@contoso.example", "Presenter", 60)])
    at(clock, END, 15)
    seen = repo.due_attendance(clock(), 10)

    class SameRead(InMemoryMeetingRepository):
        def due_attendance(self, now, limit):  # the rows as the other collector read them, before its claims
            return list(seen)

    stale = SameRead()
    stale.__dict__.update(repo.__dict__)
    first = collect(deps, clock)
    second = collect(make_deps(deps.settings, stale, graph, clock), clock)
    assert sorted(o.result["externalId"] for o in first + second) == ["a", "b", "c"]
    assert second == [] and repo.due == {}


def test_overlapping_timers_report_once_while_one_of_them_reads_graph(deps, repo, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    graph.end_occurrence(record.meeting_id, START, END, [("bob@contoso.example", "Presenter", 60)])
    at(clock, END, 15)
    inside, release = threading.Event(), threading.Event()

    class SlowGraph(FakeGraph):
        def attendance_reports(self, *args, **kwargs):
            inside.set()
            release.wait(5)
            return super().attendance_reports(*args, **kwargs)

    slow = SlowGraph()
    slow.__dict__.update(graph.__dict__)
    results: list = []
    first = threading.Thread(target=lambda: results.extend(collect(make_deps(deps.settings, repo, slow, clock),
                                                                   clock)))
    first.start()
    assert inside.wait(5)
    results.extend(collect(deps, clock))  # the second timer, while the first holds the claim
    release.set()
    first.join(5)
    assert [o.result["externalId"] for o in results] == ["lesson-1"]


class Killed(BaseException):
    """The instance dies: nothing after this point runs."""


def test_a_collector_killed_between_the_graph_read_and_the_result_leaves_one_result_in_the_end(deps, repo, graph,
                                                                                              clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    graph.end_occurrence(record.meeting_id, START, END, [("bob@contoso.example", "Presenter", 60)])

    class DiesBeforeFinishing(InMemoryMeetingRepository):
        def finish_attendance(self, due):
            raise Killed()

    dying = DiesBeforeFinishing()
    dying.__dict__ = repo.__dict__  # the same table
    at(clock, END, 15)
    with pytest.raises(Killed):
        collect(make_deps(deps.settings, dying, graph, clock), clock)
    assert graph.count("attendanceRecords") == 1, "Graph was read, no result was emitted"
    at(clock, END, 16)
    assert collect(deps, clock) == [], "the dead collector's claim holds until it expires"
    at(clock, END, 15 + CLAIM.total_seconds() / 60)
    [outcome] = collect(deps, clock)
    assert outcome.result["attendance"]["reports"][0]["attendees"][0]["invited"]
    at(clock, END, 60 * 24)
    assert collect(deps, clock) == [] and repo.due == {}


def test_a_slow_collector_whose_claim_was_taken_over_drops_its_result(deps, repo, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    graph.end_occurrence(record.meeting_id, START, END, [("bob@contoso.example", "Presenter", 60)])
    at(clock, END, 15)
    results: list = []

    class TakenOverMeanwhile(FakeGraph):
        def attendance_records(self, *args, **kwargs):
            if not results:  # while the first reads Graph, its claim expires and another collector reports
                clock.now += CLAIM + timedelta(seconds=1)
                results.extend(collect(deps, clock))
                clock.now -= CLAIM + timedelta(seconds=1)
            return super().attendance_records(*args, **kwargs)

    slow = TakenOverMeanwhile()
    slow.__dict__.update(graph.__dict__)
    late = collect(make_deps(deps.settings, repo, slow, clock), clock)
    assert late == [] and len(results) == 1


def test_a_meeting_cancelled_before_its_end_is_not_collected(deps, repo, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    at(clock, START, -30)
    cancel_meeting(deps, MeetingCancel(ALICE, "lesson-1"), source="http", correlation_id="c-cancel")
    at(clock, END, 10)
    assert collect(deps, clock) == []
    assert graph.count("attendanceReports") == 0 and repo.due == {}


def test_the_permission_missing_is_retried_until_the_window_then_reported_unavailable_with_its_error(deps, repo,
                                                                                                     graph, clock):
    record = create(deps)
    artifacts = ArtifactSettings(mode=ATTENDANCE, window=timedelta(hours=2))
    schedule_attendance(deps, record, artifacts=artifacts)
    graph.fail_next = [ArtifactAccessDenied("needs OnlineMeetingArtifact.Read.All") for _ in range(20)]
    at(clock, END, 10)
    outcomes: list = []
    while not outcomes:
        outcomes = collect(deps, clock, artifacts=artifacts)
        if not outcomes:
            [due] = repo.due.values()
            assert due.last_error["code"] == "artifact_access_denied"
            clock.now = due.due_at
    [outcome] = outcomes
    assert outcome.result["attendanceUnavailable"] is True
    assert outcome.result["error"]["code"] == "artifact_access_denied"


def test_a_throttled_look_waits_at_least_what_graph_asked(deps, repo, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    graph.fail_next = [GraphThrottled("slow down", retry_after=3600)]
    now = at(clock, END, 10)
    assert collect(deps, clock) == []
    [due] = repo.due.values()
    assert due.due_at == now + timedelta(hours=1) and due.last_error["code"] == "graph_throttled"


def test_a_meeting_moved_later_is_collected_after_its_new_end_without_asking_graph_before(deps, repo, graph, clock):
    record = create(deps)
    schedule_attendance(deps, record, artifacts=ON)
    update_meeting(deps, validate_change({"organizerId": ALICE, "externalId": "lesson-1",
                                          "startDateTime": "2026-03-01T12:00:00Z",
                                          "endDateTime": "2026-03-01T13:00:00Z"}, queue=True),
                   source="http", correlation_id="c-move")
    at(clock, END, 10)
    assert collect(deps, clock) == [] and graph.count("attendanceReports") == 0
    [due] = repo.due.values()
    assert due.due_at == at(clock, "2026-03-01T13:10:00Z") and due.attempts == 0


def test_a_run_does_bounded_work_the_rest_waits_for_the_next(deps, repo, graph, clock):
    for name in ("a", "b", "c"):
        record = create(deps, name)
        schedule_attendance(deps, record, artifacts=ON)
        graph.end_occurrence(record.meeting_id, START, END, [])
    at(clock, END, 15)
    assert len(collect(deps, clock, limit=2)) == 2
    assert len(collect(deps, clock, limit=2)) == 1


def test_a_storage_failure_with_one_row_leaves_it_for_later_and_keeps_the_others_results(deps, repo, graph, clock):
    for name in ("a", "b"):
        record = create(deps, name)
        schedule_attendance(deps, record, artifacts=ON)
        graph.end_occurrence(record.meeting_id, START, END, [])

    class FlakyFinish(InMemoryMeetingRepository):
        def finish_attendance(self, due: DueAttendance) -> None:
            if due.key.external_id == "a":
                from shared.domain.errors import StorageUnavailable
                raise StorageUnavailable("table down")
            super().finish_attendance(due)

    flaky = FlakyFinish()
    flaky.__dict__ = repo.__dict__
    at(clock, END, 15)
    assert [o.result["externalId"] for o in collect(make_deps(deps.settings, flaky, graph, clock), clock)] == ["b"]
    at(clock, END, 15 + CLAIM.total_seconds() / 60)
    assert [o.result["externalId"] for o in collect(deps, clock)] == ["a"]


def test_scheduling_races_settle_on_one_row(deps, repo, clock):
    record = create(deps)

    class RacedOnce(InMemoryMeetingRepository):
        raced = False

        def schedule_attendance(self, due):
            if not RacedOnce.raced:
                RacedOnce.raced = True
                super().schedule_attendance(due)
                raise DueChanged("a concurrent request scheduled it first")
            return super().schedule_attendance(due)

    raced = RacedOnce()
    raced.__dict__ = repo.__dict__
    scheduled = schedule_attendance(make_deps(deps.settings, raced, deps.graph, clock), record, artifacts=ON)
    assert scheduled is not None and len(repo.due) == 1


def test_a_repeat_that_adds_collect_attendance_keeps_it_on_the_record_so_a_later_move_moves_the_collection(
        repo, graph, clock):
    deps = make_deps(load_settings({**ENV, "CALENDAR_MODE": "enabled", "MEETING_ARTIFACTS": "attendance"}), repo,
                     graph, clock)
    first = create(deps)
    assert not first.collect_attendance and not repo.due
    body = {"organizerId": ALICE, "externalId": "lesson-1", "subject": "Algebra", "startDateTime": START,
            "endDateTime": END, "participants": {"attendees": PEOPLE}, "collectAttendance": True}
    again = create_meeting(deps, validate_request(body, queue=False), source="http", correlation_id="c-again",
                           final=True)
    assert again.status in (Status.EXISTING, Status.UPDATED), again.error
    assert repo.get(first.key).collect_attendance, "the record remembers what the repeat asked"
    update_meeting(deps, validate_change({"organizerId": ALICE, "externalId": "lesson-1",
                                          "startDateTime": "2026-03-01T12:00:00Z",
                                          "endDateTime": "2026-03-01T13:00:00Z"}, queue=True),
                   source="http", correlation_id="c-move")
    [due] = repo.due.values()
    assert due.due_at == at(clock, "2026-03-01T13:10:00Z"), "the time change moved the collection"
