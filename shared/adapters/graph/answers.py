"""Reading Microsoft Graph's answers: onlineMeeting bodies, error bodies mapped to the broker's errors, Retry-After.

Error body: ``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``; the code
may be empty and the body may not be JSON at all, so errors map by status. A 403 from an onlineMeetings call is a
missing application access policy, whatever its text:
https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy
"""
from __future__ import annotations

import email.utils
import math
from typing import Any

import requests

from shared.domain.errors import (
    AccessPolicyMissing,
    BrokerError,
    CalendarAccessDenied,
    GraphRejected,
    GraphThrottled,
    GraphUnauthorized,
    GraphUnavailable,
    MeetingGone,
    OrganizerNotFound,
)
from shared.domain.identifiers import organizer_object_id

POLICY_DELAY_MINUTES = 30


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions allowed, Graph sends them) or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf", "nan" and "1e400" parse as floats too: a header that says nothing usable is ignored
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def json_object(response: requests.Response, what: str = "a JSON object") -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GraphUnavailable(f"Microsoft Graph answered {response.status_code} without {what}")
    return body


def meeting_of(response: requests.Response) -> dict[str, Any]:
    """The onlineMeeting of a success answer. An answer without the id, the join URL or the organizer's object id is
    not a meeting that can be recorded or handed on: treated as a failure of Graph (retryable)."""
    return meeting_of_value(json_object(response, "an onlineMeeting body"), response.status_code)


def meeting_of_value(meeting: Any, status: int = 200) -> dict[str, Any]:
    if not isinstance(meeting, dict):
        raise GraphUnavailable("Microsoft Graph answered a list whose item is not an onlineMeeting")
    missing = [name for name, present in (
        ("id", isinstance(meeting.get("id"), str) and bool(meeting.get("id"))),
        ("joinWebUrl", isinstance(meeting.get("joinWebUrl"), str) and
         str(meeting.get("joinWebUrl")).startswith("https://")),
        ("participants.organizer.identity.user.id", organizer_object_id(meeting) is not None),
    ) if not present]
    if missing:
        raise GraphUnavailable(f"Microsoft Graph answered {status} with an onlineMeeting that lacks "
                               f"{', '.join(missing)}")
    return meeting


def event_of(response: requests.Response) -> dict[str, Any]:
    """The event of a success answer; one without an id cannot be recorded (retryable, as for meetings)."""
    return event_of_value(json_object(response), response.status_code)


def event_of_value(event: Any, status: int = 200) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event.get("id"):
        raise GraphUnavailable(f"Microsoft Graph answered {status} without an event")
    return event


def error_of(response: requests.Response, *, app_id: str, tenant_id: str, organizer_id: str, doing: str,
             meeting_id: str | None = None, calendar: bool = False) -> BrokerError:
    """The broker's error for a failed Graph answer. ``doing``: what the app tried, for the 403 text ("create
    meetings", "change meetings"); ``meeting_id``: set for calls on one meeting, where 404 means it is gone."""
    status = response.status_code
    code, message = _graph_error(response)
    where = f"(Graph status {status}, code {code or '-'}, request-id {response.headers.get('request-id') or '-'})"
    if status == 401:
        return GraphUnauthorized(f"Microsoft Graph did not accept the app's token for tenant {tenant_id} {where}")
    if status == 403 and calendar:
        return CalendarAccessDenied(
            f"App {app_id} may not {doing} in the mailbox of organizer {organizer_id} in tenant {tenant_id}: the "
            f"app needs the application permission Calendars.ReadWrite, scoped by Exchange Online RBAC for "
            f"Applications to a group the organizer's mailbox is a direct member of (infra/scripts/"
            f"grant-calendar-scope.ps1 -AppId \"{app_id}\" -ServicePrincipalId <GRAPH_SERVICE_PRINCIPAL_ID> -Group "
            f"<organizers group>), or granted tenant-wide (CALENDAR_ACCESS=tenantWide). A new grant or membership "
            f"applies once Exchange refreshes its permission cache (allow up to a couple of hours). {where}",
            extra={"appId": app_id, "organizerId": organizer_id})
    if status == 403:
        return AccessPolicyMissing(
            f"App {app_id} is not allowed to {doing} for organizer {organizer_id} in tenant {tenant_id}: a Teams "
            f"administrator must grant an application access policy that names this app to the organizer (or "
            f"globally), for example: New-CsApplicationAccessPolicy -Identity Meetings-Broker -AppIds \"{app_id}\"; "
            f"Grant-CsApplicationAccessPolicy -PolicyName Meetings-Broker -Identity \"{organizer_id}\". A new grant "
            f"takes up to {POLICY_DELAY_MINUTES} minutes to apply. {where}",
            extra={"appId": app_id, "organizerId": organizer_id},
        )
    if status == 404 and meeting_id is not None:
        return MeetingGone(f"the meeting no longer exists in Microsoft Graph (deleted outside the broker?) {where}")
    if status == 404:
        return OrganizerNotFound(f"Organizer {organizer_id} was not found in tenant {tenant_id} {where}")
    if status == 429:
        return GraphThrottled(f"Microsoft Graph is throttling requests {where}")
    if status >= 500:
        return GraphUnavailable(f"Microsoft Graph failed {where}")
    return GraphRejected(f"Microsoft Graph rejected the request: {message or 'no message'} {where}")


def _graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and message; the body may be empty or not JSON at all."""
    try:
        error = (response.json() or {}).get("error") or {}
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")[:500]
