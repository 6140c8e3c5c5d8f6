"""Settings: one frozen object from the environment, every problem listed at once, secrets never echoed."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from shared.domain.errors import ConfigurationError
from shared.config.allowlists import OrganizerAllowlist
from shared.config.settings import load_settings

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "11111111-2222-3333-4444-555555555555"
IDENTITY = "66666666-7777-8888-9999-000000000000"
ORGANIZER = "1f35f2e6-9cab-44ad-8d5a-b74c14720000"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONNECTION_STRING = ("DefaultEndpointsProtocol=https;AccountName=brokerstore;"
                     f"AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net")
CLIENT_SECRET = "s3cr3t~Value.With-Symbols_0123456789"
CERTIFICATE_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
SECRETS = (CLIENT_SECRET, CERTIFICATE_PEM, ACCOUNT_KEY, CONNECTION_STRING, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")

COMMON = {"AzureWebJobsStorage": CONNECTION_STRING, "GRAPH_TENANT_ID": TENANT, "ALLOWED_ORGANIZERS": "@contoso.com"}
MINIMAL = {
    "managed_identity_fic": {**COMMON, "GRAPH_CREDENTIAL": "managed_identity_fic", "GRAPH_CLIENT_ID": CLIENT,
                             "MANAGED_IDENTITY_CLIENT_ID": IDENTITY},
    "managed_identity": {**COMMON, "GRAPH_CREDENTIAL": "managed_identity"},
    "certificate": {**COMMON, "GRAPH_CREDENTIAL": "certificate", "GRAPH_CLIENT_ID": CLIENT,
                    "GRAPH_CERTIFICATE_PATH": __file__},  # readable; its content is checked later
    "client_secret": {**COMMON, "GRAPH_CREDENTIAL": "client_secret", "GRAPH_CLIENT_ID": CLIENT,
                      "GRAPH_CLIENT_SECRET": CLIENT_SECRET},
}


def env(mode: str = "client_secret", **changes) -> dict[str, str]:
    """A minimal valid environment for the mode, with changes applied (None removes a setting)."""
    values = {**MINIMAL[mode], **changes}
    return {name: value for name, value in values.items() if value is not None}


def problems_of(environment) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environment)
    assert caught.value.problems
    return caught.value.problems


def mentions(problems: list[str], *words: str) -> bool:
    return any(all(word in problem for word in words) for problem in problems)


# --- a valid environment for each credential mode ----------------------------------------------------------------

@pytest.mark.parametrize("mode", list(MINIMAL))
def test_a_minimal_environment_loads_for_each_credential_mode(mode):
    settings = load_settings(env(mode))
    assert settings.credential_mode == mode
    assert settings.tenant_id == TENANT
    assert settings.meetings_table == "meetings"
    assert settings.requests_queue == "meeting-requests"
    assert settings.results_queue == "meeting-results"
    assert settings.api_version == "v1.0"
    assert settings.access_policy_grace == timedelta(minutes=30)
    assert settings.authority_host == "https://login.microsoftonline.com"
    assert settings.graph_base_url == "https://graph.microsoft.com"


def test_managed_identity_fic_is_the_mode_when_none_is_named():
    settings = load_settings(env("managed_identity_fic", GRAPH_CREDENTIAL=None))
    assert settings.credential_mode == "managed_identity_fic"
    assert settings.managed_identity_client_id == IDENTITY


def test_the_certificate_mode_also_accepts_pem_content():
    settings = load_settings(env("certificate", GRAPH_CERTIFICATE_PATH=None, GRAPH_CERTIFICATE=CERTIFICATE_PEM))
    assert settings.certificate_pem == CERTIFICATE_PEM


def test_settings_are_frozen():
    settings = load_settings(env())
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.tenant_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("mode, missing, named", [
    ("managed_identity_fic", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_ID"),
    ("managed_identity_fic", "MANAGED_IDENTITY_CLIENT_ID", "MANAGED_IDENTITY_CLIENT_ID"),
    ("certificate", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_ID"),
    ("certificate", "GRAPH_CERTIFICATE_PATH", "GRAPH_CERTIFICATE"),
    ("client_secret", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_ID"),
    ("client_secret", "GRAPH_CLIENT_SECRET", "GRAPH_CLIENT_SECRET"),
    ("managed_identity", "GRAPH_TENANT_ID", "GRAPH_TENANT_ID"),
])
def test_a_setting_the_mode_needs_is_reported_when_missing(mode, missing, named):
    problems = problems_of(env(mode, **{missing: None}))
    assert len(problems) == 1
    assert named in problems[0]


# --- every problem at once ---------------------------------------------------------------------------------------

def test_every_problem_is_listed_at_once():
    problems = problems_of({
        "GRAPH_CREDENTIAL": "client_secret",
        "MANAGED_IDENTITY_CLIENT_ID": "not-a-guid",
        "GRAPH_CLOUD": "mars",
        "GRAPH_AUTHORITY_HOST": "http://login.microsoftonline.com",
        "GRAPH_BASE_URL": "ftp://graph.microsoft.com",
        "GRAPH_API_VERSION": "v2.0",
        "MEETINGS_TABLE": "meeting-table",
        "MEETING_REQUESTS_QUEUE": "Meeting_Requests",
        "MEETING_RESULTS_QUEUE": "ab",
        "ALLOWED_TENANTS": "not a tenant",
        "ACCESS_POLICY_GRACE_MINUTES": "half an hour",
    })
    expected = [
        ("AzureWebJobsStorage",), ("GRAPH_TENANT_ID",), ("GRAPH_CLIENT_ID",), ("GRAPH_CLIENT_SECRET",),
        ("MANAGED_IDENTITY_CLIENT_ID", "GUID"), ("GRAPH_CLOUD", "usgov"), ("GRAPH_AUTHORITY_HOST", "https"),
        ("GRAPH_BASE_URL", "https"), ("GRAPH_API_VERSION",), ("MEETINGS_TABLE",), ("MEETING_REQUESTS_QUEUE",),
        ("MEETING_RESULTS_QUEUE",), ("ALLOWED_TENANTS",), ("ALLOWED_ORGANIZERS",), ("ACCESS_POLICY_GRACE_MINUTES",),
    ]
    missing = [words for words in expected if not mentions(problems, *words)]
    assert not missing, (missing, problems)
    assert len(problems) == len(expected)


def test_an_unknown_credential_mode_and_bad_guids_are_listed_together():
    problems = problems_of(env(GRAPH_CREDENTIAL="password", GRAPH_TENANT_ID="not a tenant!"))
    assert mentions(problems, "GRAPH_CREDENTIAL", "client_secret") and not mentions(problems, "password")
    assert mentions(problems, "GRAPH_TENANT_ID")


def test_an_unknown_credential_mode_does_not_hide_malformed_client_ids():
    problems = problems_of(env(GRAPH_CREDENTIAL="password", GRAPH_CLIENT_ID="nope", MANAGED_IDENTITY_CLIENT_ID="nope"))
    assert mentions(problems, "GRAPH_CLIENT_ID", "GUID")
    assert mentions(problems, "MANAGED_IDENTITY_CLIENT_ID", "GUID")


def test_the_error_message_joins_all_problems():
    with pytest.raises(ConfigurationError) as caught:
        load_settings({})
    error = caught.value
    assert all(problem in error.detail for problem in error.problems)
    assert error.extra["problems"] == error.problems
    assert error.code == "configuration_error"


@pytest.mark.parametrize("name, value", [
    ("MEETINGS_TABLE", "1meetings"), ("MEETINGS_TABLE", "me"), ("MEETINGS_TABLE", "meetings_table"),
    ("MEETINGS_TABLE", "m" * 64),
    ("MEETING_REQUESTS_QUEUE", "a--b"), ("MEETING_REQUESTS_QUEUE", "-requests"), ("MEETING_REQUESTS_QUEUE", "requests-"),
    ("MEETING_REQUESTS_QUEUE", "q" * 57), ("MEETING_RESULTS_QUEUE", "Results"), ("MEETING_RESULTS_QUEUE", "re sults"),
])
def test_a_bad_table_or_queue_name_is_reported(name, value):
    problems = problems_of(env(**{name: value}))
    assert len(problems) == 1 and name in problems[0]


def test_a_queue_name_of_56_characters_is_accepted_so_its_poison_queue_is_still_valid():
    settings = load_settings(env(MEETING_REQUESTS_QUEUE="q" * 56))
    assert len(settings.poison_queue) == 63


def test_the_poison_queue_is_the_requests_queue_with_a_poison_suffix():
    assert load_settings(env()).poison_queue == "meeting-requests-poison"
    assert load_settings(env(MEETING_REQUESTS_QUEUE="intake")).poison_queue == "intake-poison"


@pytest.mark.parametrize("value", ["abc", "-1", "1441", "nan", "inf", "30m"])
def test_a_bad_access_policy_grace_is_reported(value):
    problems = problems_of(env(ACCESS_POLICY_GRACE_MINUTES=value))
    assert len(problems) == 1 and "ACCESS_POLICY_GRACE_MINUTES" in problems[0]


@pytest.mark.parametrize("value, minutes", [("0", 0), ("1440", 1440), ("2.5", 2.5)])
def test_an_access_policy_grace_within_a_day_is_accepted(value, minutes):
    assert load_settings(env(ACCESS_POLICY_GRACE_MINUTES=value)).access_policy_grace == timedelta(minutes=minutes)


@pytest.mark.parametrize("name, value", [
    ("GRAPH_AUTHORITY_HOST", "http://127.0.0.1:8443"), ("GRAPH_AUTHORITY_HOST", "login.microsoftonline.com"),
    ("GRAPH_AUTHORITY_HOST", "https://"), ("GRAPH_BASE_URL", "http://graph.microsoft.com"),
])
def test_a_non_https_authority_or_graph_root_is_reported(name, value):
    problems = problems_of(env(**{name: value}))
    assert len(problems) == 1 and name in problems[0]


def test_a_missing_organizer_allowlist_is_reported_rather_than_allowing_everyone():
    problems = problems_of(env(ALLOWED_ORGANIZERS=None))
    assert len(problems) == 1 and "ALLOWED_ORGANIZERS" in problems[0]
    assert problems_of(env(ALLOWED_ORGANIZERS=" , ,")) == problems


# --- secrets -----------------------------------------------------------------------------------------------------

def everything_said_about(error: ConfigurationError) -> str:
    return " ".join([str(error), repr(error), error.detail, *error.problems, repr(error.extra),
                     repr(error.as_result_error())])


@pytest.mark.parametrize("mode", list(MINIMAL))
def test_secrets_never_appear_in_the_configuration_error(mode):
    broken = env(mode, GRAPH_CLIENT_SECRET=CLIENT_SECRET, GRAPH_CERTIFICATE=CERTIFICATE_PEM, GRAPH_TENANT_ID=None,
                 GRAPH_CLOUD="nowhere", MEETINGS_TABLE="x", ALLOWED_ORGANIZERS=None)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(broken)
    said = everything_said_about(caught.value)
    assert "GRAPH_TENANT_ID" in said
    for secret in SECRETS:
        assert secret not in said


@pytest.mark.parametrize("mode", list(MINIMAL))
def test_secrets_never_appear_in_the_repr_of_settings(mode):
    settings = load_settings(env(mode, GRAPH_CLIENT_SECRET=CLIENT_SECRET, GRAPH_CERTIFICATE=CERTIFICATE_PEM))
    assert settings.client_secret == CLIENT_SECRET
    assert settings.certificate_pem == CERTIFICATE_PEM
    assert settings.storage.connection_string == CONNECTION_STRING
    for text in (repr(settings), str(settings), repr(settings.storage)):
        assert TENANT in text or "StorageSettings" in text
        for secret in SECRETS:
            assert secret not in text


# --- clouds ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cloud, authority, graph, audience", [
    ("global", "https://login.microsoftonline.com", "https://graph.microsoft.com", "api://AzureADTokenExchange"),
    ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us", "api://AzureADTokenExchangeUSGov"),
    ("dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us", "api://AzureADTokenExchangeUSGov"),
    ("USGov", "https://login.microsoftonline.us", "https://graph.microsoft.us", "api://AzureADTokenExchangeUSGov"),
])
def test_the_cloud_picks_authority_graph_root_and_audience_together(cloud, authority, graph, audience):
    settings = load_settings(env("managed_identity_fic", GRAPH_CLOUD=cloud))
    assert settings.authority_host == authority
    assert settings.graph_base_url == graph
    assert settings.token_exchange_audience == audience
    assert settings.graph_scope == f"{graph}/.default"
    assert settings.authority_for(TENANT) == f"{authority}/{TENANT}"


def test_authority_host_and_graph_base_url_override_the_cloud():
    settings = load_settings(env(GRAPH_CLOUD="usgov", GRAPH_AUTHORITY_HOST="https://127.0.0.1:8443/",
                                 GRAPH_BASE_URL="https://localhost:9443/"))
    assert settings.authority_host == "https://127.0.0.1:8443"
    assert settings.graph_base_url == "https://localhost:9443"
    assert settings.token_exchange_audience == "api://AzureADTokenExchangeUSGov"
    assert settings.is_local_authority
    assert not load_settings(env()).is_local_authority


def test_the_china_cloud_is_refused_because_it_has_no_createorget():
    problems = problems_of(env(GRAPH_CLOUD="china"))
    assert len(problems) == 1
    assert "GRAPH_CLOUD" in problems[0] and "china" in problems[0] and "createOrGet" in problems[0]


def test_an_unknown_cloud_is_reported_with_the_known_ones_and_without_its_value():
    problems = problems_of(env(GRAPH_CLOUD="mars"))
    assert len(problems) == 1
    assert "GRAPH_CLOUD" in problems[0] and "usgov" in problems[0] and "mars" not in problems[0]


def test_no_problem_echoes_the_value_of_a_setting():
    # /api/health is anonymous: a URL with credentials pasted into the wrong setting must not be shown to anyone.
    pasted = "https://admin:Pa55word!@example.invalid/x"
    values = {name: pasted for name in ("GRAPH_CLOUD", "GRAPH_AUTHORITY_HOST", "GRAPH_BASE_URL", "GRAPH_API_VERSION",
                                        "GRAPH_CREDENTIAL", "GRAPH_TENANT_ID", "MEETINGS_TABLE", "ALLOWED_TENANTS",
                                        "MEETING_REQUESTS_QUEUE", "ACCESS_POLICY_GRACE_MINUTES",
                                        "GRAPH_CERTIFICATE_PATH", "MANAGED_IDENTITY_CLIENT_ID", "GRAPH_CLIENT_ID")}
    problems = problems_of(env(**values))
    assert len(problems) >= 10
    assert not [problem for problem in problems if "Pa55word" in problem or "admin" in problem]


def test_allowlist_entries_must_be_ascii():
    problems = problems_of(env(ALLOWED_ORGANIZERS="\u212aim@contoso.example"))
    assert problems == ["ALLOWED_ORGANIZERS: every entry must be ASCII (object ids, UPNs and domains in Entra ID are)"]


# --- tenants -----------------------------------------------------------------------------------------------------

def test_the_default_tenant_is_the_only_allowed_tenant_when_none_are_listed():
    assert load_settings(env()).allowed_tenants == frozenset({TENANT})


def test_allowed_tenants_always_include_the_default_tenant_and_are_lowercased():
    settings = load_settings(env(GRAPH_TENANT_ID=TENANT.upper(),
                                 ALLOWED_TENANTS=" Fabrikam.COM , AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE,,"))
    assert settings.tenant_id == TENANT
    assert settings.allowed_tenants == frozenset({TENANT, "fabrikam.com", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"})


def test_a_domain_is_accepted_as_the_default_tenant():
    settings = load_settings(env(GRAPH_TENANT_ID="Contoso.onmicrosoft.com"))
    assert settings.tenant_id == "contoso.onmicrosoft.com"
    assert settings.authority_for(settings.tenant_id).endswith("/contoso.onmicrosoft.com")


# --- who may be an organizer -------------------------------------------------------------------------------------

def test_an_object_id_entry_allows_exactly_that_object_id():
    allowlist = OrganizerAllowlist.parse(ORGANIZER)
    assert allowlist.allows(ORGANIZER)
    assert allowlist.allows(ORGANIZER.upper())
    assert not allowlist.allows("1f35f2e6-9cab-44ad-8d5a-b74c14720001")
    assert not allowlist.allows("user@contoso.com")


def test_a_upn_entry_allows_that_upn_in_any_case():
    allowlist = OrganizerAllowlist.parse("Ada.Lovelace@Contoso.com")
    assert allowlist.allows("ada.lovelace@contoso.com")
    assert allowlist.allows("ADA.LOVELACE@CONTOSO.COM")
    assert not allowlist.allows("ada@contoso.com")
    assert not allowlist.allows("grace.ada.lovelace@contoso.com")


@pytest.mark.parametrize("organizer, allowed", [
    ("x@contoso.com", True),
    ("X@CONTOSO.COM", True),
    ("x@evilcontoso.com", False),
    ("x@contoso.com.evil.com", False),
    ("x@contoso.co", False),
    ("contoso.com", False),
    (ORGANIZER, False),
])
def test_a_domain_entry_allows_only_upns_of_exactly_that_domain(organizer, allowed):
    assert OrganizerAllowlist.parse("@Contoso.com").allows(organizer) is allowed


def test_a_star_allows_everyone():
    allowlist = OrganizerAllowlist.parse("user@fabrikam.com, *")
    assert allowlist.allows(ORGANIZER)
    assert allowlist.allows("anyone@anywhere.example")


def test_an_allowlist_of_several_entries_allows_each_and_nothing_else():
    allowlist = load_settings(env(ALLOWED_ORGANIZERS=f" {ORGANIZER} , boss@fabrikam.com,@contoso.com ")).allowed_organizers
    assert allowlist.allows(ORGANIZER) and allowlist.allows("boss@fabrikam.com") and allowlist.allows("y@contoso.com")
    assert not allowlist.allows("other@fabrikam.com")
    assert not OrganizerAllowlist.parse("").allows("x@contoso.com")


# --- storage -----------------------------------------------------------------------------------------------------

def test_identity_based_storage_is_accepted_without_a_connection_string():
    settings = load_settings(env(
        AzureWebJobsStorage=None,
        AzureWebJobsStorage__queueServiceUri="https://brokerstore.queue.core.windows.net",
        AzureWebJobsStorage__tableServiceUri="https://brokerstore.table.core.windows.net",
        AzureWebJobsStorage__credential="managedidentity",
        AzureWebJobsStorage__clientId=IDENTITY,
    ))
    assert settings.storage.connection_string is None
    assert settings.storage.queue_service_uri == "https://brokerstore.queue.core.windows.net"
    assert settings.storage.table_service_uri == "https://brokerstore.table.core.windows.net"
    assert settings.storage.client_id == IDENTITY


def test_identity_based_storage_needs_both_service_uris():
    problems = problems_of(env(AzureWebJobsStorage=None,
                               AzureWebJobsStorage__queueServiceUri="https://brokerstore.queue.core.windows.net"))
    assert len(problems) == 1 and "AzureWebJobsStorage__tableServiceUri" in problems[0]


def test_a_storage_credential_other_than_managed_identity_is_reported():
    problems = problems_of(env(AzureWebJobsStorage__credential="connectionstring"))
    assert len(problems) == 1 and "AzureWebJobsStorage__credential" in problems[0]


# --- result callbacks and signed intake (issue 21) ------------------------------------------------------------------

CALLBACK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes of base64: a test value only


def test_callback_settings_are_part_of_the_settings_and_off_by_default():
    settings = load_settings(env())
    assert not settings.callbacks.enabled and not settings.callbacks.intake_signed
    assert settings.callbacks.queue == "meeting-callbacks"
    on = load_settings(env(CALLBACK_ALLOWED_HOSTS="hooks.example.com", CALLBACK_SIGNING_SECRETS=CALLBACK_SECRET,
                           INTAKE_SIGNING_SECRETS=CALLBACK_SECRET))
    assert on.callbacks.enabled and on.callbacks.intake_signed
    assert CALLBACK_SECRET not in repr(on) and CALLBACK_SECRET[6:] not in repr(on)


def test_a_missing_or_malformed_signing_secret_is_listed_with_the_other_problems_and_never_echoed():
    problems = problems_of(env(CALLBACK_ALLOWED_HOSTS="hooks.example.com", MEETINGS_TABLE="x",
                               INTAKE_SIGNING_SECRETS="whsec_tooShort"))
    assert mentions(problems, "CALLBACK_SIGNING_SECRETS", "required") and mentions(problems, "MEETINGS_TABLE")
    assert mentions(problems, "INTAKE_SIGNING_SECRETS", "secret 1 of 1")
    assert not mentions(problems, "tooShort")


def test_the_callbacks_queues_cannot_be_the_requests_or_results_queue():
    problems = problems_of(env(MEETING_CALLBACKS_QUEUE="meeting-results"))
    assert mentions(problems, "MEETING_CALLBACKS_QUEUE", "must differ from")


def test_an_unresolved_key_vault_reference_is_named_as_such():
    reference = "@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/callback-signing-secrets/)"
    problems = problems_of(env(CALLBACK_ALLOWED_HOSTS="hooks.example.com", CALLBACK_SIGNING_SECRETS=reference))
    assert mentions(problems, "CALLBACK_SIGNING_SECRETS is a Key Vault reference the platform could not resolve")


# --- meeting attendance and transcripts (issue 23) -----------------------------------------------------------------

def test_artifacts_are_off_by_default_with_the_default_delay_and_window():
    artifacts = load_settings(env()).artifacts
    assert artifacts.mode.name == "off" and not artifacts.mode.attendance
    assert artifacts.delay == timedelta(minutes=10) and artifacts.window == timedelta(hours=48)


def test_the_artifacts_settings_are_read_into_the_settings():
    artifacts = load_settings(env(MEETING_ARTIFACTS="attendanceandtranscripts", ATTENDANCE_DELAY_MINUTES="0",
                                  ATTENDANCE_WINDOW_HOURS="2")).artifacts
    assert artifacts.mode.transcripts and artifacts.delay == timedelta(0) and artifacts.window == timedelta(hours=2)


def test_bad_artifacts_settings_join_every_other_problem():
    problems = problems_of(env(MEETING_ARTIFACTS="all", ATTENDANCE_WINDOW_HOURS="0", GRAPH_TENANT_ID=None))
    assert mentions(problems, "MEETING_ARTIFACTS") and mentions(problems, "ATTENDANCE_WINDOW_HOURS")
    assert mentions(problems, "GRAPH_TENANT_ID")
