"""The Microsoft Graph adapter: createOrGet for one organizer, with bounded in-process retries.

Why a POST may be retried here: createOrGet is idempotent by construction — the meeting is identified by
(tenant, organizer, externalId), so a repeat returns the meeting the first call created
(https://learn.microsoft.com/graph/api/application-post-onlinemeetings-createorget). Only throttling (429) and
503/504/timeouts are retried in process, honouring Retry-After up to a cap
(https://learn.microsoft.com/graph/throttling); longer waits and every other failure belong to the queue's retries.
"""
from __future__ import annotations

import email.utils
import logging
import math
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

import requests

from .errors import (
    AccessPolicyMissing,
    BrokerError,
    GraphRejected,
    GraphThrottled,
    GraphUnauthorized,
    GraphUnavailable,
    OrganizerNotFound,
)
from .ports import GraphAnswer, TokenProvider
from .values import organizer_object_id

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503, 504})
POLICY_DELAY_MINUTES = 30


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4             # the first call and three retries, as the Graph SDKs do
    max_retry_after: float = 10.0     # never hold a worker longer than this for one wait
    backoff_base: float = 0.5         # exponential backoff when Graph sends no Retry-After
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


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


class GraphClient:
    """The ``MeetingsGraph`` port over HTTPS with a pooled ``requests.Session``."""

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

    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *,
                      correlation_id: str) -> GraphAnswer:
        url = f"{self._base}/users/{quote(organizer_id, safe='@')}/onlineMeetings/createOrGet"
        policy = self._policy
        last_error: BrokerError | None = None
        for attempt in range(1, policy.max_attempts + 1):
            client_request_id = str(uuid.uuid4())
            headers = {
                "Authorization": f"Bearer {self._tokens.token(tenant_id)}",
                "Content-Type": "application/json",
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
                # Lets producer/coorganizer roles round-trip instead of coming back as unknownFutureValue.
                "Prefer": "include-unknown-enum-members",
            }
            started = time.monotonic()
            try:
                response = self._session.post(url, json=body, headers=headers,
                                              timeout=(policy.connect_timeout, policy.read_timeout))
            except (requests.Timeout, requests.ConnectionError) as exc:
                log.warning("Graph createOrGet attempt %d failed in transport (%s) correlation=%s externalId=%r "
                            "client-request-id=%s", attempt, type(exc).__name__, correlation_id,
                            body.get("externalId"), client_request_id)
                last_error = GraphUnavailable(f"Microsoft Graph did not answer in time ({type(exc).__name__})")
                delay = self._backoff(attempt)
            else:
                request_id = response.headers.get("request-id")
                log.info("Graph createOrGet status=%d attempt=%d ms=%d correlation=%s externalId=%r request-id=%s "
                         "client-request-id=%s", response.status_code, attempt,
                         (time.monotonic() - started) * 1000, correlation_id, body.get("externalId"), request_id,
                         client_request_id)
                if response.status_code in (200, 201):
                    return GraphAnswer(self._meeting(response), response.status_code == 201, request_id)
                last_error = self._error(response, tenant_id, organizer_id, request_id)
                if response.status_code not in RETRY_STATUSES:
                    raise last_error
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
                last_error.retry_after = retry_after
                delay = retry_after if retry_after is not None else self._backoff(attempt)
            if attempt == policy.max_attempts or delay > policy.max_retry_after:
                # Too long to wait in process: hand the wait to the caller (Retry-After) or to the queue.
                last_error.retry_after = max(delay, last_error.retry_after or 0.0)
                raise last_error
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return self._policy.backoff_base * (2 ** (attempt - 1)) * (0.5 + self._jitter())

    @staticmethod
    def _meeting(response: requests.Response) -> dict[str, Any]:
        """The onlineMeeting of a success answer. An answer without the id, the join URL or the organizer's object
        id is not a meeting that can be recorded or handed on: treated as a failure of Graph (retryable)."""
        try:
            meeting = response.json()
        except ValueError:
            meeting = None
        if not isinstance(meeting, dict):
            raise GraphUnavailable(f"Microsoft Graph answered {response.status_code} without an onlineMeeting body")
        missing = [name for name, present in (
            ("id", isinstance(meeting.get("id"), str) and bool(meeting.get("id"))),
            ("joinWebUrl", isinstance(meeting.get("joinWebUrl"), str) and
             str(meeting.get("joinWebUrl")).startswith("https://")),
            ("participants.organizer.identity.user.id", organizer_object_id(meeting) is not None),
        ) if not present]
        if missing:
            raise GraphUnavailable(f"Microsoft Graph answered {response.status_code} with an onlineMeeting that "
                                   f"lacks {', '.join(missing)}")
        return meeting

    def _error(self, response: requests.Response, tenant_id: str, organizer_id: str,
               request_id: str | None) -> BrokerError:
        status = response.status_code
        code, message = _graph_error(response)
        where = f"(Graph status {status}, code {code or '-'}, request-id {request_id or '-'})"
        if status == 401:
            return GraphUnauthorized(f"Microsoft Graph did not accept the app's token for tenant {tenant_id} {where}")
        if status == 403:
            return AccessPolicyMissing(
                f"App {self._app_id} is not allowed to create meetings for organizer {organizer_id} in tenant "
                f"{tenant_id}: a Teams administrator must grant an application access policy that names this app to "
                f"the organizer (or globally), for example: New-CsApplicationAccessPolicy -Identity Meetings-Broker "
                f'-AppIds "{self._app_id}"; Grant-CsApplicationAccessPolicy -PolicyName Meetings-Broker -Identity '
                f'"{organizer_id}". A new grant takes up to {POLICY_DELAY_MINUTES} minutes to apply. {where}',
                extra={"appId": self._app_id, "organizerId": organizer_id},
            )
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
