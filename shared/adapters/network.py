"""The process's network settings (CA bundle, proxies per host, ``NO_PROXY``), read from the environment once at
start and handed to ``requests`` (Entra, Graph) and to the storage SDKs' transport (``transport.py``), neither of
which reads the environment again: ``requests`` would re-read all of it on every call (milliseconds with a Functions
worker's hundreds of app settings).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from shared.adapters.trust import TrustedAdapter, TrustStore, trusted_session


@dataclass(frozen=True)
class Network:
    verify: str | bool = True                                   # a CA bundle path, or the default trust store
    proxies: dict[str, str] = field(default_factory=dict)       # "scheme://host" -> proxy URL
    # The CA bundle loaded once for every TLS connection of the process (trust.py): Entra, Graph, storage, callbacks.
    trust: TrustStore = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trust", TrustStore(self.ca_bundle, default=self.verify is True))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], urls: Iterable[str]) -> "Network":
        verify: str | bool = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True
        proxies = {}
        for url in urls:
            parts = urlsplit(url)
            if not parts.scheme or not parts.hostname:
                continue
            proxy = get_environ_proxies(url).get(parts.scheme)  # reads HTTPS_PROXY / NO_PROXY, once per host
            if proxy:
                proxies[f"{parts.scheme}://{parts.hostname}"] = proxy
        return cls(verify, proxies)

    def session(self) -> requests.Session:
        """One pooled session for Entra and Graph that never consults the environment again and verifies TLS with
        the process's one trust store."""
        # Retries are GraphClient's job.
        adapter = TrustedAdapter(self.trust, pool_connections=4, pool_maxsize=32, max_retries=0)
        session = trusted_session(self.trust, self.verify, adapter=adapter)
        session.proxies.update(self.proxies)
        return session

    @property
    def ca_bundle(self) -> str:
        """The CA bundle TLS trusts: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE when set, else the one ``requests`` trusts
        by default (certifi's), so that a transport of urllib3's own trusts what ``requests`` does, not the OS's."""
        return self.verify if isinstance(self.verify, str) else requests.certs.where()

    def azure_options(self, **transport: Any) -> dict[str, Any]:
        """Client options for the Azure SDKs: a transport over urllib3 (``transport`` settings such as timeouts go
        to it) with the CA bundle and the proxies read here, which never reads the environment."""
        from shared.adapters.transport import Urllib3Transport

        return {"transport": Urllib3Transport(ca_bundle=self.ca_bundle, trust=self.trust, proxies=self.proxies,
                                              **transport)}
