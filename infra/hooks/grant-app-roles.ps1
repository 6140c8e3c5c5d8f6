<#
.SYNOPSIS
    azd postprovision hook (Windows): grant the app registration its Microsoft Graph application permissions (the
    app-role assignments, i.e. the admin consent) as soon as its new service principal can be read.

.DESCRIPTION
    The PowerShell twin of grant-app-roles.sh; both behave alike (tests/infra checks that they read the same settings
    and defaults). Runs on Windows PowerShell 5.1 as well as PowerShell 7 (azd falls back to 5.1 when pwsh is not
    installed): no PowerShell 7 syntax or parameter (tests/infra/test_powershell_compat.py).

    Why not in infra/graph-app.bicep: Entra ID is eventually consistent. Right after the template creates the service
    principal, an appRoleAssignedTo in the same deployment can reach a replica that does not know the principal yet and
    fail ("Not a valid reference update", microsoftgraph/msgraph-bicep-types#193); a deployment can neither wait for
    that nor retry it, so the first `azd provision` failed now and then and had to be run again. This hook runs after
    every provision: it reads the service principal until Microsoft Graph answers 200 instead of 404, then lists the
    principal's app-role assignments and creates only the missing ones. A create that still reaches a replica without
    the principal is tried again within the same bound; one that answers "already exists" counts as done.
    Already-granted roles (every later provision) cost two requests. It never removes an assignment: a tenant-wide
    Calendars.ReadWrite grant left from CALENDAR_ACCESS=tenantWide is removed by infra/scripts/grant-calendar-scope.ps1.

    Reads the azd environment, outputs of infra/main.bicep: GRAPH_SERVICE_PRINCIPAL_ID (the app's service principal),
    GRAPH_CLIENT_ID (its app id, for the messages), GRAPH_APP_ROLES (the roles to grant, name=id pairs,
    comma-separated), MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID (Microsoft Graph's service principal, which defines the
    roles), MICROSOFT_GRAPH_ENDPOINT (Microsoft Graph of the cloud the template deployed to) and AZURE_TENANT_ID.
    Tunable with `azd env set`:
      APP_ROLE_GRANT_WAIT_SECONDS  longest wait for the service principal before failing  (default 600)
    The pauses between tries grow 5, 10, 20, 30, 30, ... seconds. APP_ROLE_GRANT_VIRTUAL_CLOCK=1 (for tests only)
    makes a pause advance a virtual clock instead of sleeping.
    The token comes from `azd auth token` (the account azd provisioned with, which may grant application permissions:
    see README.md, Prerequisites); it is never printed.
#>
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$Guid = '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'

$HookName = 'grant-app-roles'
. (Join-Path $PSScriptRoot 'common.ps1')  # Write-Step, Stop-Hook, Get-WholeSeconds, Get-AzdToken

foreach ($name in @('GRAPH_SERVICE_PRINCIPAL_ID', 'GRAPH_CLIENT_ID', 'MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID',
        'MICROSOFT_GRAPH_ENDPOINT', 'GRAPH_APP_ROLES')) {
    if ([string]::IsNullOrEmpty([Environment]::GetEnvironmentVariable($name))) {
        Stop-Hook "$name is not in the azd environment; run 'azd provision' (it sets the template's outputs)."
    }
}
$principal = "$env:GRAPH_SERVICE_PRINCIPAL_ID"
$appId = "$env:GRAPH_CLIENT_ID"
$resource = "$env:MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID"
$graph = "$env:MICROSOFT_GRAPH_ENDPOINT".TrimEnd('/')
$tenant = "$env:AZURE_TENANT_ID"
$limit = Get-WholeSeconds 'APP_ROLE_GRANT_WAIT_SECONDS' '600'
$virtualClock = "$env:APP_ROLE_GRANT_VIRTUAL_CLOCK" -eq '1'

if ($principal -notmatch $Guid) { Stop-Hook "GRAPH_SERVICE_PRINCIPAL_ID '$principal' is not an object id" }
if ($resource -notmatch $Guid) { Stop-Hook "MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID '$resource' is not an object id" }
if ($graph -notmatch '^https?://[^/\s]+$') { Stop-Hook "MICROSOFT_GRAPH_ENDPOINT '$graph' is not a Graph root URL" }

$roles = @()
foreach ($pair in "$env:GRAPH_APP_ROLES".Split(',')) {
    $parts = $pair.Split('=')
    if ($parts.Count -ne 2 -or $parts[1] -notmatch $Guid) {
        Stop-Hook "GRAPH_APP_ROLES holds '$pair', not name=app-role-id"
    }
    $roles += New-Object PSObject -Property @{ Name = $parts[0]; Id = $parts[1].ToLowerInvariant(); Granted = $false }
}
$roleNames = ($roles | ForEach-Object { $_.Name }) -join ', '

function Get-GraphToken { return Get-AzdToken "$graph/.default" 'Microsoft Graph' 'azd provision' $tenant }

# Microsoft Graph v1.0: the HTTP status (0 when Graph cannot be reached) and the body of the answer.
# Windows PowerShell 5.1 has no -SkipHttpErrorCheck: an error status arrives as a WebException that carries the response
# (PowerShell 7: an HttpResponseException whose Response is an HttpResponseMessage); both give their StatusCode, and
# ErrorDetails holds the body.
function Invoke-Graph([string] $Method, [string] $Path, [string] $Body) {
    $request = @{
        Uri = "$graph/v1.0$Path"; Method = $Method; TimeoutSec = 30; UseBasicParsing = $true
        Headers = @{ 'Authorization' = "Bearer $script:token"; 'Accept' = 'application/json' }
    }
    if ($Body) {
        $request['Body'] = $Body
        $request['ContentType'] = 'application/json'
    }
    try {
        $response = Invoke-WebRequest @request
        return New-Object PSObject -Property @{ Status = [int] $response.StatusCode; Body = "$($response.Content)" }
    } catch {
        $status = 0
        $failed = $_.Exception.PSObject.Properties['Response']
        if ($failed -and $failed.Value) { $status = [int] $failed.Value.StatusCode }
        $text = ''
        if ($_.ErrorDetails -and $_.ErrorDetails.Message) { $text = "$($_.ErrorDetails.Message)" }
        return New-Object PSObject -Property @{ Status = $status; Body = $text }
    }
}

# Graph's error message in an answer, else its HTTP status.
function Get-GraphMessage($Answer) {
    try {
        $message = ($Answer.Body | ConvertFrom-Json).error.message
        if ($message) { return "$message" }
    } catch {
        $message = $null
    }
    return "HTTP $($Answer.Status)"
}

# The answer says the principal (or another object it names) is not known to this replica.
function Test-NotReplicatedYet($Answer) {
    if ($Answer.Status -eq 404) { return $true }
    return ($Answer.Status -eq 400 -and
        $Answer.Body -match 'not a valid reference update|does not exist|Request_ResourceNotFound')
}

# 429, 5xx or not reachable: Graph asks to wait.
function Test-Transient($Answer) {
    return ($Answer.Status -eq 429 -or $Answer.Status -eq 0 -or ($Answer.Status -ge 500 -and $Answer.Status -le 599))
}

function Stop-NoRights([string] $What, $Answer) {
    Stop-Hook ("Microsoft Graph refused to $What (HTTP 403: $(Get-GraphMessage $Answer)). The account azd signed in " +
        'with may create the app registration but not grant application permissions: that takes Privileged Role ' +
        'Administrator (or Global Administrator) in Entra ID, or AppRoleAssignment.ReadWrite.All and ' +
        "Application.Read.All for a service principal. Run 'azd provision' again as such an account, or have an " +
        "administrator grant admin consent for app $appId (Entra ID > App registrations > API permissions > Grant " +
        'admin consent).')
}

function Update-Token {
    $script:token = Get-GraphToken
    $script:why = 'the token was refused (HTTP 401); fetched a new one'
}

# A GET before the grants: $true when it answered 200; $false (with $why) when Graph asks to wait.
function Test-Readable([string] $Path, [string] $What) {
    $answer = Invoke-Graph 'GET' $Path ''
    $script:lastAnswer = $answer
    if ($answer.Status -eq 200) { return $true }
    if ($answer.Status -eq 404) {
        $script:why = "$What is not readable yet (HTTP 404)"
    } elseif ($answer.Status -eq 401) {
        Update-Token
    } elseif ($answer.Status -eq 403) {
        Stop-NoRights "read $What" $answer
    } elseif (Test-Transient $answer) {
        $script:why = "Microsoft Graph answered HTTP $($answer.Status)"
    } else {
        Stop-Hook "unexpected HTTP $($answer.Status) reading $($What): $(Get-GraphMessage $answer)"
    }
    return $false
}

$script:readable = $false
$script:why = ''

# One try: $true when every role is granted, $false (with $why) when Graph does not know the principal yet or asks to
# wait.
function Invoke-Attempt {
    if (-not $script:readable) {
        if (-not (Test-Readable "/servicePrincipals/$principal`?`$select=id" 'the service principal')) { return $false }
        $listPath = "/servicePrincipals/$principal/appRoleAssignments`?`$select=id,appRoleId,resourceId"
        if (-not (Test-Readable $listPath "the service principal's assignments")) { return $false }
        $assignments = @(($script:lastAnswer.Body | ConvertFrom-Json).value)
        $script:readable = $true
        foreach ($role in $roles) {
            $found = @($assignments | Where-Object { "$($_.appRoleId)" -eq $role.Id -and "$($_.resourceId)" -eq $resource })
            if ($found.Count -gt 0) {
                $role.Granted = $true
                Write-Step "$($role.Name) is already granted"
            }
        }
    }
    foreach ($role in $roles) {
        if ($role.Granted) { continue }
        $body = "{`"principalId`":`"$principal`",`"resourceId`":`"$resource`",`"appRoleId`":`"$($role.Id)`"}"
        $answer = Invoke-Graph 'POST' "/servicePrincipals/$principal/appRoleAssignments" $body
        if ($answer.Status -eq 201 -or $answer.Status -eq 200) {
            Write-Step "granted $($role.Name) (admin consent) to app $appId"
        } elseif ($answer.Status -eq 409 -or ($answer.Status -eq 400 -and $answer.Body -match 'already exists')) {
            Write-Step "$($role.Name) is already granted"
        } elseif (Test-NotReplicatedYet $answer) {
            $script:why = ("granting $($role.Name) reached a replica that does not know the principal yet " +
                "($(Get-GraphMessage $answer))")
            return $false
        } elseif ($answer.Status -eq 401) {
            Update-Token
            return $false
        } elseif ($answer.Status -eq 403) {
            Stop-NoRights "grant $($role.Name)" $answer
        } elseif (Test-Transient $answer) {
            $script:why = "Microsoft Graph answered HTTP $($answer.Status)"
            return $false
        } else {
            Stop-Hook "could not grant $($role.Name) to app $($appId): HTTP $($answer.Status), $(Get-GraphMessage $answer)"
        }
        $role.Granted = $true
    }
    return $true
}

$script:token = Get-GraphToken
$clock = [Diagnostics.Stopwatch]::StartNew()
$skipped = 0
$delay = 5
Write-Step ("granting $roleNames on Microsoft Graph to app $appId (service principal $principal); waiting up to " +
    "$($limit)s for it to be readable")
while (-not (Invoke-Attempt)) {
    $elapsed = [int] $clock.Elapsed.TotalSeconds + $skipped
    if ($elapsed -ge $limit) {
        Stop-Hook ("after $($elapsed)s Microsoft Graph still does not let the grant through: $($script:why). Entra ID " +
            'usually replicates a new service principal within minutes, rarely later. Nothing is wrong with the ' +
            "template: run 'azd provision' again in a few minutes (it finds the app registration again, and this hook " +
            "grants what is still missing), or wait longer with 'azd env set APP_ROLE_GRANT_WAIT_SECONDS 1200'.")
    }
    $waitFor = [Math]::Min($delay, $limit - $elapsed)  # the last try falls on the bound
    Write-Step "$($script:why); next try in $($waitFor)s ($($elapsed)s of $($limit)s)"
    if ($virtualClock) { $skipped += $waitFor } else { Start-Sleep -Seconds $waitFor }
    $delay = [Math]::Min($delay * 2, 30)
}
Write-Step "done: app $appId holds $roleNames on Microsoft Graph"
