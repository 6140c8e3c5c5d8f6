"""Result callbacks per Standard Webhooks (issue 21): the signing secrets, the retry schedule, the delivery message
on ``MEETING_CALLBACKS_QUEUE``, the result of one attempt and the record a delivery ends as on
``MEETING_CALLBACKS_FAILED_QUEUE``. Standard library only; where a callback may go is ``callback_urls``.

A delivery is one result message for one callbackUrl. Its ``webhookId`` is made once, when the result is, and every
attempt carries it (receivers deduplicate on it); each attempt is a new message on the callbacks queue, made visible
after the schedule's delay. https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid
import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from shared.domain.clock import format_datetime, parse_datetime
from shared.domain.jsontext import MAX_QUEUE_MESSAGE_BYTES, fits_queue, nesting_depth, MAX_DEPTH
from shared.domain.messages import to_message


# Signing secrets: "whsec_" then the base64 of the key. The spec asks for 24 to 64 random bytes; new ones have 32.
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES, MAX_SECRET_BYTES, NEW_SECRET_BYTES = 24, 64, 32
SECRET_RULE = f"{SECRET_PREFIX} then the base64 of {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes"


def signing_secret_key(value: str) -> bytes | None:
    """The key a ``whsec_`` secret holds, or None when it is not one (strict base64, padding optional)."""
    if not value.startswith(SECRET_PREFIX) or not value.isascii():
        return None
    text = value[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES else None


def parse_signing_secrets(raw: str) -> tuple[str, ...]:
    """One or more secrets separated by spaces (all sign; any verifies). ValueError naming the position of each one
    that is malformed, never its value."""
    found = tuple(raw.split())
    bad = [str(number) for number, secret in enumerate(found, 1) if signing_secret_key(secret) is None]
    if bad:
        raise ValueError(f"secret{'s' if len(bad) > 1 else ''} {', '.join(bad)} of {len(found)} "
                         f"{'are' if len(bad) > 1 else 'is'} not {SECRET_RULE}")
    return found


def require_signing_secrets(signing_secrets: Sequence[str], setting: str) -> tuple[str, ...]:
    """The secrets a signer or verifier is made with; ValueError (naming the setting, no value) unless every one is
    well formed and there is at least one."""
    if not signing_secrets or any(signing_secret_key(secret) is None for secret in signing_secrets):
        raise ValueError(f"{setting} must be one or more secrets, each {SECRET_RULE}")
    return tuple(signing_secrets)


def new_signing_secret(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(random_bytes(NEW_SECRET_BYTES)).decode("ascii")


# The seconds before each retry. A message's visibility delay is at most 7 days in Azure Queue Storage.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_RETRY_DELAY = 7 * 24 * 3600
MAX_RETRIES = 100


def parse_retry_schedule(raw: str) -> tuple[int, ...]:
    """``CALLBACK_RETRY_SCHEDULE``: comma-separated whole seconds (``0`` = at once); blank means the default."""
    if not raw.strip():
        return DEFAULT_RETRY_SCHEDULE
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) > MAX_RETRIES or not all(re.fullmatch(r"[0-9]{1,7}", part, re.ASCII) for part in parts):
        raise ValueError(f"must be up to {MAX_RETRIES} comma-separated whole numbers of seconds, e.g. 5,300,1800")
    delays = tuple(int(part) for part in parts)
    if max(delays) > MAX_RETRY_DELAY:
        raise ValueError(f"delays must be at most {MAX_RETRY_DELAY} seconds (7 days, the queue's longest delay)")
    return delays


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"  # a 2xx answer
    GONE = "gone"            # 410: the receiver wants no more for this key
    RETRY = "retry"          # anything else: another status, a timeout, a TLS or connection error, a refused address


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended: the answer's status, or the error (never a URL's query, never a secret)."""

    outcome: AttemptOutcome
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0

    @classmethod
    def answered(cls, status: int, duration_ms: int = 0) -> "AttemptResult":
        if 200 <= status <= 299:
            outcome = AttemptOutcome.DELIVERED
        elif status == 410:
            outcome = AttemptOutcome.GONE
        else:
            outcome = AttemptOutcome.RETRY
        error = f"HTTP {status} (redirects are not followed)" if 300 <= status <= 399 else None
        return cls(outcome, status, error, duration_ms)

    @classmethod
    def not_sent(cls, error: str, duration_ms: int = 0) -> "AttemptResult":
        return cls(AttemptOutcome.RETRY, None, error, duration_ms)

    def as_answer(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "durationMs": self.duration_ms}


_WEBHOOK_ID = re.compile(r"[\x21-\x7e]{1,200}", re.ASCII)
MAX_ATTEMPT = 1000


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _result_text(body: Any) -> str:
    """The result message text, checked: a JSON object, UTF-8 encodable, of a size a queue message can carry."""
    if not isinstance(body, str):
        raise ValueError("body must be the result message's JSON text")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("body is not UTF-8 encodable") from None
    if size > MAX_QUEUE_MESSAGE_BYTES or nesting_depth(body) > MAX_DEPTH:
        raise ValueError("body is too large or nests too deeply")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ValueError("body is not JSON") from None
    if not isinstance(parsed, dict):
        raise ValueError("body is not a JSON object")
    return body


@dataclass(frozen=True)
class CallbackDelivery:
    """One attempt-to-be of one result for one callbackUrl: the message on MEETING_CALLBACKS_QUEUE.

    ``body`` is the result message's text, sent byte for byte (UTF-8); ``attempt`` counts from 1; ``key`` is the
    producer's name for the request's key (what a 410 stops delivering for), opaque here."""

    webhook_id: str
    url: str
    body: str
    attempt: int
    first_attempt_at: datetime
    key: str | None = None

    @classmethod
    def first(cls, *, url: str, body: str, now: datetime, key: str | None = None,
              webhook_id: str | None = None) -> "CallbackDelivery":
        """The first attempt of a new result's delivery: a new webhook id unless one is given."""
        return cls(webhook_id or new_webhook_id(), url, _result_text(body), 1, now, key)

    def next_attempt(self) -> "CallbackDelivery":
        return CallbackDelivery(self.webhook_id, self.url, self.body, self.attempt + 1, self.first_attempt_at,
                                self.key)

    @property
    def host(self) -> str:
        """The URL's host, for logs (the query may carry a token: it is never logged)."""
        try:
            return urlsplit(self.url).hostname or "?"
        except ValueError:
            return "?"

    def to_document(self) -> dict[str, Any]:
        return {"webhookId": self.webhook_id, "url": self.url, "body": self.body, "attempt": self.attempt,
                "firstAttemptAt": format_datetime(self.first_attempt_at), "key": self.key}

    def to_json(self) -> str:
        text = to_message(self.to_document())
        if not fits_queue(text):
            raise ValueError("the delivery does not fit a queue message (64 KiB)")
        return text

    @classmethod
    def from_json(cls, text: str | bytes) -> "CallbackDelivery":
        """Read a delivery message; ValueError naming the first member that is missing or wrong."""
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            if nesting_depth(text) > MAX_DEPTH:
                raise ValueError
            document = json.loads(text)
        except ValueError:
            raise ValueError("a delivery message must be UTF-8 JSON") from None
        if not isinstance(document, dict):
            raise ValueError("a delivery message must be a JSON object")
        webhook_id, url, attempt, key = (document.get(name) for name in ("webhookId", "url", "attempt", "key"))
        if not isinstance(webhook_id, str) or not _WEBHOOK_ID.fullmatch(webhook_id):
            raise ValueError("webhookId must be 1 to 200 visible ASCII characters")
        if not isinstance(url, str) or not url:
            raise ValueError("url must be a non-empty string")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPT:
            raise ValueError(f"attempt must be a whole number from 1 to {MAX_ATTEMPT}")
        if key is not None and not isinstance(key, str):
            raise ValueError("key must be a string or null")
        first = document.get("firstAttemptAt")
        try:
            first_attempt_at = parse_datetime(first) if isinstance(first, str) else None
        except ValueError:
            first_attempt_at = None
        if first_attempt_at is None:
            raise ValueError("firstAttemptAt must be an ISO 8601 date-time with an offset")
        return cls(webhook_id, url, _result_text(document.get("body")), attempt, first_attempt_at, key)


@dataclass(frozen=True)
class FailedDelivery:
    """What MEETING_CALLBACKS_FAILED_QUEUE keeps of a delivery whose every attempt failed: the result (as JSON, as
    sent), the callbackUrl, the attempts made and the last answer or error."""

    delivery: CallbackDelivery
    last: AttemptResult
    failed_at: datetime

    def to_document(self) -> dict[str, Any]:
        return {
            "webhookId": self.delivery.webhook_id,
            "callbackUrl": self.delivery.url,
            "key": self.delivery.key,
            "result": json.loads(self.delivery.body),
            "attempts": self.delivery.attempt,
            "firstAttemptAt": format_datetime(self.delivery.first_attempt_at),
            "failedAt": format_datetime(self.failed_at),
            "lastAnswer": self.last.as_answer(),
        }

    def to_json(self) -> str:
        return to_message(self.to_document())


def malformed_delivery(text: str, problem: str, failed_at: datetime) -> str:
    """What MEETING_CALLBACKS_FAILED_QUEUE keeps of a message on the callbacks queue that is no delivery: the text as
    received (shortened, and marked so, only when the record would not fit a queue message) and what is wrong."""
    kept, truncated = text, False
    while True:
        record = to_message({"malformed": True, "error": problem, "message": kept, "truncated": truncated,
                             "failedAt": format_datetime(failed_at)})
        if fits_queue(record):
            return record
        kept, truncated = kept[:len(kept) // 2], True


def with_body(delivery_json: str, body: str) -> str:
    """The delivery message ``delivery_json`` carrying ``body`` instead (the result message as finally written, e.g.
    with its ``traceparent``), so that the callback and the results queue get the very same text."""
    return dataclasses.replace(CallbackDelivery.from_json(delivery_json), body=body).to_json()
