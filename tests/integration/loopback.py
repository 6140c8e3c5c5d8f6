"""Small servers on 127.0.0.1 for the storage transport's tests: an origin that answers as told, a forward proxy
(CONNECT tunnels and absolute-form requests, with Basic credentials it may require), and sockets that never answer
or never accept. Every one binds 127.0.0.1 and stops with its ``with`` block."""
from __future__ import annotations

import base64
import http.client
import http.server
import select
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "transfer-encoding", "te",
              "upgrade"}


@dataclass(frozen=True)
class Seen:
    method: str
    target: str                # the request target as sent: a path, an absolute URL (forwarded) or host:port
    headers: Any               # the request's headers, names case-insensitive (an email.message.Message)
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200              # 0: the connection is closed without an answer
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    cut_after: int | None = None   # send only this many bytes of the body, then close the connection


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type, tls: Any = None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.seen: list[Seen] = []
        self.connections = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)  # stops within 20 ms

    @property
    def port(self) -> int:
        return self.server_address[1]

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        self.connections += 1
        self._open.append(connection)
        return connection, address

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        for connection in self._open:  # ends tunnels and kept-alive connections still being served
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()
        self._thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or not self.parse_request():
            self.close_connection = True
            return
        self.serve(self._record())

    def serve(self, seen: Seen) -> None:
        raise NotImplementedError

    def _record(self) -> Seen:
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(self.command, self.path, self.headers, self.rfile.read(length) if length else b"")
        self.server.seen.append(seen)
        return seen

    def _write(self, answer: Answer) -> None:
        if answer.status == 0:
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body if answer.cut_after is None else answer.body[:answer.cut_after])
        self.close_connection = answer.cut_after is not None

    def log_message(self, *args: Any) -> None:
        pass


class Origin(_Server):
    """Answers every request with ``answer(seen)``."""

    def __init__(self, answer: Callable[[Seen], Answer] = lambda seen: Answer(), tls: Any = None) -> None:
        super().__init__(_OriginHandler, tls)
        self.answer = answer

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if hasattr(self.socket, "context") else "http"
        return f"{scheme}://{host}:{self.port}{path}"


class _OriginHandler(_Handler):
    def serve(self, seen: Seen) -> None:
        self._write(self.server.answer(seen))


class Proxy(_Server):
    """A forward proxy: ``CONNECT host:port`` opens a tunnel to 127.0.0.1:port (whatever the host: the proxy, not
    the client, resolves names), and a request for an absolute ``http://`` URL is forwarded to 127.0.0.1 and its
    answer sent back. With ``credentials``, anything without that Basic ``Proxy-Authorization`` gets a 407."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__(_ProxyHandler)
        self.expected = None if credentials is None else "Basic " + base64.b64encode(
            ":".join(credentials).encode()).decode()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"


class _ProxyHandler(_Handler):
    def serve(self, seen: Seen) -> None:
        if self.server.expected is not None and seen.headers.get("Proxy-Authorization") != self.server.expected:
            self._write(Answer(407, b"", (("Proxy-Authenticate", 'Basic realm="test"'),)))
            return
        if seen.method == "CONNECT":
            self._tunnel(int(seen.target.rpartition(":")[2]))
        else:
            self._forward(seen)

    def _tunnel(self, port: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            _relay(self.connection, upstream)
        self.close_connection = True

    def _forward(self, seen: Seen) -> None:
        target = urlsplit(seen.target)
        upstream = http.client.HTTPConnection("127.0.0.1", target.port or 80)
        try:
            headers = {k: v for k, v in seen.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(seen.method, target.path + (f"?{target.query}" if target.query else ""),
                             body=seen.body or None, headers=headers)
            answer = upstream.getresponse()
            self._write(Answer(answer.status, answer.read(), tuple(
                (k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"})))
        finally:
            upstream.close()


def _relay(one: socket.socket, other: socket.socket) -> None:
    """Bytes both ways until either side closes."""
    while True:
        readable, _, _ = select.select([one, other], [], [])
        for source in readable:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            (other if source is one else one).sendall(data)


class Silent:
    """A socket that listens but never reads or writes: connections are made (by the kernel), requests are never
    answered. With ``accepting=False`` its backlog is full, and a new connection is never even made."""

    def __init__(self, accepting: bool = True) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8 if accepting else 0)
        self._fillers: list[socket.socket] = []
        for _ in range(0 if accepting else 3):  # backlog 0 holds one; later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(filler)

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    def __enter__(self) -> "Silent":
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in [*self._fillers, self._socket]:
            sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
