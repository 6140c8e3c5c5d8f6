"""The Microsoft Graph adapter (``GraphPort``): onlineMeetings and calendar events, with bounded in-process retries.

An idempotent operation is retried on 429, 503/504 and timeouts, honouring Retry-After up to a cap; one that is not
(a plain create) only where Graph certainly did not act (429, no connection made), and a timeout after sending is
logged as a possibly orphaned meeting. Longer waits and every other failure go to the caller or the queue.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, urlsplit

import requests

from shared import telemetry
from shared.adapters.graph.answers import (error_of, event_of, event_of_value, forbidden_cause, json_object,
                                           meeting_of, meeting_of_value, parse_retry_after)
from shared.adapters.graph.operations import (CANCEL_EVENT, CREATE_EVENT, CREATE_MEETING, CREATE_OR_GET,
                                              DELETE_MEETING, FIND_EVENTS, MEETINGS_BY_JOIN_URL, UPDATE_EVENT,
                                              UPDATE_MEETING, Operation)
from shared.adapters.graph.operations import ATTENDANCE_RECORDS, ATTENDANCE_REPORTS, TRANSCRIPT_CONTENT, TRANSCRIPTS
from shared.domain.calendar_event import carries_property
from shared.domain.errors import BrokerError, GraphUnavailable
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
    """One call of an operation: for whom, on which item, with what."""

    operation: Operation
    tenant_id: str
    organizer_id: str
    correlation_id: str
    item_id: str | None = None          # the meeting or event of an operation on one item
    query: str = ""
    body: dict[str, Any] | None = None
    accept_language: str | None = None


class GraphClient(GraphPort):
    """The Graph port over HTTPS with a pooled ``requests.Session``."""

    def __init__(self, session: requests.Session, tokens: TokenProvider, *, base_url: str, api_version: str,
                 app_id: str | None, policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random) -> None:
        self._session = session
        self._tokens = tokens
        self._base = f"{base_url.rstrip('/')}/{api_version}"
        self._host = urlsplit(base_url).hostname or ""
        self._app_id = app_id or "(this app)"
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
                      accept_language: str | None = None) -> GraphAnswer:
        response = self._send(_Call(CREATE_OR_GET, tenant_id, organizer_id, correlation_id, body=body,
                                    accept_language=accept_language))
        return GraphAnswer(meeting_of(response), response.status_code == 201, response.headers.get("request-id"))

    def create(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *, correlation_id: str,
               accept_language: str | None = None) -> GraphAnswer:
        response = self._send(_Call(CREATE_MEETING, tenant_id, organizer_id, correlation_id, body=body,
                                    accept_language=accept_language))
        return GraphAnswer(meeting_of(response), True, response.headers.get("request-id"))

    def update(self, tenant_id: str, organizer_id: str, meeting_id: str, patch: dict[str, Any], *,
               correlation_id: str) -> dict[str, Any]:
        return meeting_of(self._send(_Call(UPDATE_MEETING, tenant_id, organizer_id, correlation_id, meeting_id,
                                           body=patch)))

    def delete(self, tenant_id: str, organizer_id: str, meeting_id: str, *, correlation_id: str) -> bool:
        """Delete the meeting; False when Graph no longer had it (already gone counts as done)."""
        return self._done_unless_gone(_Call(DELETE_MEETING, tenant_id, organizer_id, correlation_id, meeting_id))

    def meeting_by_join_url(self, tenant_id: str, organizer_id: str, join_web_url: str, *,
                            correlation_id: str) -> dict[str, Any] | None:
        # The URL goes inside the filter's quotes URL-encoded, as Graph's "get onlineMeeting" page shows.
        query = f"?$filter=JoinWebUrl%20eq%20'{quote(join_web_url, safe='')}'"
        found = self._send(_Call(MEETINGS_BY_JOIN_URL, tenant_id, organizer_id, correlation_id, query=query))
        value = json_object(found).get("value")
        return meeting_of_value(value[0]) if isinstance(value, list) and value else None

    def create_event(self, tenant_id: str, organizer_id: str, event: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        return event_of(self._send(_Call(CREATE_EVENT, tenant_id, organizer_id, correlation_id, body=event)))

    def find_event(self, tenant_id: str, organizer_id: str, property_id: str, value: str, *,
                   correlation_id: str) -> dict[str, Any] | None:
        condition = (f"singleValueExtendedProperties/Any(ep: ep/id eq '{_odata(property_id)}' and ep/value eq "
                     f"'{_odata(value)}')")
        query = f"?$filter={quote(condition, safe='')}&$top=50&$expand=" + quote(
            f"singleValueExtendedProperties($filter=id eq '{_odata(property_id)}')", safe="")
        found = json_object(self._send(_Call(FIND_EVENTS, tenant_id, organizer_id, correlation_id,
                                             query=query))).get("value")
        # Graph matches the value case-insensitively: only an exact match is this key's event.
        exact = [event for event in found if carries_property(event, property_id, value)] \
            if isinstance(found, list) else []
        return event_of_value(exact[0]) if exact else None

    def update_event(self, tenant_id: str, organizer_id: str, event_id: str, patch: dict[str, Any], *,
                     correlation_id: str) -> dict[str, Any]:
        return event_of(self._send(_Call(UPDATE_EVENT, tenant_id, organizer_id, correlation_id, event_id,
                                         body=patch)))

    def cancel_event(self, tenant_id: str, organizer_id: str, event_id: str, comment: str | None, *,
                     correlation_id: str) -> bool:
        return self._done_unless_gone(_Call(CANCEL_EVENT, tenant_id, organizer_id, correlation_id, event_id,
                                            body={"comment": comment} if comment else {}))

    def _done_unless_gone(self, call: _Call) -> bool:
        """A call on one item; False when Graph no longer had the item."""
        try:
            self._send(call)
        except BrokerError as error:
            if error.code == "meeting_gone":
                return False
            raise
        return True

    def _send(self, call: _Call) -> requests.Response:
        """The call with bounded retries; a success answer (2xx), or the broker error for the last failure."""
        operation, policy = call.operation, self._policy
        url = self._base + operation.path(call.organizer_id, call.item_id) + call.query
        for attempt in range(1, policy.max_attempts + 1):
            answer = self._attempt(call, url, attempt)
            if isinstance(answer, requests.Response):
                return answer
            error, delay = answer
            if attempt == policy.max_attempts or delay > policy.max_retry_after:
                # Too long to wait in process: hand the wait to the caller (Retry-After) or to the queue.
                error.retry_after = min(max(delay, error.retry_after or 0.0), MAX_HANDED_BACK)
                raise error
            self._sleep(delay)
            telemetry.graph_waited(operation.name, delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, call: _Call, url: str, attempt: int) -> requests.Response | tuple[BrokerError, float]:
        """One attempt in its span: a success answer, or the error and the wait before a retry (an error that no
        retry can help is raised)."""
        operation, policy = call.operation, self._policy
        client_request_id = str(uuid.uuid4())
        with telemetry.span(f"Graph {operation.name}", {"graph.operation": operation.name, "graph.attempt": attempt,
                                                        "http.request.method": operation.method,
                                                        "server.address": self._host}, kind="CLIENT") as span:
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
                response = self._session.request(operation.method, url, json=call.body, headers=headers,
                                                 timeout=(policy.connect_timeout, policy.read_timeout))
            except (requests.Timeout, requests.ConnectionError) as exc:
                telemetry.graph_answered(operation.name, "transport", time.monotonic() - started)
                sent = not isinstance(exc, requests.ConnectTimeout)
                log.warning("Graph %s attempt %d failed in transport (%s) correlation=%s client-request-id=%s%s",
                            operation.name, attempt, type(exc).__name__, call.correlation_id, client_request_id,
                            "" if operation.idempotent or not sent else
                            ": the meeting may have been created (possibly orphaned); a retry creates again")
                error: BrokerError = GraphUnavailable(
                    f"Microsoft Graph did not answer in time ({type(exc).__name__})")
                if sent and not operation.idempotent:
                    raise error from None
                span.fail(type(exc).__name__)
                return self._retry_in(span, error, self._backoff(attempt))
            request_id = response.headers.get("request-id")
            elapsed = time.monotonic() - started
            telemetry.graph_answered(operation.name, response.status_code, elapsed)
            span.set("http.response.status_code", response.status_code)
            span.set("graph.request_id", request_id)
            log.info("Graph %s status=%d attempt=%d ms=%d correlation=%s request-id=%s client-request-id=%s",
                     operation.name, response.status_code, attempt, elapsed * 1000, call.correlation_id, request_id,
                     client_request_id)
            if 200 <= response.status_code < 300:
                return response
            error = error_of(response, operation, app_id=self._app_id, tenant_id=call.tenant_id,
                             organizer_id=call.organizer_id)
            if response.status_code == 403:
                telemetry.graph_forbidden(operation.name, forbidden_cause(response, error))
            retry_on = RETRY_STATUSES if operation.idempotent else NOT_ACTED  # a 5xx may have acted on a create
            if response.status_code not in retry_on:
                raise error
            span.fail(error.code)
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            span.set("graph.retry_after", error.retry_after)
            return self._retry_in(span, error, error.retry_after if error.retry_after is not None
                                  else self._backoff(attempt))

    @staticmethod
    def _retry_in(span: telemetry.Span, error: BrokerError, delay: float) -> tuple[BrokerError, float]:
        span.set("graph.retry_in", delay)
        return error, delay

    def _backoff(self, attempt: int) -> float:
        return self._policy.backoff_base * (2 ** (attempt - 1)) * (0.5 + self._jitter())

    # ---- meeting artifacts (issue 23): read-only lists, paged through @odata.nextLink, over the request path above

    MAX_PAGES = 100  # pages of one collection read before giving up (an artifact list is far shorter)

    def attendance_reports(self, tenant_id: str, organizer_id: str, meeting_id: str, *,
                           correlation_id: str) -> list[dict[str, Any]]:
        return self._every_page(_Call(ATTENDANCE_REPORTS, tenant_id, organizer_id, correlation_id, meeting_id))

    def attendance_records(self, tenant_id: str, organizer_id: str, meeting_id: str, report_id: str, *,
                           correlation_id: str) -> list[dict[str, Any]]:
        return self._every_page(_Call(ATTENDANCE_RECORDS.under(report=report_id), tenant_id, organizer_id,
                                      correlation_id, meeting_id))

    def transcripts(self, tenant_id: str, organizer_id: str, meeting_id: str, *,
                    correlation_id: str) -> list[dict[str, Any]]:
        return self._every_page(_Call(TRANSCRIPTS, tenant_id, organizer_id, correlation_id, meeting_id))

    def transcript_content(self, tenant_id: str, organizer_id: str, meeting_id: str, transcript_id: str, *,
                           correlation_id: str) -> str:
        response = self._send(_Call(TRANSCRIPT_CONTENT.under(transcript=transcript_id), tenant_id, organizer_id,
                                    correlation_id, meeting_id))
        return response.content.decode("utf-8", "replace")  # WebVTT is UTF-8 text

    def _every_page(self, call: _Call) -> list[dict[str, Any]]:
        """The items of a collection, page after page while Graph names a next one (at most MAX_PAGES)."""
        items: list[dict[str, Any]] = []
        for _ in range(self.MAX_PAGES):
            page = json_object(self._send(call), "a collection")
            value = page.get("value")
            if not isinstance(value, list):
                raise GraphUnavailable(f"Microsoft Graph answered {call.operation.name} without a list of values")
            items += [item for item in value if isinstance(item, dict)]
            link = page.get("@odata.nextLink")
            if not link:
                return items
            call = self._next_page(call, link)
        raise GraphUnavailable(f"Microsoft Graph answered {call.operation.name} with more than {self.MAX_PAGES} pages")

    def _next_page(self, call: _Call, link: Any) -> _Call:
        """The call of the page a nextLink names, verbatim: only below this client's Graph address and version (the
        app's token goes nowhere else)."""
        if not isinstance(link, str) or not link.startswith(self._base + "/"):
            raise GraphUnavailable(f"Microsoft Graph answered {call.operation.name} with a next page outside "
                                   f"{self._base}")
        path, _, query = link[len(self._base):].partition("?")
        return _Call(call.operation.at(path), call.tenant_id, call.organizer_id, call.correlation_id,
                     query=f"?{query}" if query else "")


def _odata(value: str) -> str:
    """A string literal inside an OData filter: single quotes doubled."""
    return value.replace("'", "''")
