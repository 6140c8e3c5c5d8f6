"""The ports to Microsoft Graph and Microsoft Entra that the use cases depend on (``shared.tenants`` resolves tenants).

``shared.graph.GraphClient`` implements ``MeetingsGraph`` over HTTPS; tests use hand-written doubles
(``tests/fake_graph.py``) and the local emulator. The storage port sits beside the record it stores
(``shared.records.MeetingRepository``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class TokenProvider(Protocol):
    def token(self, tenant_id: str) -> str:
        """An app-only access token for Microsoft Graph in this tenant (cached by MSAL)."""
        ...


class TenantResolver(Protocol):
    def resolve(self, name: str) -> str:
        """The tenant id (GUID) of a tenant named by its GUID or a verified domain."""
        ...


@dataclass(frozen=True)
class GraphAnswer:
    meeting: dict[str, Any]
    created: bool
    request_id: str | None


class MeetingsGraph(Protocol):
    """Graph's onlineMeetings for one organizer, as the use cases need them. Failures raise BrokerError subclasses
    (AccessPolicyMissing, OrganizerNotFound, GraphThrottled, GraphUnavailable, ...)."""

    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
                      accept_language: str | None = None) -> GraphAnswer:
        """``POST /users/{organizer}/onlineMeetings/createOrGet``: 201 created or 200 existing."""
        ...

    def create(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
               accept_language: str | None = None) -> GraphAnswer:
        """``POST /users/{organizer}/onlineMeetings``: a new meeting on every call (not idempotent)."""
        ...

    def update(self, tenant_id: str, organizer_id: str, meeting_id: str, patch: dict[str, Any], *,
               correlation_id: str) -> dict[str, Any]:
        """``PATCH /users/{organizer}/onlineMeetings/{id}``: the whole meeting after the change."""
        ...

    def delete(self, tenant_id: str, organizer_id: str, meeting_id: str, *, correlation_id: str) -> bool:
        """``DELETE /users/{organizer}/onlineMeetings/{id}``; False when Graph no longer had it."""
        ...

    def find_by_join_url(self, tenant_id: str, organizer_id: str, join_web_url: str, *,
                         correlation_id: str) -> dict[str, Any] | None:
        """``GET /users/{organizer}/onlineMeetings?$filter=JoinWebUrl eq '...'``: the onlineMeeting behind a link."""
        ...


class CalendarGraph(Protocol):
    """Graph's calendar events of one organizer (application permission Calendars.ReadWrite). A 403 raises
    CalendarAccessDenied (the mailbox is outside the app's Exchange scope)."""

    def create_event(self, tenant_id: str, organizer_id: str, event: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        """``POST /users/{organizer}/events``: not idempotent, but Graph ignores a repeat with the same
        transactionId."""
        ...

    def find_event(self, tenant_id: str, organizer_id: str, property_id: str, value: str, *,
                   correlation_id: str) -> dict[str, Any] | None:
        """The event carrying a single-value extended property with this value, if any."""
        ...

    def update_event(self, tenant_id: str, organizer_id: str, event_id: str, patch: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        """``PATCH /users/{organizer}/events/{id}``: Outlook sends the attendees the update."""
        ...

    def cancel_event(self, tenant_id: str, organizer_id: str, event_id: str, comment: str | None, *,
                     correlation_id: str) -> bool:
        """``POST /users/{organizer}/events/{id}/cancel``: the attendees receive the cancellation. False when
        Graph no longer had the event."""
        ...


class GraphPort(MeetingsGraph, CalendarGraph, Protocol):
    """Everything the use cases ask of Graph (``shared.graph.GraphClient``)."""
