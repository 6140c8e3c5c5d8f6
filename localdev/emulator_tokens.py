"""Entra stand-in (OpenID discovery, JWKS, client-credentials token endpoint) and the App Service identity endpoint.

Client authentication on the token endpoint, as Entra does it for ``grant_type=client_credentials``:

* ``client_secret`` (form field or HTTP Basic);
* ``client_assertion`` whose ``iss == sub == client_id``: a certificate-signed assertion (RS256/PS256, header ``x5t``
  or ``x5t#S256`` naming a certificate registered on the app, ``aud`` = the token endpoint, ``exp`` in the future);
* any other ``client_assertion``: a federated credential. Its (iss, sub, aud) must match a federated identity
  credential of the app (issuer = this emulator's issuer for the app's tenant, subject = the managed identity's
  principal id, audience api://AzureADTokenExchange) and it must be signed by this emulator (i.e. issued by the
  identity endpoint).

Every access token is an RS256 JWT signed with the emulator's key; expiry uses the injectable clock.
"""
from __future__ import annotations

import base64
import datetime as dt
import hmac
import uuid
from typing import Any, Mapping

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .emulator_state import (
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    TOKEN_EXCHANGE_AUDIENCES,
    App,
    EmulatorState,
    Fault,
    Reply,
    b64url,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACCESS_TOKEN_LIFETIME = 3599
MANAGED_IDENTITY_TOKEN_LIFETIME = 86399  # App Service hands out ~24 h tokens
CLOCK_SKEW = 300  # Entra tolerates 5 minutes of skew on assertion nbf
NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}

# AADSTS code -> (OAuth error, message template). Templates may use {client_id}, {tenant}, {resource}, {detail}.
ENTRA_ERRORS: dict[int, tuple[str, str]] = {
    50000: ("server_error", "There was an error issuing a token or an issue with our sign-in service."),
    50013: ("invalid_client", "Assertion audience claim does not match the required value. {detail}"),
    50027: ("invalid_client", "JWT token is invalid or malformed."),
    70003: ("unsupported_grant_type", "The app requested an unsupported grant type '{detail}'."),
    70021: ("invalid_client", "No matching federated identity record found for presented assertion. {detail}"),
    90002: ("invalid_request", "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                               "signing into the correct cloud. Check with your subscription administrator, this may "
                               "happen if there are no active subscriptions for the tenant."),
    90033: ("temporarily_unavailable", "A transient error has occurred. Please try again."),
    900144: ("invalid_request", "The request body must contain the following parameter: '{detail}'."),
    500011: ("invalid_resource", "The resource principal named {resource} was not found in the tenant named "
                                 "{tenant}. This can happen if the application has not been installed by the "
                                 "administrator of the tenant or consented to by any user in the tenant. You might "
                                 "have sent your authentication request to the wrong tenant."),
    700016: ("unauthorized_client", "Application with identifier '{client_id}' was not found in the directory "
                                    "'{tenant}'. This can happen if the application has not been installed by the "
                                    "administrator of the tenant or consented to by any user in the tenant. You may "
                                    "have sent your authentication request to the wrong tenant."),
    700021: ("invalid_client", "Client assertion application identifier doesn't match 'client_id' parameter."),
    700024: ("invalid_client", "Client assertion is not within its valid time range. {detail}"),
    700027: ("invalid_client", "Client assertion failed signature validation. {detail}"),
    1002012: ("invalid_scope", "The provided value for scope {detail} is not valid. Client credential flows must "
                               "have a scope value with /.default suffixed to the resource identifier "
                               "(application ID URI)."),
    5002738: ("invalid_client", "Invalid JWT token. '{detail}' is not a supported signature algorithm."),
    7000215: ("invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the "
                                "client secret value, not the client secret ID, for a secret added to app "
                                "'{client_id}'."),
    7000218: ("invalid_client", "The request body must contain the following parameter: 'client_assertion' or "
                                "'client_secret'."),
}
_DEFAULT_FAULT_CODES = {400: 900144, 401: 7000215, 403: 700016, 429: 90033, 500: 50000}


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
    return signing.sign(claims), exp


# --------------------------------------------------------------------------------------------------- Entra errors
def _entra_timestamp(state: EmulatorState) -> str:
    return dt.datetime.fromtimestamp(state.now(), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def entra_error(state: EmulatorState, status: int, code: int, *, error: str | None = None,
                correlation_id: str | None = None, headers: dict[str, str] | None = None, **fields: str) -> Reply:
    default_error, template = ENTRA_ERRORS.get(code, ("invalid_request", "{detail}"))
    values = {"client_id": "", "tenant": "", "resource": "", "detail": ""}
    values.update({k: v for k, v in fields.items() if v is not None})
    message = template.format(**values).strip()
    trace_id = str(uuid.uuid4())
    correlation = correlation_id or str(uuid.uuid4())
    stamp = _entra_timestamp(state)
    body = {
        "error": error or default_error,
        "error_description": f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation,
        "error_uri": f"{state.base_url}/error?code={code}",
    }
    merged = dict(NO_STORE)
    merged.update({"x-ms-request-id": trace_id, "client-request-id": correlation})
    merged.update(headers or {})
    return Reply.json(status, body, merged)


def _parse_error_code(error_code: str | None, status: int) -> tuple[str | None, int]:
    """'invalid_client/AADSTS7000215', 'AADSTS7000215', '7000215' or 'invalid_client' -> (error, code)."""
    error: str | None = None
    code: int | None = None
    for part in (error_code or "").replace(":", "/").split("/"):
        part = part.strip()
        digits = part.upper().removeprefix("AADSTS")
        if digits.isdigit():
            code = int(digits)
        elif part:
            error = part
    if code is None:
        code = _DEFAULT_FAULT_CODES.get(status, 90033 if status >= 500 else 900144)
    return error, code


def fault_reply(state: EmulatorState, fault: Fault, *, correlation_id: str | None = None,
                client_id: str = "", tenant: str = "") -> Reply:
    """The answer for an injected token/discovery fault (Entra-shaped unless the fault carries a body)."""
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    status = fault.status or 200
    if fault.body is not None or status < 400:
        reply = Reply(status, fault.body or b"", {"Content-Type": "application/json; charset=utf-8", **headers})
    else:
        error, code = _parse_error_code(fault.error_code, status)
        reply = entra_error(state, status, code, error=error, correlation_id=correlation_id, headers=headers,
                            client_id=client_id, tenant=tenant, detail="Injected by the emulator.")
    reply.delay = fault.delay
    return reply


# --------------------------------------------------------------------------------------------------- discovery
def discovery(state: EmulatorState, tenant_segment: str) -> Reply:
    tenant_id = state.resolve_tenant(tenant_segment)
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
    from urllib.parse import unquote_plus

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
    tenant_id = state.resolve_tenant(tenant_segment)
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
    app = state.find_app(tenant_id, client_id)
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

    access_token, _ = mint_access_token(
        state, signing, tenant_id=tenant_id, app_id=app.client_id, object_id=app.object_id, roles=app.roles,
        audience=audience, app_display_name=app.display_name, auth_method=auth_method,
    )
    body = {"token_type": "Bearer", "expires_in": ACCESS_TOKEN_LIFETIME, "ext_expires_in": ACCESS_TOKEN_LIFETIME,
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
    from .emulator_state import b64url_decode

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


# --------------------------------------------------------------------------------------------------- identity endpoint
def _identity_error(status: int, message: str) -> Reply:
    return Reply.json(status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())})


def identity_fault_reply(fault: Fault) -> Reply:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    status = fault.status or 200
    if fault.body is not None or status < 400:
        reply = Reply(status, fault.body or b"", {"Content-Type": "application/json; charset=utf-8", **headers})
    else:
        reply = _identity_error(status, fault.error_code or "Injected by the emulator.")
        reply.headers.update(headers)
    reply.delay = fault.delay
    return reply


def managed_identity_token(state: EmulatorState, signing: SigningKey, query: Mapping[str, str],
                           headers: Mapping[str, str], expected_header: str) -> Reply:
    """App Service protocol (api-version 2019-08-01): GET ?resource=R[&client_id|object_id|mi_res_id]."""
    presented = headers.get("x-identity-header") or ""
    if not presented or not hmac.compare_digest(presented.encode("utf-8"), expected_header.encode("utf-8")):
        return _identity_error(401, "The X-IDENTITY-HEADER header is missing or does not match.")
    if query.get("api-version") != "2019-08-01":
        return _identity_error(400, "Unsupported api-version; this endpoint serves api-version 2019-08-01.")
    resource = query.get("resource")
    if not resource:
        return _identity_error(400, "The 'resource' query parameter is required.")
    mi = state.find_managed_identity(client_id=query.get("client_id"),
                                     object_id=query.get("object_id") or query.get("principal_id"),
                                     resource_id=query.get("mi_res_id"))
    if mi is None:
        return _identity_error(400, "No managed identity found for specified ClientId/ResourceId/PrincipalId.")
    now = int(state.now())
    exp = now + MANAGED_IDENTITY_TOKEN_LIFETIME
    exchange = resource.rstrip("/")
    if exchange in TOKEN_EXCHANGE_AUDIENCES:
        claims = {
            "aud": exchange, "iss": issuer(state, mi.tenant_id), "iat": now, "nbf": now, "exp": exp,
            "sub": mi.principal_id, "oid": mi.principal_id, "azp": mi.client_id, "appid": mi.client_id,
            "azpacr": "2", "idtyp": "app", "tid": mi.tenant_id, "uti": b64url(uuid.uuid4().bytes), "ver": "2.0",
        }
        access_token = signing.sign(claims)
    else:
        audience = normalize_resource(state, resource)
        if audience is None:
            return _identity_error(400, f"AADSTS500011: The resource principal named {resource} was not found in "
                                        f"the tenant named {mi.tenant_id}.")
        access_token, exp = mint_access_token(
            state, signing, tenant_id=mi.tenant_id, app_id=mi.client_id, object_id=mi.principal_id, roles=mi.roles,
            audience=audience, lifetime=MANAGED_IDENTITY_TOKEN_LIFETIME, auth_method="2",
        )
    body = {"access_token": access_token, "expires_on": str(exp), "resource": resource, "token_type": "Bearer",
            "client_id": mi.client_id}
    return Reply.json(200, body, NO_STORE)
