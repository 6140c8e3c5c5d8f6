"""Which part of the emulator answers a request: Graph (``/v1.0``, ``/beta``), the admin API (``/_emulator``), the
managed-identity endpoint (``/msi/token``) or Entra (``/{tenant}/v2.0/.well-known/openid-configuration``,
``/{tenant}/discovery/v2.0/keys``, ``/{tenant}/oauth2/v2.0/token``)."""
from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qsl, unquote

from . import admin, entra, graph_meetings, identity
from .entra_errors import entra_error, fault_reply
from .graph_calls import VERSIONS
from .replies import Reply
from .schemas import GraphSchemas
from .state import EmulatorState
from .tokens import SigningKey


class Emulator(Protocol):
    """What answering a request needs of the running emulator (``server.GraphEmulator``)."""

    state: EmulatorState
    signing: SigningKey
    schemas: GraphSchemas
    identity_header: str
    seed: bool

    @property
    def url(self) -> str: ...


def route(emulator: Emulator, method: str, path: str, query: str, headers: dict[str, str],
          body: bytes) -> Reply:
    state, signing = emulator.state, emulator.signing
    segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
    first = segments[0] if segments else ""
    if first in VERSIONS:
        return graph_meetings.handle(state, signing, emulator.schemas, method, path, query, headers, body)
    if first == "_emulator":
        return admin.handle(state, method, segments[1:], query, body, url=emulator.url, seed=emulator.seed)
    if segments == ["msi", "token"]:
        state.count("identity")
        fault = state.take_fault("identity")
        if fault is not None and fault.status is not None:
            return identity.identity_fault_reply(fault)
        if method != "GET":
            return Reply.json(405, {"statusCode": 405, "message": "Use GET."})
        reply = identity.managed_identity_token(state, signing, dict(parse_qsl(query)), headers,
                                                emulator.identity_header)
        reply.delay = fault.delay if fault else 0.0
        return reply
    if len(segments) == 4 and segments[1:] == ["v2.0", ".well-known", "openid-configuration"] and method == "GET":
        state.count("discovery")
        fault = state.take_fault("discovery")
        if fault is not None and fault.status is not None:
            return fault_reply(state, fault, tenant=first)
        reply = entra.discovery(state, first)
        reply.delay = fault.delay if fault else 0.0
        return reply
    if len(segments) == 4 and segments[1:] == ["discovery", "v2.0", "keys"] and method == "GET":
        state.count("jwks")
        return entra.jwks(signing)
    if len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]:
        state.count("token")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        fault = state.take_fault("token")
        if fault is not None and fault.status is not None:
            return fault_reply(state, fault, correlation_id=headers.get("client-request-id"),
                               client_id=form.get("client_id", ""), tenant=first)
        if method != "POST":
            return entra_error(state, 400, 900144, detail="grant_type")
        reply = entra.token(state, signing, first, form, headers)
        reply.delay = fault.delay if fault else 0.0
        return reply
    return Reply.json(404, {"error": "not_found", "error_description": f"No emulator route for {method} {path}"})
