"""graph-app.bicep: the app registration trusts the function's identity and holds OnlineMeetings.ReadWrite.All."""
from __future__ import annotations

import pytest

from shared import settings as code
from tests.infra.template import render

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# https://learn.microsoft.com/graph/permissions-reference#onlinemeetingsreadwriteall (application)
ONLINE_MEETINGS_READ_WRITE_ALL = "b8bb2037-6e08-44ac-a4ea-4674e010e2a4"


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


def test_online_meetings_permission_is_granted_on_microsoft_graph(graph_app):
    grant = _one(graph_app, "Microsoft.Graph/appRoleAssignedTo")
    assert grant.value("appRoleId") == ONLINE_MEETINGS_READ_WRITE_ALL
    resource = graph_app.resource(grant.raw("resourceId")["operator"]["operands"]["operand_1"])
    assert resource.type == "Microsoft.Graph/servicePrincipals" and resource.value("appId") == MICROSOFT_GRAPH_APP_ID
    principal = graph_app.resource(grant.raw("principalId")["operator"]["operands"]["operand_1"])
    assert principal.type == "Microsoft.Graph/servicePrincipals" and render(principal.raw("appId")) == "app.appId"


def test_app_declares_the_permission_it_is_granted(graph_app):
    app = _one(graph_app, "Microsoft.Graph/applications")
    (access,) = app.value("requiredResourceAccess")
    assert access == {
        "resourceAppId": MICROSOFT_GRAPH_APP_ID,
        "resourceAccess": [{"id": ONLINE_MEETINGS_READ_WRITE_ALL, "type": "Role"}],
    }


def test_the_function_app_uses_this_app_registration(modules, app_settings):
    assert "appId" in modules["graph-app.bicep"].doc["outputs"]
    assert render(modules["function.bicep"].args["graphClientId"]) == "graphApp.outputs.appId"
    assert render(app_settings["GRAPH_CLIENT_ID"]) == "graphApp.outputs.appId"
    assert modules["function.bicep"].args["graphCloud"] == modules["graph-app.bicep"].args["graphCloud"]
