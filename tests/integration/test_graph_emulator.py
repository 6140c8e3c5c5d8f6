"""The local Entra / managed-identity / Graph emulator over real HTTPS on loopback (no mocks).

MSAL-driven flows live in test_emulator_msal.py; this module talks HTTP directly so every answer's shape is visible.
"""
from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import ipaddress
import socket
import ssl
import uuid

import jsonschema
import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from localdev.certs import ensure_certs
from localdev.graph_emulator import (
    ALICE_ID,
    ALICE_UPN,
    BOB_ID,
    CAROL_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MI_CLIENT_ID,
    DEFAULT_MI_PRINCIPAL_ID,
    DEFAULT_TENANT_DOMAIN,
    DEFAULT_TENANT_ID,
    GraphEmulator,
)
from tests.schemas import validate_create_or_get_body, validate_online_meeting


GRAPH_SCOPE = "https://graph.microsoft.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DATETIME_7 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$"


@pytest.fixture(scope="module")
def emulator(clocked_emulator):
    return clocked_emulator


@pytest.fixture(autouse=True)
def fresh_emulator(emulator, clock, monkeypatch):
    clock.reset()
    emulator.state.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    yield


@pytest.fixture()
def http():
    with requests.Session() as session:
        yield session


def token_request(http, emu, form, *, tenant=DEFAULT_TENANT_ID, headers=None):
    return http.post(f"{emu.url}/{tenant}/oauth2/v2.0/token", data=form, headers=headers or {}, timeout=10)


def secret_token(http, emu, *, client_id=DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET, scope=GRAPH_SCOPE,
                 tenant=DEFAULT_TENANT_ID) -> str:
    response = token_request(http, emu, {"grant_type": "client_credentials", "client_id": client_id,
                                         "client_secret": secret, "scope": scope}, tenant=tenant)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture()
def token(http, emulator) -> str:
    return secret_token(http, emulator)


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
        emulator.state.add_managed_identity(client_id, str(uuid.uuid4()), DEFAULT_TENANT_ID)
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


# --------------------------------------------------------------------------------------------------- Graph
def test_create_or_get_creates_then_returns_the_same_meeting_unchanged(http, emulator, token):
    body = {"externalId": "ext-1", "subject": "Planning", "startDateTime": "2030-02-06T01:49:21.3524945+00:00",
            "endDateTime": "2030-02-06T02:19:21.3524945+00:00"}
    validate_create_or_get_body(body, "v1.0")
    first = create(http, emulator, token, ALICE_ID, body, headers={"client-request-id": "my-correlation"})
    assert first.status_code == 201, first.text
    assert first.headers["client-request-id"] == "my-correlation" and first.headers["request-id"]
    meeting = first.json()
    validate_online_meeting(meeting, "v1.0")
    assert meeting["subject"] == "Planning" and meeting["externalId"] == "ext-1"
    assert meeting["startDateTime"] == "2030-02-06T01:49:21.3524945Z"
    assert meeting["endDateTime"] == "2030-02-06T02:19:21.3524945Z"
    assert meeting["creationDateTime"].endswith("Z") and len(meeting["creationDateTime"]) == 28
    assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert "%40thread.v2/0?context=" in meeting["joinWebUrl"]
    assert meeting["joinMeetingIdSettings"]["joinMeetingId"].isdigit()
    assert meeting["joinMeetingIdSettings"]["passcode"] is None
    assert meeting["joinMeetingIdSettings"]["isPasscodeRequired"] is False
    assert meeting["chatInfo"]["threadId"].startswith("19:meeting_") and meeting["chatInfo"]["messageId"] == "0"
    assert meeting["joinInformation"]["contentType"] == "html"
    assert meeting["joinInformation"]["content"].startswith("data:text/html,")
    assert meeting["audioConferencing"] is None and "autoAdmittedUsers" in meeting
    assert meeting["@odata.context"].endswith("/onlineMeetings/$entity")
    organizer = meeting["participants"]["organizer"]
    assert organizer["role"] == "presenter" and organizer["upn"] == ALICE_UPN
    assert organizer["identity"]["user"]["id"] == ALICE_ID
    assert organizer["identity"]["user"]["tenantId"] == DEFAULT_TENANT_ID

    changed = {**body, "subject": "Other subject", "startDateTime": "2030-02-06T00:00:00Z"}
    second = create(http, emulator, token, ALICE_ID, changed)
    assert second.status_code == 200
    again = second.json()
    validate_online_meeting(again, "v1.0")
    assert again["id"] == meeting["id"] and again["subject"] == "Planning"
    assert again["startDateTime"] == meeting["startDateTime"] and again["joinWebUrl"] == meeting["joinWebUrl"]
    assert len(emulator.state.meetings) == 1
    assert emulator.state.counters["create_or_get"] == 2


def test_same_external_id_under_two_organizers_gives_two_meetings(http, emulator, token):
    alice = create(http, emulator, token, ALICE_ID, {"externalId": "shared"})
    bob = create(http, emulator, token, BOB_ID, {"externalId": "shared"})
    assert (alice.status_code, bob.status_code) == (201, 201)
    assert alice.json()["id"] != bob.json()["id"]
    by_upn = create(http, emulator, token, ALICE_UPN.upper(), {"externalId": "shared"})
    assert by_upn.status_code == 200 and by_upn.json()["id"] == alice.json()["id"]
    assert {m["participants"]["organizer"]["identity"]["user"]["id"] for m in emulator.state.meetings} == {
        ALICE_ID, BOB_ID}


def test_concurrent_create_or_get_creates_exactly_once(emulator, token):
    def call(_):
        with requests.Session() as session:
            response = create(session, emulator, token, ALICE_ID, {"externalId": "race"})
            return response.status_code, response.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({meeting_id for _, meeting_id in results}) == 1


def test_user_without_access_policy_gets_403_general(http, emulator, token):
    response = create(http, emulator, token, CAROL_ID, {"externalId": "x"})
    error = assert_graph_error(response, 403, "General")
    assert error["message"] == "No application access policy found for this app."
    emulator.state.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, "*")  # global grant
    assert create(http, emulator, token, CAROL_ID, {"externalId": "x"}).status_code == 201
    emulator.state.revoke_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, "*")
    assert create(http, emulator, token, CAROL_ID, {"externalId": "x"}).status_code == 403


def test_unknown_user_is_404(http, emulator, token):
    assert_graph_error(create(http, emulator, token, str(uuid.uuid4()), {"externalId": "x"}), 404, "NotFound")
    assert_graph_error(create(http, emulator, token, "nobody@contoso.example", {"externalId": "x"}), 404)


def test_token_of_another_tenant_does_not_see_the_user(http, emulator):
    other_tenant, other_app = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.state.register_app(other_tenant, other_app, secret="other-secret")
    emulator.state.grant_policy(other_tenant, other_app, "*")
    other_token = secret_token(http, emulator, client_id=other_app, secret="other-secret", tenant=other_tenant)
    assert_graph_error(create(http, emulator, other_token, ALICE_ID, {"externalId": "x"}), 404)


@pytest.mark.parametrize("case", ["missing", "garbage", "wrong_audience", "expired", "foreign_key", "basic"])
def test_invalid_tokens_are_401(http, emulator, clock, token, case):
    headers = {}
    if case == "missing":
        bearer = None
    elif case == "garbage":
        bearer = "not-a-jwt"
    elif case == "wrong_audience":
        bearer = emulator.mint_access_token(audience="api://AzureADTokenExchange")
    elif case == "expired":
        bearer = token
        clock.advance(3600)
    elif case == "foreign_key":
        key, _ = new_rsa_certificate()
        claims = jwt.decode(token, options={"verify_signature": False})
        bearer = jwt.encode(claims, key, algorithm="RS256")
    else:
        bearer, headers = None, {"Authorization": "Basic dXNlcjpwYXNz"}
    response = create(http, emulator, bearer, ALICE_ID, {"externalId": "x"}, headers=headers)
    assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert not emulator.state.meetings


def test_token_without_the_permission_is_403(http, emulator):
    bare = emulator.mint_access_token(roles=())
    assert_graph_error(create(http, emulator, bare, ALICE_ID, {"externalId": "x"}), 403, "Forbidden")


def test_default_times(http, emulator, clock):
    clock.value = 1_900_000_000.25
    token = secret_token(http, emulator)  # minted on the moved clock
    none = create(http, emulator, token, ALICE_ID, {"externalId": "none"}).json()
    assert none["startDateTime"] == "2030-03-17T17:46:40.2500000Z"
    assert none["endDateTime"] == "2030-03-17T18:46:40.2500000Z"
    assert none["creationDateTime"] == none["startDateTime"]
    start_only = create(http, emulator, token, ALICE_ID,
                        {"externalId": "start", "startDateTime": "2030-02-06T01:49:21.3524945-07:00"}).json()
    assert start_only["startDateTime"] == "2030-02-06T08:49:21.3524945Z"
    assert start_only["endDateTime"] == "2030-02-06T09:49:21.3524945Z"
    long_fraction = create(http, emulator, token, ALICE_ID,
                           {"externalId": "frac", "startDateTime": "2030-02-06T01:49:21.123456789012Z",
                            "endDateTime": "2030-02-06T01:49:21.123456789012Z"})
    assert long_fraction.status_code == 201  # end == start is allowed
    assert long_fraction.json()["endDateTime"] == "2030-02-06T01:49:21.1234567Z"
    for meeting in (none, start_only, long_fraction.json()):
        validate_online_meeting(meeting, "v1.0")
        for name in ("startDateTime", "endDateTime", "creationDateTime"):
            assert meeting[name][-9:-1].lstrip(".").isdigit() and meeting[name].count(".") == 1


@pytest.mark.parametrize("body", [
    {"externalId": "x", "endDateTime": "2030-02-06T02:00:00Z"},
    {"externalId": "x", "startDateTime": None, "endDateTime": "2030-02-06T02:00:00Z"},
    {"externalId": "x", "startDateTime": "2030-02-06T02:00:00Z", "endDateTime": "2030-02-06T01:59:59.9999999Z"},
    {"externalId": "x", "startDateTime": "2030-02-30T02:00:00Z"},
])
def test_invalid_time_combinations_are_400(http, emulator, token, body):
    assert_graph_error(create(http, emulator, token, ALICE_ID, body), 400, "BadRequest")
    assert not emulator.state.meetings


def test_chat_info_is_beta_only(http, emulator, token):
    body = {"externalId": "chat", "chatInfo": {"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"}}
    with pytest.raises(jsonschema.ValidationError):
        validate_create_or_get_body(body, "v1.0")
    validate_create_or_get_body(body, "beta")
    assert_graph_error(create(http, emulator, token, ALICE_ID, body), 400, "BadRequest")
    beta = create(http, emulator, token, ALICE_ID, body, version="beta")
    assert beta.status_code == 201, beta.text
    meeting = beta.json()
    validate_online_meeting(meeting, "beta")
    assert meeting["chatInfo"]["threadId"] == body["chatInfo"]["threadId"]
    assert meeting["@odata.context"].startswith(f"{emulator.url}/beta/")
    got = http.get(f"{emulator.url}/beta/users/{ALICE_ID}/onlineMeetings/{meeting['id']}",
                   headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert got.status_code == 200 and got.json()["id"] == meeting["id"]


@pytest.mark.parametrize("body", [
    {},
    {"subject": "no external id"},
    {"externalId": 42},
    {"externalId": "x", "subject": ["list"]},
    {"externalId": "x", "lobbyBypassSettings": {"scope": "everyone"}},  # not a createOrGet parameter
    {"externalId": "x", "startDateTime": "tomorrow"},
    {"externalId": "x", "participants": {"attendees": [{"role": "boss"}]}},
    ["externalId"],
])
def test_request_body_schema_rejections(http, emulator, token, body):
    with pytest.raises(jsonschema.ValidationError):
        validate_create_or_get_body(body, "v1.0")
    error = assert_graph_error(create(http, emulator, token, ALICE_ID, body), 400, "BadRequest")
    assert error["message"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe"])
def test_malformed_request_bodies_are_400(http, emulator, token, raw):
    response = http.post(f"{emulator.url}/v1.0/users/{ALICE_ID}/onlineMeetings/createOrGet", data=raw,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=5)
    assert_graph_error(response, 400, "BadRequest")


def test_new_roles_need_prefer_include_unknown_enum_members(http, emulator, token):
    attendees = [
        {"identity": {"user": {"id": BOB_ID}}, "upn": "bob@contoso.example", "role": "coorganizer"},
        {"identity": {"user": {"id": CAROL_ID}}, "upn": "carol@contoso.example", "role": "producer"},
        {"identity": {"user": {"id": str(uuid.uuid4())}}, "upn": "dan@contoso.example"},
    ]
    body = {"externalId": "roles", "participants": {"attendees": attendees}}
    plain = create(http, emulator, token, ALICE_ID, body).json()
    assert [a["role"] for a in plain["participants"]["attendees"]] == [
        "unknownFutureValue", "unknownFutureValue", "attendee"]
    preferred = create(http, emulator, token, ALICE_ID, body,
                       headers={"Prefer": "include-unknown-enum-members"})
    assert preferred.status_code == 200
    assert [a["role"] for a in preferred.json()["participants"]["attendees"]] == [
        "coorganizer", "producer", "attendee"]
    assert preferred.json()["participants"]["attendees"][0]["upn"] == "bob@contoso.example"
    validate_online_meeting(plain, "v1.0")
    validate_online_meeting(preferred.json(), "v1.0")


def test_get_meeting(http, emulator, token):
    created = create(http, emulator, token, ALICE_ID, {"externalId": "get-me", "subject": "S"}).json()
    url = f"{emulator.url}/v1.0/users/{ALICE_ID}/onlineMeetings/{created['id']}"
    got = http.get(url, headers={"Authorization": f"Bearer {token}", "client-request-id": "c-1"}, timeout=5)
    assert got.status_code == 200 and got.headers["client-request-id"] == "c-1"
    assert {k: v for k, v in got.json().items()} == created
    validate_online_meeting(got.json(), "v1.0")
    other = http.get(f"{emulator.url}/v1.0/users/{BOB_ID}/onlineMeetings/{created['id']}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert_graph_error(other, 404, "NotFound")
    assert_graph_error(http.get(url, timeout=5), 401)
    assert_graph_error(http.patch(url, json={}, headers={"Authorization": f"Bearer {token}"}, timeout=5), 405)
    assert_graph_error(http.get(f"{emulator.url}/v1.0/me/events", timeout=5), 400, "BadRequest")
    assert emulator.state.counters["get_meeting"] == 3


def test_requests_are_recorded_without_token_values(http, emulator, token):
    create(http, emulator, token, ALICE_ID, {"externalId": "rec"}, headers={"client-request-id": "rec-1"})
    [entry] = emulator.state.requests
    assert entry["method"] == "POST" and entry["endpoint"] == "create_or_get" and entry["version"] == "v1.0"
    assert entry["body"] == {"externalId": "rec"} and entry["status"] == 201
    assert entry["headers"]["client-request-id"] == "rec-1"
    assert entry["headers"]["authorization"] == "Bearer <redacted>"
    assert token not in repr(emulator.state.requests)
    assert entry["app_id"] == DEFAULT_CLIENT_ID


# --------------------------------------------------------------------------------------------------- faults
def test_injected_429_with_fractional_retry_after(http, emulator, token):
    emulator.state.inject("graph", 429, count=2, retry_after="2.128")
    for _ in range(2):
        response = create(http, emulator, token, ALICE_ID, {"externalId": "throttled"})
        assert_graph_error(response, 429, "TooManyRequests")
        assert response.headers["Retry-After"] == "2.128"
    ok = create(http, emulator, token, ALICE_ID, {"externalId": "throttled"})
    assert ok.status_code == 201
    emulator.state.inject("graph", 429)  # no retry_after: no header
    assert "Retry-After" not in create(http, emulator, token, ALICE_ID, {"externalId": "t2"}).headers
    assert emulator.state.counters["create_or_get"] == 4
    assert [r["fault"] for r in emulator.state.requests] == [True, True, False, True]


@pytest.mark.parametrize("status,code", [(500, "InternalServerError"), (502, "BadGateway"),
                                         (503, "ServiceNotAvailable"), (504, "GatewayTimeout"),
                                         (507, "InsufficientStorage")])
def test_injected_server_errors_are_graph_shaped(http, emulator, token, status, code):
    emulator.state.inject("graph", status)
    assert_graph_error(create(http, emulator, token, ALICE_ID, {"externalId": "x"}), status, code)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "x"}).status_code == 201


@pytest.mark.parametrize("raw", [b"", b"{not json"])
def test_injected_malformed_bodies(http, emulator, token, raw):
    emulator.state.inject("graph", 200, body=raw)
    emulator.state.inject("graph", 503, body=raw)
    first = create(http, emulator, token, ALICE_ID, {"externalId": "x"})
    assert first.status_code == 200 and first.content == raw
    second = create(http, emulator, token, ALICE_ID, {"externalId": "x"})
    assert second.status_code == 503 and second.content == raw
    assert second.headers["request-id"]


def test_fault_until_cleared_and_latency(http, emulator, token):
    emulator.state.inject("graph", 503, count=None)
    for _ in range(3):
        assert create(http, emulator, token, ALICE_ID, {"externalId": "x"}).status_code == 503
    emulator.state.clear_faults()
    emulator.state.inject("graph", None, delay=0.3)  # normal answer, late
    with pytest.raises(requests.exceptions.ReadTimeout):
        create(http, emulator, token, ALICE_ID, {"externalId": "slow"}, timeout=(5, 0.05))
    emulator.state.inject("graph", 201, body=b"{}", delay=0.05)
    late = create(http, emulator, token, ALICE_ID, {"externalId": "x"}, timeout=5)
    assert late.status_code == 201 and late.json() == {}
    with pytest.raises(ValueError):
        emulator.state.inject("nowhere", 500)


# --------------------------------------------------------------------------------------------------- admin API
def test_admin_api_round_trip(http, emulator, token, clock):
    admin = f"{emulator.url}/_emulator"
    state = http.get(f"{admin}/state", timeout=5).json()
    assert state["meetings"] == 0 and state["counters"]["create_or_get"] == 0

    dan_id = str(uuid.uuid4())
    added = http.post(f"{admin}/users", json={"tenant_id": DEFAULT_TENANT_ID, "object_id": dan_id,
                                              "upn": "dan@contoso.example", "display_name": "Dan",
                                              "policy": True}, timeout=5)
    assert added.status_code == 201
    assert create(http, emulator, token, "dan@contoso.example", {"externalId": "d"}).status_code == 201
    revoke = {"tenant_id": DEFAULT_TENANT_ID, "client_id": DEFAULT_CLIENT_ID, "user": dan_id}
    assert http.delete(f"{admin}/policies", json=revoke, timeout=5).status_code == 200
    assert create(http, emulator, token, dan_id, {"externalId": "d"}).status_code == 403
    assert http.post(f"{admin}/policies", json={**revoke, "user": "*"}, timeout=5).status_code == 200
    assert create(http, emulator, token, CAROL_ID, {"externalId": "c"}).status_code == 201

    fault = {"target": "graph", "status": 429, "count": 1, "retry_after": "0.5", "body": None, "delay": 0,
             "error_code": None}
    assert http.post(f"{admin}/faults", json=fault, timeout=5).status_code == 201
    throttled = create(http, emulator, token, ALICE_ID, {"externalId": "a"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "0.5"
    http.post(f"{admin}/faults", json={**fault, "count": None}, timeout=5)
    assert len(http.get(f"{admin}/state", timeout=5).json()["faults"]) == 1
    assert http.delete(f"{admin}/faults", timeout=5).status_code == 200
    assert create(http, emulator, token, ALICE_ID, {"externalId": "a"}).status_code == 201
    assert http.post(f"{admin}/faults", json={"target": "elsewhere", "status": 500}, timeout=5).status_code == 400

    state = http.get(f"{admin}/state", timeout=5).json()
    assert state["meetings"] == 3 and state["counters"]["create_or_get"] == 5
    assert len(http.get(f"{admin}/meetings", timeout=5).json()["value"]) == 3

    assert http.post(f"{admin}/clock", json={"advance": 3600}, timeout=5).json()["now"] == pytest.approx(clock() + 3600)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "a"}).status_code == 401

    assert http.post(f"{admin}/reset", timeout=5).status_code == 200
    state = http.get(f"{admin}/state", timeout=5).json()
    assert state["meetings"] == 0 and set(state["counters"].values()) == {0} and state["faults"] == []
    assert create(http, emulator, secret_token(http, emulator), ALICE_ID, {"externalId": "a"}).status_code == 201
    assert http.get(f"{admin}/nothing", timeout=5).status_code == 404


def test_unseeded_emulator_is_empty(tmp_path, http, monkeypatch):
    with GraphEmulator(tmp_path, seed=False) as bare:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bare.ca_bundle))
        response = http.get(f"{bare.url}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration", timeout=5)
        assert_entra_error(response, 400, "invalid_tenant", 90002)
        bare.state.seed_defaults()
        assert http.get(f"{bare.url}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration",
                        timeout=5).status_code == 200
