"""Queue triggers and queue output bindings with the Functions host's semantics, against Azurite (or any Storage account):
message encoding, visibility timeout, poison queues (localdev/README.md, "The local Functions host")."""
from __future__ import annotations

import base64
import binascii
import logging
import re
import sys
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Mapping

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueClient

from shared.adapters.network import Network

from .host_common import BindingOut, FunctionSpec, LocalHostError, QueueOptions

log = logging.getLogger("localdev.host")

# The host leases a message for 10 minutes while its function runs (and renews the lease); the local host does not renew.
RECEIVE_LEASE_SECONDS = 600
_WHITESPACE = str.maketrans("", "", " \t\r\n")


class InvalidMessageEncoding(ValueError):
    """The message text is not valid under the configured messageEncoding."""


class QueueCodec:
    """Turns wire text into trigger bytes and output values into wire text, per host.json messageEncoding."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding

    def decode(self, wire: str) -> bytes:
        if self.encoding == "none":
            return wire.encode("utf-8")
        try:
            # .NET's Convert.FromBase64String, which the host uses, ignores white space.
            return base64.b64decode(wire.translate(_WHITESPACE), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidMessageEncoding("message is not valid base64") from exc

    def encode(self, value: Any) -> str:
        if isinstance(value, func.QueueMessage):
            value = value.get_body()
        if isinstance(value, str):
            data = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        else:
            raise TypeError(f"a queue output binding takes str, bytes or a list of them, not {type(value).__name__}")
        if self.encoding == "none":
            return data.decode("utf-8")
        return base64.b64encode(data).decode("ascii")


# What XML 1.0 can carry (https://www.w3.org/TR/xml/#charsets). The queue service takes a message inside an XML
# request body and refuses one it cannot parse (400); Azurite accepts such a message but then fails every receive
# on that queue (500), which would jam the queue for everyone. The local host refuses them as the service does.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class MessageRejected(ValueError):
    """A message the queue service would refuse: an output binding that sends it fails, as in Azure."""


def check_message_text(text: str) -> None:
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise MessageRejected(f"the queue service refuses a message with U+{ord(bad.group()):04X} at {bad.start()}: "
                              "XML 1.0 cannot carry it (base64-encode such a message, or escape it)")


def output_values(value: Any) -> list[Any]:
    """The messages an output binding value stands for: nothing, one message, or a list of them."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray, func.QueueMessage)):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"a queue output binding takes str, bytes or a list of them, not {type(value).__name__}")


class QueueService:
    """Queue clients, output flushing and trigger processing for one storage account."""

    def __init__(self, connection_for: Callable[[Mapping[str, Any]], str], options: QueueOptions,
                 visibility_timeout: float, *, lease_seconds: float | None = None) -> None:
        self._connection_for = connection_for
        # How long a received message stays invisible while its function runs (the host's lease); a message whose
        # settling failed (storage down) comes back after it.
        self.lease_seconds = int(RECEIVE_LEASE_SECONDS if lease_seconds is None else lease_seconds)
        self.options = options
        self.codec = QueueCodec(options.message_encoding)
        self.visibility_timeout = visibility_timeout
        self._clients: dict[tuple[str, str], QueueClient] = {}
        self._network = Network()  # one trust store for every client (the default one, no proxy)
        self._lock = threading.Lock()

    def client(self, binding: Mapping[str, Any], queue_name: str | None = None) -> QueueClient:
        """A raw-text client for the binding's queue (or queue_name on the same account), created when missing."""
        connection = self._connection_for(binding)
        name = queue_name or binding["queueName"]
        key = (connection, name)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                # The app's storage transport (over urllib3, reading no environment; the default trust store, no
                # proxy): the real host is a .NET process and spends none of the app's CPU on its queue calls, so
                # the stand-in spends as little of it as it can in the app's process.
                client = QueueClient.from_connection_string(connection, name, retry_total=3,
                                                            **self._network.azure_options())
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass
                self._clients[key] = client
        return client

    def flush_outputs(self, spec: FunctionSpec, outs: Mapping[str, BindingOut], result: Any) -> int:
        """Write every queue output binding of spec; returns the number of messages sent."""
        sent = 0
        for binding in spec.outputs:
            if binding["type"] != "queue":
                continue
            value = result if binding["name"] == "$return" else outs[binding["name"]].get()
            texts = [self.codec.encode(item) for item in output_values(value)]
            for text in texts:
                check_message_text(text)
            client = self.client(binding) if texts else None
            for text in texts:
                client.send_message(text)
                sent += 1
        return sent

    def receive(self, spec: FunctionSpec, limit: int | None = None) -> tuple[QueueClient, list[Any]]:
        """Lease up to ``limit`` (default batchSize) visible messages of spec's trigger queue."""
        client = self.client(spec.trigger)
        count = min(limit or self.options.batch_size, 32)
        messages = list(client.receive_messages(messages_per_page=count, max_messages=count,
                                                visibility_timeout=self.lease_seconds))
        return client, messages

    def poll_once(self, spec: FunctionSpec) -> tuple[int, int]:
        """Receive up to batchSize messages and process them one after another here: (received, invoked)."""
        client, messages = self.receive(spec)
        invoked = sum(self.process(spec, client, message) for message in messages)
        return len(messages), invoked

    def process(self, spec: FunctionSpec, client: QueueClient, message: Any) -> bool:
        """Run spec for one received message and settle the message; True when the function was invoked."""
        invoked, settle = self.invoke(spec, client, message)
        settle()
        return invoked

    def invoke(self, spec: FunctionSpec, client: QueueClient, message: Any) -> tuple[bool, Callable[[], None]]:
        """Run spec for one received message, as the Python worker's thread does, and return (whether the function
        was invoked, the settling the host does once the worker has answered: write the outputs and delete the
        message, or make it visible again after the visibility timeout, or move it to the poison queue). The
        settling may run on another thread: in Azure the host, not the worker's thread, writes outputs."""
        queue_name = spec.trigger["queueName"]
        try:
            body = self.codec.decode(message.content or "")
        except InvalidMessageEncoding:
            log.warning("Message %s on queue %s is not valid base64 (length %d): moved to %s-poison without invoking %s",
                        message.id, queue_name, len(message.content or ""), queue_name, spec.name)
            return False, lambda: self._to_poison(spec, client, message)
        invocation_id = str(uuid.uuid4())
        trigger = TriggerMessage(
            id=message.id, body=body, dequeue_count=message.dequeue_count, pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on, expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
        )
        outs = {b["name"]: BindingOut() for b in spec.outputs if b["name"] != "$return"}
        started = time.monotonic()
        try:
            result = spec.call({spec.trigger["name"]: trigger, **outs})
        except Exception:
            failure = sys.exc_info()
            return True, lambda: self._failed(spec, client, message, invocation_id, len(body), started, failure)

        def settle() -> None:
            try:
                sent = self.flush_outputs(spec, outs, result)
            except Exception:  # an output the host could not write fails the invocation as a whole
                self._failed(spec, client, message, invocation_id, len(body), started, sys.exc_info())
                return
            client.delete_message(message, pop_receipt=message.pop_receipt)
            log.info("Executed '%s' (Succeeded, Id=%s, message %s on %s, dequeue count %s, %d bytes, "
                     "Duration=%.0fms, %d output message(s))", spec.name, invocation_id, message.id, queue_name,
                     message.dequeue_count, len(body), (time.monotonic() - started) * 1000, sent)
        return True, settle

    def _failed(self, spec: FunctionSpec, client: QueueClient, message: Any, invocation_id: str, size: int,
                started: float, failure: Any) -> None:
        """A failed invocation: the message comes back after the visibility timeout, or goes to the poison queue
        once its dequeue count reaches maxDequeueCount."""
        queue_name = spec.trigger["queueName"]
        poisoned = (message.dequeue_count or 0) >= self.options.max_dequeue_count
        log.error("Executed '%s' (Failed, Id=%s, message %s on %s, dequeue count %s, %d bytes, Duration=%.0fms)"
                  " -> %s", spec.name, invocation_id, message.id, queue_name, message.dequeue_count, size,
                  (time.monotonic() - started) * 1000,
                  f"moved to {queue_name}-poison (maxDequeueCount {self.options.max_dequeue_count})" if poisoned
                  else f"retry after {self.visibility_timeout:g}s", exc_info=failure)
        if poisoned:
            self._to_poison(spec, client, message)
        else:
            client.update_message(message, pop_receipt=message.pop_receipt,
                                  visibility_timeout=int(round(self.visibility_timeout)))

    def _to_poison(self, spec: FunctionSpec, client: QueueClient, message: Any) -> None:
        # The host copies the message text unchanged, so the poison queue holds it in the same encoding.
        poison = self.client(spec.trigger, spec.trigger["queueName"] + "-poison")
        poison.send_message(message.content or "")
        client.delete_message(message, pop_receipt=message.pop_receipt)


def check_queue_specs(specs: Iterable[FunctionSpec]) -> None:
    """Fail early on queue bindings the host could not resolve."""
    for spec in specs:
        for binding in (spec.trigger, *spec.outputs):
            if binding["type"] in ("queueTrigger", "queue") and not binding.get("queueName"):
                raise LocalHostError(f"{spec.name}: binding {binding['name']} has no queueName")
