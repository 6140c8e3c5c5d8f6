#!/usr/bin/env bash
# azd predeploy hook (Linux, macOS): wait, up to a bound, until the storage role assignments of this environment work.
#
# Why: the storage account has shared keys off, so everything reaches it with Entra ID roles, and a new role assignment
# takes a while (typically a minute, up to 10) to reach the storage data plane. On Flex Consumption, azd posts the
# package to the app's /api/publish endpoint and the platform writes it to the deployment container with the app's
# user-assigned identity; right after the first `azd provision` that write fails with 403
# (InaccessibleStorageException / BlobUploadFailedException) and `azd up` stops, although `azd deploy` a minute later
# succeeds. No API tells whether another principal's grant is effective yet, so this hook probes with the deploying
# principal's own read grant on the same container (infra/app/deployer-access.bicep, made in the same deployment as the
# identity's): it lists the container until the answer is 200 instead of 403, then leaves a short margin for the
# identity's grant when it had to wait at all. Already-effective grants (every later deploy) cost one request.
#
# Reads the azd environment: AZURE_STORAGE_BLOB_ENDPOINT, AZURE_DEPLOYMENT_CONTAINER_NAME and AZURE_DEPLOYER_PRINCIPAL_ID
# (outputs of infra/main.bicep; the last names the principal the read grant was made for, 'none' for no grant). azd
# fills the principalId parameter from AZURE_PRINCIPAL_ID but does not keep that variable in a hook's environment, so
# it only counts when set by hand; an environment provisioned before the output existed takes the signed-in principal
# (the oid claim of the token this hook gets anyway). Tunable with `azd env set`:
#   STORAGE_ACCESS_WAIT_SECONDS    longest wait before failing            (default 600)
#   STORAGE_ACCESS_POLL_SECONDS    pause between probes                  (default 15)
#   STORAGE_ACCESS_SETTLE_SECONDS  margin after a wait, for the identity  (default 30)
# The token comes from `azd auth token` (the account azd deploys with); it is never printed.
set -euo pipefail

readonly STORAGE_SCOPE="https://storage.azure.com/.default"
readonly STORAGE_API_VERSION="2021-12-02"

HOOK=wait-for-storage-access
# shellcheck source=infra/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"  # say, fail, whole_seconds, azd_token

endpoint="${AZURE_STORAGE_BLOB_ENDPOINT:-}"
container="${AZURE_DEPLOYMENT_CONTAINER_NAME:-}"
principal="${AZURE_DEPLOYER_PRINCIPAL_ID:-${AZURE_PRINCIPAL_ID:-}}"
limit="$(whole_seconds STORAGE_ACCESS_WAIT_SECONDS "${STORAGE_ACCESS_WAIT_SECONDS:-600}")"
interval="$(whole_seconds STORAGE_ACCESS_POLL_SECONDS "${STORAGE_ACCESS_POLL_SECONDS:-15}")"
settle="$(whole_seconds STORAGE_ACCESS_SETTLE_SECONDS "${STORAGE_ACCESS_SETTLE_SECONDS:-30}")"

if [[ -z "$endpoint" || -z "$container" ]]; then
    say "AZURE_STORAGE_BLOB_ENDPOINT or AZURE_DEPLOYMENT_CONTAINER_NAME is not in the azd environment" \
        "(not provisioned yet?); nothing to wait for."
    exit 0
fi
if [[ "$principal" == "none" ]]; then
    say "the template made no read grant for the deployer (no principal id at provision time); not waiting."
    say "If the deploy fails with 403 (InaccessibleStorageException), run 'azd deploy' again in a few minutes."
    exit 0
fi

storage_token() { azd_token "$STORAGE_SCOPE" "Azure Storage" "azd deploy"; }

token_object_id() {  # the oid claim of an access token (a JWT), empty when it cannot be read
    local payload
    payload="$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')"
    while (( ${#payload} % 4 )); do payload+="="; done
    printf '%s' "$payload" | base64 --decode 2>/dev/null \
        | sed -n 's/.*"oid"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1 || true
}

# List Blobs, at most one: needs only the read grant. The token goes to curl on stdin, never on its command line.
probe() {
    printf 'header = "Authorization: Bearer %s"\n' "$token" \
        | curl --silent --show-error --output /dev/null --write-out '%{http_code}' --max-time 30 --config - \
            --header "x-ms-version: $STORAGE_API_VERSION" \
            "${endpoint%/}/${container}?restype=container&comp=list&maxresults=1" 2>/dev/null \
        || true
}

token="$(storage_token)"
url_shown="${endpoint%/}/${container}"
# The read grant belongs to the principal that provisioned (AZURE_PRINCIPAL_ID). Someone else deploying has none, and
# would wait for nothing.
lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }  # bash 3.2 (macOS) has no ${var,,}
signed_in="$(token_object_id "$token")"
if [[ -z "$principal" ]]; then  # provisioned before main.bicep told the principal: assume it was the one signed in
    principal="$signed_in"
    if [[ -z "$principal" ]]; then
        say "neither the environment nor the token names the deployer, so there is no read grant to probe with; not waiting."
        say "If the deploy fails with 403 (InaccessibleStorageException), run 'azd deploy' again in a few minutes."
        exit 0
    fi
    say "AZURE_DEPLOYER_PRINCIPAL_ID is not in the environment (run 'azd provision' to add it); probing as the signed-in principal"
fi
if [[ -n "$signed_in" && "$(lower "$signed_in")" != "$(lower "$principal")" ]]; then
    say "signed in as $signed_in, not as the principal that provisioned ($principal), so there is no read grant to probe with; not waiting."
    say "If the deploy fails with 403 (InaccessibleStorageException), run 'azd deploy' again in a few minutes."
    exit 0
fi
start=$SECONDS
waited=0
say "checking that the role assignments on $url_shown are effective (up to ${limit}s)"
while :; do
    code="$(probe)"
    code="${code:-000}"
    elapsed=$((SECONDS - start))
    case "$code" in
        200)
            if (( waited )); then
                say "effective after ${elapsed}s; waiting ${settle}s more for the app identity's grant made alongside it"
                sleep "$settle"
            fi
            say "storage access works; deploying"
            exit 0
            ;;
        401)  # token expired or refused: fetch a fresh one and keep waiting
            token="$(storage_token)"
            ;;
        403 | 000 | 5??)  # not effective yet, or the new account is not reachable yet
            ;;
        404)
            fail "container $url_shown does not exist; run 'azd provision' first."
            ;;
        *)
            fail "unexpected HTTP $code from $url_shown; not waiting for it."
            ;;
    esac
    if (( elapsed >= limit )); then
        fail "after ${elapsed}s $url_shown still answers HTTP $code. New role assignments usually apply within 10 minutes, \
rarely later. Deploying now would fail with 403 (InaccessibleStorageException): run 'azd deploy' again in a few minutes, \
or wait longer with 'azd env set STORAGE_ACCESS_WAIT_SECONDS 1200'."
    fi
    waited=1
    say "HTTP $code: not effective yet; next check in ${interval}s (${elapsed}s of ${limit}s)"
    sleep "$interval"
done
