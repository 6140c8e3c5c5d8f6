"""The templates parse, hang together, and carry the security settings the issue asks for."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.infra import template
from tests.infra.template import INFRA, REPO_ROOT, render


@pytest.mark.parametrize("path", template.bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses_with_pycep(path):
    parsed = template.parse(path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path.name} parsed to nothing"


def test_every_bicep_file_is_deployed_from_main_through_local_modules(root):
    reached = {module.path for module in root.walk()}
    assert all(path.exists() for path in reached)
    assert set(template.bicep_files()) == reached, "a .bicep file under infra/ is not reached from main.bicep"


def test_only_graph_app_declares_an_extension_so_checkov_sees_every_other_file():
    with_extension = {path.name for path in template.bicep_files() if template.declares_extension(path)}
    assert with_extension == {"graph-app.bicep"}
    assert "microsoftGraphV1" in template.parse(INFRA / "graph-app.bicep").get("extensions", {})


# An extension needs the full OCI reference: the `br/public:` alias resolves modules only (for an extension Bicep answers
# BCP380). Microsoft Graph Bicep types v1.0 1.0.0, GA: https://learn.microsoft.com/graph/templates/bicep/whats-new
GRAPH_EXTENSION_REFERENCE = "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0"


def _bicepconfig() -> dict:
    text = (INFRA / "bicepconfig.json").read_text(encoding="utf-8")
    return json.loads("\n".join(line for line in text.splitlines() if not line.strip().startswith("//")))


def test_bicepconfig_resolves_the_graph_extension_with_its_full_registry_reference():
    assert _bicepconfig()["extensions"] == {"microsoftGraphV1": GRAPH_EXTENSION_REFERENCE}


def test_no_extension_is_referenced_through_a_module_alias():
    for name, reference in _bicepconfig()["extensions"].items():
        assert reference.startswith("br:"), f"{name}: {reference} (an alias such as br/public: cannot name an extension)"
    for path in template.bicep_files():
        for match in re.finditer(r"^\s*extension\s+'([^']+)'", path.read_text(encoding="utf-8"), re.MULTILINE):
            assert match.group(1).startswith("br:"), f"{path.name}: extension '{match.group(1)}'"


def test_parameters_file_gives_every_required_parameter_from_the_azd_environment(modules):
    main = modules["main.bicep"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(main.parameters), "main.parameters.json names a parameter main.bicep lacks"
    required = {name for name, decl in main.parameters.items() if decl.get("default") is None}
    assert required <= set(given), f"required parameters missing from main.parameters.json: {required - set(given)}"
    assert given["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert given["location"]["value"] == "${AZURE_LOCATION}"
    assert given["allowedOrganizers"]["value"] == "${ALLOWED_ORGANIZERS}"


def _decorator(decl: dict, kind: str):
    found = [d["argument"] for d in decl["decorators"] if d["type"] == kind]
    assert len(found) == 1, f"expected one @{kind} decorator, found {len(found)}"
    return found[0]


def test_location_is_an_azd_location_prompt_limited_to_flex_consumption_regions(modules):
    decl = modules["main.bicep"].parameters["location"]
    assert decl.get("default") is None
    assert _decorator(decl, "metadata") == {"azd": {"type": "location"}}
    regions = _decorator(decl, "allowed")
    assert regions, "the allowed list is empty"
    assert all(isinstance(r, str) and re.fullmatch(r"[a-z][a-z0-9]*", r) for r in regions), regions
    assert len(set(regions)) == len(regions), "a region is listed twice"
    assert "euap" not in " ".join(regions), "early-access canary regions are not for ordinary subscriptions"


def test_the_readme_says_how_to_list_the_current_flex_consumption_regions():
    docs = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "az functionapp list-flexconsumption-locations" in docs


def test_allowed_organizers_is_required_and_may_not_be_empty(modules):
    decl = modules["main.bicep"].parameters["allowedOrganizers"]
    assert decl.get("default") is None
    assert {"type": "min_length", "argument": 1} in decl["decorators"]


def test_outputs_are_upper_snake_for_azd(modules):
    outputs = modules["main.bicep"].doc["outputs"]
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in outputs), sorted(outputs)
    assert {"AZURE_FUNCTION_APP_NAME", "GRAPH_CLIENT_ID", "MANAGED_IDENTITY_CLIENT_ID", "AZURE_TENANT_ID"} <= set(outputs)


def test_azure_yaml_deploys_this_folder_as_a_python_function():
    config = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert config["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    assert config["infra"]["path"] == "infra" and config["infra"].get("module", "main") == "main"


def test_no_registry_module_is_used():
    for path in template.bicep_files():
        assert "br/public:" not in path.read_text(encoding="utf-8"), path.name


def test_function_app_runs_python_311_on_flex_consumption_as_the_identity(root, modules):
    function = modules["function.bicep"]
    (plan,) = function.resources("Microsoft.Web/serverfarms")
    assert plan.value("sku") == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.value("properties", "reserved") is True
    (app,) = template.function_apps(root)
    assert app.value("kind") == "functionapp,linux"
    props = app.value("properties")
    assert props["httpsOnly"] is True
    # Only what the Flex samples set, plus the TLS floor; test_flex_deprecations keeps the rejected properties out.
    assert set(props["siteConfig"]) == {"minTlsVersion", "appSettings"}
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    assert props["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    deployment = props["functionAppConfig"]["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert deployment["authentication"]["type"] == "UserAssignedIdentity"
    # The identity the app runs as, authenticates its deployment storage with, and names in its settings is one.
    assert render(function.args["identityId"]) == "identity.outputs.id"
    assert render(deployment["authentication"]["userAssignedIdentityResourceId"]) == "identity.outputs.id"
    assert app.value("identity", "type") == "UserAssigned"
    assert render(app.raw("properties", "functionAppConfig", "deployment", "storage", "value")) == (
        "${storage.properties.primaryEndpoints.blob}${deploymentContainerName}"
    )
    containers = template.names_of(root, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert function.args["deploymentContainerName"] in containers


def test_storage_account_is_keyless_and_https_only(modules):
    (storage,) = modules["storage.bicep"].resources("Microsoft.Storage/storageAccounts")
    props = storage.value("properties")
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False


def test_log_analytics_and_application_insights_disable_local_auth(modules):
    monitoring = modules["monitoring.bicep"]
    (workspace,) = monitoring.resources("Microsoft.OperationalInsights/workspaces")
    assert workspace.value("properties", "features", "disableLocalAuth") is True
    (insights,) = monitoring.resources("Microsoft.Insights/components")
    assert insights.value("properties", "DisableLocalAuth") is True


def test_every_checkov_skip_has_a_reason_and_is_listed_in_the_deployment_docs():
    docs = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    skips = []
    for path in template.bicep_files():
        for match in re.finditer(r"checkov:skip=(CKV_[A-Z0-9_]+):(.*)", path.read_text(encoding="utf-8")):
            skips.append(match.group(1))
            assert len(match.group(2).strip()) > 20, f"{path.name}: {match.group(1)} has no real reason"
    assert skips, "expected the documented skips to be found"
    missing = [check for check in skips if check not in docs]
    assert not missing, f"checkov skips not listed in README.md: {missing}"
