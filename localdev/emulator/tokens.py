"""Access tokens of the emulator: its RS256 signing key, issuer and token-endpoint URLs, Graph audiences, and minting
of app-only Graph tokens (every token is a JWT signed with the emulator's key; expiry uses the injectable clock)."""
from __future__ import annotations

import base64
import uuid
from typing import Any, Mapping

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .directory import GRAPH_APP_ID, GRAPH_RESOURCE
from .state import EmulatorState

ACCESS_TOKEN_LIFETIME = 3599
MANAGED_IDENTITY_TOKEN_LIFETIME = 86399  # App Service hands out ~24 h tokens
NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SigningKey:
    """The emulator's RS256 token-signing key (one per emulator instance)."""

    def __init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        self.kid = b64url(uuid.uuid4().bytes)
        self.jwk = {"kty": "RSA", "use": "sig", "kid": self.kid, "n": jwk["n"], "e": jwk["e"], "alg": "RS256"}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def verify(self, token: str) -> dict[str, Any]:
        """Signature only (expiry, audience and issuer are checked by callers against the emulator clock)."""
        return jwt.decode(
            token, self.public_key, algorithms=["RS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                     "verify_iss": False},
        )


def issuer(state: EmulatorState, tenant_id: str) -> str:
    return f"{state.base_url}/{tenant_id}/v2.0"


def token_endpoint(state: EmulatorState, tenant: str) -> str:
    return f"{state.base_url}/{tenant}/oauth2/v2.0/token"


def normalize_resource(state: EmulatorState, resource: str) -> str | None:
    """The Graph audience for a resource / scope root, or None when it is not Graph."""
    value = resource.strip().rstrip("/")
    if value.lower() in (GRAPH_RESOURCE, GRAPH_APP_ID):
        return GRAPH_RESOURCE
    if state.base_url and value.lower() == state.base_url.lower():
        return state.base_url
    return None


def graph_audiences(state: EmulatorState) -> set[str]:
    return {GRAPH_RESOURCE, GRAPH_APP_ID, state.base_url}


def mint_access_token(state: EmulatorState, signing: SigningKey, *, tenant_id: str, app_id: str, object_id: str,
                      roles: tuple[str, ...] | list[str], audience: str = GRAPH_RESOURCE,
                      lifetime: int = ACCESS_TOKEN_LIFETIME, app_display_name: str = "",
                      auth_method: str = "1") -> tuple[str, int]:
    """An app-only access token; returns (jwt, exp)."""
    now = int(state.now())
    exp = now + lifetime
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer(state, tenant_id),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "app_displayname": app_display_name or app_id,
        "appid": app_id,
        "appidacr": auth_method,
        "azp": app_id,
        "azpacr": auth_method,
        "idp": issuer(state, tenant_id),
        "idtyp": "app",
        "oid": object_id,
        "sub": object_id,
        "tid": tenant_id,
        "uti": b64url(uuid.uuid4().bytes),
        "ver": "2.0",
    }
    if roles:
        claims["roles"] = list(roles)
    token = signing.sign(claims)
    state.record_issued(token)
    return token, exp

