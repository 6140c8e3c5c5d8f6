"""Every queue and table the app uses exists, and the identity holds exactly the data roles its connections need."""
from __future__ import annotations

import json
import re

import pytest

from tests.infra import template
from tests.infra.template import (
    MONITORING_METRICS_PUBLISHER, QUEUES, ROLE_ASSIGNMENTS, ROLE_FOR_USE, STORAGE_BLOB_DATA_OWNER,
    STORAGE_QUEUE_DATA_CONTRIBUTOR, STORAGE_TABLE_DATA_CONTRIBUTOR, TABLES, render,
)

KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

# The uses the app makes of AzureWebJobsStorage: the host, the queue triggers and outputs, the code's Table and Queue
# clients (tests/infra/test_function_bindings.py reads the real bindings when function_app imports).
APP_USES = ("host", "queueTrigger", "queue", "table")


def test_every_queue_the_app_uses_exists(root, app_settings):
    requests, results = app_settings["MEETING_REQUESTS_QUEUE"], app_settings["MEETING_RESULTS_QUEUE"]
    callbacks, failed = app_settings["MEETING_CALLBACKS_QUEUE"], app_settings["MEETING_CALLBACKS_FAILED_QUEUE"]
    assert {requests, f"{requests}-poison", results, callbacks, f"{callbacks}-poison", failed} <= template.names_of(
        root, QUEUES)


def test_the_meetings_table_exists(root, app_settings):
    assert app_settings["MEETINGS_TABLE"] in template.names_of(root, TABLES)


def test_queue_and_table_names_are_valid_azure_names(root):
    for name in template.names_of(root, QUEUES):
        assert re.fullmatch(r"(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*", name), name
    for name in template.names_of(root, TABLES):
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,62}", name), name


@pytest.fixture(scope="module")
def assignments(modules):
    """(role id, scope resource, assignment) for every role assignment, with the role GUID read from its named var."""
    rbac = modules["rbac.bicep"]
    found = []
    for assignment in rbac.resources(ROLE_ASSIGNMENTS):
        role_ref = assignment.raw("properties", "roleDefinitionId")["function"]["parameters"]["resource_name_1"]
        assert role_ref in rbac.variables, f"{assignment.symbol}: role id is not a named var"
        scope = rbac.resource(assignment.raw("scope"))
        found.append((rbac.resolve(role_ref), scope, assignment))
    return found


def test_role_assignments_are_named_guid_of_scope_principal_and_role(modules, assignments):
    for _role, scope, assignment in assignments:
        name = assignment.raw("name")["function"]
        assert name["type"] == "guid"
        parts = [render(value) for value in name["parameters"].values() if value is not None]
        role_var = assignment.raw("properties", "roleDefinitionId")["function"]["parameters"]["resource_name_1"]
        assert parts == [f"{scope.symbol}.id", "principalId", role_var], parts
        assert assignment.raw("properties", "principalId") == "principalId"
        assert assignment.value("properties", "principalType") == "ServicePrincipal"


def test_roles_go_to_the_identity_the_function_app_runs_as(modules):
    assert render(modules["rbac.bicep"].args["principalId"]) == "identity.outputs.principalId"
    assert render(modules["function.bicep"].args["identityId"]) == "identity.outputs.id"
    assert render(modules["rbac.bicep"].args["storageAccountName"]) == "storage.outputs.name"
    assert render(modules["function.bicep"].args["storageAccountName"]) == "storage.outputs.name"


def test_every_use_of_the_storage_connection_has_its_role_on_the_storage_account(assignments):
    on_storage = {role for role, scope, _ in assignments if scope.type == "Microsoft.Storage/storageAccounts"}
    for use in APP_USES:
        assert ROLE_FOR_USE[use] in on_storage, f"{use} needs role {ROLE_FOR_USE[use]} on the storage account"


def test_telemetry_publisher_role_is_on_application_insights(assignments):
    scopes = {scope.type for role, scope, _ in assignments if role == MONITORING_METRICS_PUBLISHER}
    assert scopes == {"Microsoft.Insights/components"}


def test_no_role_beyond_least_privilege(assignments):
    assert sorted(role for role, _, _ in assignments) == sorted({
        STORAGE_BLOB_DATA_OWNER, STORAGE_QUEUE_DATA_CONTRIBUTOR, STORAGE_TABLE_DATA_CONTRIBUTOR,
        MONITORING_METRICS_PUBLISHER, KEY_VAULT_SECRETS_USER,
    })


def test_the_identity_may_read_the_signing_secrets_and_nothing_else_of_the_key_vault(assignments, modules):
    on_vault = [role for role, scope, _ in assignments if scope.type == "Microsoft.KeyVault/vaults"]
    assert on_vault == [KEY_VAULT_SECRETS_USER]
    (vault,) = modules["keyvault.bicep"].resources("Microsoft.KeyVault/vaults")
    assert vault.value("properties", "enableRbacAuthorization") is True
    assert vault.raw("properties", "accessPolicies") is None
    assert render(modules["rbac.bicep"].args["keyVaultName"]) == "keyVault.outputs.name"


def test_every_role_assignment_says_which_binding_or_client_needs_it(modules):
    lines = modules["rbac.bicep"].path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if f"'{ROLE_ASSIGNMENTS}@" in line:
            assert lines[index - 1].lstrip().startswith("//"), f"no comment above: {line.strip()}"


# -- the deploying principal ------------------------------------------------------------------------------------------
# azd does not write the package: on Flex Consumption it posts it to /api/publish and the platform writes the blob with
# the identity in functionAppConfig.deployment.storage (Blob Data Owner above). The deployer only reads the package
# container, which is what the predeploy hook's readiness probe lists.
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


@pytest.fixture(scope="module")
def deployer_grants(modules):
    module = modules["deployer-access.bicep"]
    return module, module.resources(ROLE_ASSIGNMENTS)


def test_the_deployer_gets_read_access_to_the_package_container_and_nothing_else(deployer_grants):
    module, grants = deployer_grants
    (grant,) = grants
    role_ref = grant.raw("properties", "roleDefinitionId")["function"]["parameters"]["resource_name_1"]
    assert module.resolve(role_ref) == STORAGE_BLOB_DATA_READER
    scope = module.resource(grant.raw("scope"))
    assert scope.type == "Microsoft.Storage/storageAccounts/blobServices/containers"
    assert scope.raw("name") == "deploymentContainerName"
    parts = [render(v) for v in grant.raw("name")["function"]["parameters"].values() if v is not None]
    assert parts == [f"{scope.symbol}.id", "principalId", role_ref]


def test_the_deployer_grant_is_the_container_the_function_app_deploys_from(modules):
    deployer, function = modules["deployer-access.bicep"], modules["function.bicep"]
    assert deployer.args["deploymentContainerName"] == function.args["deploymentContainerName"]
    assert render(deployer.args["storageAccountName"]) == render(function.args["storageAccountName"]) == (
        "storage.outputs.name"
    )


def test_the_deployer_is_whoever_runs_azd_and_may_be_a_user_or_a_service_principal(modules, deployer_grants):
    _module, (grant,) = deployer_grants
    assert render(grant.condition) == "not(empty(principalId))", "no principal id must mean no grant"
    assert grant.raw("properties", "principalId") == "principalId"
    assert grant.raw("properties", "principalType") is None, "a fixed type breaks CI (service principal) or users"
    main = modules["main.bicep"]
    assert main.module_args_raw("deployerAccess")["principalId"] == "principalId"
    assert main.parameters["principalId"]["default"] == ""
    given = json.loads((template.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert given["principalId"]["value"] == "${AZURE_PRINCIPAL_ID=}"
