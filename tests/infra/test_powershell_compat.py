"""Every .ps1 of the project runs on Windows PowerShell 5.1 too: azd runs a `pwsh` hook with Windows PowerShell when
PowerShell 7 is not installed, and the scope scripts are run by admins on whatever Windows they have. pwsh is not
installed here, so this scans the scripts (comments and strings left out) for what only PowerShell 6/7 knows."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.template import REPO_ROOT

SCRIPTS = sorted(p for p in REPO_ROOT.rglob("*.ps1")
                 if not any(part in (".venv", "node_modules", ".git") or part.startswith(".venv")
                            for part in p.relative_to(REPO_ROOT).parts))

# Parameters, cmdlets and variables that Windows PowerShell 5.1 does not have.
PS7_ONLY_WORDS = {
    "-SkipHttpErrorCheck": "Invoke-WebRequest/RestMethod parameter (PowerShell 7)",
    "-SkipCertificateCheck": "Invoke-WebRequest/RestMethod parameter (PowerShell 6)",
    "-StatusCodeVariable": "Invoke-RestMethod parameter (PowerShell 7)",
    "-ResponseHeadersVariable": "Invoke-RestMethod parameter (PowerShell 6)",
    "-AdditionalChildPath": "Join-Path parameter (PowerShell 6)",
    "-AsHashtable": "ConvertFrom-Json parameter (PowerShell 6)",
    "-AsByteStream": "Get-Content/Set-Content parameter (PowerShell 6)",
    "-Parallel": "ForEach-Object parameter (PowerShell 7)",
    "-EscapeHandling": "ConvertTo-Json parameter (PowerShell 6.2)",
    "utf8NoBOM": "an -Encoding value (PowerShell 6)",
    "Join-String": "cmdlet (PowerShell 6.2)",
    "Get-Error": "cmdlet (PowerShell 7)",
    "Test-Json": "cmdlet (PowerShell 6.1)",
    "$IsWindows": "automatic variable (PowerShell 6)",
    "$IsLinux": "automatic variable (PowerShell 6)",
    "$IsMacOS": "automatic variable (PowerShell 6)",
    "$PSStyle": "automatic variable (PowerShell 7.2)",
}
PS7_ONLY_SYNTAX = {
    "null-coalescing ?? or ??=": re.compile(r"\?\?"),
    "null-conditional ?. or ?[": re.compile(r"\}\?[.\[]|\w\?\.\w"),
    "pipeline chain && or ||": re.compile(r"&&|\|\|"),
    "ternary ? :": re.compile(r"\s\?\s[^\n]*?\s:\s"),
    "three-argument Join-Path": re.compile(
        r"Join-Path\s+(?:\([^()]*\)|[^\s()|;]+)\s+(?:\([^()]*\)|[^\s()|;]+)\s+(?!-)(?:\([^()]*\)|[^\s()|;]+)",
        re.IGNORECASE),
}


def code_only(text: str) -> str:
    """The script without comments and string contents (strings become empty quotes)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("<#", i):
            i = text.find("#>", i + 2)
            i = n if i < 0 else i + 2
        elif text[i] == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith(('@"', "@'"), i) and text[i + 2:i + 3] in ("\n", "\r"):
            end = text.find("\n" + text[i + 1] + "@", i + 2)
            i = n if end < 0 else end + 3
            out.append("''")
        elif text[i] in "'\"":
            quote, i = text[i], i + 1
            while i < n:
                if quote == '"' and text[i] == "`":
                    i += 2
                    continue
                if text[i] == quote:
                    if text[i + 1:i + 2] == quote:  # a doubled quote inside the string
                        i += 2
                        continue
                    break
                i += 1
            i += 1
            out.append(quote * 2)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def ps7_only(text: str) -> list[str]:
    code = code_only(text)
    found = [f"{word}: {why}" for word, why in PS7_ONLY_WORDS.items()
             if re.search(re.escape(word) + r"(?![\w-])", code, re.IGNORECASE)]
    found += [name for name, pattern in PS7_ONLY_SYNTAX.items() if pattern.search(code)]
    return found


def test_there_are_scripts_to_check():
    names = {p.name for p in SCRIPTS}
    assert {"wait-for-storage-access.ps1", "grant-app-roles.ps1", "compile-bytecode.ps1", "grant-calendar-scope.ps1"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_the_script_runs_on_windows_powershell_5_1(script: Path):
    assert ps7_only(script.read_text(encoding="utf-8-sig")) == []


@pytest.mark.parametrize("line, found", [
    ("Set-Location (Join-Path $PSScriptRoot '..' '..')", "three-argument Join-Path"),
    ("$venv = Join-Path $root '.venv' 'Scripts'", "three-argument Join-Path"),
    ("$r = Invoke-WebRequest -Uri $u -SkipHttpErrorCheck", "-SkipHttpErrorCheck: Invoke-WebRequest/RestMethod parameter (PowerShell 7)"),
    ("$x = $a ?? 'b'", "null-coalescing ?? or ??="),
    ("$x = $ok ? 'yes' : 'no'", "ternary ? :"),
    ("git fetch && git merge", "pipeline chain && or ||"),
    ("$n = ${obj}?.Name", "null-conditional ?. or ?["),
])
def test_the_scan_finds_what_windows_powershell_cannot_run(line, found):
    assert found in ps7_only(line)


@pytest.mark.parametrize("line", [
    "Set-Location (Join-Path (Join-Path $PSScriptRoot '..') '..')",
    "$p = Join-Path -Path $root -ChildPath 'x'",
    "Write-Host 'is it ?? or && in a string: fine'",
    "# a comment may say -SkipHttpErrorCheck",
    "$items | Where-Object { $_ -match '^a?b' }",
    "$shown = if ($code -eq 0) { '000' } else { \"$code\" }",
])
def test_the_scan_leaves_what_windows_powershell_runs(line):
    assert ps7_only(line) == []
