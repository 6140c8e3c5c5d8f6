# Shared by the azd hooks in this folder (dot-sourced by them, not run): their messages, their settings, and the token of
# the account azd is signed in with. A hook sets $HookName, the prefix of its messages, before it dot-sources this file.
# Windows PowerShell 5.1 and PowerShell 7 alike (tests/infra/test_powershell_compat.py).

# Windows PowerShell 5.1 may offer only TLS 1.0 (older .NET Framework defaults), which Microsoft Graph and the storage
# account (TLS 1.2 minimum) refuse: add TLS 1.2 to what it offers. PowerShell 7's web cmdlets need nothing here.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

function Write-Step([string] $Message) { Write-Host "$($HookName): $Message" }
function Stop-Hook([string] $Message) {
    [Console]::Error.WriteLine("$($HookName): ERROR: $Message")
    exit 1
}

function Get-WholeSeconds([string] $Name, [string] $Default) {
    $value = [Environment]::GetEnvironmentVariable($Name)
    if ([string]::IsNullOrEmpty($value)) { $value = $Default }
    if ($value -notmatch '^[0-9]+$') { Stop-Hook "$Name must be a whole number of seconds, not '$value'" }
    return [int] $value
}

# An access token for $Scope ($Service names it in messages) from `azd auth token`, in $Tenant when given; stops with
# the hint to sign in and run the azd command $Again. Never printed.
function Get-AzdToken([string] $Scope, [string] $Service, [string] $Again, [string] $Tenant) {
    $arguments = @('auth', 'token', '--output', 'json', '--scope', $Scope)
    if ($Tenant) { $arguments += @('--tenant-id', $Tenant) }
    $json = & azd @arguments
    if ($LASTEXITCODE -ne 0) {
        Stop-Hook "azd could not get a token for $Service; sign in with 'azd auth login' and run '$Again' again."
    }
    $token = $null
    try {
        $field = ($json | Out-String | ConvertFrom-Json).PSObject.Properties['token']
        if ($field) { $token = "$($field.Value)" }
    } catch {
        $token = $null
    }
    if ([string]::IsNullOrEmpty($token)) {
        Stop-Hook "'azd auth token' answered without a token; sign in with 'azd auth login'."
    }
    return $token
}
