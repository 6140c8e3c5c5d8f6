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
from .domain import payload_ids, result_message, to_message, utc_now
from .errors import BrokerError, ConfigurationError, MalformedJson, RetriesExhausted
from .services import DEFERRED_OUTCOME

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
    service = container.service
    payload = None
    try:
        try:
            payload = decode_message(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedJson(f"the message is not valid UTF-8 JSON ({type(exc).__name__})") from None
        request = service.parse(payload, queue=True)
    except BrokerError as error:
        log.warning("queue message %s refused: %s", message_id, error.code)
        correlation_id = payload_ids(payload)["correlationId"] or message_id
        outcome = service.refused(error, correlation_id=correlation_id, source="queue", payload=payload)
        return outcome.message

    correlation_id = request.correlation_id or message_id
    outcome = service.submit(request, source="queue", correlation_id=correlation_id, transient_is_final=False)
    if outcome.status == DEFERRED_OUTCOME:
        assert outcome.retry_in is not None
        # A new copy that becomes visible after the delay (the trigger's own retry delay is fixed by host.json);
        # this message then completes without a result: the copy will produce it.
        assert isinstance(payload, dict)
        container.requeue(to_message({**payload, "correlationId": correlation_id}),
                          outcome.retry_in)
        return None
    if outcome.retryable_failure:
        assert outcome.error is not None
        log.warning("queue message %s will be retried (attempt %d): %s", message_id, dequeue_count,
                    outcome.error.code)
        raise outcome.error
    return outcome.message


def process_poison(body: bytes, *, message_id: str, dequeue_count: int,
                   container_factory: Callable[[], Container]) -> str:
    """A message that failed every attempt: record and emit the final ``retries_exhausted`` result."""
    try:
        payload = decode_message(body)
    except (UnicodeDecodeError, ValueError):
        payload = None
    try:
        container = container_factory()
    except ConfigurationError as error:
        # The app cannot even load its settings: nothing can be recorded, but the outcome is still emitted
        # (the output binding needs none of the app's own settings), so the request is not lost silently.
        log.error("retries exhausted under a configuration error, message %s", message_id)
        return to_message(unrecorded_exhaustion(payload, message_id, error))
    text = json.dumps(payload) if payload is not None else ""
    outcome = container.service.exhausted(text, correlation_id=message_id, dequeue_count=dequeue_count)
    return outcome.message


def unrecorded_exhaustion(payload: object, message_id: str, cause: BrokerError) -> dict:
    text = payload_ids(payload)
    error = RetriesExhausted(f"the request failed on every attempt; last error: {cause.code}: {cause.detail}")
    return result_message(correlation_id=text["correlationId"] or message_id, tenant_id=text["tenantId"],
                          organizer_id=text["organizerId"], external_id=text["externalId"], status="failed",
                          meeting=None, error=error.as_result_error(), source="queue", completed_at=utc_now())
