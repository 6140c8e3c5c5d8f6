"""HTTPS plumbing of the emulator: a ThreadingHTTPServer on loopback and its request handler.

TLS handshakes run in the per-connection thread (``do_handshake_on_connect=False``), so a client that connects and
stalls never blocks the accept loop; the listen backlog is 512 so bursts of connections are queued, not refused. Only
method, path (without query) and status are logged, at DEBUG.
"""
from __future__ import annotations

import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .replies import Reply
from .routes import Emulator, route

logger = logging.getLogger("localdev.emulator")
MAX_BODY = 1 << 20
LISTEN_BACKLOG = 512


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: Emulator) -> None:
        super().__init__(address, EmulatorRequestHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.emulator = emulator
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: D401 - quiet on client hang-ups
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GraphEmulator/1.0"
    timeout = 30
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)
        try:  # no Nagle: small keep-alive answers otherwise wait ~40 ms for the client's delayed ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            self.connection.do_handshake()
        except BaseException:
            self.server.track(self.connection, False)
            raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # replaced by the one-line DEBUG log in _serve (no query strings, headers or bodies)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._write(Reply.json(413, {"error": "request body too large"}))
            return
        body = self.rfile.read(length) if length else b""
        try:
            reply = route(self.server.emulator, self.command, split.path, split.query, headers, body)
        except Exception:  # noqa: BLE001 - answer instead of dropping the connection
            logger.exception("emulator failed on %s %s", self.command, split.path)
            reply = Reply.json(500, {"error": {"code": "InternalServerError", "message": "Emulator failure."}})
        logger.debug("%s %s -> %s", self.command, split.path, reply.status)
        if reply.delay > 0 and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        if getattr(reply, "drop", False):  # an injected lost answer: close the connection without one
            self.close_connection = True
            return
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        # One write for head and body (end_headers() would flush the head on its own first).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(reply.body)
        self.flush_headers()
        self.wfile.flush()
