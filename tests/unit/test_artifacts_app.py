"""The attendance and transcript routes of the function app, called the way the worker calls them, over fakes."""
from __future__ import annotations

import json
from datetime import timedelta

import azure.functions as func
import pytest

from shared import bootstrap
from shared.domain.callbacks import CallbackDelivery
from shared.domain.clock import parse_datetime
from shared.domain.errors import StorageUnavailable
from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository, StaticTenants
from tests.unit.harness import ENV, Out, call, functions, post  # noqa: F401 - the fixture
from tests.unit.test_usecases import Clock

ALICE = "alice@contoso.example"
START, END = "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"


HOOK = "https://hooks.example.com/results"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox():
    """What the container's outbox sent: (result, delivery) pairs; ``fail`` set makes the next sends fail."""
    class Outbox(list):
        fail = False

        def __call__(self, result, callback):
            if self.fail:
                raise StorageUnavailable("could not send the result (ServiceRequestError)")
            self.append((result, callback))

    return Outbox()


@pytest.fixture
def app_world(request, clock, outbox):
    mode = getattr(request, "param", "attendanceAndTranscripts")
    repo, graph = InMemoryMeetingRepository(), FakeGraph()
    env = {**ENV, "CALENDAR_MODE": "enabled", "MEETING_ARTIFACTS": mode, "CALLBACK_ALLOWED_HOSTS": "hooks.example.com",
           "CALLBACK_SIGNING_SECRETS": SECRET}
    bootstrap.use(lambda: bootstrap.build_container(env, repository=repo, graph=graph, tokens=object(),
                                                    clock=clock, requeue=lambda m, d: None, outbox=outbox,
                                                    tenants=StaticTenants({"contoso.example": ENV["GRAPH_TENANT_ID"]})))
    yield repo, graph
    bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))


def created(functions, external_id="lesson-1", **members) -> dict:
    body = {"organizerId": ALICE, "externalId": external_id, "subject": "Algebra", "startDateTime": START,
            "endDateTime": END, "participants": {"attendees": [{"upn": "bob@contoso.example"}]}, **members}
    response = call(functions, "create_meeting", post(body), results=Out(), intake=Out())
    assert response.status_code == 201, response.get_body()
    return json.loads(response.get_body())


def get(path: str, route_params: dict | None = None, params: dict | None = None) -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost" + path, route_params=route_params or {}, params=params or {},
                            body=b"")


def key(external_id="lesson-1", **more) -> dict:
    return {"organizerId": ALICE, "externalId": external_id, **more}


def test_attendance_by_path_and_by_query_after_an_occurrence_ended(functions, app_world):
    _, graph = app_world
    meeting = created(functions)
    graph.end_occurrence(meeting["id"], START, END, [("BOB@contoso.example", "Attendee", 3000),
                                                     ("guest@fabrikam.example", "Attendee", 60)])
    by_path = call(functions, "get_attendance", get("/api/meetings/x/y/attendance", route_params=key()))
    by_query = call(functions, "find_attendance", get("/api/meetings/attendance", params=key()))
    assert by_path.status_code == by_query.status_code == 200
    assert json.loads(by_path.get_body()) == json.loads(by_query.get_body())
    (report,) = json.loads(by_path.get_body())["reports"]
    assert [(a["emailAddress"], a["invited"]) for a in report["attendees"]] == [
        ("BOB@contoso.example", True), ("guest@fabrikam.example", False)]
    assert report["absentees"] == []


def test_attendance_of_an_unknown_key_is_404_and_a_missing_key_400(functions, app_world):
    response = call(functions, "get_attendance", get("/api/meetings/x/y/attendance", route_params=key("none")))
    assert response.status_code == 404 and json.loads(response.get_body())["code"] == "meeting_not_found"
    response = call(functions, "find_attendance", get("/api/meetings/attendance", params={"organizerId": ALICE}))
    assert response.status_code == 400 and json.loads(response.get_body())["errors"][0]["field"] == "externalId"


@pytest.mark.parametrize("app_world", ["off"], indirect=True)
def test_artifacts_off_is_403_naming_the_setting_before_any_graph_call(functions, app_world):
    _, graph = app_world
    created(functions)
    calls = len(graph.calls)
    for name, request in (("get_attendance", get("/a", route_params=key())),
                          ("find_transcripts", get("/t", params=key()))):
        response = call(functions, name, request)
        problem = json.loads(response.get_body())
        assert response.status_code == 403 and problem["code"] == "artifacts_disabled"
        assert "MEETING_ARTIFACTS" in problem["detail"]
    assert len(graph.calls) == calls


@pytest.mark.parametrize("app_world", ["attendance"], indirect=True)
def test_attendance_mode_does_not_cover_transcripts(functions, app_world):
    created(functions, calendar=True)
    response = call(functions, "get_transcripts", get("/t", route_params=key()))
    assert response.status_code == 403 and json.loads(response.get_body())["code"] == "artifacts_disabled"


def test_transcripts_of_a_calendar_meeting_in_both_forms_and_their_webvtt_text(functions, app_world):
    _, graph = app_world
    meeting = created(functions, "a/1", calendar=True)
    transcript_id = graph.add_transcript(meeting["id"], "WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n")
    by_path = json.loads(call(functions, "get_transcripts", get("/t", route_params=key("a/1"))).get_body())
    (item,) = by_path["transcripts"]
    assert item["contentUrl"] == f"/api/meetings/{ALICE}/a%2F1/transcripts/{transcript_id}"
    by_query = json.loads(call(functions, "find_transcripts", get("/t", params=key("a/1"))).get_body())
    assert by_query["transcripts"][0]["contentUrl"] == (
        f"/api/meetings/transcripts/{transcript_id}?organizerId=alice%40contoso.example&externalId=a%2F1")
    for name, request in (
            ("get_transcript", get("/t", route_params={**key("a/1"), "transcriptId": transcript_id})),
            ("find_transcript", get("/t", route_params={"transcriptId": transcript_id}, params=key("a/1")))):
        text = call(functions, name, request)
        assert text.status_code == 200 and text.mimetype == "text/vtt"
        assert text.get_body().decode() .startswith("WEBVTT")
    missing = call(functions, "get_transcript", get("/t", route_params={**key("a/1"), "transcriptId": "other"}))
    assert missing.status_code == 404 and json.loads(missing.get_body())["code"] == "transcript_not_found"


def test_transcripts_of_a_standalone_meeting_are_409_without_a_graph_call(functions, app_world):
    _, graph = app_world
    created(functions)
    calls = len(graph.calls)
    response = call(functions, "get_transcripts", get("/t", route_params=key()))
    problem = json.loads(response.get_body())
    assert response.status_code == 409 and problem["code"] == "transcripts_need_calendar_meeting"
    assert '"calendar": true' in problem["detail"] and len(graph.calls) == calls


# ----------------------------------------------------------------------------------------- collectAttendance, timer

def run_timer(functions, outbox) -> tuple[list, list]:
    """One run of the timer: the results and deliveries its outbox sent (the function has no output bindings)."""
    before = len(outbox)
    assert call(functions, "collect_attendance", None) is None
    sent = outbox[before:]
    return [json.loads(result) for result, _ in sent], [callback for _, callback in sent if callback is not None]


def test_the_timer_tells_one_attendance_result_after_the_end_to_the_queue_and_the_callback(functions, app_world,
                                                                                           clock, outbox):
    _, graph = app_world
    meeting = created(functions, collectAttendance=True, callbackUrl=HOOK)
    graph.end_occurrence(meeting["id"], START, END, [("bob@contoso.example", "Attendee", 3000)])
    assert run_timer(functions, outbox) == ([], []), "not due before the end plus the delay"
    clock.now = parse_datetime(END) + timedelta(minutes=10)
    assert call(functions, "collect_attendance", None) is None
    ((text, callback),) = outbox
    result = json.loads(text)
    delivery = CallbackDelivery.from_json(callback)
    assert delivery.body == text and delivery.url == HOOK, "the callback carries the result byte for byte"
    assert result["status"] == "attendance" and result["source"] == "timer"
    assert result["attendance"]["reports"][0]["attendees"][0]["invited"] is True
    assert "attendanceUnavailable" not in result
    assert run_timer(functions, outbox) == ([], []), "each occurrence is reported once"


def test_a_result_the_timer_could_not_send_is_not_finished_and_the_next_run_tells_it_with_the_same_ids(
        functions, app_world, clock, outbox):
    """The host dying after the function returned lost what output bindings were to write; the timer now sends first
    and finishes the occurrence's row after, so a run that could not send (or died before finishing) leaves the row
    to its claim's expiry, and a later run tells the result again: the same correlation id and webhook-id."""
    repo, graph = app_world
    meeting = created(functions, collectAttendance=True, callbackUrl=HOOK)
    graph.end_occurrence(meeting["id"], START, END, [("bob@contoso.example", "Attendee", 3000)])
    clock.now = parse_datetime(END) + timedelta(minutes=10)
    outbox.fail = True
    assert run_timer(functions, outbox) == ([], [])
    (due,) = repo.due.values()
    assert due.lease_owner is not None, "claimed, not finished: the result was not sent"
    outbox.fail = False
    assert run_timer(functions, outbox) == ([], []), "the claim holds until it expires"
    clock.now += timedelta(minutes=6)
    (first,), (delivery,) = run_timer(functions, outbox)
    assert first["status"] == "attendance" and not repo.due, "told, then finished"
    assert run_timer(functions, outbox) == ([], [])
    # Told, then the run died before finishing the row: the next run tells the same result again.
    (again_key,) = [created(functions, "lesson-2", collectAttendance=True, callbackUrl=HOOK)["id"]]
    graph.end_occurrence(again_key, START, END, [("bob@contoso.example", "Attendee", 60)])
    finish = repo.finish_attendance
    repo.finish_attendance = lambda claimed: (_ for _ in ()).throw(StorageUnavailable("the table failed"))
    (told,), (told_delivery,) = run_timer(functions, outbox)
    repo.finish_attendance = finish
    clock.now += timedelta(minutes=6)
    (retold,), (retold_delivery,) = run_timer(functions, outbox)
    assert retold["correlationId"] == told["correlationId"]
    assert CallbackDelivery.from_json(retold_delivery).webhook_id == CallbackDelivery.from_json(told_delivery).webhook_id
    assert CallbackDelivery.from_json(told_delivery).webhook_id.startswith("msg_attendance_")
    assert not repo.due and run_timer(functions, outbox) == ([], [])


def test_collect_attendance_with_artifacts_off_is_refused_before_any_graph_call(functions, app_world):
    _, graph = app_world
    bootstrap.use(lambda: bootstrap.build_container({**ENV, "MEETING_ARTIFACTS": "off"}, repository=app_world[0],
                                                    graph=graph, tokens=object(), requeue=lambda m, d: None,
                                                    tenants=StaticTenants({"contoso.example": ENV["GRAPH_TENANT_ID"]})))
    body = {"organizerId": ALICE, "externalId": "x-1", "collectAttendance": True}
    response = call(functions, "create_meeting", post(body), results=Out(), intake=Out())
    assert response.status_code == 403 and json.loads(response.get_body())["code"] == "artifacts_disabled"
    assert graph.calls == []


def test_collect_attendance_must_be_a_boolean(functions, app_world):
    body = {"organizerId": ALICE, "externalId": "x-2", "collectAttendance": "yes"}
    response = call(functions, "create_meeting", post(body), results=Out(), intake=Out())
    assert response.status_code == 400
    assert json.loads(response.get_body())["errors"][0]["field"] == "collectAttendance"


def test_a_time_change_moves_the_due_row_and_a_meeting_without_collect_attendance_has_none(functions, app_world):
    repo, _ = app_world
    created(functions, "plain")
    assert list(repo.due.values()) == []
    created(functions, collectAttendance=True)
    (due,) = repo.due.values()
    change = func.HttpRequest("PATCH", "http://localhost/api/meetings/x/y", route_params=key(), body=json.dumps(
        {"startDateTime": "2026-03-01T12:00:00Z", "endDateTime": "2026-03-01T13:00:00Z"}).encode())
    assert call(functions, "update_meeting", change, results=Out()).status_code == 200
    (moved,) = repo.due.values()
    assert moved.due_at - due.due_at == (moved.end - due.end) and moved.end.hour == 13


def _queued(functions, body: dict, message_id: str) -> dict:
    from azure.functions.queue import QueueMessage
    results, callbacks = Out(), Out()
    message = QueueMessage(id=message_id, body=json.dumps(body).encode(), dequeue_count=1)
    call(functions, "process_meeting_request", message, results=results, callbacks=callbacks)
    return json.loads(results.value)


def test_a_queued_attendance_request_tells_the_attendance_on_the_results_queue(functions, app_world):
    _, graph = app_world
    meeting = created(functions)
    graph.end_occurrence(meeting["id"], START, END, [("bob@contoso.example", "Attendee", 3000)])
    result = _queued(functions, {"action": "attendance", **key(), "correlationId": "ask-1"}, "m-att-1")
    assert (result["status"], result["correlationId"]) == ("attendance", "ask-1")
    (report,) = result["attendance"]["reports"]
    assert [(a["emailAddress"], a["invited"]) for a in report["attendees"]] == [("bob@contoso.example", True)]
    assert "attendanceUnavailable" not in result


def test_a_queued_attendance_request_for_an_unknown_key_or_with_stray_members_fails_naming_why(functions, app_world):
    unknown = _queued(functions, {"action": "attendance", **key("none")}, "m-att-2")
    assert (unknown["status"], unknown["error"]["code"], unknown["correlationId"]) == (
        "failed", "meeting_not_found", "m-att-2")
    stray = _queued(functions, {"action": "attendance", **key(), "subject": "x"}, "m-att-3")
    assert stray["status"] == "failed" and stray["error"]["code"] == "validation_failed"
