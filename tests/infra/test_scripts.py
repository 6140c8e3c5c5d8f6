"""The administrator scripts the app's errors and README point to exist, take the parameters named, and only change
what -WhatIf would show (SupportsShouldProcess)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.domain.errors import AccessPolicyMissing, CalendarAccessDenied
from shared.adapters.graph.answers import error_of
from shared.adapters.graph.operations import CREATE_EVENT, CREATE_OR_GET
from shared.usecases.guards import CALENDAR_MODE_OFF
from tests.fake_graph import error_answer

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "infra" / "scripts"


def _parameters(script: Path) -> set[str]:
    text = script.read_text(encoding="utf-8")
    block = text[text.index("param("):]
    return set(re.findall(r"\[(?:string|string\[\]|switch)\]\s+\$(\w+)", block))


def _named(text: str) -> list[tuple[Path, set[str]]]:
    """Each script the text names, with the parameters given to it."""
    found = []
    for match in re.finditer(r"infra/scripts/([\w-]+\.ps1)((?:\s+-\w+(?:\s+\"[^\"]*\"|\s+<[^>]*>|\s+\S+)?)*)", text):
        found.append((SCRIPTS / match.group(1), set(re.findall(r"(?:^|\s)-([A-Za-z]\w*)", match.group(2)))))
    return found


@pytest.mark.parametrize("operation, error_class", [(CREATE_EVENT, CalendarAccessDenied),
                                                     (CREATE_OR_GET, AccessPolicyMissing)])
def test_a_403_names_a_script_that_exists_with_parameters_it_takes(operation, error_class):
    error = error_of(error_answer(403), operation, app_id="11111111-2222-3333-4444-555555555555", tenant_id="t",
                     organizer_id="o")
    assert isinstance(error, error_class)
    for script, given in _named(error.detail):
        assert script.is_file(), script
        assert given <= _parameters(script), (script.name, given - _parameters(script))
    if error_class is CalendarAccessDenied:
        assert _named(error.detail), "the calendar 403 names the scoping script"


def test_the_calendar_mode_refusal_names_the_scoping_script():
    (script, _), = _named(CALENDAR_MODE_OFF)
    assert script == SCRIPTS / "grant-calendar-scope.ps1" and script.is_file()


@pytest.mark.parametrize("name", ["grant-access-policy.ps1", "grant-calendar-scope.ps1"])
def test_scripts_support_whatif_and_stop_on_errors(name):
    text = (SCRIPTS / name).read_text(encoding="utf-8")
    assert "SupportsShouldProcess = $true" in text
    assert "$ErrorActionPreference = 'Stop'" in text
    assert "ShouldProcess(" in text  # every change goes through it


def test_the_calendar_script_scopes_the_exchange_role_and_needs_no_entra_grant():
    text = (SCRIPTS / "grant-calendar-scope.ps1").read_text(encoding="utf-8")
    assert "'Application Calendars.ReadWrite'" in text
    assert "New-ManagementScope" in text and "MemberOfGroup -eq" in text
    assert "-CustomResourceScope $ScopeName" in text
    assert "New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalId" in text
    assert {"AppId", "ServicePrincipalId", "Group"} <= _parameters(SCRIPTS / "grant-calendar-scope.ps1")


def test_the_calendar_script_removes_a_tenant_wide_grant_left_in_entra_id_with_whatif():
    """Switching CALENDAR_ACCESS back to exchangeRbac leaves the tenant-wide app role assignment (a deployment never
    deletes what the template no longer declares): the script finds and removes it, through ShouldProcess."""
    text = (SCRIPTS / "grant-calendar-scope.ps1").read_text(encoding="utf-8")
    bicep = (SCRIPTS.parent / "graph-app.bicep").read_text(encoding="utf-8")
    role = re.search(r"var calendarsReadWrite = '([0-9a-f-]{36})'", bicep).group(1)
    assert f"$CalendarsReadWriteRole = '{role}'" in text, "the same app role the template grants"
    assert "/appRoleAssignments" in text and "az rest --method DELETE" in text
    step = text[text.index("function Get-TenantWideCalendarGrant"):text.index("# 4. What Exchange says now")]
    change = step.index('Invoke-Change $AppId "remove the tenant-wide')  # ShouldProcess: -WhatIf removes nothing
    assert change < step.index("az rest --method DELETE"), "the DELETE runs only inside the Invoke-Change block"
    assert step.count("az rest --method DELETE") == 1
    assert "KeepTenantWideGrant" in _parameters(SCRIPTS / "grant-calendar-scope.ps1")
