"""Each Graph operation carries what a 403 to it means and whether a 404 is an item gone: ``error_of`` only asks."""
from __future__ import annotations

import pytest

from shared.adapters.graph import operations
from shared.adapters.graph.answers import error_of
from shared.adapters.graph.operations import Operation, Refusal
from shared.domain.errors import (AccessPolicyMissing, BrokerError, CalendarAccessDenied, MeetingGone,
                                  OrganizerNotFound)
from tests.fake_graph import error_answer

OPERATIONS = [value for value in vars(operations).values() if isinstance(value, Operation)]


def _error(status: int, operation: Operation) -> BrokerError:
    return error_of(error_answer(status), operation, app_id="app-1", tenant_id="t-1", organizer_id="o-1")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_403_means_what_the_operations_resource_says(operation):
    error = _error(403, operation)
    expected = CalendarAccessDenied if "/events" in operation.template else AccessPolicyMissing
    assert type(error) is expected and error.status == 403
    assert f"may not {operation.doing} " in error.detail or f"allowed to {operation.doing} " in error.detail
    assert error.extra == {"appId": "app-1", "organizerId": "o-1"}
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

