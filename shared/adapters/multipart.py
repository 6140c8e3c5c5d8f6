"""The answers inside a ``multipart/mixed`` body: an entity-group transaction's (``$batch``) answer, read apart into
one HTTP answer per operation for ``transport.Urllib3Response.parts()``.

What azure-core's own responses do for the Tables SDK's ``submit_transaction`` (the parts in order, matched by
position with the requests the batch was built from, a changeset read recursively with its own requests, parts of
any other type skipped), without the ``email`` package: the batch body is split at its boundary (RFC 2046 5.1.1: the
CRLF before a delimiter belongs to it), and each ``application/http`` part is a status line, header lines and a body
(https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions#response-body).
"""
from __future__ import annotations

import base64
import binascii
import quopri
from dataclasses import dataclass
from typing import Any, Sequence

from azure.core.exceptions import DecodeError
from urllib3 import HTTPHeaderDict


@dataclass(frozen=True)
class Part:
    """One operation's answer: the request it answers, its status, reason, headers and body."""
    request: Any
    status: int
    reason: str
    headers: HTTPHeaderDict
    body: bytes


def boundary_of(content_type: str | None) -> bytes:
    """The boundary a ``multipart/mixed`` Content-Type names, or ``DecodeError``."""
    kind, _, params = (content_type or "").partition(";")
    if kind.strip().lower() != "multipart/mixed":
        raise DecodeError(f"not a multipart/mixed body: {kind.strip() or 'no Content-Type'}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("ascii")
    raise DecodeError("a multipart/mixed body without a boundary")


def http_parts(content_type: str | None, body: bytes, requests: Sequence[Any], parent: Any) -> list[Part]:
    """Every HTTP answer in ``body``, changesets flattened. ``requests`` are the requests the body answers, in order
    (a changeset's own requests come from its request's ``multipart_mixed_info``, as azure-core keeps them); a part
    past them is matched with ``parent``, the request of the whole body."""
    found: list[Part] = []
    for index, part in enumerate(_split(body, boundary_of(content_type))):
        headers, payload = _head_and_body(part)
        kind = (headers.get("Content-Type") or "").partition(";")[0].strip().lower()
        request = requests[index] if index < len(requests) else parent
        if kind == "application/http":
            found.append(_http_answer(_decoded(payload, headers), request))
        elif kind == "multipart/mixed":
            info = getattr(request, "multipart_mixed_info", None) if index < len(requests) else None
            if info:  # a changeset: its answers, matched with its own requests
                found.extend(http_parts(headers.get("Content-Type"), _decoded(payload, headers), info[0], parent))
    return found


def _split(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between ``--boundary`` lines, up to the closing ``--boundary--``; preamble and epilogue dropped."""
    chunks = (b"\n" + body).split(b"\n--" + boundary)  # a delimiter starts a line
    if len(chunks) < 2:
        raise DecodeError("a multipart/mixed body without its boundary")
    parts: list[bytes] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the close delimiter
            return parts
        line_end = chunk.find(b"\n")  # the rest of the delimiter line (transport padding) is not the part's
        part = chunk[line_end + 1:] if line_end >= 0 else b""
        parts.append(part[:-1] if part.endswith(b"\r") else part)  # the CR of the next delimiter's CRLF
    raise DecodeError("a multipart/mixed body cut short: no closing boundary")


def _head_and_body(message: bytes) -> tuple[HTTPHeaderDict, bytes]:
    """Header lines (folded lines joined) and what follows the blank line after them."""
    headers = HTTPHeaderDict()
    if message.startswith(b"\r\n") or message.startswith(b"\n"):  # no header at all
        return headers, message[2:] if message.startswith(b"\r\n") else message[1:]
    crlf, lf = message.find(b"\r\n\r\n"), message.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        head, rest = message[:crlf], message[crlf + 4:]
    elif lf >= 0:
        head, rest = message[:lf], message[lf + 2:]
    else:
        head, rest = message, b""
    pairs: list[list[str]] = []
    for line in head.decode("latin-1").split("\n"):
        line = line.removesuffix("\r")
        if line[:1] in (" ", "\t") and pairs:  # an obsolete folded line continues the previous header
            pairs[-1][1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise DecodeError("a malformed header line in a multipart/mixed body")
        pairs.append([name.strip(), value.strip()])
    for name, value in pairs:
        headers.add(name, value)
    return headers, rest


def _decoded(payload: bytes, headers: HTTPHeaderDict) -> bytes:
    """The payload as its Content-Transfer-Encoding says (the Tables service sends ``binary``)."""
    encoding = (headers.get("Content-Transfer-Encoding") or "binary").strip().lower()
    if encoding in ("binary", "8bit", "7bit"):
        return payload
    if encoding == "base64":
        try:
            return base64.b64decode(payload)
        except binascii.Error as exc:
            raise DecodeError("a base64 part that does not decode") from exc
    if encoding == "quoted-printable":
        return quopri.decodestring(payload)
    raise DecodeError(f"an unknown Content-Transfer-Encoding in a multipart/mixed body: {encoding}")


def _http_answer(message: bytes, request: Any) -> Part:
    """An ``application/http`` part: ``HTTP/1.1 201 Created``, headers, a blank line, the body."""
    line_end = message.find(b"\n")
    status_line = (message[:line_end] if line_end >= 0 else message).decode("latin-1").strip()
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit() or len(code) != 3:
        raise DecodeError("a part of a multipart/mixed body is not an HTTP answer")
    headers, body = _head_and_body(message[line_end + 1:] if line_end >= 0 else b"\r\n")
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        raise DecodeError("a chunked HTTP answer inside a multipart/mixed body")
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit():
        body = body[:int(length)]
    return Part(request, int(code), reason.strip(), headers, body)
