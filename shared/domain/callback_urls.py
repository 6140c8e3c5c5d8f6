"""Where result callbacks may go (issue 21): the host allowlist ``CALLBACK_ALLOWED_HOSTS``, the rules a
``callbackUrl`` must meet, and the rules for the address its host resolves to. Standard library only.

A URL is checked twice: when a request names it (400 ``callback_not_allowed``) and again before every delivery
attempt, with the addresses its host resolves to at that moment (the sender then connects to the address it checked,
never to the name again). The allowlist names hosts:

- ``hooks.example.com``: that host only;
- ``*.example.com``: any name below example.com (not example.com itself);
- ``127.0.0.1``, ``::1`` or ``[::1]``: that IP address, written literally in the URL.

An empty allowlist (the default) refuses every callbackUrl. The scheme is ``https``; plain ``http`` only for a
loopback IP address listed as such (a local receiver). An address that is not a global unicast address (private,
loopback, link-local such as 169.254.169.254, multicast, reserved, shared, documentation, unspecified) is refused,
also when a listed name resolves to it; only a URL whose host is that very IP address, listed literally, may reach
it.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.domain.errors import CallbackNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+", re.ASCII)
# A DNS name of letters, digits and inner hyphens; the last label not all digits (so "127.1" or "2130706433", which
# resolvers read as IPv4 addresses, are not names).
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_NAME = re.compile(rf"(?=.{{1,253}}\Z)(?:{_LABEL}\.)*(?![0-9]+\Z){_LABEL}", re.ASCII)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal names (IPv6 with or without brackets), else None. A zone id
    (``fe80::1%eth0``) is not accepted as a literal."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to the IPv4 network: mapped, 6to4, Teredo (its server) or NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[0]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """A global unicast address, and so is any IPv4 address it embeds."""
    if (not address.is_global or address.is_private or address.is_loopback or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    embedded = _embedded_ipv4(address)
    return embedded is None or is_public_address(embedded)


@dataclass(frozen=True)
class CallbackUrl:
    """A checked callbackUrl in parts: ``host`` lowercased (an IP literal in its canonical spelling, without
    brackets), ``port`` explicit or the scheme's, ``target`` the path and query as given (at least ``/``)."""

    scheme: str
    host: str
    port: int
    target: str
    address: IPAddress | None  # set when the host is an IP literal

    @property
    def default_port(self) -> bool:
        return self.port == (443 if self.scheme == "https" else 80)

    @property
    def host_header(self) -> str:
        """The Host header (and TLS name) a request to this URL carries."""
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        return host if self.default_port else f"{host}:{self.port}"

    def url_for(self, address: IPAddress | None = None) -> str:
        """The URL to send to: as checked, or with ``address`` in place of the host (pinned), rebuilt from its parts
        so that no other parser reads it differently."""
        chosen = address if address is not None else self.address
        if chosen is None:
            authority = self.host
        else:
            authority = f"[{chosen}]" if isinstance(chosen, ipaddress.IPv6Address) else str(chosen)
        return f"{self.scheme}://{authority}:{self.port}{self.target}"


def _refuse(rule: str) -> CallbackNotAllowed:
    return CallbackNotAllowed.because(rule)


@dataclass(frozen=True)
class CallbackAllowlist:
    """``CALLBACK_ALLOWED_HOSTS``: exact names, ``*.`` suffixes and IP literals (see the module's docstring)."""

    names: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()      # ".example.com" for "*.example.com"
    addresses: frozenset[IPAddress] = frozenset()

    @classmethod
    def parse(cls, raw: str) -> "CallbackAllowlist":
        """Read the setting (comma-separated); ValueError naming every entry that is none of the three forms."""
        names, suffixes, addresses, bad = set(), set(), set(), []
        for entry in (part.strip() for part in raw.split(",")):
            if not entry:
                continue
            lowered = entry.lower()
            literal = ip_literal(lowered)
            if literal is not None:
                addresses.add(literal)
            elif lowered.startswith("*.") and lowered.isascii() and _NAME.fullmatch(lowered[2:]):
                suffixes.add(lowered[1:])
            elif lowered.isascii() and _NAME.fullmatch(lowered):
                names.add(lowered)
            else:
                bad.append(entry[:100])
        if bad:
            raise ValueError("entries must be host names (hooks.example.com), *. wildcards (*.example.com) or IP "
                             f"addresses (127.0.0.1); not: {', '.join(repr(entry) for entry in bad[:10])}")
        return cls(frozenset(names), frozenset(suffixes), frozenset(addresses))

    def __bool__(self) -> bool:
        return bool(self.names or self.suffixes or self.addresses)

    def lists(self, host: str) -> bool:
        """Whether ``host`` (lowercased; an IP literal canonical) is listed by name, wildcard or address."""
        literal = ip_literal(host)
        if literal is not None:
            return literal in self.addresses
        return host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)

    def check(self, url: object) -> CallbackUrl:
        """The URL's parts when a callback may go to it; CallbackNotAllowed (field ``callbackUrl``) naming the rule
        it breaks otherwise. The URL itself is never echoed: its query may carry a token."""
        if not isinstance(url, str):
            raise _refuse("must be a string")
        if len(url) > MAX_URL_LENGTH:
            raise _refuse(f"must be at most {MAX_URL_LENGTH} characters")
        if not _VISIBLE_ASCII.fullmatch(url) or "\\" in url:
            raise _refuse("must be ASCII without spaces, control characters or backslashes (percent-encode them)")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http") or not parts.netloc.strip("@") or not parts.hostname:
            raise _refuse("must be an absolute https URL")
        if "@" in parts.netloc:
            raise _refuse("must not carry user info (user:password@)")
        if "#" in url:
            raise _refuse("must not have a fragment")
        try:
            port = parts.port
        except ValueError:
            raise _refuse("has an invalid port") from None
        if port == 0:
            raise _refuse("has an invalid port")
        host = parts.hostname.lower()
        literal = ip_literal(host)
        if literal is None and not _NAME.fullmatch(host):
            raise _refuse("must name its host as a DNS name (ASCII; punycode for others) or an IP address")
        if literal is not None:
            host = str(literal)
        if scheme == "http" and not (literal is not None and literal.is_loopback and literal in self.addresses):
            raise _refuse("must use https (plain http only for a loopback address listed in CALLBACK_ALLOWED_HOSTS)")
        if not self:
            raise _refuse("callbacks are not enabled: CALLBACK_ALLOWED_HOSTS lists no host")
        if not self.lists(host):
            raise _refuse("its host is not listed in CALLBACK_ALLOWED_HOSTS")
        target = parts.path or "/"
        if parts.query or url.endswith("?"):
            target = f"{target}?{parts.query}"
        return CallbackUrl(scheme, host, port or (443 if scheme == "https" else 80), target, literal)


def address_allowed(address: IPAddress | str, host: str, allowlist: CallbackAllowlist) -> bool:
    """Whether a delivery for ``host`` may connect to ``address`` (one it resolved to): any global unicast address;
    another only when ``host`` is that very address written literally and listed as such."""
    try:
        ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if is_public_address(ip):
        return True
    return ip_literal(host) == ip and ip in allowlist.addresses
