<#
.SYNOPSIS
    Lets the Teams Meeting Broker write the calendars of one group of mailboxes, and no others (Exchange Online RBAC
    for Applications), for calendar-backed meetings.

.DESCRIPTION
    Calendar-backed meetings (CALENDAR_MODE=enabled) are Outlook events the broker creates in the organizer's calendar;
    Exchange sends the invitations. Microsoft Graph needs the application permission Calendars.ReadWrite for that. Granted
    in Entra ID, that permission reaches every mailbox in the tenant. This script grants it through Exchange Online
    instead, scoped to the members of one mail-enabled security group (the organizers). Run it as an Exchange
    administrator (Organization Management) with the ExchangeOnlineManagement PowerShell module:

      1. creates the Exchange Online reference to the app's service principal (New-ServicePrincipal) if missing;
      2. creates the management scope -ScopeName: recipients who are members of -Group (New-ManagementScope), or checks
         that the existing scope has that filter;
      3. assigns the role "Application Calendars.ReadWrite" to the app on that scope (New-ManagementRoleAssignment);
      4. with -TestMailbox, shows what Exchange says the app may do in that mailbox (Test-ServicePrincipalAuthorization);
      5. looks in Entra ID (Azure CLI: az rest, signed in with az login as someone who may remove app role assignments,
         e.g. a Privileged Role Administrator) for a tenant-wide Calendars.ReadWrite app role assignment of the app and
         removes it: switching CALENDAR_ACCESS from tenantWide back to exchangeRbac leaves it in place (azd's
         postprovision hook, infra/hooks/grant-app-roles.*, only adds grants), and while it exists the scope limits
         nothing.
         -KeepTenantWideGrant only reports it; without the Azure CLI the script says what to check by hand.

    It is idempotent: a second run with the same arguments changes nothing and says so. Every change is printed; -WhatIf
    prints what would change and changes nothing.

    IMPORTANT: Exchange grants the union of both systems. The scope means nothing while Calendars.ReadWrite is also
    granted (admin-consented) in Entra ID: keep CALENDAR_ACCESS=exchangeRbac (the default of infra/main.bicep, which
    then neither declares nor grants it); step 5 removes a grant left from tenantWide or made by hand. Group membership changes and new
    assignments take effect once Exchange's permission cache refreshes (allow up to a couple of hours); until then
    the broker answers 403 calendar_access_denied for that organizer.

    Reference: https://learn.microsoft.com/exchange/permissions-exo/application-rbac

.PARAMETER AppId
    Application (client) id of the broker's app registration: `azd env get-value GRAPH_CLIENT_ID`.

.PARAMETER ServicePrincipalId
    Object id of the app's service principal (enterprise application): `azd env get-value GRAPH_SERVICE_PRINCIPAL_ID`.

.PARAMETER Group
    The mail-enabled security group whose members' calendars the broker may write (the organizers). Membership must be
    direct: Exchange does not expand nested groups for a management scope.

.PARAMETER ScopeName
    Name of the management scope to create or check. Default: Meetings-Broker-Organizers.

.PARAMETER AssignmentName
    Name of the role assignment. Default: Meetings-Broker-Calendars.

.PARAMETER TestMailbox
    A mailbox to check afterwards: Exchange tells whether the app's calendar role is in scope for it.

.PARAMETER KeepTenantWideGrant
    Report a tenant-wide Calendars.ReadWrite grant in Entra ID instead of removing it.

.EXAMPLE
    ./grant-calendar-scope.ps1 -AppId (azd env get-value GRAPH_CLIENT_ID) -ServicePrincipalId (azd env get-value GRAPH_SERVICE_PRINCIPAL_ID) -Group meeting-organizers@contoso.com -TestMailbox alice@contoso.com

.EXAMPLE
    ./grant-calendar-scope.ps1 -AppId 11111111-2222-3333-4444-555555555555 -ServicePrincipalId 66666666-7777-8888-9999-000000000000 -Group meeting-organizers@contoso.com -WhatIf

.NOTES
    Requires: Install-Module ExchangeOnlineManagement; Connect-ExchangeOnline (as an Exchange administrator). The script
    connects if no session is open.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')]
    [string] $AppId,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')]
    [string] $ServicePrincipalId,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string] $Group,

    [ValidateNotNullOrEmpty()]
    [string] $ScopeName = 'Meetings-Broker-Organizers',

    [ValidateLength(1, 64)]
    [string] $AssignmentName = 'Meetings-Broker-Calendars',

    [string] $TestMailbox,

    [switch] $KeepTenantWideGrant,

    [string] $DisplayName = 'Teams Meeting Broker'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$Role = 'Application Calendars.ReadWrite'
$script:changes = 0

function Write-Unchanged([string] $Message) { Write-Host "unchanged  $Message" }

# Runs $Action only when ShouldProcess agrees (-WhatIf prints what it would do), then reports the change.
function Invoke-Change([string] $Target, [string] $Operation, [scriptblock] $Action, [string] $Message) {
    if ($PSCmdlet.ShouldProcess($Target, $Operation)) {
        & $Action
        $script:changes++
        Write-Host "CHANGED    $Message" -ForegroundColor Green
    }
}

if (-not (Get-Module -ListAvailable -Name ExchangeOnlineManagement)) {
    throw 'The ExchangeOnlineManagement module is required: Install-Module ExchangeOnlineManagement -Scope CurrentUser'
}
Import-Module ExchangeOnlineManagement -ErrorAction Stop

# Reuse an open Exchange Online session; connect interactively otherwise.
try {
    $null = Get-OrganizationConfig -ErrorAction Stop
} catch {
    Write-Host 'Connecting to Exchange Online...'
    Connect-ExchangeOnline -ShowBanner:$false
}

$AppId = $AppId.ToLowerInvariant()
$ServicePrincipalId = $ServicePrincipalId.ToLowerInvariant()

# The group: a mail-enabled security group (a management scope filters on its distinguished name).
$groupObject = try { Get-DistributionGroup -Identity $Group -ErrorAction Stop } catch { $null }
if (-not $groupObject) {
    throw "No mail-enabled group '$Group'. Create one (New-DistributionGroup -Type Security) and add the organizers."
}
if ("$($groupObject.RecipientTypeDetails)" -ne 'MailUniversalSecurityGroup') {
    throw "'$Group' is a $($groupObject.RecipientTypeDetails); a management scope needs a mail-enabled security group."
}
$filter = "MemberOfGroup -eq '$($groupObject.DistinguishedName -replace "'", "''")'"

# 1. Exchange Online's reference to the service principal.
$principal = try { Get-ServicePrincipal -Identity $AppId -ErrorAction Stop } catch { $null }
if (-not $principal) {
    Invoke-Change $AppId "New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalId" {
        $null = New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalId -DisplayName $DisplayName
    } "Exchange Online service principal created for app $AppId"
} elseif ("$($principal.ObjectId)".ToLowerInvariant() -ne $ServicePrincipalId) {
    throw ("Exchange Online already knows app $AppId with object id $($principal.ObjectId), not $ServicePrincipalId. " +
        'Check -ServicePrincipalId; if the app was re-created, Remove-ServicePrincipal the stale reference first.')
} else {
    Write-Unchanged "Exchange Online service principal for app $AppId"
}

# 2. The management scope: the group's members.
$scope = try { Get-ManagementScope -Identity $ScopeName -ErrorAction Stop } catch { $null }
if (-not $scope) {
    Invoke-Change $ScopeName "New-ManagementScope -RecipientRestrictionFilter $filter" {
        $null = New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $filter
    } "management scope '$ScopeName' created: members of $($groupObject.PrimarySmtpAddress)"
} elseif ("$($scope.RecipientFilter)" -ne $filter) {
    throw ("Management scope '$ScopeName' exists with another filter ($($scope.RecipientFilter)). Choose another " +
        "-ScopeName, or change it yourself: Set-ManagementScope $ScopeName -RecipientRestrictionFilter `"$filter`"")
} else {
    Write-Unchanged "management scope '$ScopeName' (members of $($groupObject.PrimarySmtpAddress))"
}

# 3. The role, on that scope only.
$assignments = @(Get-ManagementRoleAssignment -Role $Role -ErrorAction SilentlyContinue |
    Where-Object { "$($_.RoleAssigneeName)" -in @($AppId, $ServicePrincipalId, "$($principal.Identity)") -or $_.Name -eq $AssignmentName })
$scoped = @($assignments | Where-Object { "$($_.CustomResourceScope)" -eq $ScopeName })
$wider = @($assignments | Where-Object { "$($_.CustomResourceScope)" -ne $ScopeName })
if ($scoped.Count -gt 0) {
    Write-Unchanged "'$Role' assigned to app $AppId on scope '$ScopeName'"
} else {
    Invoke-Change $AppId "New-ManagementRoleAssignment -Role '$Role' -CustomResourceScope $ScopeName" {
        $null = New-ManagementRoleAssignment -Name $AssignmentName -App $AppId -Role $Role -CustomResourceScope $ScopeName
    } "'$Role' assigned to app $AppId on scope '$ScopeName'"
}
foreach ($assignment in $wider) {
    Write-Warning ("assignment '$($assignment.Name)' also gives the app '$Role' on scope " +
        "'$($assignment.CustomResourceScope)'; remove it (Remove-ManagementRoleAssignment) if it is not meant to stay.")
}

# 5. (before the test, so that it shows the result) A tenant-wide grant in Entra ID makes the scope meaningless.
# Calendars.ReadWrite (application), Microsoft Graph's app role id: https://learn.microsoft.com/graph/permissions-reference#calendarsreadwrite
$CalendarsReadWriteRole = 'ef54d2bf-783f-4e0f-bca1-3210c0444d99'
$MicrosoftGraphAppId = '00000003-0000-0000-c000-000000000000'

function Get-TenantWideCalendarGrant {
    # The app's app role assignments in Entra ID that give it Calendars.ReadWrite on Microsoft Graph (none: @()).
    $graphUrl = "$(az cloud show --query endpoints.microsoftGraphResourceId -o tsv 2>$null)".TrimEnd('/')
    if ([string]::IsNullOrEmpty($graphUrl)) { $graphUrl = 'https://graph.microsoft.com' }
    $graphSp = az rest --method GET --url "$graphUrl/v1.0/servicePrincipals(appId='$MicrosoftGraphAppId')?`$select=id" 2>$null
    if ($LASTEXITCODE -ne 0) { throw 'az rest could not read Microsoft Graph''s service principal (az login?)' }
    $graphSpId = ($graphSp | Out-String | ConvertFrom-Json).id
    $answer = az rest --method GET --url "$graphUrl/v1.0/servicePrincipals/$ServicePrincipalId/appRoleAssignments" 2>$null
    if ($LASTEXITCODE -ne 0) { throw "az rest could not list the app role assignments of $ServicePrincipalId" }
    $found = @(($answer | Out-String | ConvertFrom-Json).value | Where-Object {
        "$($_.appRoleId)" -eq $CalendarsReadWriteRole -and "$($_.resourceId)" -eq "$graphSpId" })
    return @{ Url = $graphUrl; Assignments = $found }
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Warning ('Azure CLI (az) not found: check by hand that the app holds no Calendars.ReadWrite application ' +
        'permission in Entra ID (Enterprise applications > the app > Permissions); if it does, remove it.')
} else {
    $grant = Get-TenantWideCalendarGrant
    if ($grant.Assignments.Count -eq 0) {
        Write-Unchanged "no tenant-wide Calendars.ReadWrite grant in Entra ID for app $AppId"
    }
    foreach ($assignment in $grant.Assignments) {
        if ($KeepTenantWideGrant) {
            Write-Warning ("app $AppId holds Calendars.ReadWrite tenant-wide in Entra ID (assignment $($assignment.id)): " +
                'the Exchange scope limits nothing while it stays. Run again without -KeepTenantWideGrant to remove it.')
            continue
        }
        $url = "$($grant.Url)/v1.0/servicePrincipals/$ServicePrincipalId/appRoleAssignments/$($assignment.id)"
        Invoke-Change $AppId "remove the tenant-wide Calendars.ReadWrite app role assignment $($assignment.id) (Entra ID)" {
            $null = az rest --method DELETE --url $url
            if ($LASTEXITCODE -ne 0) { throw "az rest could not remove app role assignment $($assignment.id)" }
        } "tenant-wide Calendars.ReadWrite grant removed in Entra ID (assignment $($assignment.id)); the Exchange scope now decides"
    }
}

# 4. What Exchange says now (new assignments may take a while to show).
if ($TestMailbox) {
    Test-ServicePrincipalAuthorization -Identity $AppId -Resource $TestMailbox |
        Format-Table RoleName, GrantedPermissions, AllowedResourceScope, InScope -AutoSize
}

Write-Host ''
Write-Host ('Remember: a Calendars.ReadWrite grant in Entra ID (admin consent) overrides this scope. The broker''s ' +
    'azd provision grants none unless CALENDAR_ACCESS=tenantWide, and this script removes one it finds.')
if ($script:changes -gt 0) {
    Write-Host "$($script:changes) change(s) made. Exchange applies them once its permission cache refreshes (allow up to a couple of hours)."
} elseif ($WhatIfPreference) {
    Write-Host 'WhatIf: nothing was changed.'
} else {
    Write-Host 'Nothing to change: the app holds the calendar role on the group''s members only.'
}
