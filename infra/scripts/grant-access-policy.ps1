<#
.SYNOPSIS
    Lets the Teams Meeting Broker create online meetings on behalf of the given organizers (Teams application access policy).

.DESCRIPTION
    The app registration holds the Microsoft Graph application permission OnlineMeetings.ReadWrite.All (granted by
    infra/graph-app.bicep), but Microsoft Graph still answers 403 to every onlineMeetings call for a user who is not
    covered by an application access policy that names the app. This script, run by a Teams administrator with the
    MicrosoftTeams PowerShell module:

      1. creates the policy -PolicyName for -AppId if it does not exist, or adds -AppId to the existing policy;
      2. grants the policy to each of -Organizers, or to the whole tenant with -Global.

    It is idempotent: a second run with the same arguments changes nothing and says so. Every change is printed.

    A user holds one application access policy at a time, and a grant replaces the previous one. The script does not
    replace another policy held by an organizer (that would cut off whichever app that policy serves) unless -Force
    is given; instead it tells you to add the app id to that policy (-PolicyName <that policy>).

    IMPORTANT: a new or changed grant takes up to 30 minutes to apply. Until then Graph keeps answering 403 for that
    organizer. The broker retries such requests on its queue path for ACCESS_POLICY_GRACE_MINUTES (default 30); the
    HTTP path answers 403 at once.

    Reference: https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy

.PARAMETER AppId
    Application (client) id of the broker's app registration: the GRAPH_CLIENT_ID output of `azd up`
    (`azd env get-value GRAPH_CLIENT_ID`).

.PARAMETER PolicyName
    Name of the application access policy to create or extend. Default: Meetings-Broker.

.PARAMETER Organizers
    Users the app may create meetings for: object ids or UPNs. Keep this list in step with the ALLOWED_ORGANIZERS
    setting of the app (the app's own allowlist, checked before any Graph call).

.PARAMETER Global
    Grant the policy tenant-wide instead: it then covers every user who has no per-user application access policy.

.PARAMETER Force
    Replace another application access policy an organizer already holds.

.PARAMETER Description
    Description stored on a newly created policy.

.EXAMPLE
    ./grant-access-policy.ps1 -AppId 11111111-2222-3333-4444-555555555555 -Organizers alice@contoso.com,bob@contoso.com

.EXAMPLE
    ./grant-access-policy.ps1 -AppId 11111111-2222-3333-4444-555555555555 -Global -WhatIf

.NOTES
    Requires: Install-Module MicrosoftTeams; Connect-MicrosoftTeams (as Teams Administrator). The script connects
    if no session is open. Grants take up to 30 minutes to apply.
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Organizers')]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')]
    [string] $AppId,

    [ValidateNotNullOrEmpty()]
    [string] $PolicyName = 'Meetings-Broker',

    [Parameter(Mandatory = $true, ParameterSetName = 'Organizers')]
    [ValidateNotNullOrEmpty()]
    [string[]] $Organizers,

    [Parameter(Mandatory = $true, ParameterSetName = 'Global')]
    [switch] $Global,

    [Parameter(ParameterSetName = 'Organizers')]
    [switch] $Force,

    [string] $Description = 'Teams Meeting Broker: create online meetings on behalf of the granted users'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$script:changes = 0

function Write-Unchanged([string] $Message) { Write-Host "unchanged  $Message" }
function Write-Skipped([string] $Message) { Write-Warning "skipped    $Message" }

# Runs $Action only when ShouldProcess agrees (-WhatIf prints what it would do), then reports the change.
function Invoke-Change([string] $Target, [string] $Operation, [scriptblock] $Action, [string] $Message) {
    if ($PSCmdlet.ShouldProcess($Target, $Operation)) {
        & $Action
        $script:changes++
        Write-Host "CHANGED    $Message" -ForegroundColor Green
    }
}

function Get-PropertyValue($Object, [string] $Name) {
    $property = $Object.PSObject.Properties[$Name]
    if ($property) { return $property.Value }
    return $null
}

if (-not (Get-Module -ListAvailable -Name MicrosoftTeams)) {
    throw 'The MicrosoftTeams module is required: Install-Module MicrosoftTeams -Scope CurrentUser'
}
Import-Module MicrosoftTeams -ErrorAction Stop

# Reuse an open Teams session; connect interactively otherwise.
try {
    $null = Get-CsTenant -ErrorAction Stop
} catch {
    Write-Host 'Connecting to Microsoft Teams...'
    $null = Connect-MicrosoftTeams
}

$AppId = $AppId.ToLowerInvariant()

# 1. The policy names the app.
# A missing policy is reported as an error (terminating in some module versions): treat any error as "missing".
$policy = try { Get-CsApplicationAccessPolicy -Identity $PolicyName -ErrorAction Stop } catch { $null }
if (-not $policy) {
    Invoke-Change $PolicyName "New-CsApplicationAccessPolicy -AppIds $AppId" {
        $null = New-CsApplicationAccessPolicy -Identity $PolicyName -AppIds $AppId -Description $Description
    } "policy '$PolicyName' created for app $AppId"
} elseif (@(Get-PropertyValue $policy 'AppIds' | ForEach-Object { "$_".ToLowerInvariant() }) -contains $AppId) {
    Write-Unchanged "policy '$PolicyName' already names app $AppId"
} else {
    Invoke-Change $PolicyName "Set-CsApplicationAccessPolicy -AppIds @{Add=$AppId}" {
        $null = Set-CsApplicationAccessPolicy -Identity $PolicyName -AppIds @{ Add = $AppId }
    } "app $AppId added to existing policy '$PolicyName'"
}

# 2. The policy is granted.
if ($Global) {
    # Teams offers no simple read-back of the tenant-wide assignment; granting the same policy again is harmless.
    Invoke-Change 'tenant (Global)' "Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Global" {
        Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Global
    } "policy '$PolicyName' granted tenant-wide (users with a per-user policy keep theirs)"
} else {
    foreach ($organizer in $Organizers) {
        $user = try { Get-CsOnlineUser -Identity $organizer -ErrorAction Stop } catch { $null }
        if (-not $user) {
            Write-Skipped "${organizer}: no such Teams user"
            continue
        }
        $current = "$(Get-PropertyValue $user 'ApplicationAccessPolicy')"
        if ($current -eq $PolicyName -or $current -eq "Tag:$PolicyName") {
            Write-Unchanged "$organizer already holds '$PolicyName'"
            continue
        }
        if ($current) {
            $held = try { Get-CsApplicationAccessPolicy -Identity ($current -replace '^Tag:', '') -ErrorAction Stop } catch { $null }
            if ($held -and (@(Get-PropertyValue $held 'AppIds' | ForEach-Object { "$_".ToLowerInvariant() }) -contains $AppId)) {
                Write-Unchanged "$organizer holds '$current', which already names app $AppId"
                continue
            }
        }
        if ($current -and -not $Force) {
            Write-Skipped ("$organizer holds policy '$current'; a grant would replace it. Add the app to that policy " +
                "(-PolicyName '$current'), or re-run with -Force to replace it.")
            continue
        }
        $message = if ($current) { "$organizer now holds '$PolicyName' (replaced '$current')" } else { "$organizer granted '$PolicyName'" }
        Invoke-Change $organizer "Grant-CsApplicationAccessPolicy -PolicyName $PolicyName" {
            Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Identity $organizer
        } $message
    }
}

Write-Host ''
if ($script:changes -gt 0) {
    Write-Host "$($script:changes) change(s) made. Grants take up to 30 minutes to apply: until then Graph answers 403 for these organizers."
} elseif ($WhatIfPreference) {
    Write-Host 'WhatIf: nothing was changed.'
} else {
    Write-Host 'Nothing to change: the policy names the app and every organizer holds it.'
}
