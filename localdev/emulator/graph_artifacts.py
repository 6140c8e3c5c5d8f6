"""Microsoft Graph meeting artifacts stand-in, v1.0 and beta, application tokens only: attendance reports and their
records, and the transcripts of calendar-backed meetings (endpoints, order of checks and paging: localdev/README.md,
"Meeting artifacts")."""
from __future__ import annotations

from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, quote

from .artifacts import (ARTIFACT_ENDPOINTS, ARTIFACT_ROLE, ATTENDANCE_ENDPOINTS, REPORTS_LISTED, TRANSCRIPT_ENDPOINTS,
                        TRANSCRIPT_ROLE)
from .graph_calls import GraphCall
from .replies import Reply

# Graph's answer for the transcripts of a meeting no calendar event backs (microsoft-graph-docs-contrib#9103 quotes
# the message; the status is not documented: 400 here).
NOT_CALENDAR_BACKED = "No iCalUid found for the meeting. This API is supported only for calendar backed OnlineMeeting."


def operate(call: GraphCall, endpoint: str, parts: Mapping[str, str], path: str, query: str,
            claims: dict[str, Any], facts: dict[str, Any]) -> Reply:
    """One artifact call of an authenticated app: its permission (403 Forbidden), the organizer in the token's tenant
    (404), the organizer's access policy (403 General), the meeting (404), then the operation."""
    state = call.state
    role = ARTIFACT_ROLE if endpoint in ATTENDANCE_ENDPOINTS else TRANSCRIPT_ROLE
    if role not in (claims.get("roles") or []):
        return call.error(403, "Forbidden", "Insufficient privileges to complete the operation. The application "
                                            f"needs the {role} application permission.")
    tenant_id = str(claims["tid"]).lower()
    user = state.directory.find_user(tenant_id, parts["user"])
    if user is None:
        return call.error(404, "NotFound", f"The user '{parts['user']}' was not found in the tenant.")
    facts["organizer"] = user.object_id
    if not state.directory.has_policy(tenant_id, str(claims["appid"]), user.object_id):
        return call.error(403, "General", "No application access policy found for this app.")
    with state.lock:
        meeting = state.online_meetings.find_meeting(parts["meeting_id"])
        if meeting is None or meeting.tenant_id != user.tenant_id or meeting.organizer_id != user.object_id:
            return call.error(404, "NotFound", "The online meeting was not found.")
        facts["meeting_id"] = meeting.id
        if endpoint in TRANSCRIPT_ENDPOINTS and meeting.created_with != "event":
            return call.error(400, "BadRequest", NOT_CALENDAR_BACKED)
        return _OPERATIONS[endpoint](_Artifacts(call, parts, path, query))


class _Artifacts:
    """One artifact call that passed the checks: where it came, and the paging of its answer."""

    def __init__(self, call: GraphCall, parts: Mapping[str, str], path: str, query: str) -> None:
        self.call, self.parts, self.path = call, parts, path
        self.params = {name.lower(): value for name, value in parse_qsl(query, keep_blank_values=True)}
        self.store = call.state.artifacts

    @property
    def root(self) -> str:
        return f"{self.call.state.base_url}/{self.parts['version']}"

    def context(self, tail: str) -> str:
        user, meeting_id = self.parts["user"], self.parts["meeting_id"]
        return f"{self.root}/$metadata#users('{user}')/onlineMeetings('{meeting_id}')/{tail}"

    def page(self, items: list[dict[str, Any]], tail: str, next_path: str) -> Reply:
        """A page of ``items``: ``$top`` (capped by the page size) from ``$skiptoken`` on, and the next page's link."""
        try:
            skip = int(self.params.get("$skiptoken") or 0)
            size = min(self.store.page_size, int(self.params.get("$top") or self.store.page_size))
            if skip < 0 or size < 1:
                raise ValueError
        except ValueError:
            return self.call.error(400, "BadRequest", "Invalid $skiptoken or $top.")
        body: dict[str, Any] = {"@odata.context": self.context(tail), "value": items[skip:skip + size]}
        if skip + size < len(items):
            top = f"&$top={self.params['$top']}" if "$top" in self.params else ""
            body["@odata.nextLink"] = f"{self.call.state.base_url}{next_path}?$skiptoken={skip + size}{top}"
        return self.call.odata(200, body)


def list_attendance_reports(request: _Artifacts) -> Reply:
    reports = request.store.reports(request.parts["meeting_id"])[:REPORTS_LISTED]
    return request.page([report.render(with_records=False) for report in reports], "attendanceReports",
                        request.path)


def get_attendance_report(request: _Artifacts) -> Reply:
    report = request.store.report(request.parts["meeting_id"], request.parts["report_id"])
    if report is None:
        return request.call.error(404, "NotFound", "The attendance report was not found.")
    expand = request.params.get("$expand", "").lower() == "attendancerecords"
    body = {"@odata.context": request.context(f"attendanceReports('{report.id}')"),
            **report.render(with_records=expand)}
    if not expand:
        body.pop("attendanceRecords")  # a navigation property: only with $expand=attendanceRecords
    return request.call.odata(200, body)


def list_attendance_records(request: _Artifacts) -> Reply:
    report = request.store.report(request.parts["meeting_id"], request.parts["report_id"])
    if report is None:
        return request.call.error(404, "NotFound", "The attendance report was not found.")
    return request.page([record.render() for record in report.records],
                        f"attendanceReports('{report.id}')/attendanceRecords", request.path)


def list_transcripts(request: _Artifacts) -> Reply:
    parts = request.parts
    items = [t.render(_content_url(request, t.id)) for t in request.store.transcripts(parts["meeting_id"])]
    # Teams writes this list's next page in OData key syntax: users('{id}')/onlineMeetings('{id}')/transcripts.
    keyed = (f"/{parts['version']}/users('{quote(parts['user'], safe='@')}')/onlineMeetings("
             f"'{quote(parts['meeting_id'], safe='')}')/transcripts")
    return request.page(items, "transcripts", keyed)


def get_transcript(request: _Artifacts) -> Reply:
    transcript = request.store.transcript(request.parts["meeting_id"], request.parts["transcript_id"])
    if transcript is None:
        return request.call.error(404, "NotFound", "The transcript was not found.")
    return request.call.odata(200, {"@odata.context": request.context("transcripts/$entity"),
                                    **transcript.render(_content_url(request, transcript.id))})


def get_transcript_content(request: _Artifacts) -> Reply:
    transcript = request.store.transcript(request.parts["meeting_id"], request.parts["transcript_id"])
    if transcript is None:
        return request.call.error(404, "NotFound", "The transcript was not found.")
    wanted = request.params.get("$format") or "text/vtt"
    if wanted != "text/vtt":
        return request.call.error(400, "BadRequest", f"The format '{wanted}' is not supported.")
    return Reply(200, transcript.content.encode("utf-8"), request.call.headers({"Content-Type": "text/vtt"}))


def _content_url(request: _Artifacts, transcript_id: str) -> str:
    parts = request.parts
    return (f"{request.root}/users/{quote(parts['user'], safe='@')}/onlineMeetings/"
            f"{quote(parts['meeting_id'], safe='')}/transcripts/{quote(transcript_id, safe='')}/content")


_OPERATIONS: dict[str, Callable[[_Artifacts], Reply]] = {
    "list_attendance_reports": list_attendance_reports, "get_attendance_report": get_attendance_report,
    "list_attendance_records": list_attendance_records, "list_transcripts": list_transcripts,
    "get_transcript": get_transcript, "get_transcript_content": get_transcript_content,
}
assert set(_OPERATIONS) == set(ARTIFACT_ENDPOINTS)
