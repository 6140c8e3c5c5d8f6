"""The Microsoft Graph adapter: onlineMeetings of one organizer, with bounded in-process retries.

Which calls may be retried, and why: createOrGet is idempotent by construction (the meeting is identified by
(tenant, organizer, externalId), so a repeat returns the meeting the first call created:
https://learn.microsoft.com/graph/api/application-post-onlinemeetings-createorget); PATCH and DELETE are idempotent.
Those are retried on throttling (429), 503/504 and timeouts, honouring Retry-After up to a cap
(https://learn.microsoft.com/graph/throttling); longer waits and every other failure belong to the caller or the
queue. A plain create (POST /onlineMeetings) is not idempotent: it is retried only where Graph certainly did not act
(429, or no connection made); after a timeout it may have created a meeting, which is logged as possibly orphaned.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

import requests

from shared.domain.errors import BrokerError, GraphUnavailable
from shared.domain.calendar_event import carries_property
from shared.adapters.graph.answers import (json_object, error_of, event_of, event_of_value, meeting_of, meeting_of_value,
                            parse_retry_after)
from shared.ports import GraphAnswer, GraphPort, TokenProvider

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503, 504})
NOT_ACTED = frozenset({429})  # throttled: Graph did not act on the request
MAX_HANDED_BACK = 3600.0      # a Retry-After handed to the caller or the queue is capped at an hour


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4             # the first call and three retries, as the Graph SDKs do
    max_retry_after: float = 10.0     # never hold a worker longer than this for one wait
    backoff_base: float = 0.5         # exponential backoff when Graph sends no Retry-After
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class _Call:
    """One Graph operation: what it is called in logs, how it goes out, what it may be retried on."""

    name: str
    method: str
    path: str
    tenant_id: str
    organizer_id: str
    correlation_id: str
    idempotent: bool
    doing: str                           # for the 403 text: "create meetings", "change meetings"
    body: dict[str, Any] | None = None
    accept_language: str | None = None
    meeting_id: str | None = None
    calendar: bool = False               # an events call: a 403 is a mailbox outside the app's Exchange scope


class GraphClient(GraphPort):
    """The Graph port over HTTPS with a pooled ``requests.Session``."""

    def __init__(self, session: requests.Session, tokens: TokenProvider, *, base_url: str, api_version: str,
                 app_id: str | None, policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random) -> None:
        self._session = session
        self._tokens = tokens
        self._base = f"{base_url.rstrip('/')}/{api_version}"
        self._app_id = app_id or "(this app)"
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
                      accept_language: str | None = None) -> GraphAnswer:
        response = self._send(_Call("createOrGet", "POST", f"{_meetings(organizer_id)}/createOrGet", tenant_id,
                                    organizer_id, correlation_id, True, "create meetings", body, accept_language))
        return GraphAnswer(meeting_of(response), response.status_code == 201, response.headers.get("request-id"))

    def create(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
               accept_language: str | None = None) -> GraphAnswer:
        response = self._send(_Call("create", "POST", _meetings(organizer_id), tenant_id, organizer_id,
                                    correlation_id, False, "create meetings", body, accept_language))
        return GraphAnswer(meeting_of(response), True, response.headers.get("request-id"))

    def update(self, tenant_id: str, organizer_id: str, meeting_id: str, patch: dict[str, Any], *,
               correlation_id: str) -> dict[str, Any]:
        response = self._send(_Call("update", "PATCH", f"{_meetings(organizer_id)}/{quote(meeting_id, safe='')}",
                                    tenant_id, organizer_id, correlation_id, True, "change meetings", patch,
                                    meeting_id=meeting_id))
        return meeting_of(response)

    def delete(self, tenant_id: str, organizer_id: str, meeting_id: str, *, correlation_id: str) -> bool:
        """Delete the meeting; False when Graph no longer had it (already gone counts as done)."""
        try:
            self._send(_Call("delete", "DELETE", f"{_meetings(organizer_id)}/{quote(meeting_id, safe='')}",
                             tenant_id, organizer_id, correlation_id, True, "delete meetings", meeting_id=meeting_id))
        except BrokerError as error:
            if error.code == "meeting_gone":
                return False
            raise
        return True

    def meeting_by_join_url(self, tenant_id: str, organizer_id: str, join_web_url: str, *,
                            correlation_id: str) -> dict[str, Any] | None:
        # The URL goes inside the filter's quotes URL-encoded, as Graph's "get onlineMeeting" page shows.
        path = f"{_meetings(organizer_id)}?$filter=JoinWebUrl%20eq%20'{quote(join_web_url, safe='')}'"
        found = self._send(_Call("findByJoinUrl", "GET", path, tenant_id, organizer_id, correlation_id, True,
                                 "read meetings"))
        value = json_object(found).get("value")
        return meeting_of_value(value[0]) if isinstance(value, list) and value else None

    def create_event(self, tenant_id: str, organizer_id: str, event: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        return event_of(self._send(_Call("createEvent", "POST", _events(organizer_id), tenant_id, organizer_id,
                                         correlation_id, False, "create events", event, calendar=True)))

    def find_event(self, tenant_id: str, organizer_id: str, property_id: str, value: str, *,
                   correlation_id: str) -> dict[str, Any] | None:
        condition = (f"singleValueExtendedProperties/Any(ep: ep/id eq '{_odata(property_id)}' and ep/value eq "
                     f"'{_odata(value)}')")
        path = f"{_events(organizer_id)}?$filter={quote(condition, safe='')}&$top=50&$expand=" + quote(
            f"singleValueExtendedProperties($filter=id eq '{_odata(property_id)}')", safe="")
        found = json_object(self._send(_Call("findEvent", "GET", path, tenant_id, organizer_id, correlation_id,
                                              True, "read events", calendar=True))).get("value")
        # Graph matches the value case-insensitively: only an exact match is this key's event.
        exact = [event for event in found if carries_property(event, property_id, value)] \
            if isinstance(found, list) else []
        return event_of_value(exact[0]) if exact else None

    def update_event(self, tenant_id: str, organizer_id: str, event_id: str, patch: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        return event_of(self._send(_Call("updateEvent", "PATCH", f"{_events(organizer_id)}/{quote(event_id, safe='')}",
                                         tenant_id, organizer_id, correlation_id, True, "change events", patch,
                                         meeting_id=event_id, calendar=True)))

    def cancel_event(self, tenant_id: str, organizer_id: str, event_id: str, comment: str | None, *,
                     correlation_id: str) -> bool:
        try:
            self._send(_Call("cancelEvent", "POST", f"{_events(organizer_id)}/{quote(event_id, safe='')}/cancel",
                             tenant_id, organizer_id, correlation_id, True, "cancel events",
                             {"comment": comment} if comment else {}, meeting_id=event_id, calendar=True))
        except BrokerError as error:
            if error.code == "meeting_gone":
                return False
            raise
        return True

    def _send(self, call: _Call) -> requests.Response:
        """The call with bounded retries; a success answer (2xx), or the broker error for the last failure."""
        policy, url = self._policy, self._base + call.path
        last_error: BrokerError | None = None
        for attempt in range(1, policy.max_attempts + 1):
            client_request_id = str(uuid.uuid4())
            headers = {
                "Authorization": f"Bearer {self._tokens.token(call.tenant_id)}",
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
                # Lets producer/coorganizer roles round-trip instead of coming back as unknownFutureValue.
                "Prefer": "include-unknown-enum-members",
            }
            if call.accept_language:
                headers["Accept-Language"] = call.accept_language  # localizes joinInformation
            started = time.monotonic()
            try:
                response = self._session.request(call.method, url, json=call.body, headers=headers,
                                                 timeout=(policy.connect_timeout, policy.read_timeout))
            except (requests.Timeout, requests.ConnectionError) as exc:
                sent = not isinstance(exc, requests.ConnectTimeout)
                log.warning("Graph %s attempt %d failed in transport (%s) correlation=%s client-request-id=%s%s",
                            call.name, attempt, type(exc).__name__, call.correlation_id, client_request_id,
                            "" if call.idempotent or not sent else
                            ": the meeting may have been created (possibly orphaned); a retry creates again")
                last_error = GraphUnavailable(f"Microsoft Graph did not answer in time ({type(exc).__name__})")
                if sent and not call.idempotent:
                    raise last_error from None
                delay = self._backoff(attempt)
            else:
                request_id = response.headers.get("request-id")
                log.info("Graph %s status=%d attempt=%d ms=%d correlation=%s request-id=%s client-request-id=%s",
                         call.name, response.status_code, attempt, (time.monotonic() - started) * 1000,
                         call.correlation_id, request_id, client_request_id)
                if 200 <= response.status_code < 300:
                    return response
                last_error = error_of(response, app_id=self._app_id, tenant_id=call.tenant_id,
                                      organizer_id=call.organizer_id, doing=call.doing, meeting_id=call.meeting_id,
                                      calendar=call.calendar)
                retry_on = RETRY_STATUSES if call.idempotent else NOT_ACTED  # a 5xx may have acted on a create
                if response.status_code not in retry_on:
                    raise last_error
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
                last_error.retry_after = retry_after
                delay = retry_after if retry_after is not None else self._backoff(attempt)
            if attempt == policy.max_attempts or delay > policy.max_retry_after:
                # Too long to wait in process: hand the wait to the caller (Retry-After) or to the queue.
                last_error.retry_after = min(max(delay, last_error.retry_after or 0.0), MAX_HANDED_BACK)
                raise last_error
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return self._policy.backoff_base * (2 ** (attempt - 1)) * (0.5 + self._jitter())


def _meetings(organizer_id: str) -> str:
    return f"/users/{quote(organizer_id, safe='@')}/onlineMeetings"


def _events(organizer_id: str) -> str:
    return f"/users/{quote(organizer_id, safe='@')}/events"


def _odata(value: str) -> str:
    """A string literal inside an OData filter: single quotes doubled."""
    return value.replace("'", "''")
