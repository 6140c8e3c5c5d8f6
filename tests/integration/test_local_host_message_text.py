"""The local host refuses to send a queue message that the queue service cannot carry (characters outside XML 1.0),
as the service refuses it: the invocation fails instead of Azurite taking a message that jams the queue (Azurite then
answers 500 to every receive on it)."""
from __future__ import annotations

import json

import pytest
from azure.storage.queue import QueueClient

from localdev.host_queues import MessageRejected, check_message_text
from tests.integration.toyapp import make_app

PLAIN = {"version": "2.0", "extensions": {"http": {"routePrefix": "api"},
                                          "queues": {"messageEncoding": "none", "maxDequeueCount": 2}}}


@pytest.mark.parametrize("text", ["a\uffff", "\ufffe", "\x00", "x\x1fy", "\x0b", "\ud800"])
def test_text_outside_xml_is_refused(text):
    with pytest.raises(MessageRejected, match="XML 1.0"):
        check_message_text(text)


@pytest.mark.parametrize("text", ["", "plain", "tab\tcr\rlf\n", "\u00e9\u20ac\U0001f600", "\ufffd", "\x7f\x85"])
def test_text_inside_xml_is_sent(text):
    check_message_text(text)


def test_an_output_the_service_would_refuse_fails_the_invocation_and_the_queue_stays_readable(start_host, azurite):
    host, queue = start_host(make_app(), host_json=PLAIN)
    client = QueueClient.from_connection_string(azurite.connection_string, queue)
    client.send_message(json.dumps({"op": "echo", "text": "\uffff"}))   # the escape keeps the message itself ASCII
    client.send_message(json.dumps({"op": "echo", "text": "fine"}))
    host.drain()
    out = QueueClient.from_connection_string(azurite.connection_string, f"{queue}-out")
    assert [m.content for m in out.receive_messages(max_messages=32)] == ["echo:fine", "bytes:fine"]
    dead = QueueClient.from_connection_string(azurite.connection_string, f"{queue}-dead")
    (poisoned,) = list(dead.receive_messages(max_messages=32))
    assert json.loads(json.loads(poisoned.content)["body"]) == {"op": "echo", "text": "\uffff"}
