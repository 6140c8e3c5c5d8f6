"""The OpenAPI document stays true to the app: every route, method and status code."""
from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

import shared.domain.errors as errors
from shared.entrypoints.openapi import document

# Answered only by the attendance and transcripts routes (never by a create, a change or a replayed lookup).
ARTIFACT_ERRORS = (errors.ArtifactsDisabled, errors.ArtifactAccessDenied, errors.TranscriptsNeedCalendarMeeting,
                   errors.TranscriptNotFound)


def _error_classes():
    pending = [errors.BrokerError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls not in (errors.BrokerError, errors.RecordedFailure):
            yield cls


@pytest.fixture(scope="module")
def app_routes():
    import importlib.util
    from pathlib import Path

    # A private instance of the app: get_functions() may be called once per FunctionApp instance.
    spec = importlib.util.spec_from_file_location("function_app_openapi_check",
                                                  Path(__file__).resolve().parents[2] / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    routes = set()
    for function in module.app.get_functions():
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                for method in binding["methods"]:
                    routes.add((method.lower(), "/api/" + binding["route"]))
    return routes


def test_the_document_is_valid_openapi_3_1():
    validate(document())


def test_every_route_and_method_of_the_app_is_documented_and_nothing_else(app_routes):
    documented = {(method, path) for path, item in document()["paths"].items() for method in item}
    assert documented == app_routes


def test_every_error_the_create_operation_can_answer_is_documented():
    responses = document()["paths"]["/api/meetings"]["post"]["responses"]
    lookup_only = {errors.MeetingNotFound, errors.RetriesExhausted, errors.MeetingPending,
                   errors.PreconditionFailed}  # MeetingCancelled answers a POST with 409, documented there
    missing = {cls.__name__: cls.status for cls in _error_classes()
               if cls not in lookup_only and str(cls.status) not in responses}
    assert missing == {}
    assert {"200", "201", "202"} <= set(responses)


@pytest.mark.parametrize("path", ["/api/meetings/{organizerId}/{externalId}", "/api/meetings"])
def test_lookups_document_every_status_a_recorded_failure_can_replay(path):
    responses = document()["paths"][path]["get"]["responses"]
    # Refused before anything is stored, so never replayed by a lookup.
    never_recorded = {errors.ConcurrentUpdate, errors.PayloadTooLarge, errors.UnsupportedMediaType,
                      errors.MalformedJson, errors.RequestInProgress, errors.PasscodeSettingImmutable,
                      errors.PreconditionFailed, errors.MeetingPending, errors.MeetingGone,
                      errors.OrganizerQuotaExceeded, errors.MeetingKindDiffers,
                      errors.ChangeInProgress, errors.MeetingCreateFailed, errors.CallbackNotAllowed,
                      errors.SignatureInvalid, *ARTIFACT_ERRORS}
    missing = {cls.__name__: cls.status for cls in _error_classes()
               if cls not in never_recorded and str(cls.status) not in responses}
    assert missing == {}
    assert {"200", "202", "404"} <= set(responses)


@pytest.mark.parametrize("path", ["/api/meetings/{organizerId}/{externalId}", "/api/meetings"])
def test_changes_document_every_error_an_update_can_answer(path):
    responses = document()["paths"][path]["patch"]["responses"]
    create_only = {errors.RetriesExhausted, errors.RequestInProgress, errors.PasscodeSettingImmutable,
                   errors.OrganizerQuotaExceeded}
    missing = {cls.__name__: cls.status for cls in _error_classes()
               if cls not in create_only and str(cls.status) not in responses}
    assert missing == {}


def test_every_error_code_is_named_in_the_document():
    text = json.dumps(document())
    assert [cls.code for cls in _error_classes() if f"`{cls.code}`" not in text] == []


def test_no_broker_error_answers_500_by_design():
    """A 500 only ever means an unhandled bug: every handled failure has another status, whatever it replays."""
    assert {cls.__name__: cls.status for cls in _error_classes() if cls.status >= 500 and cls.status != 503
            and cls.status not in (502, 504)} == {}
    for last in (None, {"code": "x", "status": 500}, {"code": "graph_unavailable", "status": 502},
                 errors.ConcurrentUpdate("busy"), errors.GraphRejected("no")):
        assert errors.RetriesExhausted.after(last).status != 500
    for stored in ({}, {"status": 500, "code": "retries_exhausted"}, {"status": 500, "code": "configuration_error"}):
        assert errors.RecordedFailure(stored, state="failed").status == 503
    assert all("500" not in item[method]["responses"] for item in document()["paths"].values() for method in item)


@pytest.mark.parametrize("last, status, retry_after", [
    (errors.GraphUnavailable("down"), 502, None),
    (errors.StorageUnavailable("down"), 503, None),
    (errors.GraphThrottled("slow down", retry_after=17), 429, 17),
    ({"code": "graph_throttled", "status": 429, "retryAfter": 9}, 429, 9),
    ({"code": "graph_throttled", "status": 429}, 429, None),
    (errors.ConcurrentUpdate("busy"), 503, None),   # not an upstream status: told as unavailable
    (None, 503, None),                              # no attempt told its error (a crash, a timeout)
])
def test_retries_exhausted_replays_the_status_of_the_last_error(last, status, retry_after):
    error = errors.RetriesExhausted.after(last)
    assert (error.code, error.status, error.retry_after) == ("retries_exhausted", status, retry_after)
    replayed = errors.RecordedFailure(error.as_record_error(), state="failed")
    assert (replayed.code, replayed.status, replayed.retry_after) == ("retries_exhausted", status, retry_after)


@pytest.mark.parametrize("path, method", [("/api/meetings", "post"), ("/api/meetings", "patch"),
                                          ("/api/meetings", "delete"), ("/api/meetings/{organizerId}/{externalId}",
                                                                        "patch"),
                                          ("/api/meetings/{organizerId}/{externalId}", "delete")])
def test_every_write_documents_signed_intake_and_its_401(path, method):
    operation = document()["paths"][path][method]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {p["name"] for p in operation["parameters"]}
    assert "`signature_invalid`" in operation["responses"]["401"]["description"]


def test_the_callback_is_a_webhook_whose_body_is_the_result_message_and_create_takes_its_url():
    doc = document()
    webhook = doc["webhooks"]["meetingResult"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ResultMessage"}
    assert {p["name"] for p in webhook["parameters"] if p["required"]} == {"webhook-id", "webhook-timestamp",
                                                                            "webhook-signature"}
    assert "callbackUrl" in doc["components"]["schemas"]["MeetingRequest"]["properties"]
    assert "`callback_not_allowed`" in doc["paths"]["/api/meetings"]["post"]["responses"]["400"]["description"]


@pytest.mark.parametrize("path, errors_answered", [
    ("/api/meetings/{organizerId}/{externalId}/attendance", ARTIFACT_ERRORS[:2]),
    ("/api/meetings/attendance", ARTIFACT_ERRORS[:2]),
    ("/api/meetings/{organizerId}/{externalId}/transcripts", ARTIFACT_ERRORS[:3]),
    ("/api/meetings/transcripts", ARTIFACT_ERRORS[:3]),
    ("/api/meetings/{organizerId}/{externalId}/transcripts/{transcriptId}", ARTIFACT_ERRORS),
    ("/api/meetings/transcripts/{transcriptId}", ARTIFACT_ERRORS),
])
def test_the_attendance_and_transcript_routes_document_their_errors(path, errors_answered):
    responses = document()["paths"][path]["get"]["responses"]
    for cls in (*errors_answered, errors.MeetingNotFound, errors.MeetingPending, errors.MeetingCancelled):
        assert f"`{cls.code}`" in responses[str(cls.status)]["description"], cls.__name__


def test_the_transcript_text_is_webvtt_and_an_attendance_result_is_a_result_message():
    doc = document()
    text = doc["paths"]["/api/meetings/{organizerId}/{externalId}/transcripts/{transcriptId}"]["get"]
    assert list(text["responses"]["200"]["content"]) == ["text/vtt"]
    result = doc["components"]["schemas"]["ResultMessage"]["properties"]
    assert "attendance" in result["status"]["enum"] and "timer" in result["source"]["enum"]
    assert result["attendance"] == {"$ref": "#/components/schemas/Attendance"}
