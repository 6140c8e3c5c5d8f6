"""The process's network settings (CA bundle, proxies per host, ``NO_PROXY``), read from the environment once at
start and handed to ``requests`` and the storage SDKs with the environment switched off: ``requests`` would re-read
the whole environment on every call (milliseconds with a Functions worker's hundreds of app settings).
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

    def azure_options(self, **transport: Any) -> dict[str, Any]:
        """Client options for the Azure SDKs: a transport (with ``transport`` settings such as timeouts) that does
        not read the environment, and the proxies and CA bundle read here."""
        from azure.core.pipeline.transport import RequestsTransport

        options: dict[str, Any] = {"transport": RequestsTransport(use_env_settings=False, **transport)}
        if self.proxies:
            options["proxies"] = dict(self.proxies)
        if self.verify is not True:
            options["connection_verify"] = self.verify
        return options
