"""The App Service managed-identity endpoint (``GET $IDENTITY_ENDPOINT``, api-version 2019-08-01): tokens for
``api://AzureADTokenExchange`` (the federated-credential assertion) or for Graph."""
from __future__ import annotations

import hmac
import uuid
from typing import Mapping

from .directory import TOKEN_EXCHANGE_AUDIENCES
from .replies import Fault, Reply
from .state import EmulatorState
from .tokens import MANAGED_IDENTITY_TOKEN_LIFETIME, NO_STORE, SigningKey, b64url, issuer, mint_access_token, \
    normalize_resource


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
    mi = state.directory.find_managed_identity(client_id=query.get("client_id"),
                                     object_id=query.get("object_id") or query.get("principal_id"),
                                     resource_id=query.get("mi_res_id"))
    if mi is None:
        return _identity_error(400, "No managed identity found for specified ClientId/ResourceId/PrincipalId.")
    now = int(state.now())
    lifetime = state.token_lifetime or MANAGED_IDENTITY_TOKEN_LIFETIME
    exp = now + lifetime
    exchange = resource.rstrip("/")
    if exchange in TOKEN_EXCHANGE_AUDIENCES:
        claims = {
            "aud": exchange, "iss": issuer(state, mi.tenant_id), "iat": now, "nbf": now, "exp": exp,
            "sub": mi.principal_id, "oid": mi.principal_id, "azp": mi.client_id, "appid": mi.client_id,
            "azpacr": "2", "idtyp": "app", "tid": mi.tenant_id, "uti": b64url(uuid.uuid4().bytes), "ver": "2.0",
        }
        access_token = signing.sign(claims)
        state.record_issued(access_token)
    else:
        audience = normalize_resource(state, resource)
        if audience is None:
            return _identity_error(400, f"AADSTS500011: The resource principal named {resource} was not found in "
                                        f"the tenant named {mi.tenant_id}.")
        access_token, exp = mint_access_token(
            state, signing, tenant_id=mi.tenant_id, app_id=mi.client_id, object_id=mi.principal_id, roles=mi.roles,
            audience=audience, lifetime=lifetime, auth_method="2",
        )
    body = {"access_token": access_token, "expires_on": str(exp), "resource": resource, "token_type": "Bearer",
            "client_id": mi.client_id}
    return Reply.json(200, body, NO_STORE)
