"""The Graph operations the client makes, each with its method, path, retry safety and the meaning of its 403.

A new Graph resource is one more ``Operation`` (and, if its 403 means something new, one more ``forbidden``
function): ``answers.error_of`` asks the operation what a 403 means and never names a resource.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

from shared.domain.errors import AccessPolicyMissing, ArtifactAccessDenied, BrokerError, CalendarAccessDenied

POLICY_DELAY_MINUTES = 30


@dataclass(frozen=True)
class Refusal:
    """A 403 to one call, as its error names it."""

    app_id: str
    tenant_id: str
    organizer_id: str
    doing: str  # the operation's ``doing``: "create meetings"
    where: str  # Graph's status, code and request-id, in parentheses
    code: str = ""     # Graph's error code ("Forbidden", "General", ...), when it sent one
    message: str = ""  # Graph's error message, when it sent one


def access_policy_missing(refusal: Refusal) -> BrokerError:
    """onlineMeetings: a 403 is a missing Teams application access policy, whatever its text.
    https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy"""
    app_id, organizer_id = refusal.app_id, refusal.organizer_id
    return AccessPolicyMissing(
        f"App {app_id} is not allowed to {refusal.doing} for organizer {organizer_id} in tenant {refusal.tenant_id}: "
        f"a Teams administrator must grant an application access policy that names this app to the organizer (or "
        f"globally), for example: New-CsApplicationAccessPolicy -Identity Meetings-Broker -AppIds \"{app_id}\"; "
        f"Grant-CsApplicationAccessPolicy -PolicyName Meetings-Broker -Identity \"{organizer_id}\". A new grant "
        f"takes up to {POLICY_DELAY_MINUTES} minutes to apply. {refusal.where}",
        extra={"appId": app_id, "organizerId": organizer_id},
    )


def calendar_access_denied(refusal: Refusal) -> BrokerError:
    """Calendar events: a 403 is a mailbox outside the app's Exchange scope (or no Calendars.ReadWrite)."""
    app_id, organizer_id = refusal.app_id, refusal.organizer_id
    return CalendarAccessDenied(
        f"App {app_id} may not {refusal.doing} in the mailbox of organizer {organizer_id} in tenant "
        f"{refusal.tenant_id}: the app needs the application permission Calendars.ReadWrite, scoped by Exchange "
        f"Online RBAC for Applications to a group the organizer's mailbox is a direct member of (infra/scripts/"
        f"grant-calendar-scope.ps1 -AppId \"{app_id}\" -ServicePrincipalId <GRAPH_SERVICE_PRINCIPAL_ID> -Group "
        f"<organizers group>), or granted tenant-wide (CALENDAR_ACCESS=tenantWide). A new grant or membership "
        f"applies once Exchange refreshes its permission cache (allow up to a couple of hours). {refusal.where}",
        extra={"appId": app_id, "organizerId": organizer_id},
    )


def artifact_access_denied(permission: str, mode: str) -> Callable[[Refusal], BrokerError]:
    """Meeting artifacts: a 403 is either the Teams access policy missing (Graph says so: code ``General``, "No
    application access policy ..."), answered as for creates, or the app lacking the application ``permission``,
    which the deployment grants with MEETING_ARTIFACTS=``mode``.
    https://learn.microsoft.com/graph/api/meetingattendancereport-list"""
    def denied(refusal: Refusal) -> BrokerError:
        if refusal.code.lower() == "general" or "access policy" in refusal.message.lower():
            return access_policy_missing(refusal)
        return ArtifactAccessDenied(
            f"App {refusal.app_id} may not {refusal.doing} of organizer {refusal.organizer_id}'s meetings in tenant "
            f"{refusal.tenant_id}: it needs the Microsoft Graph application permission {permission}, granted with "
            f"admin consent (set MEETING_ARTIFACTS={mode} and run azd provision, which grants it), and the organizer "
            f"needs the Teams application access policy that lets the app create meetings. {refusal.where}",
            extra={"appId": refusal.app_id, "organizerId": refusal.organizer_id, "permission": permission})
    return denied


@dataclass(frozen=True)
class Operation:
    """One kind of Graph call. ``template`` names the organizer as ``{organizer}`` and, for a call on one meeting or
    event, the item as ``{id}``: there a 404 means the item is gone, elsewhere that the organizer is unknown."""

    name: str                                   # in logs: "createOrGet"
    method: str
    template: str
    doing: str                                  # for the 403 text: "create meetings", "change events"
    idempotent: bool                            # a repeat after a timeout or a 5xx does no harm
    forbidden: Callable[[Refusal], BrokerError]  # what a 403 to it means
    one_item: bool | None = None                 # None: whether the template names {id}

    @property
    def on_one_item(self) -> bool:
        return self.one_item if self.one_item is not None else "{id}" in self.template

    def under(self, **names: str) -> "Operation":
        """This operation below one sub-item: the template's other names (``{report}``, ``{transcript}``) filled in,
        URL-encoded."""
        template = self.template
        for name, value in names.items():
            template = template.replace("{" + name + "}", quote(value, safe=""))
        return dataclasses.replace(self, template=template)

    def at(self, path: str) -> "Operation":
        """This operation at a literal path below the version (the next page a ``@odata.nextLink`` names, which Graph
        may spell otherwise than the template), keeping what a 404 and a 403 to it mean."""
        return dataclasses.replace(self, template=path.replace("{", "{{").replace("}", "}}"),
                                   one_item=self.on_one_item)

    def path(self, organizer_id: str, item_id: str | None = None) -> str:
        """The path with the organizer (a UPN keeps its @) and the item URL-encoded."""
        names = {"organizer": quote(organizer_id, safe="@")}
        if item_id is not None:
            names["id"] = quote(item_id, safe="")
        return self.template.format(**names)


_MEETINGS = "/users/{organizer}/onlineMeetings"
_EVENTS = "/users/{organizer}/events"

# onlineMeetings. createOrGet is idempotent by construction (tenant, organizer, externalId name one meeting); a plain
# create makes a new meeting on every call.
CREATE_OR_GET = Operation("createOrGet", "POST", f"{_MEETINGS}/createOrGet", "create meetings", True,
                          access_policy_missing)
CREATE_MEETING = Operation("create", "POST", _MEETINGS, "create meetings", False, access_policy_missing)
UPDATE_MEETING = Operation("update", "PATCH", f"{_MEETINGS}/{{id}}", "change meetings", True, access_policy_missing)
DELETE_MEETING = Operation("delete", "DELETE", f"{_MEETINGS}/{{id}}", "delete meetings", True, access_policy_missing)
MEETINGS_BY_JOIN_URL = Operation("findByJoinUrl", "GET", _MEETINGS, "read meetings", True, access_policy_missing)

# Meeting artifacts, read-only (application permissions OnlineMeetingArtifact.Read.All and
# OnlineMeetingTranscript.Read.All, and the organizer's access policy).
_ATTENDANCE_DENIED = artifact_access_denied("OnlineMeetingArtifact.Read.All", "attendance")
_TRANSCRIPTS_DENIED = artifact_access_denied("OnlineMeetingTranscript.Read.All", "attendanceAndTranscripts")
ATTENDANCE_REPORTS = Operation("attendanceReports", "GET", f"{_MEETINGS}/{{id}}/attendanceReports",
                               "read the attendance reports", True, _ATTENDANCE_DENIED)
ATTENDANCE_RECORDS = Operation("attendanceRecords", "GET",
                               f"{_MEETINGS}/{{id}}/attendanceReports/{{report}}/attendanceRecords",
                               "read the attendance records", True, _ATTENDANCE_DENIED)
TRANSCRIPTS = Operation("transcripts", "GET", f"{_MEETINGS}/{{id}}/transcripts", "read the transcripts", True,
                        _TRANSCRIPTS_DENIED)
TRANSCRIPT_CONTENT = Operation("transcriptContent", "GET", f"{_MEETINGS}/{{id}}/transcripts/{{transcript}}/content",
                               "read the transcripts", True, _TRANSCRIPTS_DENIED)

# Calendar events (application permission Calendars.ReadWrite). A create is not retried where Graph may have acted.
CREATE_EVENT = Operation("createEvent", "POST", _EVENTS, "create events", False, calendar_access_denied)
FIND_EVENTS = Operation("findEvent", "GET", _EVENTS, "read events", True, calendar_access_denied)
UPDATE_EVENT = Operation("updateEvent", "PATCH", f"{_EVENTS}/{{id}}", "change events", True, calendar_access_denied)
CANCEL_EVENT = Operation("cancelEvent", "POST", f"{_EVENTS}/{{id}}/cancel", "cancel events", True,
                         calendar_access_denied)
