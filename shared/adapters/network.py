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
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies


@dataclass(frozen=True)
class Network:
    verify: str | bool = True                                   # a CA bundle path, or the default trust store
    proxies: dict[str, str] = field(default_factory=dict)       # "scheme://host" -> proxy URL

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
        """One pooled session for Entra and Graph that never consults the environment again."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.verify
        session.proxies.update(self.proxies)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)  # retries are GraphClient's job
        session.mount("https://", adapter)
        session.mount("http://", adapter)
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

        return {"transport": Urllib3Transport(ca_bundle=self.ca_bundle, proxies=self.proxies, **transport)}
