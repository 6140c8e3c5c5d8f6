"""Entra's error catalogue (AADSTS codes) and error answers of the token and discovery endpoints, including the
answers to injected faults."""
from __future__ import annotations

import datetime as dt
import uuid

from .replies import Fault, Reply
from .state import EmulatorState
from .tokens import NO_STORE


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

