"""What TLS trusts, loaded once per process and shared by every connection: Entra, Graph, storage, callbacks.

Loading a CA bundle parses every certificate in it: a system bundle holds ~140, 10-20 ms of CPU on a small
instance. ``requests`` would do it for every new TLS connection (its adapter hands the bundle's path to each
connection pool, and urllib3 loads the path into each connection's context), the storage transport once more:
three loads on a cold start (the token endpoint, Graph, storage) and one more each time a connection is opened
again or a callback goes to a new host. ``TrustStore`` loads the bundle into one ``ssl.SSLContext`` when the first
TLS connection needs it; ``TrustedAdapter`` is ``requests``' adapter made to use it, through the extension points
requests documents for a custom context (``build_connection_pool_key_attributes`` and ``cert_verify``). Certificates
and host names are verified as before: the context requires a certificate, urllib3 checks the name.
"""
from __future__ import annotations

import os
import ssl
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import create_urllib3_context


def tls_context(ca_bundle: str) -> ssl.SSLContext:
    """A context that requires a certificate, trusting the bundle (a file, or a directory as requests takes it)."""
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if os.path.isdir(ca_bundle):
        context.load_verify_locations(capath=ca_bundle)
    else:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class TrustStore:
    """The CA bundle (``Network.ca_bundle``) loaded into one context on first use. ``default``: the bundle is the
    one ``requests`` trusts when told ``verify=True``. A bundle that cannot be loaded raises ``OSError``
    (``ssl.SSLError`` included) on that use, and the next use tries again."""

    def __init__(self, ca_bundle: str, *, default: bool = False) -> None:
        self.ca_bundle = ca_bundle
        self.default = default
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self.loads = 0  # how many times the bundle was parsed (tests, and the benchmarks' cold start)

    def context(self) -> ssl.SSLContext:
        context = self._context
        if context is None:
            with self._lock:
                context = self._context
                if context is None:
                    try:
                        context = tls_context(self.ca_bundle)
                    except OSError as exc:
                        raise OSError(exc.errno, f"the CA bundle {self.ca_bundle} could not be loaded: "
                                                 f"{exc.strerror or exc}") from exc
                    self.loads += 1
                    self._context = context
        return context

    def covers(self, verify: Any) -> bool:
        """Whether ``verify`` (a request's or a session's) asks for this trust: its path, or True for a store of
        the default bundle. ``False`` or another bundle is left to requests."""
        return (verify is True and self.default) or (isinstance(verify, str) and verify == self.ca_bundle)


class TrustedAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose https pools verify with ``trust``'s one context instead of loading the bundle per
    connection. A request asking for another trust (no verification, another bundle) or a client certificate
    is handled by requests as usual."""

    def __init__(self, trust: TrustStore, **kwargs: Any) -> None:
        self.trust = trust
        super().__init__(**kwargs)

    def _trusted(self, url: str, verify: Any, cert: Any) -> bool:
        return not cert and url[:6].lower() == "https:" and self.trust.covers(verify)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if self._trusted(str(request.url), verify, cert):
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self.trust.context()
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self._trusted(url, verify, cert):
            conn.cert_reqs = "CERT_REQUIRED"  # and no bundle path: the pool's context holds the trust
            conn.ca_certs = conn.ca_cert_dir = None
            return
        super().cert_verify(conn, url, verify, cert)


def trusted_session(trust: TrustStore, verify: str | bool, *,
                    adapter: TrustedAdapter | None = None) -> requests.Session:
    """A session that reads no environment (proxies, .netrc, CA variables) and verifies with ``trust``; ``adapter``
    (mounted for http and https) defaults to one with no retries."""
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    adapter = adapter or TrustedAdapter(trust, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
