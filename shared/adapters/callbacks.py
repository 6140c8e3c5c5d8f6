"""The result callback sender (issue 21): one signed POST per attempt, to an address checked just before.

Each attempt re-checks the URL against the allowlist, resolves its host once (``socket.getaddrinfo``; a resolver is
injected in tests), refuses the attempt unless every address is allowed (``callback_urls.address_allowed``), then
connects to the first of those addresses: ``requests`` would otherwise resolve the name again and could be handed
another address (DNS rebinding). The URL sent has the address in place of the name; the Host header keeps the name,
and ``PinnedNameAdapter`` makes TLS use it too (SNI and the certificate's name check, through urllib3's
``server_hostname`` pool setting), so only the connection's address is pinned.

No redirects (a 3xx is a failed attempt), no proxy (a proxy would resolve the name itself), no retries inside an
attempt, 15 s to connect and 15 s for each read of the answer, and at most ``BODY_CAP`` bytes of the answer's body
are read (then dropped), within 15 s of sending. Every attempt is signed by each of CALLBACK_SIGNING_SECRETS with the Standard Webhooks
library. Errors are told by kind (``connect timeout``, ``TLS error: CERTIFICATE_VERIFY_FAILED``, ...): an
exception's text names the URL, query string included, so it is never passed on.
"""
from __future__ import annotations

import errno
import math
import socket
import ssl
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import requests
from standardwebhooks import Webhook

from shared.adapters.network import Network
from shared.adapters.trust import TrustedAdapter, trusted_session
from shared.domain.callback_urls import CallbackAllowlist, CallbackUrl, IPAddress, address_allowed, ip_literal
from shared.domain.callbacks import AttemptResult, CallbackDelivery, require_signing_secrets
from shared.domain.errors import CallbackNotAllowed
from shared.domain.clock import Clock, utc_now

Resolver = Callable[[str, int], list[str]]
TIMEOUT_SECONDS = 15.0
BODY_CAP = 4096
USER_AGENT = "teams-meeting-broker-callbacks/1"


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses in the order the system prefers them (RFC 6724), each once."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


class PinnedNameAdapter(TrustedAdapter):
    """For an https URL whose host is an IP address and whose request carries a Host header naming a DNS name,
    TLS speaks to that name: SNI and the certificate check use it, the connection goes to the address. Connection
    pools are kept per (address, port, name), so a pooled connection is never reused for another name."""

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        name = _tls_name(request, str(host_params.get("host") or ""))
        if host_params.get("scheme") == "https" and name:
            pool_kwargs["server_hostname"] = name
        return host_params, pool_kwargs


def _tls_name(request: requests.PreparedRequest, url_host: str) -> str | None:
    header = request.headers.get("Host")
    if not header or ip_literal(url_host) is None:
        return None
    name = str(header).rpartition(":")[0] if ":" in str(header) else str(header)
    return name if name and ip_literal(name) is None else None


def callback_session(network: Network | None = None) -> requests.Session:
    """The session callbacks are sent with: pinned TLS names, no environment (proxies, .netrc), no retries (the
    sender never follows redirects: ``allow_redirects=False``; ``max_redirects=0`` would raise on a 3xx even then).
    TLS trusts what the process trusts, ``network``'s CA bundle loaded once (by default the default trust store);
    the network's proxies are not used."""
    network = network or Network()
    # Up to batchSize + newBatchThreshold (24) attempts run at once in an instance: room for as many connections.
    adapter = PinnedNameAdapter(network.trust, pool_connections=8, pool_maxsize=32, max_retries=0)
    return trusted_session(network.trust, network.verify, adapter=adapter)


class CallbackSender:
    """``send(delivery) -> AttemptResult``: the ``send`` port of ``usecases.deliver``."""

    def __init__(self, session: requests.Session, signing_secrets: Sequence[str], allowlist: CallbackAllowlist, *,
                 clock: Clock = utc_now, monotonic: Callable[[], float] = time.monotonic,
                 resolver: Resolver = system_resolver, timeout: float = TIMEOUT_SECONDS,
                 body_cap: int = BODY_CAP) -> None:
        self._webhooks = [Webhook(secret) for secret in require_signing_secrets(signing_secrets,
                                                                                 "CALLBACK_SIGNING_SECRETS")]
        self._session = session
        self._allowlist = allowlist
        self._clock = clock
        self._monotonic = monotonic
        self._resolver = resolver
        self._timeout = timeout
        self._body_cap = body_cap

    def signed_headers(self, delivery: CallbackDelivery) -> dict[str, str]:
        """The Standard Webhooks headers for this attempt: its webhook-id, the time now, one ``v1,`` signature per
        secret over ``id.timestamp.body``."""
        seconds = math.floor(self._clock().timestamp())
        timestamp = datetime.fromtimestamp(seconds, tz=timezone.utc)
        body = delivery.body.encode("utf-8")
        return {
            "Content-Type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(seconds),
            "webhook-signature": " ".join(hook.sign(delivery.webhook_id, timestamp, body) for hook in self._webhooks),
        }

    def send(self, delivery: CallbackDelivery) -> AttemptResult:
        try:
            url = self._allowlist.check(delivery.url)
        except CallbackNotAllowed as refused:
            return AttemptResult.not_sent(f"not allowed: {refused.detail}")
        try:
            address = self._checked_address(url)
        except _Refused as refused:
            return AttemptResult.not_sent(str(refused))
        headers = {**self.signed_headers(delivery), "User-Agent": USER_AGENT}
        if url.address is None:
            headers["Host"] = url.host_header  # the name: the URL carries the checked address instead
        started = self._monotonic()
        try:
            response = self._session.post(url.url_for(address), data=delivery.body.encode("utf-8"), headers=headers,
                                          timeout=(self._timeout, self._timeout), allow_redirects=False, stream=True)
        except requests.RequestException as error:
            return AttemptResult.not_sent(describe(error), self._elapsed_ms(started))
        try:
            self._drain(response, started)
        finally:
            response.close()
        return AttemptResult.answered(response.status_code, self._elapsed_ms(started))

    def _checked_address(self, url: CallbackUrl) -> IPAddress:
        """The address to connect to: the URL's own, or the first its host resolves to, once every address it
        resolves to is allowed."""
        if url.address is not None:
            candidates = [str(url.address)]
        else:
            try:
                candidates = self._resolver(url.host, url.port)
            except (OSError, UnicodeError):
                raise _Refused("could not resolve the host") from None
            if not candidates:
                raise _Refused("could not resolve the host")
        for candidate in candidates:
            if not address_allowed(candidate, url.host, self._allowlist):
                raise _Refused(f"address not allowed: {candidate} is not a public address "
                               "(private, loopback, link-local, multicast or reserved)")
        chosen = ip_literal(candidates[0])
        if chosen is None:  # address_allowed accepted it, so it parses: this only guards against connecting by name
            raise _Refused("could not resolve the host")
        return chosen

    def _drain(self, response: requests.Response, started: float) -> None:
        """Read at most the body cap, within the attempt's time, and drop it: the answer's status is all that counts."""
        left = self._body_cap
        try:
            while left > 0 and self._monotonic() - started < self._timeout:
                chunk = response.raw.read(min(left, 1024))
                if not chunk:
                    break
                left -= len(chunk)
        except Exception:  # noqa: BLE001 - the status line came: what the body does after it changes nothing
            pass

    def _elapsed_ms(self, started: float) -> int:
        return max(0, int((self._monotonic() - started) * 1000))


class _Refused(Exception):
    pass


def describe(error: BaseException) -> str:
    """What went wrong, by kind, without the exception's text (it names the URL with its query)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(error, requests.exceptions.Timeout):
        return "read timeout"
    if isinstance(error, requests.exceptions.SSLError):
        reason = next((getattr(cause, "reason", None) for cause in _causes(error)
                       if isinstance(cause, ssl.SSLError) and getattr(cause, "reason", None)), None)
        return f"TLS error: {reason}" if reason else "TLS error"
    if isinstance(error, requests.exceptions.TooManyRedirects):
        return "redirect not followed"
    if isinstance(error, requests.exceptions.ConnectionError):
        code = next((cause.errno for cause in _causes(error)
                     if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0), None)
        return f"connection error: {errno.errorcode.get(code, code)}" if code else "connection error"
    return f"request error: {type(error).__name__}"


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (``__cause__``, ``__context__``, urllib3's ``reason`` and exception args)."""
    seen: list[BaseException] = []
    pending: list[Any] = [error]
    while pending and len(seen) < 20:
        item = pending.pop()
        if not isinstance(item, BaseException) or any(item is known for known in seen):
            continue
        seen.append(item)
        pending.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return seen
