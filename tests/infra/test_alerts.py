"""The alerts: an action group mailing the azd parameter, log search rules over the metrics the app really exports,
a platform metric alert for HTTP 5xx, and the telemetry settings that make the worker export them."""
from __future__ import annotations

import json
import re

import pytest

from shared.telemetry import metrics
from tests.infra.template import INFRA, REPO_ROOT, render

LOG_ALERTS = "Microsoft.Insights/scheduledQueryRules"
METRIC_ALERTS = "Microsoft.Insights/metricAlerts"
ACTION_GROUPS = "Microsoft.Insights/actionGroups"


@pytest.fixture(scope="module")
def alerts(modules):
    return modules["alerts.bicep"]


def _api_version(path, type_: str) -> set[str]:
    return set(re.findall(rf"'{re.escape(type_)}@([0-9a-z-]+)'", path.read_text(encoding="utf-8")))


def test_main_deploys_the_alerts_against_the_apps_own_insights_and_function_app(modules):
    params = modules["main.bicep"].module_args_raw("alerts")
    assert render(params["appInsightsName"]) == "monitoring.outputs.appInsightsName"
    assert render(params["functionAppName"]) == "api.outputs.name"
    assert (params["alertEmail"], params["noSuccessWindow"]) == ("alertEmail", "alertNoSuccessWindow")


def test_the_alert_email_and_window_are_azd_parameters():
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert given["alertEmail"]["value"] == "${ALERT_EMAIL=}"
    assert given["alertNoSuccessWindow"]["value"] == "${ALERT_NO_SUCCESS_WINDOW=PT30M}"


def test_the_action_group_mails_the_parameter_or_no_one(alerts):
    (group,) = alerts.resources(ACTION_GROUPS)
    assert group.value("location") == "global" and group.value("properties", "enabled") is True
    assert len(group.value("properties", "groupShortName")) <= 12
    receivers = render(group.raw("properties", "emailReceivers"))
    assert "alertEmail" in receivers and "empty" in receivers


def test_the_resource_types_use_ga_api_versions():
    path = INFRA / "app" / "alerts.bicep"
    assert _api_version(path, LOG_ALERTS) == {"2023-12-01"}
    assert _api_version(path, METRIC_ALERTS) == {"2018-03-01"}
    assert _api_version(path, ACTION_GROUPS) == {"2023-01-01"}


def _rules(alerts) -> list[dict]:
    return alerts.resolve(alerts.variables["rules"]["value"])


def test_every_log_rule_queries_only_metrics_the_app_exports_and_alerts_the_group(alerts):
    looped = alerts.resources(LOG_ALERTS)  # one declaration, looped over the rules variable
    rules = _rules(alerts)
    assert len(looped) == len(rules) and {r["name"] for r in rules} == {
        "retries-exhausted", "graph-forbidden", "graph-throttled", "no-success"}
    declared = looped[0]
    assert declared.value("kind") == "LogAlert"
    assert render(declared.raw("properties", "scopes")[0]) == "appInsights.id"
    assert render(declared.raw("properties", "actions", "actionGroups")[0]) == "actionGroup.id"
    (condition,) = declared.raw("properties", "criteria", "allOf")
    assert {key: render(condition[key]) for key in ("query", "timeAggregation", "operator", "threshold")} == {
        "query": "rule.query", "timeAggregation": "rule.timeAggregation", "operator": "GreaterThan", "threshold": "0"}
    for rule in rules:
        named = set(re.findall(r'"(broker\.[a-z_.]+)"', rule["query"]))
        assert named and named <= set(metrics.METRIC_NAMES), (rule["name"], named)
        assert rule["timeAggregation"] in ("Total", "Count") and 0 <= rule["severity"] <= 4
        assert "'" not in rule["query"], "KQL strings in double quotes: the Bicep string is single-quoted"


def test_the_rules_read_the_attribute_values_the_app_writes(alerts):
    queries = {r["name"]: r["query"] for r in _rules(alerts)}
    for cause in re.findall(r'"(\w+)"', queries["graph-forbidden"].split("in (")[1]):
        assert cause in metrics.FORBIDDEN_CAUSES
    assert '"access_policy", "permission"' in queries["graph-forbidden"]
    routes = re.findall(r'"(\w+)"', queries["no-success"].split('customDimensions["route"]) in (')[1].split(")")[0])
    function_app = (REPO_ROOT / "function_app.py").read_text(encoding="utf-8")
    for route in routes:
        assert f"def {route}(" in (REPO_ROOT / "shared" / "entrypoints" / "http.py").read_text(encoding="utf-8") \
            or f'"{route}"' in function_app, route


def test_sustained_throttling_means_every_one_of_three_windows(alerts):
    (throttled,) = [r for r in _rules(alerts) if r["name"] == "graph-throttled"]
    assert (throttled["windowSize"], throttled["periods"]) == ("PT5M", 3)
    (condition,) = alerts.resources(LOG_ALERTS)[0].raw("properties", "criteria", "allOf")
    assert {key: render(value) for key, value in condition["failingPeriods"].items()} == {
        "numberOfEvaluationPeriods": "rule.periods", "minFailingPeriodsToAlert": "rule.periods"}


def test_http_5xx_is_the_platform_metric_of_the_function_app(alerts):
    (rule,) = alerts.resources(METRIC_ALERTS)
    assert rule.value("location") == "global"
    assert render(rule.raw("properties", "scopes")[0]) == "functionApp.id"
    criteria = rule.raw("properties", "criteria")
    assert criteria["'odata.type'"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
    (criterion,) = criteria["allOf"]
    assert (criterion["metricNamespace"], criterion["metricName"], criterion["timeAggregation"]) == (
        "Microsoft.Web/sites", "Http5xx", "Total")


def test_the_readme_says_what_each_alert_means_and_what_to_do(alerts):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for each in _rules(alerts):
        assert f"**{each['displayName']}**" in readme, each["displayName"]
    assert "**The app answers HTTP 5xx**" in readme


def test_the_worker_exports_the_apps_telemetry_in_azure(app_settings):
    host = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
    assert host["telemetryMode"] == "OpenTelemetry"
    assert "applicationInsights" not in host["logging"], "ignored in OpenTelemetry mode"
    assert app_settings["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    assert {"requests", "urllib", "urllib3"} <= set(app_settings["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"].split(","))
