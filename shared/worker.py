"""The queue adapter: one intake message in, at most one result message out.

A permanent failure (invalid request, malformed JSON, no access policy, unknown organizer) produces a ``failed``
result at once. A transient one raises, so the Functions host makes the message visible again and retries it; after
``maxDequeueCount`` attempts the host moves it to the poison queue, whose trigger emits ``retries_exhausted``.
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Callable

from .bootstrap import Container
from .errors import BrokerError, ConfigurationError, MalformedJson
from .records import Status
from .usecases import create_meeting, exhaust_request, unrecorded_exhaustion
from .usecases.common import Context, refused
from .validation import validate_request
from .values import Clock
from .messages import payload_ids

log = logging.getLogger(__name__)


def _text(body: bytes) -> str:
    return body.decode("utf-8")


def decode_message(body: bytes) -> object:
    """The JSON of an intake message. host.json reads messages as plain text (``messageEncoding: none``) so that no
    message can fail decoding in the host and skip this code; base64-encoded JSON (the Functions default that many
    producers use) is accepted too. The two cannot be confused: plain JSON text is never valid base64."""
    text = _text(body).strip()
    try:
        return json.loads(text)
    except ValueError:
        try:
            decoded = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ValueError("not JSON") from None
        return json.loads(decoded)


def process_request(body: bytes, *, message_id: str, dequeue_count: int,
                    container_factory: Callable[[], Container]) -> str | None:
    """Handle one intake message; return the result message (None when deferred), or raise a retryable error."""
    container = container_factory()  # a configuration error raises: retried, then poisoned with a clear result
    deps, payload = container.deps, None
    try:
        try:
            payload = decode_message(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedJson(f"the message is not valid UTF-8 JSON ({type(exc).__name__})") from None
        request = validate_request(payload, api_version=deps.settings.api_version, queue=True)
    except BrokerError as error:
        log.warning("queue message %s refused: %s", message_id, error.code)
        correlation_id = payload_ids(payload)["correlationId"] or message_id
        return refused(deps, Context(correlation_id, "queue", payload=payload), error).message

    outcome = create_meeting(deps, request, source="queue", correlation_id=request.correlation_id or message_id,
                             final=False)
    if outcome.status == Status.DEFERRED:
        assert outcome.retry_in is not None and outcome.intake is not None
        # A new copy that becomes visible after the delay (the trigger's own retry delay is fixed by host.json);
        # this message then completes without a result: the copy will produce it.
        container.requeue(outcome.intake, outcome.retry_in)
        return None
    if outcome.retryable_failure:
        assert outcome.error is not None
        log.warning("queue message %s will be retried (attempt %d): %s", message_id, dequeue_count,
                    outcome.error.code)
        raise outcome.error
    return outcome.message


def process_poison(body: bytes, *, message_id: str, dequeue_count: int, container_factory: Callable[[], Container],
                   clock: Clock) -> str | None:
    """A message that failed every attempt: record and emit the final ``retries_exhausted`` result."""
    try:
        payload = decode_message(body)
    except (UnicodeDecodeError, ValueError):
        payload = None
    try:
        container = container_factory()
    except ConfigurationError as error:
        log.error("retries exhausted under a configuration error, message %s", message_id)
        return unrecorded_exhaustion(payload, message_id=message_id, cause=error, clock=clock).message
    return exhaust_request(container.deps, payload, message_id=message_id, dequeue_count=dequeue_count).message
