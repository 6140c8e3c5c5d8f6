"""Entra stand-in: OpenID discovery, JWKS and the client-credentials token endpoint (client secret, certificate
assertion, federated credential: localdev/README.md, "Entra")."""
from __future__ import annotations

import base64
import hmac
import uuid
from typing import Any, Mapping
from urllib.parse import unquote_plus

import jwt

from .directory import App
from .entra_errors import entra_error
from .replies import Reply
from .state import EmulatorState
from .tokens import ACCESS_TOKEN_LIFETIME, NO_STORE, SigningKey, b64url_decode, issuer, mint_access_token, \
    normalize_resource, token_endpoint

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300  # Entra tolerates 5 minutes of skew on assertion nbf


def discovery(state: EmulatorState, tenant_segment: str) -> Reply:
    tenant_id = state.directory.resolve_tenant(tenant_segment)
    if tenant_id is None:
        return entra_error(state, 400, 90002, error="invalid_tenant", tenant=tenant_segment)
    base = state.base_url
    config = {
        "token_endpoint": token_endpoint(state, tenant_id),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant_id}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer(state, tenant_id),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "roles", "appid", "azp"],
        "kerberos_endpoint": f"{base}/{tenant_id}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": base.removeprefix("https://"),
        "rbac_url": "https://pas.windows.net",
    }
    return Reply.json(200, config, {"Cache-Control": "max-age=86400, private"})


def jwks(signing: SigningKey) -> Reply:
    return Reply.json(200, {"keys": [signing.jwk]})


# --------------------------------------------------------------------------------------------------- token endpoint
def _basic_credentials(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    value = headers.get("authorization") or ""
    if not value.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(value[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    user, _, password = decoded.partition(":")
    return unquote_plus(user), unquote_plus(password)


def _scope_resource(scope: str) -> tuple[str | None, str | None]:
    """(resource root, None) or (None, offending scope value)."""
    values = [s for s in scope.split() if s.lower() not in ("openid", "profile", "offline_access", "email")]
    if len(values) != 1 or not values[0].endswith("/.default"):
        return None, scope
    return values[0][: -len("/.default")], None


def token(state: EmulatorState, signing: SigningKey, tenant_segment: str, form: Mapping[str, str],
          headers: Mapping[str, str]) -> Reply:
    correlation = headers.get("client-request-id") or None
    tenant_id = state.directory.resolve_tenant(tenant_segment)
    if tenant_id is None:
        return entra_error(state, 400, 90002, tenant=tenant_segment, correlation_id=correlation)
    grant_type = form.get("grant_type", "")
    if grant_type != "client_credentials":
        return entra_error(state, 400, 70003 if grant_type else 900144, correlation_id=correlation,
                           detail=grant_type or "grant_type")
    basic_user, basic_password = _basic_credentials(headers)
    client_id = form.get("client_id") or basic_user
    if not client_id:
        return entra_error(state, 400, 900144, correlation_id=correlation, detail="client_id")
    resource, bad_scope = _scope_resource(form.get("scope", ""))
    if resource is None:
        return entra_error(state, 400, 1002012, correlation_id=correlation, detail=bad_scope or "(empty)")
    audience = normalize_resource(state, resource)
    if audience is None:
        return entra_error(state, 400, 500011, correlation_id=correlation, resource=resource, tenant=tenant_id)
    app = state.directory.find_app(tenant_id, client_id)
    if app is None:
        return entra_error(state, 400, 700016, correlation_id=correlation, client_id=client_id, tenant=tenant_id)

    secret = form.get("client_secret") or basic_password
    assertion = form.get("client_assertion")
    if secret:
        if not app.secret_matches(secret):
            return entra_error(state, 401, 7000215, correlation_id=correlation, client_id=client_id)
        auth_method = "1"
    elif assertion:
        if form.get("client_assertion_type") != JWT_BEARER:
            return entra_error(state, 400, 900144, correlation_id=correlation, detail="client_assertion_type")
        failure = _check_assertion(state, signing, app, tenant_segment, tenant_id, assertion)
        if failure is not None:
            code, detail = failure
            return entra_error(state, 401, code, correlation_id=correlation, client_id=client_id, detail=detail)
        auth_method = "2"
    else:
        return entra_error(state, 401, 7000218, correlation_id=correlation)

    lifetime = state.token_lifetime or ACCESS_TOKEN_LIFETIME
    access_token, _ = mint_access_token(
        state, signing, tenant_id=tenant_id, app_id=app.client_id, object_id=app.object_id, roles=app.roles,
        audience=audience, lifetime=lifetime, app_display_name=app.display_name, auth_method=auth_method,
    )
    body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": access_token}
    return Reply.json(200, body, {**NO_STORE, "x-ms-request-id": str(uuid.uuid4()),
                                  "client-request-id": correlation or str(uuid.uuid4())})


def _time_window_error(state: EmulatorState, claims: Mapping[str, Any]) -> tuple[int, str] | None:
    now = state.now()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)):
        return 700024, "The 'exp' claim is missing."
    if exp <= now:
        return 700024, "The assertion has expired."
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and nbf > now + CLOCK_SKEW:
        return 700024, "The assertion is not yet valid."
    return None


def _check_assertion(state: EmulatorState, signing: SigningKey, app: App, tenant_segment: str, tenant_id: str,
                     assertion: str) -> tuple[int, str] | None:
    """None when the assertion authenticates ``app``; else (AADSTS code, detail)."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return 50027, ""
    iss, sub, aud = claims.get("iss"), claims.get("sub"), claims.get("aud")
    if isinstance(iss, str) and iss.lower() == app.client_id:
        return _check_certificate_assertion(state, app, tenant_segment, tenant_id, assertion, header, claims)

    # A federated identity credential: (issuer, subject, audience) must match one registered on the app.
    audiences = [aud] if isinstance(aud, str) else list(aud or [])
    match = None
    for fic in app.federated:
        expected_issuer = fic.issuer or issuer(state, app.tenant_id)
        if (isinstance(iss, str) and iss == expected_issuer and isinstance(sub, str) and sub.lower() == fic.subject
                and any(a in fic.audiences for a in audiences)):
            match = fic
            break
    if match is None:
        return 70021, (f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. "
                       f"Assertion Audience: '{','.join(str(a) for a in audiences)}'.")
    try:
        signing.verify(assertion)
    except jwt.PyJWTError:
        return 700027, "[Reason - The key used to sign the assertion was not issued by the federated issuer.]"
    return _time_window_error(state, claims)


def _check_certificate_assertion(state: EmulatorState, app: App, tenant_segment: str, tenant_id: str,
                                 assertion: str, header: Mapping[str, Any],
                                 claims: Mapping[str, Any]) -> tuple[int, str] | None:
    sub = claims.get("sub")
    if not isinstance(sub, str) or sub.lower() != app.client_id:
        return 700021, ""
    algorithm = header.get("alg")
    if algorithm not in ("RS256", "PS256"):
        return 5002738, str(algorithm)
    certificate = None
    try:
        if header.get("x5t#S256"):
            wanted = b64url_decode(str(header["x5t#S256"]))
            certificate = next((c for c in app.certificates if hmac.compare_digest(c.sha256, wanted)), None)
        elif header.get("x5t"):
            wanted = b64url_decode(str(header["x5t"]))
            certificate = next((c for c in app.certificates if hmac.compare_digest(c.sha1, wanted)), None)
        else:
            return 700027, "[Reason - The assertion header names no certificate (x5t or x5t#S256).]"
    except (ValueError, TypeError):
        return 50027, ""
    if certificate is None:
        return 700027, ("[Reason - The key was not found. The certificate used to sign the client assertion is not "
                        "registered on the application.]")
    try:
        jwt.decode(assertion, certificate.public_key, algorithms=[algorithm],
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                            "verify_iss": False})
    except jwt.PyJWTError:
        return 700027, "[Reason - The signature does not match the registered certificate.]"
    aud = claims.get("aud")
    accepted = {
        token_endpoint(state, tenant_id), token_endpoint(state, tenant_segment),
        f"{state.base_url}/{tenant_id}/oauth2/token", f"{state.base_url}/{tenant_segment}/oauth2/token",
        issuer(state, tenant_id),
    }
    audiences = [aud] if isinstance(aud, str) else list(aud or [])
    if not any(isinstance(a, str) and a.rstrip("/") in accepted for a in audiences):
        return 50013, f"Expected the token endpoint, got '{aud}'."
    return _time_window_error(state, claims)

