"""Local HTTPS stand-in for Microsoft Entra (OpenID discovery + token endpoint), the App Service managed-identity
endpoint and Microsoft Graph onlineMeetings (createOrGet, get), on 127.0.0.1 only.

    with GraphEmulator(workdir) as emu:            # workdir keeps the local CA / server certificate (reused)
        emu.url, emu.ca_bundle                     # https://127.0.0.1:PORT, CA PEM for REQUESTS_CA_BUNDLE
        authority = f"{emu.authority_host}/{DEFAULT_TENANT_ID}"   # MSAL: instance_discovery=False
        graph = f"{emu.graph_base_url}/v1.0"       # or /beta
        emu.identity_endpoint, emu.identity_header # IDENTITY_ENDPOINT / IDENTITY_HEADER for ManagedIdentityClient
        emu.state.inject("graph", 429, retry_after="2.128")

Modules: emulator_state (directory, faults, counters, meetings), emulator_tokens (Entra + identity endpoint),
emulator_graph (Graph), emulator_meetings (onlineMeeting model), emulator_schemas (yaml -> JSON Schema),
emulator_http (server, routing, ``/_emulator`` admin API). Run standalone: ``python -m localdev.graph_emulator``.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .certs import ensure_certs, server_ssl_context
from .emulator_http import EmulatorHTTPServer
from .emulator_schemas import GraphSchemas, load_schemas
from .emulator_state import (  # noqa: F401 - re-exported public constants
    ALICE_ID,
    ALICE_UPN,
    BOB_ID,
    BOB_UPN,
    CAROL_ID,
    CAROL_UPN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MI_CLIENT_ID,
    DEFAULT_MI_PRINCIPAL_ID,
    DEFAULT_TENANT_DOMAIN,
    DEFAULT_TENANT_ID,
    GRAPH_RESOURCE,
    ONLINE_MEETINGS_ROLE,
    TOKEN_EXCHANGE_AUDIENCE,
    EmulatorState,
)
from .emulator_tokens import ACCESS_TOKEN_LIFETIME, SigningKey, mint_access_token

__all__ = [
    "GraphEmulator", "EmulatorState", "main",
    "DEFAULT_TENANT_ID", "DEFAULT_TENANT_DOMAIN", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET",
    "DEFAULT_MI_CLIENT_ID", "DEFAULT_MI_PRINCIPAL_ID", "ALICE_ID", "ALICE_UPN", "BOB_ID", "BOB_UPN", "CAROL_ID",
    "CAROL_UPN", "GRAPH_RESOURCE", "ONLINE_MEETINGS_ROLE", "TOKEN_EXCHANGE_AUDIENCE",
]
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = REPO_ROOT / ".localdev" / "graph-emulator"
IDENTITY_HEADER_ENV = "GRAPH_EMULATOR_IDENTITY_HEADER"


class GraphEmulator:
    """One emulator instance: HTTPS on 127.0.0.1:``port`` (0 = a free port), state in memory."""

    def __init__(self, workdir: Path | str, port: int = 0, now: Callable[[], float] = time.time, *,
                 seed: bool = True, identity_header: str | None = None,
                 schemas_path: Path | str | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.seed = seed
        self.state = EmulatorState(now)
        self.identity_header = identity_header or secrets.token_urlsafe(32)
        self.signing = SigningKey()
        self.schemas: GraphSchemas = load_schemas(schemas_path)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._ca_bundle: Path | None = None

    # ------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> "GraphEmulator":
        if self._server is not None:
            return self
        paths = ensure_certs(self.workdir)
        server = EmulatorHTTPServer(("127.0.0.1", self.port), server_ssl_context(paths), self)
        self._server = server
        self.port = server.server_address[1]
        self._url = f"https://127.0.0.1:{self.port}"
        self._ca_bundle = paths.ca_cert
        self.state.base_url = self._url
        if self.seed:
            self.state.seed_defaults()
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"graph-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "GraphEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------- addresses
    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("GraphEmulator is not started")
        return self._url

    @property
    def ca_bundle(self) -> Path:
        if self._ca_bundle is None:
            raise RuntimeError("GraphEmulator is not started")
        return self._ca_bundle

    @property
    def authority_host(self) -> str:
        return self.url

    @property
    def graph_base_url(self) -> str:
        return self.url

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}/msi/token"

    def authority(self, tenant_id: str = DEFAULT_TENANT_ID) -> str:
        """The MSAL authority for a tenant (build MSAL apps with ``instance_discovery=False``)."""
        return f"{self.url}/{tenant_id}"

    def environment(self) -> dict[str, str]:
        """Variables a client process needs: CA bundle and the App Service identity endpoint."""
        return {"REQUESTS_CA_BUNDLE": str(self.ca_bundle), "IDENTITY_ENDPOINT": self.identity_endpoint,
                "IDENTITY_HEADER": self.identity_header}

    def app_settings(self) -> dict[str, str]:
        """The broker's app settings for acting as the seeded app against this emulator (client secret)."""
        return {
            "GRAPH_TENANT_ID": DEFAULT_TENANT_ID,
            "GRAPH_CLIENT_ID": DEFAULT_CLIENT_ID,
            "GRAPH_CREDENTIAL": "client_secret",
            "GRAPH_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "GRAPH_AUTHORITY_HOST": self.authority_host,
            "GRAPH_BASE_URL": self.graph_base_url,
            # The seeded users by UPN domain and by object id (an @domain entry only matches UPNs).
            "ALLOWED_ORGANIZERS": f"@{DEFAULT_TENANT_DOMAIN},{ALICE_ID},{BOB_ID},{CAROL_ID}",
        }

    def mint_access_token(self, *, tenant_id: str = DEFAULT_TENANT_ID, app_id: str = DEFAULT_CLIENT_ID,
                          roles: tuple[str, ...] = (ONLINE_MEETINGS_ROLE,), audience: str = GRAPH_RESOURCE,
                          lifetime: int = ACCESS_TOKEN_LIFETIME) -> str:
        """A Graph access token signed by this emulator, without a token request (for tests)."""
        app = self.state.find_app(tenant_id, app_id)
        token, _ = mint_access_token(self.state, self.signing, tenant_id=tenant_id, app_id=app_id,
                                     object_id=app.object_id if app else app_id, roles=roles, audience=audience,
                                     lifetime=lifetime)
        return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where the local CA/cert live")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-seed", action="store_true", help="start with an empty directory")
    args = parser.parse_args(argv)
    emulator = GraphEmulator(args.workdir, args.port, seed=not args.no_seed,
                             identity_header=os.environ.get(IDENTITY_HEADER_ENV) or None)
    emulator.start()
    # Addresses only: the identity header comes from the environment (or is random) and is never printed.
    print(json.dumps({"url": emulator.url, "ca_bundle": str(emulator.ca_bundle),
                      "identity_endpoint": emulator.identity_endpoint, "tenant_id": DEFAULT_TENANT_ID,
                      "client_id": DEFAULT_CLIENT_ID}), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
