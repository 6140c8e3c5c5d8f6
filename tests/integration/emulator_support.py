"""Helpers of the emulator's own tests: token requests, Graph calls and the shapes of Entra and Graph errors."""
from __future__ import annotations

import datetime as dt
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from localdev.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DATETIME_7 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$"


def token_request(http, emu, form, *, tenant=DEFAULT_TENANT_ID, headers=None):
    return http.post(f"{emu.url}/{tenant}/oauth2/v2.0/token", data=form, headers=headers or {}, timeout=10)


def secret_token(http, emu, *, client_id=DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET, scope=GRAPH_SCOPE,
                 tenant=DEFAULT_TENANT_ID) -> str:
    response = token_request(http, emu, {"grant_type": "client_credentials", "client_id": client_id,
                                         "client_secret": secret, "scope": scope}, tenant=tenant)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def create(http, emu, token, user, body, *, version="v1.0", headers=None, timeout=10):
    merged = {"client-request-id": str(uuid.uuid4())}
    if token is not None:
        merged["Authorization"] = f"Bearer {token}"
    merged.update(headers or {})
    return http.post(f"{emu.graph_base_url}/{version}/users/{user}/onlineMeetings/createOrGet", json=body,
                     headers=merged, timeout=timeout)


def assert_graph_error(response, status, code=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["request-id"]
    assert inner["client-request-id"] == response.headers["client-request-id"]
    assert dt.datetime.strptime(inner["date"], "%Y-%m-%dT%H:%M:%S")
    return error


def assert_entra_error(response, status, error, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    for label in ("Trace ID: ", "Correlation ID: ", "Timestamp: "):
        assert label in description
    assert body["trace_id"] in description and body["correlation_id"] in description
    assert dt.datetime.strptime(body["timestamp"], "%Y-%m-%d %H:%M:%SZ")
    assert body["error_uri"].endswith(f"error?code={code}")
    return body


def new_rsa_certificate(common_name="broker-test"):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2)).sign(key, hashes.SHA256()))
    return key, cert


def graph(http, emu, token, method, path, *, version="v1.0", json=None, headers=None, params=None, timeout=10):
    """Any Graph call: ``path`` below /{version} (e.g. "/users/{id}/onlineMeetings"), a bearer token unless None."""
    merged = {"client-request-id": str(uuid.uuid4())}
    if token is not None:
        merged["Authorization"] = f"Bearer {token}"
    merged.update(headers or {})
    return http.request(method, f"{emu.graph_base_url}/{version}{path}", json=json, headers=merged, params=params,
                        timeout=timeout)
