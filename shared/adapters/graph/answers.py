"""Reading Microsoft Graph's answers: onlineMeeting and event bodies, errors mapped to the broker's, Retry-After.

Error body: ``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``; the code
may be empty and the body may not be JSON at all, so errors map by status (a 403 by the operation's meaning of it).
"""
from __future__ import annotations

import email.utils
import math
from typing import Any

import requests

from shared.adapters.graph.operations import Operation, Refusal
from shared.domain.errors import (
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


def error_of(response: requests.Response, operation: Operation, *, app_id: str, tenant_id: str,
             organizer_id: str) -> BrokerError:
    """The broker's error for a failed answer to ``operation``, which says what its 403 means and whether a 404 is
    an item gone or an organizer unknown."""
    status = response.status_code
    code, message = _graph_error(response)
    where = f"(Graph status {status}, code {code or '-'}, request-id {response.headers.get('request-id') or '-'})"
    if status == 401:
        return GraphUnauthorized(f"Microsoft Graph did not accept the app's token for tenant {tenant_id} {where}")
    if status == 403:
        return operation.forbidden(Refusal(app_id, tenant_id, organizer_id, operation.doing, where, code, message))
    if status == 404 and operation.on_one_item:
        return MeetingGone(f"the meeting no longer exists in Microsoft Graph (deleted outside the broker?) {where}")
    if status == 404:
        return OrganizerNotFound(f"Organizer {organizer_id} was not found in tenant {tenant_id} {where}")
    if status == 429:
        return GraphThrottled(f"Microsoft Graph is throttling requests {where}")
    if status >= 500:
        return GraphUnavailable(f"Microsoft Graph failed {where}")
    return GraphRejected(f"Microsoft Graph rejected the request: {message or 'no message'} {where}")


def forbidden_cause(response: requests.Response, error: BrokerError) -> str:
    """Why Graph answered 403, for metrics: ``permission`` when Graph says the token lacks the permission, else what
    a 403 means for the operation (``access_policy`` for onlineMeetings, ``calendar_scope`` for events)."""
    if _graph_error(response)[0] == "Authorization_RequestDenied":
        return "permission"
    return "calendar_scope" if isinstance(error, CalendarAccessDenied) else "access_policy"


def _graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and message; the body may be empty or not JSON at all."""
    try:
        error = (response.json() or {}).get("error") or {}
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")[:500]
