"""Each Graph operation carries what a 403 to it means and whether a 404 is an item gone: ``error_of`` only asks."""
from __future__ import annotations

import pytest

from shared.adapters.graph import operations
from shared.adapters.graph.answers import error_of
from shared.adapters.graph.operations import Operation, Refusal
import requests

from shared.domain.errors import (AccessPolicyMissing, ArtifactAccessDenied, BrokerError, CalendarAccessDenied,
                                  MeetingGone, OrganizerNotFound)
from tests.fake_graph import error_answer

OPERATIONS = [value for value in vars(operations).values() if isinstance(value, Operation)]
ARTIFACTS = (operations.ATTENDANCE_REPORTS, operations.ATTENDANCE_RECORDS, operations.TRANSCRIPTS,
             operations.TRANSCRIPT_CONTENT)


def _error(status: int, operation: Operation) -> BrokerError:
    return error_of(error_answer(status), operation, app_id="app-1", tenant_id="t-1", organizer_id="o-1")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_403_means_what_the_operations_resource_says(operation):
    error = _error(403, operation)
    artifact = operation in ARTIFACTS
    expected = CalendarAccessDenied if "/events" in operation.template else \
        ArtifactAccessDenied if artifact else AccessPolicyMissing
    assert type(error) is expected and error.status == 403
    assert f"may not {operation.doing} " in error.detail or f"allowed to {operation.doing} " in error.detail
    assert {name: value for name, value in error.extra.items() if name != "permission"} == \
        {"appId": "app-1", "organizerId": "o-1"}
    assert error.detail.endswith("(Graph status 403, code Forbidden, request-id r-1)")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_404_is_the_item_gone_for_a_call_on_one_item_else_the_organizer_unknown(operation):
    assert type(_error(404, operation)) is (MeetingGone if operation.on_one_item else OrganizerNotFound)


def test_a_new_resource_is_one_more_operation_with_its_own_meaning_of_a_403():
    class ArtifactsUnreadable(BrokerError):
        status, code = 403, "artifacts_unreadable"

    def forbidden(refusal: Refusal) -> BrokerError:
        return ArtifactsUnreadable(f"{refusal.app_id} may not {refusal.doing} {refusal.where}")

    reports = Operation("listAttendanceReports", "GET", "/users/{organizer}/onlineMeetings/{id}/attendanceReports",
                        "read attendance reports", True, forbidden)
    error = _error(403, reports)
    assert type(error) is ArtifactsUnreadable
    assert error.detail == "app-1 may not read attendance reports (Graph status 403, code Forbidden, request-id r-1)"


def test_a_path_keeps_a_upns_at_and_encodes_the_item_whole():
    assert operations.UPDATE_MEETING.path("al ice@contoso.example", "M/1 ?") == \
        "/users/al%20ice@contoso.example/onlineMeetings/M%2F1%20%3F"
    assert operations.CANCEL_EVENT.path("o", "E1") == "/users/o/events/E1/cancel"
    with pytest.raises(KeyError):
        operations.UPDATE_EVENT.path("o")  # an operation on one item needs the item



@pytest.mark.parametrize("operation, permission", [
    (operations.ATTENDANCE_REPORTS, "OnlineMeetingArtifact.Read.All"),
    (operations.ATTENDANCE_RECORDS, "OnlineMeetingArtifact.Read.All"),
    (operations.TRANSCRIPTS, "OnlineMeetingTranscript.Read.All"),
    (operations.TRANSCRIPT_CONTENT, "OnlineMeetingTranscript.Read.All")], ids=lambda value: getattr(value, "name", value))
def test_an_artifacts_403_names_the_permission_it_lacks_and_the_setting_that_grants_it(operation, permission):
    error = _error(403, operation)
    assert error.code == "artifact_access_denied" and error.extra["permission"] == permission
    assert permission in error.detail and "MEETING_ARTIFACTS=" in error.detail and "azd provision" in error.detail


def _policy_refusal() -> requests.Response:
    """Graph's 403 when the organizer has no Teams application access policy for the app."""
    response = requests.Response()
    response.status_code = 403
    response._content = b'{"error": {"code": "General", "message": "No application access policy found for this app."}}'
    return response


@pytest.mark.parametrize("operation", ARTIFACTS, ids=lambda operation: operation.name)
def test_an_artifacts_403_for_a_missing_access_policy_answers_as_for_creates(operation):
    error = error_of(_policy_refusal(), operation, app_id="app-1", tenant_id="t-1", organizer_id="o-1")
    assert type(error) is AccessPolicyMissing and "Grant-CsApplicationAccessPolicy" in error.detail


def test_an_operation_below_a_sub_item_names_it_encoded_and_needs_it():
    records = operations.ATTENDANCE_RECORDS.under(report="r/1 ?")
    assert records.path("o", "M1") == "/users/o/onlineMeetings/M1/attendanceReports/r%2F1%20%3F/attendanceRecords"
    with pytest.raises(KeyError):
        operations.ATTENDANCE_RECORDS.path("o", "M1")  # the report is not named
    assert records.on_one_item and records.name == "attendanceRecords"


def test_an_operation_at_a_literal_path_keeps_what_its_404_and_403_mean():
    page = operations.TRANSCRIPTS.at("/users('o')/onlineMeetings('M{1}')/transcripts")
    assert page.path("ignored") == "/users('o')/onlineMeetings('M{1}')/transcripts"
    assert page.on_one_item and page.forbidden is operations.TRANSCRIPTS.forbidden
    assert type(_error(404, page)) is MeetingGone
