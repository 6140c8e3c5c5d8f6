"""``GraphEmulator``: one running emulator (HTTPS on 127.0.0.1, its own CA, state in memory) and its addresses and
app settings. See the package docstring for the parts it serves."""
from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..certs import TRUST_BUNDLE_FILE, ensure_certs, server_ssl_context, trust_bundle
from .directory import (
    ALICE_ID,
    BOB_ID,
    CAROL_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_DOMAIN,
    DEFAULT_TENANT_ID,
    GRAPH_RESOURCE,
    ONLINE_MEETINGS_ROLE,
)
from .schemas import GraphSchemas, load_schemas
from .state import EmulatorState
from .tokens import ACCESS_TOKEN_LIFETIME, SigningKey, mint_access_token
from .transport import EmulatorHTTPServer


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

    def trust_bundle(self, target: Path | str | None = None) -> Path:
        """Write (default: into the emulator's workdir) and return a CA bundle trusting what the environment trusts
        and this emulator's CA (``localdev.certs.trust_bundle``): the ``REQUESTS_CA_BUNDLE`` for a client of it."""
        return trust_bundle(self.ca_bundle, target or self.workdir / TRUST_BUNDLE_FILE)

    def environment(self) -> dict[str, str]:
        """Variables a client process needs: a CA bundle trusting the environment's CAs and the emulator's, and the
        App Service identity endpoint."""
        return {"REQUESTS_CA_BUNDLE": str(self.trust_bundle()), "IDENTITY_ENDPOINT": self.identity_endpoint,
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
        app = self.state.directory.find_app(tenant_id, app_id)
        token, _ = mint_access_token(self.state, self.signing, tenant_id=tenant_id, app_id=app_id,
                                     object_id=app.object_id if app else app_id, roles=roles, audience=audience,
                                     lifetime=lifetime)
        return token
