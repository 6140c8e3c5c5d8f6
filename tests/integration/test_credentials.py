"""Every credential mode creating a meeting for real: MSAL against the emulator's token and identity endpoints."""
from __future__ import annotations

import logging
import uuid

import pytest
import requests

from localdev.emulator import (
    ALICE_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MI_CLIENT_ID,
    DEFAULT_TENANT_ID,
)
from shared import bootstrap
from shared.adapters.graph.credentials import MsalTokenProvider
from shared.domain.errors import ConfigurationError, CredentialRejected, TenantNotAllowed, TokenUnavailable
from shared.adapters.graph.client import GraphClient
from shared.config.settings import load_settings
from tests.support import self_signed_certificate

SECOND_TENANT = "0b7c2d9e-1111-4a2b-9c3d-4e5f60718293"
SECOND_USER = "9f8e7d6c-2222-4b3a-8c9d-0e1f2a3b4c5d"


@pytest.fixture(autouse=True)
def trust_the_emulator(emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    yield
    emulator.state.clear_faults()


def env_for(emulator, **overrides):
    return {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "GRAPH_TENANT_ID": DEFAULT_TENANT_ID,
        "GRAPH_CLIENT_ID": DEFAULT_CLIENT_ID,
        "GRAPH_AUTHORITY_HOST": emulator.authority_host,
        "GRAPH_BASE_URL": emulator.graph_base_url,
        "ALLOWED_ORGANIZERS": "*",
        **overrides,
    }


def create_meeting(emulator, env, *, tenant=DEFAULT_TENANT_ID, organizer=ALICE_ID):
    settings = load_settings(env)
    session = requests.Session()
    tokens = MsalTokenProvider(settings, http_client=session)
    graph = GraphClient(session, tokens, base_url=settings.graph_base_url, api_version="v1.0",
                        app_id=settings.client_id, sleep=lambda s: None)
    answer = graph.create_or_get(tenant, organizer, {"externalId": f"cred-{uuid.uuid4()}",
                                                     "startDateTime": "2026-12-01T09:00:00Z"},
                                 correlation_id="test")
    return answer, tokens


def test_client_secret_mode_creates_a_meeting(emulator):
    answer, _ = create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="client_secret",
                                                 GRAPH_CLIENT_SECRET=DEFAULT_CLIENT_SECRET))
    assert answer.created and answer.meeting["joinWebUrl"].startswith("https://")


def test_managed_identity_as_a_federated_credential_creates_a_meeting_with_no_secret(emulator):
    before = emulator.state.counters
    answer, _ = create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="managed_identity_fic",
                                                 MANAGED_IDENTITY_CLIENT_ID=DEFAULT_MI_CLIENT_ID))
    after = emulator.state.counters
    assert answer.created
    assert after["identity"] - before["identity"] == 1, "the identity's token became the client assertion"
    assert after["token"] - before["token"] == 1


def test_the_managed_identity_mode_uses_the_identitys_own_graph_role(emulator):
    mi_client, mi_principal = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.state.directory.add_managed_identity(mi_client, mi_principal, DEFAULT_TENANT_ID,
                                        roles=("OnlineMeetings.ReadWrite.All",))
    emulator.state.directory.grant_policy(DEFAULT_TENANT_ID, mi_client, ALICE_ID)
    answer, _ = create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="managed_identity",
                                                 GRAPH_CLIENT_ID="", MANAGED_IDENTITY_CLIENT_ID=mi_client))
    assert answer.created


def test_the_managed_identity_mode_refuses_other_tenants(emulator):
    settings = load_settings(env_for(emulator, GRAPH_CREDENTIAL="managed_identity", GRAPH_CLIENT_ID="",
                                     MANAGED_IDENTITY_CLIENT_ID=DEFAULT_MI_CLIENT_ID, ALLOWED_TENANTS=SECOND_TENANT))
    with pytest.raises(TenantNotAllowed):
        MsalTokenProvider(settings, http_client=requests.Session()).token(SECOND_TENANT)


@pytest.mark.parametrize("source", ["path", "content"])
def test_certificate_mode_creates_a_meeting(emulator, tmp_path, source):
    key_pem, cert_pem, _ = self_signed_certificate()
    client_id = str(uuid.uuid4())
    emulator.state.directory.register_app(DEFAULT_TENANT_ID, client_id, certificate_pem=cert_pem)
    emulator.state.directory.grant_policy(DEFAULT_TENANT_ID, client_id, ALICE_ID)
    pem_file = tmp_path / "broker.pem"
    pem_file.write_text(key_pem + cert_pem)
    where = {"GRAPH_CERTIFICATE_PATH": str(pem_file)} if source == "path" else {"GRAPH_CERTIFICATE": key_pem + cert_pem}
    answer, _ = create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="certificate", GRAPH_CLIENT_ID=client_id,
                                                 **where))
    assert answer.created


def test_an_unregistered_certificate_is_rejected_for_good(emulator):
    key_pem, cert_pem, _ = self_signed_certificate()
    with pytest.raises(CredentialRejected) as rejected:
        create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="certificate", GRAPH_CERTIFICATE=key_pem + cert_pem))
    assert not rejected.value.retryable and "invalid_client" in rejected.value.detail


def test_an_unreadable_certificate_is_listed_with_every_other_problem(emulator, tmp_path):
    with pytest.raises(ConfigurationError) as failure:
        load_settings(env_for(emulator, GRAPH_CREDENTIAL="certificate", GRAPH_CERTIFICATE_PATH=str(tmp_path / "x.pem"),
                              ALLOWED_ORGANIZERS="", GRAPH_CLOUD="mars"))
    problems = " | ".join(failure.value.problems)
    assert "GRAPH_CERTIFICATE_PATH cannot be read" in problems
    assert "ALLOWED_ORGANIZERS" in problems and "GRAPH_CLOUD" in problems


def test_a_certificate_without_its_key_lists_the_problem_without_echoing_the_content(emulator):
    _, cert_pem, _ = self_signed_certificate()
    with pytest.raises(ConfigurationError) as failure:
        bootstrap.build_container(env_for(emulator, GRAPH_CREDENTIAL="certificate", GRAPH_CERTIFICATE=cert_pem))
    assert failure.value.problems == ["GRAPH_CERTIFICATE must hold an unencrypted PEM private key"]
    assert "BEGIN CERTIFICATE" not in failure.value.detail


def test_a_wrong_secret_is_credential_rejected_with_entras_code_and_never_the_secret(emulator, caplog):
    wrong = "definitely-the-wrong-secret-value"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialRejected) as rejected:
        create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="client_secret", GRAPH_CLIENT_SECRET=wrong))
    detail = rejected.value.detail
    assert "AADSTS7000215" in detail and "correlation id" in detail
    assert wrong not in detail and wrong not in caplog.text


def test_an_unknown_app_is_credential_rejected(emulator):
    with pytest.raises(CredentialRejected) as rejected:
        create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="client_secret", GRAPH_CLIENT_SECRET="x",
                                         GRAPH_CLIENT_ID=str(uuid.uuid4())))
    assert "AADSTS700016" in rejected.value.detail


def test_a_token_endpoint_outage_is_token_unavailable_and_retryable(emulator):
    emulator.state.inject("token", 503, count=None)
    with pytest.raises(TokenUnavailable) as unavailable:
        create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="client_secret",
                                         GRAPH_CLIENT_SECRET=DEFAULT_CLIENT_SECRET))
    assert unavailable.value.retryable


def test_an_identity_endpoint_outage_is_token_unavailable(emulator):
    emulator.state.inject("identity", 500, count=None)
    with pytest.raises(TokenUnavailable):
        create_meeting(emulator, env_for(emulator, GRAPH_CREDENTIAL="managed_identity_fic",
                                         MANAGED_IDENTITY_CLIENT_ID=DEFAULT_MI_CLIENT_ID))


def test_a_token_is_fetched_once_and_reused_for_many_meetings(emulator):
    env = env_for(emulator, GRAPH_CREDENTIAL="managed_identity_fic", MANAGED_IDENTITY_CLIENT_ID=DEFAULT_MI_CLIENT_ID)
    settings = load_settings(env)
    session = requests.Session()
    graph = GraphClient(session, MsalTokenProvider(settings, http_client=session), base_url=settings.graph_base_url,
                        api_version="v1.0", app_id=settings.client_id)
    before = emulator.state.counters
    for n in range(30):
        graph.create_or_get(DEFAULT_TENANT_ID, ALICE_ID, {"externalId": f"reuse-{uuid.uuid4()}"}, correlation_id=str(n))
    after = emulator.state.counters
    assert after["create_or_get"] - before["create_or_get"] == 30
    assert after["token"] - before["token"] == 1 and after["identity"] - before["identity"] == 1


def test_each_allowed_tenant_gets_its_own_msal_app_and_token(emulator):
    emulator.state.directory.add_user(SECOND_TENANT, SECOND_USER, "dana@fabrikam.example", "Dana")
    emulator.state.directory.register_app(SECOND_TENANT, DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET)
    emulator.state.directory.grant_policy(SECOND_TENANT, DEFAULT_CLIENT_ID, "*")
    env = env_for(emulator, GRAPH_CREDENTIAL="client_secret", GRAPH_CLIENT_SECRET=DEFAULT_CLIENT_SECRET,
                  ALLOWED_TENANTS=SECOND_TENANT)
    answer, tokens = create_meeting(emulator, env, tenant=SECOND_TENANT, organizer=SECOND_USER)
    assert answer.created
    with pytest.raises(TenantNotAllowed):
        tokens.token("4d3c2b1a-0000-4000-8000-000000000000")


def test_a_client_secret_against_a_real_cloud_authority_logs_a_warning(caplog):
    settings = load_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "GRAPH_TENANT_ID": DEFAULT_TENANT_ID,
                              "GRAPH_CLIENT_ID": DEFAULT_CLIENT_ID, "GRAPH_CREDENTIAL": "client_secret",
                              "GRAPH_CLIENT_SECRET": "s3cret-never-logged", "ALLOWED_ORGANIZERS": "*"})
    with caplog.at_level(logging.WARNING):
        MsalTokenProvider(settings, http_client=requests.Session())
    assert "client_secret" in caplog.text and "s3cret-never-logged" not in caplog.text
