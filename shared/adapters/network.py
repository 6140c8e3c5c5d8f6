"""The process's network settings, read from the environment once.

``requests`` re-reads the whole environment on every call of a session that trusts it (proxies, ``NO_PROXY``,
``.netrc``, the CA bundle): about 2 ms a request with the few dozen variables of a shell, several with the hundreds of
app settings a Functions worker receives as variables. The broker reads them once, at start: the CA bundle
(``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, as ``requests`` does) and, for each host it will call, the proxy the
environment names for it (``HTTPS_PROXY`` / ``HTTP_PROXY``, honouring ``NO_PROXY``), then hands them to ``requests``
and to the storage SDKs' transports with the environment switched off.
https://requests.readthedocs.io/en/latest/user/advanced/#proxies
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
