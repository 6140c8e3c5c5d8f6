"""App-only tokens for Microsoft Graph through MSAL (the ``TokenProvider`` port), in four credential modes.

One MSAL application, so one token cache, per tenant: the token endpoint is called about once an hour per process.
Modes: ``managed_identity_fic`` (a user-assigned managed identity is the app registration's federated identity
credential; no secret exists), ``managed_identity`` (the identity holds the Graph app role; single tenant),
``certificate`` (a PEM private key and certificate), ``client_secret`` (local development only).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

import msal
from msal.exceptions import MsalError, MsalServiceError
import requests

from shared.domain.errors import ConfigurationError, CredentialRejected, TenantNotAllowed, TokenUnavailable
from shared.config.settings import Settings
from shared.ports import TokenProvider

log = logging.getLogger(__name__)

# Entra answers that no retry can fix: the app, its secret, certificate or federated credential is wrong.
# https://learn.microsoft.com/entra/identity-platform/reference-error-codes
_REJECTED_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
_REJECTED_CODES = frozenset({700016, 7000215, 7000222, 700027, 70021, 700024, 90002, 700212, 700213, 50049})


def load_certificate(settings: Settings) -> dict[str, str]:
    """The MSAL certificate credential from GRAPH_CERTIFICATE (PEM content) or GRAPH_CERTIFICATE_PATH."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    source = "GRAPH_CERTIFICATE" if settings.certificate_pem else "GRAPH_CERTIFICATE_PATH"
    try:
        pem = settings.certificate_pem or Path(settings.certificate_path or "").read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError([f"GRAPH_CERTIFICATE_PATH cannot be read ({exc.strerror})"]) from None
    problems = []
    blocks = pem.replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(blocks.encode(), password=None)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    except (ValueError, TypeError):
        problems.append(f"{source} must hold an unencrypted PEM private key")
        key_pem = ""
    try:
        cert = x509.load_pem_x509_certificate(blocks.encode())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    except ValueError:
        problems.append(f"{source} must hold the PEM certificate that goes with the private key")
        cert_pem = ""
    if problems:
        raise ConfigurationError(problems)
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()  # noqa: S324 - x5t
    log.info("Graph credential: certificate with thumbprint %s, valid until %s", thumbprint,
             cert.not_valid_after_utc.isoformat())
    return {"private_key": key_pem, "public_certificate": cert_pem}


def _describe(result: dict[str, Any]) -> str:
    codes = result.get("error_codes") or []
    first_line = str(result.get("error_description") or "").split("\r\n")[0].split("\n")[0][:300]
    return (f"Entra error {result.get('error')}{' AADSTS' + str(codes[0]) if codes else ''}; "
            f"correlation id {result.get('correlation_id') or '-'}; {first_line}")


def _raise_for(result: dict[str, Any], what: str) -> None:
    codes = set(result.get("error_codes") or [])
    detail = f"{what}: {_describe(result)}"
    log.error("%s", detail)
    if result.get("error") in _REJECTED_ERRORS or codes & _REJECTED_CODES:
        raise CredentialRejected(detail)
    raise TokenUnavailable(detail)


class MsalTokenProvider(TokenProvider):
    """Tokens for Graph per tenant; thread-safe; never logs token or secret values."""

    def __init__(self, settings: Settings, *, http_client: requests.Session,
                 managed_identity_client: Any | None = None) -> None:
        self._settings = settings
        self._http = http_client
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._lock = threading.Lock()
        self._mi: Any = managed_identity_client
        self._credential: Any = None
        mode = settings.credential_mode
        if mode == "certificate":
            self._credential = load_certificate(settings)
        elif mode == "client_secret":
            self._credential = settings.client_secret
            if not settings.is_local_authority:
                log.warning("GRAPH_CREDENTIAL=client_secret against %s: use managed_identity_fic or certificate in "
                            "Azure, where no secret should exist", settings.authority_host)
        elif mode in ("managed_identity_fic", "managed_identity"):
            if self._mi is None:
                identity = (msal.UserAssignedManagedIdentity(client_id=settings.managed_identity_client_id)
                            if settings.managed_identity_client_id else msal.SystemAssignedManagedIdentity())
                self._mi = msal.ManagedIdentityClient(identity, http_client=http_client)
            if mode == "managed_identity_fic":
                self._credential = {"client_assertion": self._federated_assertion}

    def _federated_assertion(self) -> str:
        # MSAL calls this whenever it needs a fresh assertion; the identity client caches its own token.
        result = self._acquire_from_identity(self._settings.token_exchange_audience)
        return result["access_token"]

    def _acquire_from_identity(self, resource: str) -> dict[str, Any]:
        try:
            result = self._mi.acquire_token_for_client(resource=resource)
        except (requests.RequestException, ValueError, OSError, MsalError) as exc:
            raise TokenUnavailable(f"the managed identity endpoint failed ({type(exc).__name__})") from None
        if "access_token" not in result:
            _raise_for(result, f"the managed identity could not get a token for {resource}")
        return result

    def _app(self, tenant_id: str) -> msal.ConfidentialClientApplication:
        with self._lock:
            app = self._apps.get(tenant_id)
            if app is None:
                app = msal.ConfidentialClientApplication(
                    self._settings.client_id,
                    client_credential=self._credential,
                    authority=self._settings.authority_for(tenant_id),
                    # The authority comes from this app's own settings; skipping instance discovery also lets
                    # national clouds and local stand-ins work without a metadata call to the public cloud.
                    instance_discovery=False,
                    http_client=self._http,
                )
                self._apps[tenant_id] = app
            return app

    def token(self, tenant_id: str) -> str:
        settings = self._settings
        if tenant_id not in settings.allowed_tenants:
            raise TenantNotAllowed(f"tenant {tenant_id} is not in ALLOWED_TENANTS")
        if settings.credential_mode == "managed_identity":
            if tenant_id != settings.tenant_id:
                raise TenantNotAllowed(
                    f"GRAPH_CREDENTIAL=managed_identity acts only in the identity's own tenant {settings.tenant_id}")
            return self._acquire_from_identity(settings.graph_base_url)["access_token"]
        try:
            result = self._app(tenant_id).acquire_token_for_client(scopes=[settings.graph_scope])
        except (TokenUnavailable, CredentialRejected):
            raise
        except (requests.RequestException, OSError, MsalServiceError) as exc:
            # MSAL raises instead of returning an error answer when the endpoint fails with a 5xx.
            raise TokenUnavailable(f"the token endpoint for tenant {tenant_id} failed ({exc})"[:300]) from None
        except ValueError as exc:
            # MSAL raises ValueError when the authority's OpenID configuration cannot be loaded.
            raise TokenUnavailable(f"the authority for tenant {tenant_id} could not be used ({exc})"[:400]) from None
        if "access_token" not in result:
            _raise_for(result, f"no Graph token for tenant {tenant_id}")
        return result["access_token"]

