"""Tenant names to tenant ids. A tenant may be named by its GUID or by any of its verified domains; rows are keyed by
the GUID, so one meeting never gets two records because two callers spelled its tenant two ways.

A domain is resolved once per process with Entra's public OpenID discovery document, whose ``issuer`` names the
tenant id (no token needed); a tenant's id never changes, so the answer is cached for the life of the process.
https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable

import requests

from shared.domain.errors import TenantNotAllowed, TokenUnavailable
from shared.domain.identifiers import is_guid
from shared.ports import TenantResolver

log = logging.getLogger(__name__)
UNKNOWN_TTL_SECONDS = 600.0  # a domain may be verified later: an unknown name is asked about again after this

_GUID_IN_PATH = re.compile(r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:/|$)", re.ASCII)


class TenantDirectory(TenantResolver):
    """Resolves tenant names with a bounded cache; thread-safe."""

    def __init__(self, session: requests.Session, authority_host: str, *, timeout: float = 10.0,
                 capacity: int = 1024, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._session = session
        self._authority = authority_host.rstrip("/")
        self._timeout = timeout
        self._capacity = capacity
        self._known: dict[str, str] = {}
        self._unknown: dict[str, float] = {}  # names Entra does not know, until when that answer is kept
        self._monotonic = monotonic
        self._lock = threading.Lock()

    def resolve(self, name: str) -> str:
        """The tenant id for ``name`` (a GUID is its own id). TenantNotAllowed for a name Entra does not know,
        TokenUnavailable (retryable) when Entra cannot be asked."""
        name = name.strip().lower()
        if is_guid(name):
            return name
        with self._lock:
            known = self._known.get(name)
            refused_until = self._unknown.get(name)
        if known is not None:
            return known
        if refused_until is not None and self._monotonic() < refused_until:
            raise TenantNotAllowed(f"tenant {name} is not known to Microsoft Entra ID")
        try:
            tenant_id = self._discover(name)
        except TenantNotAllowed:  # remembered for a while: a caller repeating a wrong name costs no call each time
            with self._lock:
                if len(self._unknown) >= self._capacity:
                    self._unknown.pop(next(iter(self._unknown)))
                self._unknown[name] = self._monotonic() + UNKNOWN_TTL_SECONDS
            raise
        with self._lock:
            if len(self._known) >= self._capacity:
                self._known.pop(next(iter(self._known)))
            self._known[name] = tenant_id
        log.info("tenant %s is %s", name, tenant_id)
        return tenant_id

    def _discover(self, name: str) -> str:
        url = f"{self._authority}/{name}/v2.0/.well-known/openid-configuration"
        try:
            response = self._session.get(url, timeout=self._timeout)
        except requests.RequestException as exc:
            raise TokenUnavailable(f"tenant {name} could not be resolved: Entra did not answer "
                                   f"({type(exc).__name__})") from None
        if response.status_code in (400, 404):
            raise TenantNotAllowed(f"tenant {name} is not known to Microsoft Entra ID")
        try:
            issuer = str(response.json().get("issuer") or "") if response.status_code == 200 else ""
        except (ValueError, AttributeError):
            issuer = ""
        match = _GUID_IN_PATH.search(issuer.lower())
        if match is None:
            raise TokenUnavailable(f"tenant {name} could not be resolved: Entra answered {response.status_code} "
                                   "without a tenant id")
        return match.group(1)
