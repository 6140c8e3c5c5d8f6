"""The responses of ``transport.Urllib3Transport``: azure-core's public ``rest.HttpResponse`` ABC over a urllib3
response, whose body is read, streamed or decoded as azure-core's own responses do it."""
from __future__ import annotations

import codecs
import contextlib
import json
from typing import Any, Iterator

import urllib3
from azure.core.exceptions import (
    DecodeError, HttpResponseError, IncompleteReadError, ResponseNotReadError, ServiceResponseError,
    ServiceResponseTimeoutError, StreamClosedError, StreamConsumedError,
)
from azure.core.rest import HttpRequest, HttpResponse
from urllib3.exceptions import ProtocolError, ReadTimeoutError


BLOCK_SIZE = 4096  # bytes a chunk of iter_bytes / iter_raw: azure-core's default data_block_size


@contextlib.contextmanager
def _reading(raw_bytes: bool) -> Iterator[None]:
    """Failures while a body is read, as azure-core maps requests' (``StreamDownloadGenerator`` and
    ``RequestsTransport.send`` for decoded bytes, ``_read_raw_stream`` for raw ones); a timeout is always
    ServiceResponseTimeoutError."""
    try:
        yield
    except ReadTimeoutError as err:
        raise ServiceResponseTimeoutError(err, error=err) from err
    except urllib3.exceptions.DecodeError as err:
        raise DecodeError(err, error=err) from err
    except ProtocolError as err:
        if raw_bytes:
            raise ServiceResponseError(err, error=err) from err
        if "IncompleteRead" in str(err):
            raise IncompleteReadError(err, error=err) from err
        raise HttpResponseError(err, error=err) from err
    except urllib3.exceptions.HTTPError as err:
        raise ServiceResponseError(err, error=err) from err


class Urllib3Response(HttpResponse):
    """An answer as azure-core's ``rest.HttpResponse`` over a urllib3 response whose body is read when asked
    (``read``, ``iter_bytes``, ``iter_raw``): the connection goes back to the pool once the body is read, and is
    dropped when the response is closed before."""

    def __init__(self, request: HttpRequest, raw: urllib3.BaseHTTPResponse, block_size: int = BLOCK_SIZE) -> None:
        self._request, self._raw, self._block_size = request, raw, block_size
        self._status, self._reason, self._headers = raw.status, raw.reason or "", raw.headers
        self._content: bytes | None = None
        self._content_type = self._headers.get("Content-Type")
        self._encoding: str | None = None
        self._encoding_known = False
        self._drained = self._is_closed = self._is_stream_consumed = False

    request = property(lambda self: self._request, doc="The request this answers.")
    url = property(lambda self: self._request.url, doc="The URL the request was sent to.")
    status_code = property(lambda self: self._status, doc="The HTTP status.")
    reason = property(lambda self: self._reason, doc="The reason phrase.")
    headers = property(lambda self: self._headers, doc="The headers (case-insensitive).")
    content_type = property(lambda self: self._content_type, doc="The Content-Type header, if any.")
    is_closed = property(lambda self: self._is_closed, doc="Whether the connection was given back or dropped.")
    is_stream_consumed = property(lambda self: self._is_stream_consumed, doc="Whether the body was read.")

    @property
    def encoding(self) -> str | None:
        """The encoding set, else the Content-Type's charset when Python knows it, else None."""
        if not self._encoding_known:
            self._encoding, self._encoding_known = _charset(self._content_type), True
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding, self._encoding_known = value, True

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise ResponseNotReadError(self)
        return self._content

    def text(self, encoding: str | None = None) -> str:
        """The body as text, decoded as azure-core's responses decode it (a UTF-8 BOM dropped)."""
        content = self.content
        if not content:
            return ""
        encoding = encoding or self.encoding
        if not encoding:
            return content.decode("utf-8-sig", errors="replace")
        return content.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)

    def json(self) -> Any:
        return json.loads(self.text())

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise HttpResponseError(response=self)

    def __enter__(self) -> "Urllib3Response":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._is_closed:
            return
        self._is_closed = True
        if not self._drained:
            self._raw.close()  # a body left unread: the connection cannot carry another request
        self._raw.release_conn()

    def read(self) -> bytes:
        if self._content is None:
            raw = self._unread()
            try:
                with _reading(raw_bytes=False):
                    self._content = raw.read(decode_content=True)
                self._drained = True
            finally:
                self.close()
        return self._content

    def body(self) -> bytes:
        """The whole body: the pipeline-transport name that storage's logging and MD5 policies still call."""
        return self.read()

    def iter_bytes(self, **kwargs: Any) -> Iterator[bytes]:
        """The body in chunks, decompressed as its Content-Encoding says."""
        if self._content is not None:
            content = self._content
            for start in range(0, len(content), self._block_size):
                yield content[start:start + self._block_size]
            return
        yield from self._stream(decode=True)

    def iter_raw(self, **kwargs: Any) -> Iterator[bytes]:
        """The body in chunks as it came over the wire."""
        yield from self._stream(decode=False)

    def _unread(self) -> urllib3.BaseHTTPResponse:
        """The urllib3 response, once: a body is streamed or read one time."""
        if self._is_stream_consumed:
            raise StreamConsumedError(self)
        if self._is_closed:
            raise StreamClosedError(self)
        self._is_stream_consumed = True
        return self._raw

    def _stream(self, decode: bool) -> Iterator[bytes]:
        raw = self._unread()
        try:
            with _reading(raw_bytes=not decode):
                yield from raw.stream(self._block_size, decode_content=decode)
            self._drained = True
        finally:
            self.close()


def _charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, when it names an encoding Python knows."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
            try:
                codecs.lookup(charset)
            except LookupError:
                return None
            return charset
    return None
