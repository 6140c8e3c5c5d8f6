"""graph-app.bicep: the app registration trusts the function's identity and declares OnlineMeetings.ReadWrite.All; the
postprovision hook (tests/infra/test_grant_app_roles.py) grants what the template's outputs tell it."""
from __future__ import annotations

import pytest

from shared.config import settings as code
from tests.infra.template import render

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# https://learn.microsoft.com/graph/permissions-reference#onlinemeetingsreadwriteall (application)
ONLINE_MEETINGS_READ_WRITE_ALL = "b8bb2037-6e08-44ac-a4ea-4674e010e2a4"
# https://learn.microsoft.com/graph/permissions-reference#calendarsreadwrite (application)
CALENDARS_READ_WRITE = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"
# https://learn.microsoft.com/graph/permissions-reference#onlinemeetingartifactreadall (application)
ONLINE_MEETING_ARTIFACT_READ_ALL = "df01ed3b-eb61-4eca-9965-6b3d789751b2"
# https://learn.microsoft.com/graph/permissions-reference#onlinemeetingtranscriptreadall (application)
ONLINE_MEETING_TRANSCRIPT_READ_ALL = "a4a80d8d-d283-4bd8-8504-555ec3870630"
ARTIFACT_ROLES = {
    "off": {},
    "attendance": {"OnlineMeetingArtifact.Read.All": ONLINE_MEETING_ARTIFACT_READ_ALL},
    "attendanceAndTranscripts": {"OnlineMeetingArtifact.Read.All": ONLINE_MEETING_ARTIFACT_READ_ALL,
                                 "OnlineMeetingTranscript.Read.All": ONLINE_MEETING_TRANSCRIPT_READ_ALL},
}


@pytest.fixture(scope="module")
def graph_app(modules):
    return modules["graph-app.bicep"]


def _one(module, type_):
    found = module.resources(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def test_app_registration_is_single_tenant_unless_asked(graph_app, modules):
    app = _one(graph_app, "Microsoft.Graph/applications")
    audience = app.raw("signInAudience")["operator"]
    assert audience["type"] == "conditional" and audience["operands"]["condition"] == "multiTenant"
    assert audience["operands"]["true_value"] == "AzureADMultipleOrgs"
    assert audience["operands"]["false_value"] == "AzureADMyOrg"
    assert graph_app.param("multiTenant") is False  # main passes its own default, false


def test_federated_credential_trusts_the_user_assigned_identity(graph_app):
    fic = _one(graph_app, "Microsoft.Graph/applications/federatedIdentityCredentials")
    assert render(fic.value("issuer")) == "${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0"
    assert render(fic.value("subject")) == "identity.outputs.principalId"
    assert render(fic.raw("name")).startswith("${app.uniqueName}/")


def test_federated_credential_audience_is_the_one_the_code_requests_in_each_cloud(graph_app):
    fic = _one(graph_app, "Microsoft.Graph/applications/federatedIdentityCredentials")
    (audience,) = fic.raw("audiences")
    assert render(audience) == "tokenExchangeAudiences[graphCloud]"
    audiences = graph_app.resolve("tokenExchangeAudiences")
    allowed = next(d["argument"] for d in graph_app.parameters["graphCloud"]["decorators"] if d["type"] == "allowed")
    assert audiences == {cloud: code.CLOUDS[cloud].token_exchange_audience for cloud in allowed}
    assert audiences["global"] == "api://AzureADTokenExchange"
    assert graph_app.param("graphCloud") == "global"


def test_no_app_role_is_assigned_inside_the_deployment(modules):
    """An appRoleAssignedTo next to a new service principal fails now and then on Entra ID's replication delay
    (msgraph-bicep-types#193), and a deployment cannot wait for it: the postprovision hook grants instead."""
    for module in modules.values():
        assert module.resources("Microsoft.Graph/appRoleAssignedTo") == [], module.path.name


def _granted_roles(graph_app, mode: str = "off") -> dict[str, dict[str, str]]:
    """The appRoles output (name=id pairs) in each branch of grantCalendarsTenantWide, for a MEETING_ARTIFACTS mode."""
    choice = graph_app.doc["outputs"]["appRoles"]["value"]["operator"]
    assert choice["type"] == "conditional" and choice["operands"]["condition"] == "grantCalendarsTenantWide"
    assert render(graph_app.variables["modeRoles"]["value"]) == "artifactRoles[meetingArtifacts]"
    local = {"modeRoles": graph_app.resolve("artifactRoles")[mode]}
    return {
        branch: dict(pair.split("=") for pair in graph_app.resolve(choice["operands"][key], local).split(","))
        for branch, key in (("granted", "true_value"), ("not_granted", "false_value"))
    }


@pytest.mark.parametrize("mode", list(ARTIFACT_ROLES))
def test_artifact_permissions_are_granted_only_as_meeting_artifacts_asks(graph_app, modules, mode):
    online_meetings = {"OnlineMeetings.ReadWrite.All": ONLINE_MEETINGS_READ_WRITE_ALL}
    assert _granted_roles(graph_app, mode) == {
        "granted": {**online_meetings, "Calendars.ReadWrite": CALENDARS_READ_WRITE, **ARTIFACT_ROLES[mode]},
        "not_granted": {**online_meetings, **ARTIFACT_ROLES[mode]},
    }
    assert graph_app.parameters["meetingArtifacts"]["default"] == "off"
    assert graph_app.args["meetingArtifacts"] == "off"  # main.bicep's parameter, resolved to its default
    assert modules["main.bicep"].parameters["meetingArtifacts"]["default"] == "off"


def test_online_meetings_is_always_granted_and_calendars_only_when_asked_for_tenant_wide(graph_app, modules):
    assert _granted_roles(graph_app) == {
        "granted": {"OnlineMeetings.ReadWrite.All": ONLINE_MEETINGS_READ_WRITE_ALL,
                    "Calendars.ReadWrite": CALENDARS_READ_WRITE},
        "not_granted": {"OnlineMeetings.ReadWrite.All": ONLINE_MEETINGS_READ_WRITE_ALL},
    }
    assert graph_app.parameters["grantCalendarsTenantWide"]["default"] is False
    # main.bicep grants it only for calendar mode with tenant-wide access; both default to "no".
    assert render(graph_app.args["grantCalendarsTenantWide"]) == (
        "and(equals(calendarMode, enabled), equals(calendarAccess, tenantWide))")
    main = modules["main.bicep"]
    assert main.parameters["calendarMode"]["default"] == "disabled"
    assert main.parameters["calendarAccess"]["default"] == "exchangeRbac"


def _output(module, name: str) -> str:
    return render(module.doc["outputs"][name]["value"])


def test_the_hook_grants_to_the_apps_service_principal_on_microsoft_graph(graph_app, modules):
    assert _output(graph_app, "servicePrincipalId") == "servicePrincipal.id"
    assert render(graph_app.resource("servicePrincipal").raw("appId")) == "app.appId"
    assert _output(graph_app, "microsoftGraphServicePrincipalId") == "microsoftGraph.id"
    graph = graph_app.resource("microsoftGraph")
    assert graph.type == "Microsoft.Graph/servicePrincipals" and graph.value("appId") == MICROSOFT_GRAPH_APP_ID
    main = modules["main.bicep"]
    assert _output(main, "GRAPH_SERVICE_PRINCIPAL_ID") == "graphApp.outputs.servicePrincipalId"
    assert _output(main, "MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID") == "graphApp.outputs.microsoftGraphServicePrincipalId"
    assert _output(main, "GRAPH_APP_ROLES") == "graphApp.outputs.appRoles"
    assert _output(main, "MICROSOFT_GRAPH_ENDPOINT") == "graphApp.outputs.microsoftGraphEndpoint"


def test_the_hook_calls_microsoft_graph_of_the_cloud_the_app_was_deployed_to(graph_app):
    """The Azure CLI's table (azure-cli core/cloud.py, microsoft_graph_resource_id), the same roots as the app's."""
    assert graph_app.resolve("microsoftGraphEndpoints") == {
        "AzureCloud": code.CLOUDS["global"].graph_base_url,
        "AzureUSGovernment": code.CLOUDS["usgov"].graph_base_url,
        "AzureChinaCloud": code.CLOUDS["china"].graph_base_url,
    }
    choice = graph_app.doc["outputs"]["microsoftGraphEndpoint"]["value"]["operator"]["operands"]
    assert render(graph_app.variables["cloud"]["value"]) == "environment().name"
    assert render(choice["condition"]) == "contains(microsoftGraphEndpoints, cloud)"
    assert render(choice["true_value"]) == "microsoftGraphEndpoints[cloud]"
    assert render(choice["false_value"]) == "microsoftGraphEndpoints.AzureCloud"


def test_app_declares_exactly_the_permissions_it_is_granted(graph_app):
    """Calendars.ReadWrite is declared only with its grant: declared, a portal "Grant admin consent" click would widen
    the Exchange-scoped access (RBAC for Applications) to every mailbox. The hook grants exactly what is declared."""
    app = _one(graph_app, "Microsoft.Graph/applications")
    (access,) = app.raw("requiredResourceAccess")
    assert access["resourceAppId"] == "microsoftGraphAppId"
    concat = access["resourceAccess"]["function"]
    assert concat["type"] == "concat"
    choice, by_mode = concat["parameters"]["arg_1"]["operator"], concat["parameters"]["arg_2"]
    assert choice["type"] == "conditional" and choice["operands"]["condition"] == "grantCalendarsTenantWide"
    assert render(by_mode) == "artifactsAccess[meetingArtifacts]"
    declared = {
        name: [graph_app.resolve(item) for item in choice["operands"][branch]]
        for name, branch in (("granted", "true_value"), ("not_granted", "false_value"))
    }
    assert declared == {
        "granted": [{"id": ONLINE_MEETINGS_READ_WRITE_ALL, "type": "Role"}, {"id": CALENDARS_READ_WRITE, "type": "Role"}],
        "not_granted": [{"id": ONLINE_MEETINGS_READ_WRITE_ALL, "type": "Role"}],
    }
    for mode, added in graph_app.resolve("artifactsAccess").items():
        granted = _granted_roles(graph_app, mode)
        for branch, access in declared.items():
            ids = [item["id"] for item in access + added]
            assert ids == list(granted[branch].values()), (mode, branch)
    assert graph_app.resolve("microsoftGraphAppId") == MICROSOFT_GRAPH_APP_ID


def test_the_function_app_uses_this_app_registration(modules, app_settings):
    assert "appId" in modules["graph-app.bicep"].doc["outputs"]
    assert render(modules["function.bicep"].args["graphClientId"]) == "graphApp.outputs.appId"
    assert render(app_settings["GRAPH_CLIENT_ID"]) == "graphApp.outputs.appId"
    assert modules["function.bicep"].args["graphCloud"] == modules["graph-app.bicep"].args["graphCloud"]
