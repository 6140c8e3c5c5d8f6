"""graph-app.bicep: the app registration trusts the function's identity and holds OnlineMeetings.ReadWrite.All."""
from __future__ import annotations

import pytest

from shared.config import settings as code
from tests.infra.template import render

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# https://learn.microsoft.com/graph/permissions-reference#onlinemeetingsreadwriteall (application)
ONLINE_MEETINGS_READ_WRITE_ALL = "b8bb2037-6e08-44ac-a4ea-4674e010e2a4"
# https://learn.microsoft.com/graph/permissions-reference#calendarsreadwrite (application)
CALENDARS_READ_WRITE = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"


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


def _grants(graph_app):
    return {grant.value("appRoleId"): grant for grant in graph_app.resources("Microsoft.Graph/appRoleAssignedTo")}


@pytest.mark.parametrize("role", [ONLINE_MEETINGS_READ_WRITE_ALL, CALENDARS_READ_WRITE])
def test_each_permission_is_granted_to_the_apps_service_principal_on_microsoft_graph(graph_app, role):
    grant = _grants(graph_app)[role]
    resource = graph_app.resource(grant.raw("resourceId")["operator"]["operands"]["operand_1"])
    assert resource.type == "Microsoft.Graph/servicePrincipals" and resource.value("appId") == MICROSOFT_GRAPH_APP_ID
    principal = graph_app.resource(grant.raw("principalId")["operator"]["operands"]["operand_1"])
    assert principal.type == "Microsoft.Graph/servicePrincipals" and render(principal.raw("appId")) == "app.appId"


def test_online_meetings_is_always_granted_and_calendars_only_when_asked_for_tenant_wide(graph_app, modules):
    grants = _grants(graph_app)
    assert set(grants) == {ONLINE_MEETINGS_READ_WRITE_ALL, CALENDARS_READ_WRITE}
    assert grants[ONLINE_MEETINGS_READ_WRITE_ALL].condition is None
    assert grants[CALENDARS_READ_WRITE].condition == "grantCalendarsTenantWide"
    assert graph_app.parameters["grantCalendarsTenantWide"]["default"] is False
    # main.bicep grants it only for calendar mode with tenant-wide access; both default to "no".
    assert render(graph_app.args["grantCalendarsTenantWide"]) == (
        "and(equals(calendarMode, enabled), equals(calendarAccess, tenantWide))")
    main = modules["main.bicep"]
    assert main.parameters["calendarMode"]["default"] == "disabled"
    assert main.parameters["calendarAccess"]["default"] == "exchangeRbac"


def test_app_declares_exactly_the_permissions_it_is_granted(graph_app):
    """Calendars.ReadWrite is declared only with its grant: declared, a portal "Grant admin consent" click would widen
    the Exchange-scoped access (RBAC for Applications) to every mailbox."""
    app = _one(graph_app, "Microsoft.Graph/applications")
    (access,) = app.raw("requiredResourceAccess")
    assert access["resourceAppId"] == "microsoftGraphAppId"
    choice = access["resourceAccess"]["operator"]
    assert choice["type"] == "conditional" and choice["operands"]["condition"] == "grantCalendarsTenantWide"
    declared = {
        name: [graph_app.resolve(item) for item in choice["operands"][branch]]
        for name, branch in (("granted", "true_value"), ("not_granted", "false_value"))
    }
    assert declared == {
        "granted": [{"id": ONLINE_MEETINGS_READ_WRITE_ALL, "type": "Role"}, {"id": CALENDARS_READ_WRITE, "type": "Role"}],
        "not_granted": [{"id": ONLINE_MEETINGS_READ_WRITE_ALL, "type": "Role"}],
    }
    assert graph_app.resolve("microsoftGraphAppId") == MICROSOFT_GRAPH_APP_ID


def test_the_function_app_uses_this_app_registration(modules, app_settings):
    assert "appId" in modules["graph-app.bicep"].doc["outputs"]
    assert render(modules["function.bicep"].args["graphClientId"]) == "graphApp.outputs.appId"
    assert render(app_settings["GRAPH_CLIENT_ID"]) == "graphApp.outputs.appId"
    assert modules["function.bicep"].args["graphCloud"] == modules["graph-app.bicep"].args["graphCloud"]
