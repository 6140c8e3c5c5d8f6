"""The template sets exactly the app settings the code (and the platform) read, with values the code accepts."""
from __future__ import annotations

import pytest

from shared.config import settings as code
from tests.infra.template import Unresolved, render

# Read by the code, but never set in Azure: secrets (the app holds none there) and the URL overrides that exist
# for local stand-ins (in Azure, GRAPH_CLOUD picks the authority and the Graph root).
NOT_SET_IN_AZURE = frozenset({
    "AzureWebJobsStorage",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_CERTIFICATE",
    "GRAPH_CERTIFICATE_PATH",
    "GRAPH_AUTHORITY_HOST",
    "GRAPH_BASE_URL",
})
# Read by the Functions host, its Python worker or the Azure Monitor distro, not by the app's code.
# Secrets set in Azure only as Key Vault references (the signing secrets of result callbacks and signed intake), and
# only when their feature is on: an empty value otherwise.
KEY_VAULT_REFERENCES = {"CALLBACK_SIGNING_SECRETS": ("callback-signing-secrets", "empty(callbackAllowedHosts)"),
                        "INTAKE_SIGNING_SECRETS": ("intake-signing-secrets", "equals(intakeSigning, enabled)")}
# Read by the Functions host or the Application Insights integration, not by the app's code.
PLATFORM_SETTINGS = frozenset({
    "AzureWebJobsStorage__blobServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
})
# Flex Consumption rejects or ignores these: runtime and package live in functionAppConfig.
FORBIDDEN_ON_FLEX = ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE")


def test_the_exclusions_name_settings_the_code_really_reads():
    assert NOT_SET_IN_AZURE <= set(code.SETTING_NAMES)
    assert code.SECRET_SETTINGS <= NOT_SET_IN_AZURE | set(KEY_VAULT_REFERENCES)


def test_template_sets_every_setting_the_code_reads(app_settings):
    missing = set(code.SETTING_NAMES) - NOT_SET_IN_AZURE - set(app_settings)
    assert not missing, f"the code reads settings the template does not set: {sorted(missing)}"


def test_template_sets_no_setting_that_nobody_reads(app_settings):
    unread = set(app_settings) - set(code.SETTING_NAMES) - PLATFORM_SETTINGS
    assert not unread, f"the template sets settings nobody reads: {sorted(unread)}"


def test_template_sets_no_secret_and_no_local_override(app_settings):
    assert not NOT_SET_IN_AZURE & set(app_settings)


def test_the_signing_secrets_are_key_vault_references_set_only_when_their_feature_is_on(modules, app_settings):
    function = modules["function.bicep"]
    for setting, (secret, condition) in KEY_VAULT_REFERENCES.items():
        reference = f"@Microsoft.KeyVault(SecretUri=${{keyVaultUri}}secrets/{secret}/)"
        branches = f", {reference}" if condition.startswith("empty") else f"{reference}, "  # (on false, on true)
        assert render(app_settings[setting]) == f"conditional({condition}, {branches})"
    assert render(function.args["keyVaultUri"]) == "keyVault.outputs.uri"
    (site,) = function.resources("Microsoft.Web/sites")
    assert site.raw("properties", "keyVaultReferenceIdentity") == "identityId", "resolved as the app's identity"


def test_template_sets_nothing_flex_consumption_forbids(app_settings):
    forbidden = [name for name in app_settings if name in FORBIDDEN_ON_FLEX or name.startswith("WEBSITE_CONTENT")]
    assert not forbidden


def test_storage_and_graph_settings_name_the_identity_the_app_runs_as(app_settings):
    assert app_settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert app_settings["GRAPH_CREDENTIAL"] == "managed_identity_fic"
    assert render(app_settings["AzureWebJobsStorage__clientId"]) == "identity.outputs.clientId"
    assert render(app_settings["MANAGED_IDENTITY_CLIENT_ID"]) == "identity.outputs.clientId"
    assert render(app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]) == (
        "ClientId=${identity.outputs.clientId};Authorization=AAD"
    )
    assert render(app_settings["GRAPH_TENANT_ID"]) == "tenant().tenantId"
    assert render(app_settings["GRAPH_CLIENT_ID"]) == "graphApp.outputs.appId"
    for service in ("blob", "queue", "table"):
        assert render(app_settings[f"AzureWebJobsStorage__{service}ServiceUri"]) == (
            f"storage.properties.primaryEndpoints.{service}"
        )


def _azure_like_environment(app_settings: dict) -> dict[str, str]:
    """The template's settings with stand-ins for what only a deployment knows (ids, endpoints, organizers)."""
    stand_ins = {
        "AzureWebJobsStorage__blobServiceUri": "https://stexample.blob.core.windows.net/",
        "AzureWebJobsStorage__queueServiceUri": "https://stexample.queue.core.windows.net/",
        "AzureWebJobsStorage__tableServiceUri": "https://stexample.table.core.windows.net/",
        "AzureWebJobsStorage__clientId": "11111111-1111-1111-1111-111111111111",
        "MANAGED_IDENTITY_CLIENT_ID": "11111111-1111-1111-1111-111111111111",
        "GRAPH_TENANT_ID": "22222222-2222-2222-2222-222222222222",
        "GRAPH_CLIENT_ID": "33333333-3333-3333-3333-333333333333",
        "ALLOWED_ORGANIZERS": "@contoso.com",
        # The Key Vault references' values with their features off (the defaults): empty.
        "CALLBACK_SIGNING_SECRETS": "",
        "INTAKE_SIGNING_SECRETS": "",
    }
    env = {}
    for name, value in app_settings.items():
        if isinstance(value, Unresolved):
            if name in stand_ins:
                env[name] = stand_ins[name]
            continue
        env[name] = str(value)
    unexpected = {n for n, v in app_settings.items() if isinstance(v, Unresolved)} - set(stand_ins) - PLATFORM_SETTINGS
    assert not unexpected, f"settings computed at deployment the test has no stand-in for: {sorted(unexpected)}"
    return env


def test_the_code_accepts_the_template_settings_with_their_defaults(app_settings):
    loaded = code.load_settings(_azure_like_environment(app_settings))
    assert loaded.credential_mode == "managed_identity_fic"
    assert loaded.storage.connection_string is None
    assert loaded.storage.credential == "managedidentity"
    assert loaded.cloud.name == "global"
    assert loaded.api_version == "v1.0"
    assert loaded.access_policy_grace.total_seconds() == 30 * 60


def test_template_names_match_the_code_defaults(app_settings):
    """Local runs (no setting) and Azure (template defaults) use the same table and queues."""
    loaded = code.load_settings({
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "GRAPH_TENANT_ID": "contoso.com",
        "GRAPH_CREDENTIAL": "managed_identity",
        "ALLOWED_ORGANIZERS": "*",
    })
    assert app_settings["MEETINGS_TABLE"] == loaded.meetings_table
    assert app_settings["MEETING_REQUESTS_QUEUE"] == loaded.requests_queue
    assert app_settings["MEETING_RESULTS_QUEUE"] == loaded.results_queue
    assert app_settings["MEETING_CALLBACKS_QUEUE"] == loaded.callbacks.queue
    assert app_settings["MEETING_CALLBACKS_FAILED_QUEUE"] == loaded.callbacks.failed_queue


def test_callbacks_are_off_and_intake_unsigned_by_default_in_azure(modules, app_settings):
    loaded = code.load_settings(_azure_like_environment(app_settings))
    assert not loaded.callbacks.enabled and not loaded.callbacks.intake_signed
    assert modules["main.bicep"].parameters["callbackAllowedHosts"]["default"] == ""
    parameter = modules["main.bicep"].parameters["intakeSigning"]
    assert set(_allowed(parameter)) == {"enabled", "disabled"} and parameter["default"] == "disabled"


def _allowed(decl: dict) -> list:
    return next(d["argument"] for d in decl["decorators"] if d["type"] == "allowed")


@pytest.mark.parametrize("file", ["main.bicep", "graph-app.bicep"])
def test_every_cloud_the_template_allows_is_one_the_code_serves(modules, file):
    for cloud in _allowed(modules[file].parameters["graphCloud"]):
        assert cloud in code.CLOUDS and code.CLOUDS[cloud].supports_create_or_get, cloud


def test_every_meeting_changes_mode_the_template_allows_is_one_the_code_accepts(modules, app_settings):
    allowed = _allowed(modules["main.bicep"].parameters["meetingChanges"])
    assert set(allowed) == set(code.MEETING_CHANGES)
    for mode in allowed:
        env = _azure_like_environment(app_settings) | {"MEETING_CHANGES": mode}
        assert code.load_settings(env).meeting_changes == mode


def test_every_calendar_mode_the_template_allows_is_one_the_code_accepts_and_the_default_is_off(modules, app_settings):
    parameter = modules["main.bicep"].parameters["calendarMode"]
    assert set(_allowed(parameter)) == {"enabled", "disabled"} and parameter["default"] == "disabled"
    assert app_settings["CALENDAR_MODE"] == "disabled"  # the parameter, resolved to its default
    for mode in _allowed(parameter):
        env = _azure_like_environment(app_settings) | {"CALENDAR_MODE": mode}
        assert code.load_settings(env).calendar_mode is (mode == "enabled")
    assert code.load_settings(_azure_like_environment(app_settings)).calendar_mode is False


@pytest.mark.parametrize("value", ["0", "2000", "150000"])
def test_the_monthly_limit_parameter_is_a_string_the_code_parses(modules, app_settings, value):
    assert modules["main.bicep"].parameters["monthlyMeetingLimit"]["type"] == "string"
    env = _azure_like_environment(app_settings) | {"MONTHLY_MEETING_LIMIT": value}
    assert code.load_settings(env).monthly_meeting_limit == int(value)
    assert code.load_settings(_azure_like_environment(app_settings)).monthly_meeting_limit == 2000


def test_every_api_version_the_template_allows_is_one_the_code_accepts(modules):
    assert set(_allowed(modules["main.bicep"].parameters["graphApiVersion"])) <= set(code.API_VERSIONS)


@pytest.mark.parametrize("value", ["0", "30", "1440"])
def test_grace_minutes_parameter_is_a_string_the_code_parses(modules, app_settings, value):
    assert modules["main.bicep"].parameters["accessPolicyGraceMinutes"]["type"] == "string"
    env = _azure_like_environment(app_settings) | {"ACCESS_POLICY_GRACE_MINUTES": value}
    assert code.load_settings(env).access_policy_grace.total_seconds() == float(value) * 60


def test_every_artifacts_mode_the_template_allows_is_one_the_code_accepts_and_the_default_is_off(modules, app_settings):
    parameter = modules["main.bicep"].parameters["meetingArtifacts"]
    assert set(_allowed(parameter)) == {"off", "attendance", "attendanceAndTranscripts"}
    assert parameter["default"] == "off" and app_settings["MEETING_ARTIFACTS"] == "off"
    for mode in _allowed(parameter):
        env = _azure_like_environment(app_settings) | {"MEETING_ARTIFACTS": mode}
        assert code.load_settings(env).artifacts.mode.name == mode
    settings = code.load_settings(_azure_like_environment(app_settings))
    assert not settings.artifacts.mode.attendance
    assert settings.artifacts.delay.total_seconds() == 600 and settings.artifacts.window.total_seconds() == 48 * 3600
