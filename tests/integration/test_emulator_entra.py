"""The emulator's TLS, Entra (discovery, token endpoint, errors) and managed-identity endpoint over real HTTPS on
loopback (no mocks). MSAL-driven flows live in test_emulator_msal.py."""
from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
import uuid

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from localdev.certs import ensure_certs
from localdev.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MI_CLIENT_ID,
    DEFAULT_MI_PRINCIPAL_ID,
    DEFAULT_TENANT_DOMAIN,
    DEFAULT_TENANT_ID,
    GraphEmulator,
)
from tests.integration.emulator_support import (
    GRAPH_SCOPE,
    JWT_BEARER,
    assert_entra_error,
    new_rsa_certificate,
    secret_token,
    token_request,
)


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


# --------------------------------------------------------------------------------------------------- TLS / certs
def test_certificates_are_reused_and_cover_loopback(tmp_path):
    first = ensure_certs(tmp_path)
    before = {p: p.read_bytes() for p in (first.ca_cert, first.server_cert, first.server_key)}
    second = ensure_certs(tmp_path)
    assert {p: p.read_bytes() for p in (second.ca_cert, second.server_cert, second.server_key)} == before
    ca = x509.load_pem_x509_certificate(first.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(first.server_cert.read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert first.server_key.stat().st_mode & 0o077 == 0

    first.server_cert.write_text("not a certificate")  # damaged: everything is regenerated
    third = ensure_certs(tmp_path)
    assert third.ca_cert.read_bytes() != before[first.ca_cert]
    x509.load_pem_x509_certificate(third.server_cert.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(third.ca_cert.read_bytes()))


def test_tls_is_verified_against_the_local_ca(emulator, monkeypatch):
    context = ssl.create_default_context(cafile=str(emulator.ca_bundle))
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{emulator.url}/_emulator/state", timeout=5)
    assert requests.get(f"{emulator.url}/_emulator/state", verify=str(emulator.ca_bundle), timeout=5).ok
    assert emulator.url.startswith("https://127.0.0.1:")
    assert emulator.authority_host == emulator.graph_base_url == emulator.url
    assert emulator.identity_endpoint == f"{emulator.url}/msi/token"


# --------------------------------------------------------------------------------------------------- Entra
def test_openid_discovery(http, emulator):
    response = http.get(f"{emulator.url}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration", timeout=5)
    assert response.status_code == 200
    config = response.json()
    assert config["token_endpoint"] == f"{emulator.url}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"
    assert config["issuer"] == f"{emulator.url}/{DEFAULT_TENANT_ID}/v2.0"
    assert config["authorization_endpoint"].startswith(emulator.url)
    keys = http.get(config["jwks_uri"], timeout=5).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA"
    by_domain = http.get(f"{emulator.url}/{DEFAULT_TENANT_DOMAIN}/v2.0/.well-known/openid-configuration",
                         timeout=5).json()
    assert by_domain["token_endpoint"] == config["token_endpoint"]
    unknown = http.get(f"{emulator.url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration", timeout=5)
    assert_entra_error(unknown, 400, "invalid_tenant", 90002)
    assert emulator.state.counters["discovery"] == 3


def test_access_token_claims_follow_the_injected_clock(http, emulator, clock):
    response = token_request(http, emulator, {"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
                                              "client_secret": DEFAULT_CLIENT_SECRET, "scope": GRAPH_SCOPE})
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    assert response.headers["Cache-Control"].startswith("no-store")
    jwk = http.get(f"{emulator.url}/{DEFAULT_TENANT_ID}/discovery/v2.0/keys", timeout=5).json()["keys"][0]
    claims = jwt.decode(body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"],
                        audience="https://graph.microsoft.com", options={"verify_exp": False, "verify_iat": False,
                                                                         "verify_nbf": False})
    assert claims["tid"] == DEFAULT_TENANT_ID
    assert claims["iss"] == f"{emulator.url}/{DEFAULT_TENANT_ID}/v2.0"
    assert claims["appid"] == claims["azp"] == DEFAULT_CLIENT_ID
    assert claims["roles"] == ["OnlineMeetings.ReadWrite.All"]
    assert claims["exp"] == int(clock()) + 3599 and claims["iat"] == claims["nbf"] == int(clock())
    local_scope = secret_token(http, emulator, scope=f"{emulator.url}/.default")
    assert jwt.decode(local_scope, options={"verify_signature": False})["aud"] == emulator.url


def _assertion(key, claims, headers):
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


@pytest.mark.parametrize("case", [
    "unknown_client", "bad_secret", "no_credential", "bad_scope", "unknown_resource", "bad_grant", "unknown_tenant",
    "foreign_assertion", "no_federated_match", "expired_assertion", "unregistered_certificate",
])
def test_entra_error_shapes(http, emulator, clock, case):
    base = {"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID, "scope": GRAPH_SCOPE}
    endpoint = f"{emulator.url}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"
    issuer = f"{emulator.url}/{DEFAULT_TENANT_ID}/v2.0"
    now = int(clock())
    mi_claims = {"iss": issuer, "sub": DEFAULT_MI_PRINCIPAL_ID, "aud": "api://AzureADTokenExchange",
                 "iat": now, "nbf": now, "exp": now + 600}
    own_key, own_cert = new_rsa_certificate()
    tenant = DEFAULT_TENANT_ID
    if case == "unknown_client":
        form, expected = {**base, "client_id": str(uuid.uuid4()), "client_secret": "x"}, (400, "unauthorized_client",
                                                                                          700016)
    elif case == "bad_secret":
        form, expected = {**base, "client_secret": "wrong"}, (401, "invalid_client", 7000215)
    elif case == "no_credential":
        form, expected = dict(base), (401, "invalid_client", 7000218)
    elif case == "bad_scope":
        form, expected = {**base, "scope": "https://graph.microsoft.com/User.Read", "client_secret": "x"}, (
            400, "invalid_scope", 1002012)
    elif case == "unknown_resource":
        form, expected = {**base, "scope": "https://vault.azure.net/.default", "client_secret": "x"}, (
            400, "invalid_resource", 500011)
    elif case == "bad_grant":
        form, expected = {**base, "grant_type": "password", "client_secret": "x"}, (
            400, "unsupported_grant_type", 70003)
    elif case == "unknown_tenant":
        tenant = str(uuid.uuid4())
        form, expected = {**base, "client_secret": DEFAULT_CLIENT_SECRET}, (400, "invalid_request", 90002)
    elif case == "foreign_assertion":  # right claims, signed by a key that is not the emulator's
        form = {**base, "client_assertion_type": JWT_BEARER,
                "client_assertion": _assertion(own_key, mi_claims, {"kid": "foreign"})}
        expected = (401, "invalid_client", 700027)
    elif case == "no_federated_match":  # a genuine identity-endpoint token, but for an identity the app doesn't trust
        client_id = str(uuid.uuid4())
        emulator.state.directory.add_managed_identity(client_id, str(uuid.uuid4()), DEFAULT_TENANT_ID)
        assertion = http.get(emulator.identity_endpoint, params={"resource": "api://AzureADTokenExchange",
                                                                 "api-version": "2019-08-01", "client_id": client_id},
                             headers={"X-IDENTITY-HEADER": emulator.identity_header}, timeout=5).json()
        form = {**base, "client_assertion_type": JWT_BEARER, "client_assertion": assertion["access_token"]}
        expected = (401, "invalid_client", 70021)
    elif case == "expired_assertion":
        assertion = http.get(emulator.identity_endpoint, params={"resource": "api://AzureADTokenExchange",
                                                                 "api-version": "2019-08-01",
                                                                 "client_id": DEFAULT_MI_CLIENT_ID},
                             headers={"X-IDENTITY-HEADER": emulator.identity_header}, timeout=5).json()
        clock.advance(2 * 86400)
        form = {**base, "client_assertion_type": JWT_BEARER, "client_assertion": assertion["access_token"]}
        expected = (401, "invalid_client", 700024)
    else:  # unregistered_certificate: a well-formed certificate assertion with an unknown thumbprint
        thumb = base64.urlsafe_b64encode(own_cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
        claims = {"iss": DEFAULT_CLIENT_ID, "sub": DEFAULT_CLIENT_ID, "aud": endpoint, "exp": now + 600,
                  "iat": now, "jti": str(uuid.uuid4())}
        form = {**base, "client_assertion_type": JWT_BEARER,
                "client_assertion": jwt.encode(claims, own_key, algorithm="PS256", headers={"x5t#S256": thumb})}
        expected = (401, "invalid_client", 700027)
    correlation = str(uuid.uuid4())
    response = token_request(http, emulator, form, tenant=tenant, headers={"client-request-id": correlation})
    body = assert_entra_error(response, *expected)
    assert body["correlation_id"] == correlation
    assert "access_token" not in body


def test_injected_entra_errors(http, emulator):
    emulator.state.inject("token", 401, error_code="invalid_client/AADSTS7000215")
    emulator.state.inject("token", 400, error_code="unauthorized_client/AADSTS700016")
    emulator.state.inject("token", 503, retry_after=7)
    form = {"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET, "scope": GRAPH_SCOPE}
    assert_entra_error(token_request(http, emulator, form), 401, "invalid_client", 7000215)
    assert_entra_error(token_request(http, emulator, form), 400, "unauthorized_client", 700016)
    unavailable = token_request(http, emulator, form)
    assert_entra_error(unavailable, 503, "temporarily_unavailable", 90033)
    assert unavailable.headers["Retry-After"] == "7"
    assert token_request(http, emulator, form).status_code == 200
    assert emulator.state.counters["token"] == 4


# --------------------------------------------------------------------------------------------------- identity endpoint
def test_managed_identity_endpoint(http, emulator, clock):
    url, secret = emulator.identity_endpoint, emulator.identity_header
    params = {"resource": "api://AzureADTokenExchange", "api-version": "2019-08-01",
              "client_id": DEFAULT_MI_CLIENT_ID}
    assert http.get(url, params=params, timeout=5).status_code == 401
    assert http.get(url, params=params, headers={"X-IDENTITY-HEADER": "nope"}, timeout=5).status_code == 401
    ok = http.get(url, params=params, headers={"X-IDENTITY-HEADER": secret}, timeout=5)
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str) and int(body["expires_on"]) > clock()
    assert (body["resource"], body["token_type"], body["client_id"]) == (
        "api://AzureADTokenExchange", "Bearer", DEFAULT_MI_CLIENT_ID)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == DEFAULT_MI_PRINCIPAL_ID and claims["aud"] == "api://AzureADTokenExchange"
    unknown = http.get(url, params={**params, "client_id": str(uuid.uuid4())}, headers={"X-IDENTITY-HEADER": secret},
                       timeout=5)
    assert unknown.status_code == 400 and unknown.json()["statusCode"] == 400
    old_version = http.get(url, params={**params, "api-version": "2017-09-01"},
                           headers={"X-IDENTITY-HEADER": secret}, timeout=5)
    assert old_version.status_code == 400
    emulator.state.inject("identity", 500)
    assert http.get(url, params=params, headers={"X-IDENTITY-HEADER": secret}, timeout=5).status_code == 500
    assert emulator.state.counters["identity"] == 6


def test_unseeded_emulator_is_empty(tmp_path, http, monkeypatch):
    with GraphEmulator(tmp_path, seed=False) as bare:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bare.ca_bundle))
        response = http.get(f"{bare.url}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration", timeout=5)
        assert_entra_error(response, 400, "invalid_tenant", 90002)
        bare.state.seed_defaults()
        assert http.get(f"{bare.url}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration",
                        timeout=5).status_code == 200
