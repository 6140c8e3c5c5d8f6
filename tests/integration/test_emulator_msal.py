"""Real MSAL (1.39) against the emulator over HTTPS on loopback: secret, managed identity as a federated credential,
certificate; the managed-identity Graph token; Entra errors as MSAL surfaces them; MSAL's local throttling."""
from __future__ import annotations

import uuid

import jwt
import msal
import pytest
import requests

from localdev.emulator import (
    ALICE_ID,
    BOB_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MI_CLIENT_ID,
    DEFAULT_MI_PRINCIPAL_ID,
    DEFAULT_TENANT_ID,
)
from tests.schemas import validate_online_meeting
from tests.support import self_signed_certificate

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
EXCHANGE = "api://AzureADTokenExchange"


@pytest.fixture(scope="module")
def emulator(clocked_emulator):
    return clocked_emulator


@pytest.fixture(autouse=True)
def environment(emulator, clock, monkeypatch):
    clock.reset()
    emulator.state.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    yield


def confidential_app(emulator, credential, *, client_id=DEFAULT_CLIENT_ID, tenant=DEFAULT_TENANT_ID):
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=f"{emulator.authority_host}/{tenant}",
        instance_discovery=False, http_client=requests.Session(),
    )


def managed_identity(client_id=DEFAULT_MI_CLIENT_ID):
    return msal.ManagedIdentityClient(msal.UserAssignedManagedIdentity(client_id=client_id),
                                      http_client=requests.Session())


def create(emulator, token, user, external_id, *, version="v1.0"):
    return requests.post(f"{emulator.graph_base_url}/{version}/users/{user}/onlineMeetings/createOrGet",
                         json={"externalId": external_id}, timeout=10,
                         headers={"Authorization": f"Bearer {token}", "client-request-id": str(uuid.uuid4())})


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_secret_flow_then_create_or_get(emulator):
    app = confidential_app(emulator, DEFAULT_CLIENT_SECRET)
    result = app.acquire_token_for_client(GRAPH_SCOPES)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3500
    claims = claims_of(result["access_token"])
    assert claims["appid"] == DEFAULT_CLIENT_ID and claims["tid"] == DEFAULT_TENANT_ID
    first = create(emulator, result["access_token"], ALICE_ID, "msal-secret")
    second = create(emulator, result["access_token"], ALICE_ID, "msal-secret")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    validate_online_meeting(first.json(), "v1.0")
    cached = app.acquire_token_for_client(GRAPH_SCOPES)
    assert cached["access_token"] == result["access_token"] and cached["token_source"] == "cache"
    counters = emulator.state.counters
    assert counters["token"] == 1 and counters["discovery"] >= 1


def test_managed_identity_as_federated_credential(emulator):
    mi = managed_identity()
    assertion = mi.acquire_token_for_client(resource=EXCHANGE)
    assert "access_token" in assertion, assertion
    assert claims_of(assertion["access_token"])["sub"] == DEFAULT_MI_PRINCIPAL_ID

    def client_assertion():
        return mi.acquire_token_for_client(resource=EXCHANGE)["access_token"]

    app = confidential_app(emulator, {"client_assertion": client_assertion})
    result = app.acquire_token_for_client(GRAPH_SCOPES)
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["appid"] == DEFAULT_CLIENT_ID and claims["appidacr"] == "2"
    assert claims["roles"] == ["OnlineMeetings.ReadWrite.All"]
    alice = create(emulator, result["access_token"], ALICE_ID, "fic")
    bob = create(emulator, result["access_token"], BOB_ID, "fic")
    assert (alice.status_code, bob.status_code) == (201, 201) and alice.json()["id"] != bob.json()["id"]
    assert emulator.state.counters["identity"] == 1  # the assertion came from MSAL's managed-identity cache


@pytest.mark.parametrize("style", ["thumbprint", "public_certificate"])
def test_certificate_flow(emulator, style):
    key_pem, cert_pem, sha1 = self_signed_certificate()
    emulator.state.directory.register_app(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, certificate_pem=cert_pem)
    credential = {"private_key": key_pem, "thumbprint": sha1} if style == "thumbprint" else {
        "private_key": key_pem, "public_certificate": cert_pem}  # SHA-1 x5t + RS256, or x5t#S256 + PS256
    result = confidential_app(emulator, credential).acquire_token_for_client(GRAPH_SCOPES)
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appidacr"] == "2"
    assert create(emulator, result["access_token"], ALICE_ID, f"cert-{style}").status_code == 201


def test_unregistered_certificate_is_rejected(emulator):
    key_pem, cert_pem, _ = self_signed_certificate()
    result = confidential_app(emulator, {"private_key": key_pem, "public_certificate": cert_pem}) \
        .acquire_token_for_client(GRAPH_SCOPES)
    assert result.get("error") == "invalid_client" and result["error_codes"] == [700027], result
    assert "access_token" not in result


def test_entra_errors_as_msal_reports_them(emulator):
    bad_secret = confidential_app(emulator, "wrong-secret").acquire_token_for_client(GRAPH_SCOPES)
    assert bad_secret["error"] == "invalid_client" and bad_secret["error_codes"] == [7000215]
    assert bad_secret["error_description"].startswith("AADSTS7000215:")
    unknown = confidential_app(emulator, "x", client_id=str(uuid.uuid4())).acquire_token_for_client(GRAPH_SCOPES)
    assert unknown["error"] == "unauthorized_client" and unknown["error_codes"] == [700016]

    stranger_id = str(uuid.uuid4())  # a managed identity the app does not trust
    emulator.state.directory.add_managed_identity(stranger_id, str(uuid.uuid4()), DEFAULT_TENANT_ID)
    stranger = managed_identity(stranger_id)
    untrusted = confidential_app(emulator, {
        "client_assertion": lambda: stranger.acquire_token_for_client(resource=EXCHANGE)["access_token"],
    }).acquire_token_for_client(GRAPH_SCOPES)
    assert untrusted["error"] == "invalid_client" and untrusted["error_codes"] == [70021]

    with pytest.raises(ValueError):  # MSAL fetches discovery at construction: unknown tenant fails there
        confidential_app(emulator, DEFAULT_CLIENT_SECRET, tenant=str(uuid.uuid4()))


def test_managed_identity_graph_token_needs_its_own_role_and_policy(emulator):
    direct = managed_identity().acquire_token_for_client(resource="https://graph.microsoft.com")
    assert "access_token" in direct, direct
    assert claims_of(direct["access_token"])["appid"] == DEFAULT_MI_CLIENT_ID
    denied = create(emulator, direct["access_token"], ALICE_ID, "mi-direct")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Forbidden"

    emulator.state.directory.add_managed_identity(DEFAULT_MI_CLIENT_ID, DEFAULT_MI_PRINCIPAL_ID, DEFAULT_TENANT_ID,
                                        roles=("OnlineMeetings.ReadWrite.All",))
    with_role = managed_identity().acquire_token_for_client(resource="https://graph.microsoft.com")
    no_policy = create(emulator, with_role["access_token"], ALICE_ID, "mi-direct")
    assert no_policy.status_code == 403 and no_policy.json()["error"]["code"] == "General"
    emulator.state.directory.grant_policy(DEFAULT_TENANT_ID, DEFAULT_MI_CLIENT_ID, ALICE_ID)
    assert create(emulator, with_role["access_token"], ALICE_ID, "mi-direct").status_code == 201


def test_wrong_identity_header_fails_in_msal(emulator, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    result = managed_identity().acquire_token_for_client(resource=EXCHANGE)
    assert "access_token" not in result and result.get("error")
    assert emulator.state.counters["identity"] == 1


def test_token_expiry_follows_the_emulator_clock(emulator, clock):
    token = confidential_app(emulator, DEFAULT_CLIENT_SECRET).acquire_token_for_client(GRAPH_SCOPES)["access_token"]
    clock.advance(3599)
    expired = create(emulator, token, ALICE_ID, "expiry")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    fresh = confidential_app(emulator, DEFAULT_CLIENT_SECRET).acquire_token_for_client(GRAPH_SCOPES)["access_token"]
    assert create(emulator, fresh, ALICE_ID, "expiry").status_code == 201


def test_msal_replays_a_throttled_token_answer_locally(emulator):
    emulator.state.inject("token", 429, retry_after=30)
    app = confidential_app(emulator, DEFAULT_CLIENT_SECRET)
    throttled = app.acquire_token_for_client(GRAPH_SCOPES)
    assert throttled["error"] == "temporarily_unavailable" and "access_token" not in throttled
    again = app.acquire_token_for_client(GRAPH_SCOPES)  # MSAL answers from its throttle cache for Retry-After
    assert "access_token" not in again and emulator.state.counters["token"] == 1
    other = confidential_app(emulator, DEFAULT_CLIENT_SECRET).acquire_token_for_client(GRAPH_SCOPES)
    assert "access_token" in other and emulator.state.counters["token"] == 2
