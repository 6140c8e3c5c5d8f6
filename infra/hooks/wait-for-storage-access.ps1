<#
.SYNOPSIS
    azd predeploy hook (Windows): wait, up to a bound, until the storage role assignments of this environment work.

.DESCRIPTION
    The PowerShell twin of wait-for-storage-access.sh; both behave alike (tests/infra checks that they read the same
    settings and defaults). Runs on Windows PowerShell 5.1 as well as PowerShell 7 (azd falls back to 5.1 when pwsh is
    not installed): no PowerShell 7 syntax or parameter (tests/infra/test_powershell_compat.py).

    Why: the storage account has shared keys off, so everything reaches it with Entra ID roles, and a new role assignment
    takes a while (typically a minute, up to 10) to reach the storage data plane. On Flex Consumption, azd posts the
    package to the app's /api/publish endpoint and the platform writes it to the deployment container with the app's
    user-assigned identity; right after the first `azd provision` that write fails with 403
    (InaccessibleStorageException / BlobUploadFailedException) and `azd up` stops, although `azd deploy` a minute later
    succeeds. No API tells whether another principal's grant is effective yet, so this hook probes with the deploying
    principal's own read grant on the same container (infra/app/deployer-access.bicep, made in the same deployment as the
    identity's): it lists the container until the answer is 200 instead of 403, then leaves a short margin for the
    identity's grant when it had to wait at all. Already-effective grants (every later deploy) cost one request.

    Reads the azd environment: AZURE_STORAGE_BLOB_ENDPOINT, AZURE_DEPLOYMENT_CONTAINER_NAME and
    AZURE_DEPLOYER_PRINCIPAL_ID (outputs of infra/main.bicep; the last names the principal the read grant was made for,
    'none' for no grant). azd fills the principalId parameter from AZURE_PRINCIPAL_ID but does not keep that variable in
    a hook's environment, so it only counts when set by hand; an environment provisioned before the output existed takes
    the signed-in principal (the oid claim of the token this hook gets anyway). Tunable with `azd env set`:
      STORAGE_ACCESS_WAIT_SECONDS    longest wait before failing            (default 600)
      STORAGE_ACCESS_POLL_SECONDS    pause between probes                  (default 15)
      STORAGE_ACCESS_SETTLE_SECONDS  margin after a wait, for the identity  (default 30)
    The token comes from `azd auth token` (the account azd deploys with); it is never printed.
#>
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$StorageScope = 'https://storage.azure.com/.default'
$StorageApiVersion = '2021-12-02'

$HookName = 'wait-for-storage-access'
. (Join-Path $PSScriptRoot 'common.ps1')  # Write-Step, Stop-Hook, Get-WholeSeconds, Get-AzdToken

$endpoint = "$env:AZURE_STORAGE_BLOB_ENDPOINT"
$container = "$env:AZURE_DEPLOYMENT_CONTAINER_NAME"
$principal = "$env:AZURE_DEPLOYER_PRINCIPAL_ID"
if ([string]::IsNullOrEmpty($principal)) { $principal = "$env:AZURE_PRINCIPAL_ID" }
$limit = Get-WholeSeconds 'STORAGE_ACCESS_WAIT_SECONDS' '600'
$interval = Get-WholeSeconds 'STORAGE_ACCESS_POLL_SECONDS' '15'
$settle = Get-WholeSeconds 'STORAGE_ACCESS_SETTLE_SECONDS' '30'

if ([string]::IsNullOrEmpty($endpoint) -or [string]::IsNullOrEmpty($container)) {
    Write-Step ('AZURE_STORAGE_BLOB_ENDPOINT or AZURE_DEPLOYMENT_CONTAINER_NAME is not in the azd environment ' +
        '(not provisioned yet?); nothing to wait for.')
    exit 0
}
if ($principal -eq 'none') {
    Write-Step 'the template made no read grant for the deployer (no principal id at provision time); not waiting.'
    Write-Step "If the deploy fails with 403 (InaccessibleStorageException), run 'azd deploy' again in a few minutes."
    exit 0
}

function Get-StorageToken { return Get-AzdToken $StorageScope 'Azure Storage' 'azd deploy' '' }

# The oid claim of an access token (a JWT), empty when it cannot be read.
function Get-TokenObjectId([string] $Token) {
    try {
        $payload = $Token.Split('.')[1].Replace('-', '+').Replace('_', '/')
        $payload += '=' * ((4 - $payload.Length % 4) % 4)
        $claims = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($payload)) | ConvertFrom-Json
        $oid = $claims.PSObject.Properties['oid']
        if ($oid) { return "$($oid.Value)" }
    } catch {
        return ''
    }
    return ''
}

$containerUrl = "$($endpoint.TrimEnd('/'))/$container"
$probeUrl = "$($containerUrl)?restype=container&comp=list&maxresults=1"

# List Blobs, at most one: needs only the read grant. Returns the HTTP status, 0 when the account is not reachable.
# Windows PowerShell 5.1 has no -SkipHttpErrorCheck: an error status arrives as a WebException that carries the response
# (PowerShell 7: an HttpResponseException whose Response is an HttpResponseMessage); both give their StatusCode.
function Get-ProbeStatus([string] $Token) {
    try {
        $response = Invoke-WebRequest -Uri $probeUrl -Method Get -TimeoutSec 30 -UseBasicParsing `
            -Headers @{ 'Authorization' = "Bearer $Token"; 'x-ms-version' = $StorageApiVersion }
        return [int] $response.StatusCode
    } catch {
        $failed = $_.Exception.PSObject.Properties['Response']
        if ($failed -and $failed.Value) { return [int] $failed.Value.StatusCode }
        return 0
    }
}

$token = Get-StorageToken
# The read grant belongs to the principal that provisioned (AZURE_PRINCIPAL_ID). Someone else deploying has none, and
# would wait for nothing. (-ne compares case-insensitively.)
$signedIn = Get-TokenObjectId $token
if ([string]::IsNullOrEmpty($principal)) {
    # Provisioned before main.bicep told the principal: assume it was the one signed in.
    $principal = $signedIn
    if ([string]::IsNullOrEmpty($principal)) {
        Write-Step 'neither the environment nor the token names the deployer, so there is no read grant to probe with; not waiting.'
        Write-Step "If the deploy fails with 403 (InaccessibleStorageException), run 'azd deploy' again in a few minutes."
        exit 0
    }
    Write-Step "AZURE_DEPLOYER_PRINCIPAL_ID is not in the environment (run 'azd provision' to add it); probing as the signed-in principal"
}
if ($signedIn -and $signedIn -ne $principal) {
    Write-Step ("signed in as $signedIn, not as the principal that provisioned ($principal), so there is no read grant " +
        'to probe with; not waiting.')
    Write-Step "If the deploy fails with 403 (InaccessibleStorageException), run 'azd deploy' again in a few minutes."
    exit 0
}
$clock = [Diagnostics.Stopwatch]::StartNew()
$waited = $false
Write-Step "checking that the role assignments on $containerUrl are effective (up to $($limit)s)"
while ($true) {
    $code = Get-ProbeStatus $token
    $elapsed = [int] $clock.Elapsed.TotalSeconds
    if ($code -eq 200) {
        if ($waited) {
            Write-Step "effective after $($elapsed)s; waiting $($settle)s more for the app identity's grant made alongside it"
            Start-Sleep -Seconds $settle
        }
        Write-Step 'storage access works; deploying'
        exit 0
    } elseif ($code -eq 401) {
        # token expired or refused: fetch a fresh one and keep waiting
        $token = Get-StorageToken
    } elseif ($code -eq 404) {
        Stop-Hook "container $containerUrl does not exist; run 'azd provision' first."
    } elseif (-not ($code -eq 403 -or $code -eq 0 -or ($code -ge 500 -and $code -le 599))) {
        Stop-Hook "unexpected HTTP $code from $containerUrl; not waiting for it."
    }
    $shown = if ($code -eq 0) { '000' } else { "$code" }
    if ($elapsed -ge $limit) {
        Stop-Hook ("after $($elapsed)s $containerUrl still answers HTTP $shown. New role assignments usually apply " +
            'within 10 minutes, rarely later. Deploying now would fail with 403 (InaccessibleStorageException): ' +
            "run 'azd deploy' again in a few minutes, or wait longer with 'azd env set STORAGE_ACCESS_WAIT_SECONDS 1200'.")
    }
    $waited = $true
    Write-Step "HTTP $($shown): not effective yet; next check in $($interval)s ($($elapsed)s of $($limit)s)"
    Start-Sleep -Seconds $interval
}
