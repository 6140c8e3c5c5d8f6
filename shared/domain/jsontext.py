"""JSON in and out at the edges, with limits: hostile input is input.

Reading: bytes must be UTF-8 JSON nested at most ``MAX_DEPTH`` levels, so no later step (validation, fingerprint,
result) can recurse without bound (a body of ``[[[[...`` 500 levels deep would otherwise raise RecursionError deep in
the stack). Writing: text that the caller gave is echoed only after ``identifiers.safe_text``, and every queue message is
checked against the queue's size limit before it is sent.
"""
from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from shared.domain.errors import MalformedJson

MAX_DEPTH = 32
# A queue message is at most 64 KiB as the service receives it: the text inside an XML request body.
# https://learn.microsoft.com/rest/api/storageservices/put-message
MAX_QUEUE_MESSAGE_BYTES = 64 * 1024

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse(text: str, *, what: str = "the body") -> Any:
    """Decode JSON text; MalformedJson (naming the rule) for invalid JSON or nesting deeper than MAX_DEPTH."""
    if nesting_depth(text) > MAX_DEPTH:
        raise MalformedJson(f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedJson(f"{what} is not valid JSON ({type(exc).__name__} at position "
                            f"{getattr(exc, 'pos', '?')})") from None


def parse_utf8(raw: bytes, *, what: str = "the body") -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson(f"{what} is not UTF-8 text") from None
    return parse(text, what=what)


def queue_message_size(text: str) -> int:
    """The size the queue service counts: UTF-8 bytes of the XML-escaped text."""
    return len(escape(text).encode("utf-8"))


def fits_queue(text: str) -> bool:
    return queue_message_size(text) <= MAX_QUEUE_MESSAGE_BYTES
