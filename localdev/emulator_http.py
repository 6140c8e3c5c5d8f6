"""HTTPS plumbing of the emulator: a ThreadingHTTPServer on loopback, request routing, the ``/_emulator`` admin API.

TLS handshakes run in the per-connection thread (``do_handshake_on_connect=False``), so a client that connects and
stalls never blocks the accept loop. Only method, path (without query) and status are logged, at DEBUG.
"""
from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import emulator_graph, emulator_tokens
from .emulator_state import DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, FAULT_TARGETS, ONLINE_MEETINGS_ROLE, Reply

if TYPE_CHECKING:  # pragma: no cover
    from .graph_emulator import GraphEmulator

logger = logging.getLogger("localdev.graph_emulator")
MAX_BODY = 1 << 20
_MISSING = object()


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: "GraphEmulator") -> None:
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


def route(emulator: "GraphEmulator", method: str, path: str, query: str, headers: dict[str, str],
          body: bytes) -> Reply:
    state, signing = emulator.state, emulator.signing
    segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
    first = segments[0] if segments else ""
    if first in emulator_graph.VERSIONS:
        return emulator_graph.handle(state, signing, emulator.schemas, method, path, headers, body)
    if first == "_emulator":
        return admin(emulator, method, segments[1:], body)
    if segments == ["msi", "token"]:
        state.count("identity")
        fault = state.take_fault("identity")
        if fault is not None and fault.status is not None:
            return emulator_tokens.identity_fault_reply(fault)
        if method != "GET":
            return Reply.json(405, {"statusCode": 405, "message": "Use GET."})
        reply = emulator_tokens.managed_identity_token(state, signing, dict(parse_qsl(query)), headers,
                                                       emulator.identity_header)
        reply.delay = fault.delay if fault else 0.0
        return reply
    if len(segments) == 4 and segments[1:] == ["v2.0", ".well-known", "openid-configuration"] and method == "GET":
        state.count("discovery")
        fault = state.take_fault("discovery")
        if fault is not None and fault.status is not None:
            return emulator_tokens.fault_reply(state, fault, tenant=first)
        reply = emulator_tokens.discovery(state, first)
        reply.delay = fault.delay if fault else 0.0
        return reply
    if len(segments) == 4 and segments[1:] == ["discovery", "v2.0", "keys"] and method == "GET":
        state.count("jwks")
        return emulator_tokens.jwks(signing)
    if len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]:
        state.count("token")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        fault = state.take_fault("token")
        if fault is not None and fault.status is not None:
            return emulator_tokens.fault_reply(state, fault, correlation_id=headers.get("client-request-id"),
                                               client_id=form.get("client_id", ""), tenant=first)
        if method != "POST":
            return emulator_tokens.entra_error(state, 400, 900144, detail="grant_type")
        reply = emulator_tokens.token(state, signing, first, form, headers)
        reply.delay = fault.delay if fault else 0.0
        return reply
    return Reply.json(404, {"error": "not_found", "error_description": f"No emulator route for {method} {path}"})


# --------------------------------------------------------------------------------------------------- admin API
def _admin_error(status: int, message: str) -> Reply:
    return Reply.json(status, {"error": message})


def admin(emulator: "GraphEmulator", method: str, segments: list[str], body: bytes) -> Reply:
    state = emulator.state
    resource = "/".join(segments)
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        return _admin_error(400, "body must be JSON")
    if not isinstance(data, dict):
        return _admin_error(400, "body must be a JSON object")
    try:
        if (method, resource) == ("GET", "state"):
            return Reply.json(200, {"url": emulator.url, "counters": state.counters,
                                    "meetings": state.meeting_count(), "requests": len(state.requests),
                                    "faults": state.faults(), "now": state.now()})
        if (method, resource) == ("GET", "meetings"):
            return Reply.json(200, {"value": state.meetings})
        if (method, resource) == ("GET", "requests"):
            return Reply.json(200, {"value": state.requests})
        if (method, resource) == ("GET", "users"):
            return Reply.json(200, {"value": state.users()})
        if (method, resource) == ("POST", "faults"):
            target = data.get("target")
            if target not in FAULT_TARGETS:
                return _admin_error(400, f"target must be one of {list(FAULT_TARGETS)}")
            count = data.get("count", _MISSING)
            status = data.get("status")
            body_text = data.get("body")
            if body_text is not None and not isinstance(body_text, str):
                return _admin_error(400, "body must be a string or null")
            state.inject(
                target, None if status is None else int(status),
                count=1 if count is _MISSING else (None if count is None else int(count)),
                retry_after=data.get("retry_after"), body=body_text, delay=float(data.get("delay") or 0.0),
                error_code=data.get("error_code"),
            )
            return Reply.json(201, {"faults": state.faults()})
        if (method, resource) == ("DELETE", "faults"):
            state.clear_faults()
            return Reply.json(200, {"faults": []})
        if (method, resource) == ("POST", "users"):
            tenant_id = data.get("tenant_id") or DEFAULT_TENANT_ID
            for name in ("object_id", "upn"):
                if not data.get(name):
                    return _admin_error(400, f"{name} is required")
            user = state.add_user(tenant_id, data["object_id"], data["upn"],
                                  data.get("display_name") or data["upn"])
            if data.get("policy"):
                state.grant_policy(tenant_id, data.get("client_id") or DEFAULT_CLIENT_ID, user.object_id)
            return Reply.json(201, user.as_dict())
        if resource == "policies" and method in ("POST", "DELETE"):
            tenant_id = data.get("tenant_id") or DEFAULT_TENANT_ID
            client_id = data.get("client_id") or DEFAULT_CLIENT_ID
            user = data.get("user")
            if not user:
                return _admin_error(400, "user is required (an object id or '*')")
            (state.grant_policy if method == "POST" else state.revoke_policy)(tenant_id, client_id, user)
            return Reply.json(200, {"tenant_id": tenant_id, "client_id": client_id, "user": user,
                                    "granted": method == "POST"})
        if (method, resource) == ("POST", "apps"):
            for name in ("tenant_id", "client_id"):
                if not data.get(name):
                    return _admin_error(400, f"{name} is required")
            state.register_app(data["tenant_id"], data["client_id"], secret=data.get("secret"),
                               certificate_pem=data.get("certificate_pem"),
                               federated_subjects=tuple(data.get("federated_subjects") or ()),
                               roles=tuple(data.get("roles", (ONLINE_MEETINGS_ROLE,))))
            return Reply.json(201, {"tenant_id": data["tenant_id"], "client_id": data["client_id"]})
        if (method, resource) == ("POST", "managed-identities"):
            for name in ("client_id", "principal_id"):
                if not data.get(name):
                    return _admin_error(400, f"{name} is required")
            state.add_managed_identity(data["client_id"], data["principal_id"],
                                       data.get("tenant_id") or DEFAULT_TENANT_ID, tuple(data.get("roles") or ()))
            return Reply.json(201, {"client_id": data["client_id"], "principal_id": data["principal_id"]})
        if (method, resource) == ("POST", "clock"):
            return Reply.json(200, {"now": state.advance_clock(float(data.get("advance") or 0.0))})
        if (method, resource) == ("POST", "reset"):
            state.reset(seed=emulator.seed)
            return Reply.json(200, {"reset": True, "seeded": emulator.seed})
    except (TypeError, ValueError) as exc:
        return _admin_error(400, str(exc))
    return _admin_error(404, f"no admin route {method} /_emulator/{resource}")
