"""No template sets a site property or app setting that the Flex Consumption plan deprecates.

Source of both lists: the "Flex Consumption plan deprecations" table of the Azure Functions app settings reference,
https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
(copied from the page revision dated 2025-12-22; keep the lists in step with that table). Some rows are refused outright:
`ftpsState` made a real deployment fail with ARM error 51021 ("... for Flex Consumption sites is invalid"). The others
are ignored or moved to `functionAppConfig`, which is just as wrong to set.
"""
from __future__ import annotations

import pytest

from tests.infra import template

# The table's `properties.<name>` rows. Some are site properties, most live in siteConfig; the table names them all as
# `properties.<name>`, so a name is refused at either level, matched case-insensitively like ARM property names.
DEPRECATED_SITE_PROPERTIES = frozenset({
    "alwaysOn",
    "containerSize",
    "dnsConfiguration",
    "ftpsState",
    "isReserved",
    "IsXenon",
    "javaVersion",
    "LinuxFxVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "functionAppScaleLimit",    # properties.siteConfig.functionAppScaleLimit
    "preWarmedInstanceCount",   # properties.siteConfig.preWarmedInstanceCount
    "use32BitWorkerProcess",
    "vnetBackupRestoreEnabled",
    "vnetContentShareEnabled",
    "vnetImagePullEnabled",
    "vnetRouteAllEnabled",
    "windowsFxVersion",
})

# The table's app-setting rows.
DEPRECATED_APP_SETTINGS = frozenset({
    "ENABLE_ORYX_BUILD",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_DNS_SERVER",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_VNET_ROUTE_ALL",
})

_SITE_PROPERTIES = {name.lower() for name in DEPRECATED_SITE_PROPERTIES}
_APP_SETTINGS = {name.upper() for name in DEPRECATED_APP_SETTINGS}


def _keys(node) -> list[str]:
    return [str(key).strip("'") for key in node] if isinstance(node, dict) else []


def deprecated_site_properties(properties: dict) -> list[str]:
    """Paths of the deprecated names set in a site's `properties`, at the site level or in `siteConfig`."""
    found = [f"properties.{key}" for key in _keys(properties) if key.lower() in _SITE_PROPERTIES]
    site_config = properties.get("siteConfig") if isinstance(properties, dict) else None
    found += [f"properties.siteConfig.{key}" for key in _keys(site_config) if key.lower() in _SITE_PROPERTIES]
    return found


def deprecated_app_settings(names) -> list[str]:
    return sorted(name for name in names if str(name).upper() in _APP_SETTINGS)


@pytest.fixture(scope="module")
def sites(root) -> list[template.Resource]:
    found = [res for module in root.walk() for res in module.resources("Microsoft.Web/sites")]
    assert found, "expected the function app in the templates"
    return found


def test_no_site_sets_a_property_flex_consumption_deprecates(sites):
    for site in sites:
        assert deprecated_site_properties(site.raw("properties") or {}) == [], site.symbol


def test_no_separate_web_config_sets_a_property_flex_consumption_deprecates(root):
    for module in root.walk():
        for config in module.resources("Microsoft.Web/sites/config"):
            if str(config.value("name")).lower() == "web":
                found = [key for key in _keys(config.raw("properties")) if key.lower() in _SITE_PROPERTIES]
                assert found == [], f"{module.path.name}: {config.symbol} sets {found}"


def test_no_app_setting_is_one_flex_consumption_deprecates(app_settings):
    assert deprecated_app_settings(app_settings) == []


def test_the_site_check_finds_a_deprecated_name_at_either_level_in_any_case():
    properties = {
        "httpsOnly": True,
        "vnetRouteAllEnabled": True,
        "siteConfig": {"minTlsVersion": "1.2", "FTPSSTATE": "Disabled", "appSettings": []},
    }
    assert deprecated_site_properties(properties) == [
        "properties.vnetRouteAllEnabled", "properties.siteConfig.FTPSSTATE",
    ]
    assert deprecated_site_properties({"siteConfig": {"minTlsVersion": "1.2"}}) == []


def test_the_app_setting_check_finds_a_deprecated_setting_in_any_case():
    assert deprecated_app_settings(["GRAPH_CLOUD", "functions_worker_runtime", "WEBSITE_RUN_FROM_PACKAGE"]) == [
        "WEBSITE_RUN_FROM_PACKAGE", "functions_worker_runtime",
    ]


def test_the_lists_hold_the_rows_this_template_once_set_or_that_the_issue_names():
    assert {"ftpsState", "alwaysOn", "use32BitWorkerProcess", "LinuxFxVersion"} <= DEPRECATED_SITE_PROPERTIES
    assert {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
            "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"} <= DEPRECATED_APP_SETTINGS
