<#
.SYNOPSIS
    azd prepackage hook (Windows): compile the app's own modules to bytecode, so that the package carries it.

.DESCRIPTION
    The PowerShell twin of compile-bytecode.sh; runs on Windows PowerShell 5.1 as well as PowerShell 7 (azd falls back
    to 5.1 when pwsh is not installed): no PowerShell 7 syntax or parameter (tests/infra/test_powershell_compat.py).

    Why: Flex Consumption runs the app from its package, mounted read-only; Python cannot write __pycache__ there, so
    without bytecode in the package every new instance compiles function_app.py and shared/ before its first request.
    localdev/bytecode.py does the work (checked-hash pycs, ignored by any other Python version; see its docstring).

    Picks the project's .venv, else `py -3.11`, python3, python. Without any Python the package goes as before, without
    bytecode; a module that does not compile stops the deploy.
#>
$ErrorActionPreference = 'Stop'
Set-Location (Join-Path (Join-Path $PSScriptRoot '..') '..')
$root = (Get-Location).Path

$venv = Join-Path (Join-Path (Join-Path $root '.venv') 'Scripts') 'python.exe'
$candidates = @()
if (Test-Path $venv) { $candidates += , @($venv) }
if (Get-Command py -ErrorAction SilentlyContinue) { $candidates += , @('py', '-3.11') }
foreach ($name in 'python3', 'python') {
    if (Get-Command $name -ErrorAction SilentlyContinue) { $candidates += , @($name) }
}
foreach ($candidate in $candidates) {
    $exe = $candidate[0]
    $arguments = @($candidate | Select-Object -Skip 1)
    & $exe @arguments -c 'import sys' 2>$null
    if ($LASTEXITCODE -ne 0) { continue }  # e.g. the py launcher without 3.11
    & $exe @arguments -m localdev.bytecode $root
    exit $LASTEXITCODE
}
Write-Warning 'compile-bytecode: no Python found; the package goes without bytecode'
exit 0
