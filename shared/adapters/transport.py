"""An azure-core transport over urllib3 for the Table and Queue clients (issue 24: CPU per storage request).

azure-core's default ``RequestsTransport`` sends each request through ``requests`` (``prepare_request``, the cookie
jar, the adapters), which is built on urllib3: about a third of a storage request's client CPU. Against Azurite, a
single-entity Tables operation costs ~0.92 ms of CPU through ``RequestsTransport(use_env_settings=False)`` and
~0.62 ms through this transport (bench/README.md, "A transport over urllib3"). It uses azure-core's extension points:
``HttpTransport``, and the public ``azure.core.rest.HttpResponse`` ABC for its responses (``transport_response.py``).
An entity-group transaction (a multipart batch) goes through azure-core's own transport, which reads its answer apart.

Kept from ``RequestsTransport(use_env_settings=False)``: pooled keep-alive connections, no retries (the SDK's retry
policy retries), no redirect followed, TLS always verified against one CA bundle, the process's proxies per host
(credentials in a proxy URL sent as ``Proxy-Authorization``, never in a log or an error), and how failures map to
azure-core's errors. No environment variable is read here.
"""
from __future__ import annotations

import threading
from typing import Any, Mapping, MutableMapping
from urllib.parse import unquote, urlencode, urlsplit

import urllib3
from azure.core.exceptions import (
    AzureError, ServiceRequestError, ServiceRequestTimeoutError, ServiceResponseError, ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.utils import case_insensitive_dict
from urllib3.exceptions import (
    ConnectTimeoutError, LocationValueError, NewConnectionError, PoolError, ProtocolError, ProxyError,
    ReadTimeoutError, SSLError,
)
from urllib3.util import Retry, Timeout, make_headers, parse_url

from shared.adapters.transport_response import BLOCK_SIZE, Urllib3Response
from shared.adapters.trust import TrustedAdapter, TrustStore, trusted_session

DEFAULT_TIMEOUT = 300.0  # seconds: azure-core's ConnectionConfiguration defaults for connecting and for each read
# requests' own setting in RequestsTransport: no retry of any kind, no redirect, a status is never an error here.
NO_RETRIES = Retry(total=False, redirect=False, raise_on_status=False)


class Urllib3Transport(HttpTransport[HttpRequest, HttpResponse]):
    """Sends ``azure.core.rest`` requests through one ``urllib3.PoolManager``, or a ``ProxyManager`` per proxy.

    ``ca_bundle`` is the only trust (``Network.ca_bundle``), loaded once through ``trust`` (``Network.trust``,
    shared with the process's other connections; by default a store of its own); ``proxies`` maps
    ``"scheme://host"`` (or ``scheme``, ``all://host``, ``all``, chosen in requests' order) to a proxy URL, and a
    ``proxies=`` mapping the pipeline passes to ``send`` (azure-core's ProxyPolicy) adds to it. ``connection_timeout``
    and ``read_timeout`` are defaults that the same keywords of ``send`` override. Thread-safe: one transport serves
    every worker thread."""

    def __init__(self, *, ca_bundle: str, trust: TrustStore | None = None, proxies: Mapping[str, str] | None = None,
                 connection_timeout: float = DEFAULT_TIMEOUT, read_timeout: float = DEFAULT_TIMEOUT,
                 pool_maxsize: int = 32, block_size: int = BLOCK_SIZE) -> None:
        self.ca_bundle = ca_bundle
        self.trust = trust or TrustStore(ca_bundle)
        if self.trust.ca_bundle != ca_bundle:
            raise ValueError("the trust store holds another CA bundle than ca_bundle")
        self.proxies = dict(proxies or {})
        self.connection_timeout, self.read_timeout = connection_timeout, read_timeout
        self._timeout = Timeout(connect=connection_timeout, read=read_timeout)
        self._block_size = block_size
        # Up to 32 worker threads share a transport: as many pooled connections to a host, never waiting for one.
        self._pool_kw: dict[str, Any] = {"num_pools": 4, "maxsize": pool_maxsize, "block": False}
        self._lock = threading.Lock()
        self._direct: urllib3.PoolManager | None = None
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._batch_transport: HttpTransport | None = None

    def open(self) -> None:
        """Nothing to open: connections are made on first use."""

    def close(self) -> None:
        """Close every pooled connection; a later request opens new ones."""
        with self._lock:
            managers = [*self._proxied.values(), *([self._direct] if self._direct else [])]
            batches = self._batch_transport
        for manager in managers:
            manager.clear()
        if batches is not None:
            batches.close()

    def __exit__(self, *args: Any) -> None:
        self.close()

    def send(self, request: HttpRequest, *, stream: bool = False, proxies: Mapping[str, str] | None = None,
             connection_timeout: float | tuple[float, float] | None = None, read_timeout: float | None = None,
             **kwargs: Any) -> HttpResponse:
        """Send ``request``; the body is read before returning unless ``stream``. Raises azure-core's errors."""
        _check_options(kwargs, self.ca_bundle)
        if not isinstance(request, HttpRequest):
            raise TypeError("Urllib3Transport sends azure.core.rest.HttpRequest only, not "
                            f"{type(request).__module__}.{type(request).__name__}")
        if getattr(request, "multipart_mixed_info", None):
            # An entity-group transaction: the Tables SDK reads its answer apart with ``parts()``, which only
            # azure-core's own responses have (a private mixin), so it goes through azure-core's transport, with
            # the same trust, proxies and timeouts.
            return self._batches().send(request, stream=stream, proxies={**self.proxies, **(proxies or {})},
                                        connection_timeout=connection_timeout or self.connection_timeout,
                                        read_timeout=read_timeout or self.read_timeout)
        manager = self._manager(request.url, proxies)
        body, headers = _body(request)
        options = {"body": body, "headers": headers, "redirect": False, "retries": NO_RETRIES,
                   "preload_content": False, "timeout": self._timeouts(connection_timeout, read_timeout)}
        try:
            if manager is self._direct:
                # The host's pool, found from the URL split here: PoolManager.urlopen would parse (and percent-encode,
                # byte by byte) the whole URL before the pool encodes its path again, a few percent of a request.
                parts = urlsplit(request.url)
                host = parts.hostname or ""
                pool = manager.connection_from_host(f"[{host}]" if ":" in host else host, parts.port, parts.scheme)
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                raw = pool.urlopen(request.method, target, assert_same_host=False, **options)
            else:
                raw = manager.urlopen(request.method, request.url, **options)
        except urllib3.exceptions.HTTPError as err:
            raise sending_error(err) from err
        except ValueError as err:  # a port that is not a number (urlsplit's error)
            raise ServiceRequestError(f"not a URL that can be sent: {err}") from err
        response = Urllib3Response(request, raw, self._block_size)
        if not stream:
            response.read()  # and the connection goes back to the pool
        return response

    def _batches(self) -> HttpTransport:
        """azure-core's ``RequestsTransport`` for multipart batches, made on the first, on a session that reads no
        environment and verifies with the shared trust (retries and redirects off, as azure-core's own adapter)."""
        with self._lock:
            if self._batch_transport is None:
                from azure.core.pipeline.transport import RequestsTransport

                adapter = TrustedAdapter(self.trust, max_retries=NO_RETRIES)
                self._batch_transport = RequestsTransport(
                    session=trusted_session(self.trust, self.ca_bundle, adapter=adapter), use_env_settings=False,
                    connection_verify=self.ca_bundle)
            return self._batch_transport

    def _timeouts(self, connect: float | tuple[float, float] | None, read: float | None) -> Timeout:
        if connect is None and read is None:
            return self._timeout
        if isinstance(connect, tuple):  # azure-core's deprecated (connect, read) pair
            if read is not None:
                raise ValueError("Cannot set tuple connection_timeout and read_timeout together")
            connect, read = connect
        return Timeout(connect=self.connection_timeout if connect is None else connect,
                       read=self.read_timeout if read is None else read)

    def _manager(self, url: str, proxies: Mapping[str, str] | None) -> urllib3.PoolManager:
        direct = self._direct or self._open()
        chosen = {**self.proxies, **proxies} if proxies else self.proxies
        proxy = select_proxy(url, chosen) if chosen else None
        if proxy is None:
            return direct
        manager = self._proxied.get(proxy)
        if manager is None:
            with self._lock:
                manager = self._proxied.get(proxy) or self._proxied.setdefault(proxy, self._proxy_manager(proxy))
        return manager

    def _open(self) -> urllib3.PoolManager:
        """The pool manager, made on the first request (with the CA bundle loaded then, if no other connection
        has loaded it yet, not when clients are built): a bundle that cannot be loaded fails that request as a TLS
        error would, and the next one tries again."""
        with self._lock:
            if self._direct is None:
                try:
                    self._pool_kw["ssl_context"] = self.trust.context()
                except OSError as exc:  # ssl.SSLError included; the message names the bundle
                    raise ServiceRequestError(exc.strerror or str(exc)) from exc
                self._direct = urllib3.PoolManager(**self._pool_kw)
            return self._direct

    def _proxy_manager(self, proxy: str) -> urllib3.ProxyManager:
        """A manager for ``proxy``: HTTPS tunnelled with CONNECT, HTTP forwarded; Basic credentials in the URL
        become the ``Proxy-Authorization`` header, and the URL urllib3 keeps (and names in errors) has none."""
        try:
            parsed = parse_url(proxy if "://" in proxy else "http://" + proxy)  # requests' default scheme
            headers = None
            if parsed.auth:
                user, _, password = parsed.auth.partition(":")
                headers = make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
            return urllib3.ProxyManager(parsed._replace(auth=None).url, proxy_headers=headers,
                                        proxy_ssl_context=self._pool_kw["ssl_context"], **self._pool_kw)
        except LocationValueError:  # its text would hold the URL, credentials and all
            raise ServiceRequestError("a proxy URL that is not http(s)://host:port") from None


def select_proxy(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy for ``url``, looked up as requests does: ``scheme://host``, ``scheme``, ``all://host``, ``all``."""
    parts = urlsplit(url)
    if parts.hostname is None:
        return proxies.get(parts.scheme, proxies.get("all"))
    for key in (f"{parts.scheme}://{parts.hostname}", parts.scheme, f"all://{parts.hostname}", "all"):
        if key in proxies:
            return proxies[key]
    return None


def _check_options(options: dict[str, Any], ca_bundle: str) -> None:
    """What else the pipeline may pass: the trust cannot be changed per request, and unknown options are refused
    as requests refuses them."""
    verify = options.pop("connection_verify", True)
    if verify is not True and verify != ca_bundle:
        raise ValueError("Urllib3Transport verifies TLS against the CA bundle it was made with; "
                         "connection_verify cannot change that per request")
    if options.pop("connection_cert", None) is not None:
        raise ValueError("Urllib3Transport sends no client certificate")
    if options:
        raise TypeError(f"Urllib3Transport.send() got unexpected keyword arguments: {', '.join(sorted(options))}")


def _body(request: HttpRequest) -> tuple[Any, MutableMapping[str, str]]:
    """The body as urllib3 sends it, and the headers (Content-Length counted in bytes for a text body)."""
    content, headers = request.content, request.headers
    if content is None or isinstance(content, bytes):  # what the storage SDKs send, but for JSON text
        return content, headers
    if isinstance(content, str):
        encoded = content.encode("utf-8")
        if len(encoded) != len(content) and "Content-Length" in headers:
            headers = case_insensitive_dict(headers)
            headers["Content-Length"] = str(len(encoded))
        return encoded, headers
    if getattr(request, "files", None):
        raise TypeError("Urllib3Transport sends no multipart/form-data (files=) body")
    if isinstance(content, Mapping):  # data= : a form
        return urlencode(content, doseq=True), headers
    return content, headers  # a file or an iterable of bytes, streamed


def sending_error(err: urllib3.exceptions.HTTPError) -> AzureError:
    """urllib3's error while sending, as RequestsTransport reports it once requests has wrapped it
    (azure/core/pipeline/transport/_requests_basic.py): not connected or TLS refused, the request was not sent
    (ServiceRequestError, retried); the connection broke or timed out after it was sent, ServiceResponseError."""
    if isinstance(err, NewConnectionError):  # a subclass of ConnectTimeoutError: refused, unresolvable
        return ServiceRequestError(err, error=err)
    if isinstance(err, ConnectTimeoutError):
        return ServiceRequestTimeoutError(err, error=err)
    if isinstance(err, ReadTimeoutError):
        return ServiceResponseTimeoutError(err, error=err)
    if isinstance(err, ProtocolError):
        return ServiceResponseError(err, error=err)
    if isinstance(err, (SSLError, ProxyError, PoolError, LocationValueError)):  # the last: no host to send to
        return ServiceRequestError(err, error=err)
    return ServiceResponseError(err, error=err)  # what requests raises as a plain RequestException
