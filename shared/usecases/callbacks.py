"""Result callbacks in the use cases (issue 21): which callbackUrl a result goes to, the key's record keeping the URL
its last create request named, and the mark a 410 Gone leaves on it.

A result goes to the callbackUrl its request names (once it passes CALLBACK_ALLOWED_HOSTS), else to the one the key's
record keeps; never to a URL whose receiver answered 410 for that key. Its delivery is the ``Outcome``'s ``callback``:
the first attempt's message for MEETING_CALLBACKS_QUEUE, whose body is the result message's text as the results queue
gets it. The entry points send it with the result; ``usecases.deliver`` makes the attempts.
"""
from __future__ import annotations

import dataclasses
import json
import logging

from shared.domain.callbacks import CallbackDelivery
from shared.domain.errors import BrokerError, CallbackNotAllowed
from shared.domain.meeting_request import MeetingRequest
from shared.domain.records import MeetingKey, MeetingRecord, Status
from shared.usecases.context import Context, Deps, Outcome, refused as refused_untold

log = logging.getLogger("shared.usecases")


def check_callback_url(deps: Deps, request: object) -> None:
    """CallbackNotAllowed for a create request whose callbackUrl breaks a rule of CALLBACK_ALLOWED_HOSTS."""
    if isinstance(request, MeetingRequest) and request.callback_url is not None:
        deps.settings.callbacks.allowed_hosts.check(request.callback_url)


def requested_url(deps: Deps, context: Context) -> str | None:
    """The callbackUrl the request names (its payload, when it did not validate), when it may be called."""
    if context.request is not None:
        url = context.request.callback_url if isinstance(context.request, MeetingRequest) else None
    else:
        url = context.payload.get("callbackUrl") if isinstance(context.payload, dict) else None
    if not isinstance(url, str) or not url:
        return None
    try:
        deps.settings.callbacks.allowed_hosts.check(url)
    except CallbackNotAllowed:
        return None
    return url


def with_callback(deps: Deps, context: Context, told: Outcome, key: MeetingKey | None = None, *,
                  webhook_id: str | None = None) -> Outcome:
    """``told`` with the delivery of its result, when the result has a callbackUrl to go to; the key's record keeps
    the URL the request names (best effort: the delivery goes either way). ``key``: the request's key, when it was
    resolved (a failure that carries no record reads it). ``webhook_id``: the delivery's, when the result may be
    told more than once (a new one otherwise)."""
    if told.result is None or told.callback is not None:
        return told
    record = told.record
    if record is None and key is not None and told.status is Status.FAILED:
        record = _read(deps, key)
    url = requested_url(deps, context)
    if url is not None and record is not None and record.callback_url != url and not record.cancelled:
        kept = _keep_url(deps, context, record, url)
        if told.record is not None:
            told = dataclasses.replace(told, record=kept)
        record = kept
    target = url or (record.callback_target if record is not None else None)
    if target is None or (record is not None and target == record.callback_gone):
        return told
    message = told.message
    assert message is not None
    try:
        delivery = CallbackDelivery.first(url=target, body=message, now=deps.clock(),
                                          key=delivery_key(record.key if record is not None else key),
                                          webhook_id=webhook_id)
        return dataclasses.replace(told, callback=delivery.to_json())
    except ValueError as error:  # a result too large to carry twice in a queue message: told, not delivered
        log.error("result not delivered to its callbackUrl correlation=%s: %s", context.correlation_id, error)
        return told


def refused(deps: Deps, context: Context, error: BrokerError) -> Outcome:
    """A request that broke a rule, told as ``failed`` with nothing stored, to its callbackUrl too when it names
    one that may be called (the entry points' refusals of requests that did not validate)."""
    return with_callback(deps, context, refused_untold(deps, context, error))


def _read(deps: Deps, key: MeetingKey) -> MeetingRecord | None:
    try:
        return deps.records.get(key)
    except BrokerError as error:
        log.warning("the record could not be read for its callbackUrl: %s", error.code)
        return None


def _keep_url(deps: Deps, context: Context, record: MeetingRecord, url: str) -> MeetingRecord:
    """The key's record with the callbackUrl the request names: later results of the key go there."""
    def change(row: MeetingRecord | None, _: MeetingKey) -> MeetingRecord | None:
        if row is None or row.cancelled or row.callback_url == url:
            return row
        return dataclasses.replace(row, callback_url=url, updated_at=deps.clock())

    try:
        written = deps.records.write(record.key, change, current=record)
    except BrokerError as error:
        log.warning("the callbackUrl could not be kept on the record correlation=%s: %s", context.correlation_id,
                    error.code)
        return record
    return written.record if written is not None else record


# --- the key a delivery names, and the mark a 410 leaves ------------------------------------------------------------

def delivery_key(key: MeetingKey | None) -> str | None:
    """The key as a delivery message carries it (opaque to the message): JSON [tenant, organizer, externalId]."""
    if key is None:
        return None
    return json.dumps([key.tenant_id, key.organizer_key, key.external_id], ensure_ascii=False, separators=(",", ":"))


def key_of(deps: Deps, text: str | None) -> MeetingKey | None:
    """The record key a delivery names, resolved as a request's is (a UPN to its object id, once known)."""
    try:
        parts = json.loads(text) if text else None
    except ValueError:
        parts = None
    if not (isinstance(parts, list) and len(parts) == 3 and all(isinstance(part, str) and part for part in parts)):
        return None
    return deps.records.key(parts[0], parts[1], parts[2])


def callback_gone(deps: Deps, delivery: CallbackDelivery) -> bool:
    """Whether the receiver of this delivery's URL answered 410 Gone for its key before."""
    key = key_of(deps, delivery.key)
    record = deps.records.get(key) if key is not None else None
    return record is not None and record.callback_gone == delivery.url


def note_callback_gone(deps: Deps, delivery: CallbackDelivery) -> None:
    """A 410 Gone: the key's record marks the URL, and no result of the key is delivered there again."""
    key = key_of(deps, delivery.key)
    if key is None:
        log.warning("callback receiver answered 410 Gone webhook-id=%s host=%s; no record to mark", delivery.webhook_id,
                    delivery.host)
        return

    def mark(row: MeetingRecord | None, _: MeetingKey) -> MeetingRecord | None:
        if row is None or row.callback_gone == delivery.url:
            return row
        return dataclasses.replace(row, callback_gone=delivery.url, updated_at=deps.clock())

    deps.records.write(key, mark)
    log.warning("callback receiver answered 410 Gone webhook-id=%s host=%s: no more deliveries there for this key",
                delivery.webhook_id, delivery.host)
