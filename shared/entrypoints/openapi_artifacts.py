"""The OpenAPI paths and schemas of meeting attendance and transcripts (issue 23), joined into the document by
``openapi.py``: three routes, each with the key in the path and in the query."""
from __future__ import annotations

from typing import Any, Callable

Problem = Callable[..., dict[str, Any]]

Parameters = list[dict[str, Any]]
_TRANSCRIPT_ID = {"name": "transcriptId", "in": "path", "required": True, "schema": {"type": "string"}}
_OFF = ("`artifacts_disabled` (`MEETING_ARTIFACTS` does not cover this route: turn it on, which grants the permission; "
        "no Graph call), `artifact_access_denied` (Graph refused: the app lacks {permission}; the detail names the "
        "fix), `access_policy_missing` (as for creates), `organizer_not_allowed` or `tenant_not_allowed`.")


def _responses(problem: Problem, ok: dict[str, Any], *, permission: str, more: dict[str, Any]) -> dict[str, Any]:
    return {
        "200": ok,
        "400": problem("A required parameter is missing (`validation_failed`)."),
        "403": problem(_OFF.format(permission=permission)),
        "404": problem("`meeting_not_found`: nothing is recorded for this key."),
        "409": problem("`meeting_pending` (the meeting is not created yet) or `meeting_create_failed`."),
        "410": problem("`meeting_cancelled`: the meeting was deleted."),
        "429": problem("`graph_throttled`.", retry_after=True),
        "502": problem("`graph_unavailable`, `graph_unauthorized`, `graph_rejected`, `token_unavailable` or "
                       "`credential_rejected`.", retry_after=True),
        "503": problem("`storage_unavailable` or `configuration_error`.", retry_after=True),
        **more,
    }


def _json(schema: str, description: str, correlation: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "headers": correlation,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def artifact_paths(problem: Problem, correlation: dict[str, Any], tenant: dict[str, Any], *, key_in_path: Parameters,
                   key_in_query: Parameters) -> dict[str, Any]:
    """The paths of the three routes in both forms; the helpers and parameters are the document's own."""
    def attendance(parameters: list[dict[str, Any]], operation_id: str) -> dict[str, Any]:
        return {"get": {
            "operationId": operation_id,
            "summary": "Who came to the meeting, person by person against the participants its request named "
                       "(`MEETING_ARTIFACTS` attendance or attendanceAndTranscripts)",
            "parameters": [*parameters, tenant],
            "responses": _responses(problem, _json("Attendance", "Every attendance report, newest first; "
                                                   "`reports: []` before the meeting has ended.", correlation),
                                    permission="OnlineMeetingArtifact.Read.All", more={})}}

    def transcripts(parameters: list[dict[str, Any]], operation_id: str) -> dict[str, Any]:
        return {"get": {
            "operationId": operation_id,
            "summary": "The transcripts of a calendar-backed meeting (`MEETING_ARTIFACTS=attendanceAndTranscripts`)",
            "parameters": [*parameters, tenant],
            "responses": _responses(problem, _json("Transcripts", "The transcripts, each with the broker's route "
                                                   "of its text (`contentUrl`).", correlation),
                                    permission="OnlineMeetingTranscript.Read.All", more=_standalone(problem))}}

    def transcript(parameters: list[dict[str, Any]], operation_id: str) -> dict[str, Any]:
        text = {"description": "The transcript's WebVTT text.", "headers": correlation,
                "content": {"text/vtt": {"schema": {"type": "string"}}}}
        more = {**_standalone(problem), "404": problem(
            "`meeting_not_found` (nothing is recorded for this key) or `transcript_not_found` (the meeting has no "
            "transcript with this id).")}
        return {"get": {
            "operationId": operation_id,
            "summary": "The WebVTT text of one transcript of a calendar-backed meeting",
            "parameters": [*parameters, _TRANSCRIPT_ID, tenant],
            "responses": _responses(problem, text, permission="OnlineMeetingTranscript.Read.All", more=more)}}

    return {
        "/api/meetings/{organizerId}/{externalId}/attendance": attendance(key_in_path, "getAttendance"),
        "/api/meetings/attendance": attendance(key_in_query, "findAttendance"),
        "/api/meetings/{organizerId}/{externalId}/transcripts": transcripts(key_in_path, "getTranscripts"),
        "/api/meetings/transcripts": transcripts(key_in_query, "findTranscripts"),
        "/api/meetings/{organizerId}/{externalId}/transcripts/{transcriptId}": transcript(key_in_path,
                                                                                          "getTranscript"),
        "/api/meetings/transcripts/{transcriptId}": transcript(key_in_query, "findTranscript"),
    }


def _standalone(problem: Problem) -> dict[str, Any]:
    return {"409": problem("`transcripts_need_calendar_meeting` (the key's meeting is a standalone online meeting: "
                           "Graph keeps transcripts only for calendar-backed ones; create it with `\"calendar\": "
                           "true`; no Graph call), `meeting_pending` or `meeting_create_failed`.")}


_TIME = {"type": ["string", "null"], "format": "date-time"}
_ATTENDEE = {"type": "object", "properties": {
    "emailAddress": {"type": ["string", "null"]}, "displayName": {"type": ["string", "null"]},
    "role": {"type": ["string", "null"]}, "totalAttendanceInSeconds": {"type": ["integer", "null"]},
    "intervals": {"type": "array", "items": {"type": "object", "properties": {
        "joinDateTime": _TIME, "leaveDateTime": _TIME, "durationInSeconds": {"type": ["integer", "null"]}}}},
    "invited": {"type": "boolean", "description": "The address is one of the participants the request named."}}}


def artifact_schemas() -> dict[str, Any]:
    return {
        "Attendance": {"type": "object", "required": ["organizerId", "externalId", "tenantId", "reports"],
                       "properties": {
                           "organizerId": {"type": "string"}, "externalId": {"type": "string"},
                           "tenantId": {"type": "string"},
                           "reports": {"type": "array", "description": "Newest first.", "items": {
                               "type": "object", "properties": {
                                   "id": {"type": "string"}, "meetingStartDateTime": _TIME,
                                   "meetingEndDateTime": _TIME,
                                   "totalParticipantCount": {"type": ["integer", "null"]},
                                   "attendees": {"type": "array", "items": _ATTENDEE},
                                   "absentees": {"type": "array", "items": {"type": "string"}, "description":
                                                 "The UPN of each participant the request named who has no record."},
                               }}}}},
        "Transcripts": {"type": "object", "required": ["transcripts"], "properties": {"transcripts": {
            "type": "array", "items": {"type": "object", "required": ["id", "contentUrl"], "properties": {
                "id": {"type": "string"}, "createdDateTime": _TIME, "endDateTime": _TIME,
                "contentUrl": {"type": "string", "description": "The broker's route of the transcript's WebVTT "
                                                                "text."}}}}}},
    }


# The members an ``attendance`` result adds to the ResultMessage.
ATTENDANCE_RESULT_MEMBERS = {
    "attendance": {"$ref": "#/components/schemas/Attendance"},
    "attendanceUnavailable": {"type": "boolean", "description": "No report by `ATTENDANCE_WINDOW_HOURS` after the "
                                                                "meeting's end (or the read kept failing)."},
    "attendanceTruncated": {"type": "boolean", "description": "Records were left out to fit a queue message; GET "
                                                              ".../attendance has them all."},
    "occurrence": {"type": "string"},
}
