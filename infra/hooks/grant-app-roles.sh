#!/usr/bin/env bash
# azd postprovision hook (Linux, macOS): grant the app registration its Microsoft Graph application permissions (the
# app-role assignments, i.e. the admin consent) as soon as its new service principal can be read.
#
# Why not in infra/graph-app.bicep: Entra ID is eventually consistent. Right after the template creates the service
# principal, an appRoleAssignedTo in the same deployment can reach a replica that does not know the principal yet and
# fail ("Not a valid reference update", microsoftgraph/msgraph-bicep-types#193); a deployment can neither wait for that
# nor retry it, so the first `azd provision` failed now and then and had to be run again. This hook runs after every
# provision: it reads the service principal until Microsoft Graph answers 200 instead of 404, then lists the principal's
# app-role assignments and creates only the missing ones. A create that still reaches a replica without the principal is
# tried again within the same bound; one that answers "already exists" counts as done. Already-granted roles (every later
# provision) cost two requests. It never removes an assignment: a tenant-wide Calendars.ReadWrite grant left from
# CALENDAR_ACCESS=tenantWide is removed by infra/scripts/grant-calendar-scope.ps1.
#
# Reads the azd environment, outputs of infra/main.bicep: GRAPH_SERVICE_PRINCIPAL_ID (the app's service principal),
# GRAPH_CLIENT_ID (its app id, for the messages), GRAPH_APP_ROLES (the roles to grant, name=id pairs, comma-separated),
# MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID (Microsoft Graph's service principal, which defines the roles),
# MICROSOFT_GRAPH_ENDPOINT (Microsoft Graph of the cloud the template deployed to) and AZURE_TENANT_ID. Tunable with
# `azd env set`:
#   APP_ROLE_GRANT_WAIT_SECONDS  longest wait for the service principal before failing  (default 600)
# The pauses between tries grow 5, 10, 20, 30, 30, ... seconds. APP_ROLE_GRANT_VIRTUAL_CLOCK=1 (for tests only) makes a
# pause advance a virtual clock instead of sleeping.
# The token comes from `azd auth token` (the account azd provisioned with, which may grant application permissions: see
# README.md, Prerequisites); it is never printed.
set -euo pipefail

readonly GUID='^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'

HOOK=grant-app-roles
# shellcheck source=infra/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"  # say, fail, whole_seconds, azd_token

principal="${GRAPH_SERVICE_PRINCIPAL_ID:-}"
app_id="${GRAPH_CLIENT_ID:-}"
resource="${MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID:-}"
graph="${MICROSOFT_GRAPH_ENDPOINT:-}"
graph="${graph%/}"
tenant="${AZURE_TENANT_ID:-}"
limit="$(whole_seconds APP_ROLE_GRANT_WAIT_SECONDS "${APP_ROLE_GRANT_WAIT_SECONDS:-600}")"
virtual_clock="${APP_ROLE_GRANT_VIRTUAL_CLOCK:-}"

for name in GRAPH_SERVICE_PRINCIPAL_ID GRAPH_CLIENT_ID MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID MICROSOFT_GRAPH_ENDPOINT \
        GRAPH_APP_ROLES; do
    [[ -n "${!name:-}" ]] \
        || fail "$name is not in the azd environment; run 'azd provision' (it sets the template's outputs)."
done
[[ "$principal" =~ $GUID ]] || fail "GRAPH_SERVICE_PRINCIPAL_ID '$principal' is not an object id"
[[ "$resource" =~ $GUID ]] || fail "MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID '$resource' is not an object id"
[[ "$graph" =~ ^https?://[^/[:space:]]+$ ]] || fail "MICROSOFT_GRAPH_ENDPOINT '$graph' is not a Graph root URL"

role_names=()
role_ids=()
names=""  # for the messages: OnlineMeetings.ReadWrite.All, Calendars.ReadWrite
rest="$GRAPH_APP_ROLES,"
while [[ -n "$rest" ]]; do  # split on commas, keeping empty entries (read -a would drop a trailing one)
    pair="${rest%%,*}"
    rest="${rest#*,}"
    [[ "$pair" == *=* && "${pair#*=}" =~ $GUID ]] || fail "GRAPH_APP_ROLES holds '$pair', not name=app-role-id"
    role_names+=("${pair%%=*}")
    names="${names:+$names, }${pair%%=*}"
    role_ids+=("$(printf '%s' "${pair#*=}" | tr '[:upper:]' '[:lower:]')")
done

graph_token() { azd_token "$graph/.default" "Microsoft Graph" "azd provision" "$tenant"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
answer="$work/answer.json"

# call METHOD PATH [JSON]: Microsoft Graph v1.0; sets $status (000: not reachable) and leaves the body in $answer.
# The token goes to curl on stdin, never on its command line.
call() {
    local args=(--silent --show-error --output "$answer" --write-out '%{http_code}' --max-time 30 --config -
                --request "$1" --header 'Accept: application/json')
    [[ -z "${3:-}" ]] || args+=(--header 'Content-Type: application/json' --data "$3")
    : > "$answer"
    status="$(printf 'header = "Authorization: Bearer %s"\n' "$token" \
        | curl "${args[@]}" "$graph/v1.0$2" 2>/dev/null || true)"
    [[ "$status" =~ ^[0-9]{3}$ ]] || status="000"
}

graph_message() {  # Graph's error message in $answer, else its HTTP status
    local message
    message="$(sed -n 's/.*"message"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$answer" | head -n 1)"
    printf '%s' "${message:-HTTP $status}"
}

not_replicated_yet() {  # the answer says the principal (or another object it names) is not known to this replica
    [[ "$status" == 404 ]] \
        || { [[ "$status" == 400 ]] \
            && grep -Eqi 'not a valid reference update|does not exist|Request_ResourceNotFound' "$answer"; }
}

assigned() {  # role id: whether the listed assignments in $answer give the principal that role on Microsoft Graph
    local found  # counted, not grep -q: an early exit would break the pipe, and pipefail would read that as "no"
    found="$(tr '{}' '\n\n' < "$answer" \
        | grep -Ei "\"appRoleId\"[[:space:]]*:[[:space:]]*\"$1\"" \
        | grep -Eci "\"resourceId\"[[:space:]]*:[[:space:]]*\"$resource\"" || true)"
    (( ${found:-0} > 0 ))
}

no_rights() {
    fail "Microsoft Graph refused to $1 (HTTP 403: $(graph_message)). The account azd signed in with may create the app \
registration but not grant application permissions: that takes Privileged Role Administrator (or Global Administrator) \
in Entra ID, or AppRoleAssignment.ReadWrite.All and Application.Read.All for a service principal. Run 'azd provision' \
again as such an account, or have an administrator grant admin consent for app $app_id (Entra ID > App registrations > \
API permissions > Grant admin consent)."
}

refresh_token() {  # inside `until attempt` errexit is off: a failed fetch must still stop the hook
    token="$(graph_token)" || exit 1
    why="the token was refused (HTTP 401); fetched a new one"
}

# readable_now PATH WHAT: GET PATH; 0 when it answers 200 (the body in $answer), 1 (with $why) when Graph asks to wait.
readable_now() {
    call GET "$1"
    case "$status" in
        200) return 0 ;;
        404) why="$2 is not readable yet (HTTP 404)" ;;
        401) refresh_token ;;
        403) no_rights "read $2" ;;
        429 | 000 | 5??) why="Microsoft Graph answered HTTP $status" ;;
        *) fail "unexpected HTTP $status reading $2: $(graph_message)" ;;
    esac
    return 1
}

readable=0
granted=()  # per role: 1 once granted (or found granted)
why=""

# One try: 0 when every role is granted, 1 (with $why) when Graph does not know the principal yet or asks to wait.
attempt() {
    local index
    if (( ! readable )); then
        readable_now "/servicePrincipals/$principal?\$select=id" "the service principal" || return 1
        readable_now "/servicePrincipals/$principal/appRoleAssignments?\$select=id,appRoleId,resourceId" \
            "the service principal's assignments" || return 1
        readable=1
        for index in "${!role_ids[@]}"; do
            granted[index]=0
            if assigned "${role_ids[$index]}"; then
                granted[index]=1
                say "${role_names[$index]} is already granted"
            fi
        done
    fi
    for index in "${!role_ids[@]}"; do
        (( ! granted[index] )) || continue
        call POST "/servicePrincipals/$principal/appRoleAssignments" \
            "{\"principalId\":\"$principal\",\"resourceId\":\"$resource\",\"appRoleId\":\"${role_ids[$index]}\"}"
        if [[ "$status" == 201 || "$status" == 200 ]]; then
            say "granted ${role_names[$index]} (admin consent) to app $app_id"
        elif [[ "$status" == 409 ]] || { [[ "$status" == 400 ]] && grep -qi 'already exists' "$answer"; }; then
            say "${role_names[$index]} is already granted"
        elif not_replicated_yet; then
            why="granting ${role_names[$index]} reached a replica that does not know the principal yet ($(graph_message))"
            return 1
        elif [[ "$status" == 401 ]]; then
            refresh_token
            return 1
        elif [[ "$status" == 403 ]]; then
            no_rights "grant ${role_names[$index]}"
        elif [[ "$status" =~ ^(429|000|5..)$ ]]; then
            why="Microsoft Graph answered HTTP $status"
            return 1
        else
            fail "could not grant ${role_names[$index]} to app $app_id: HTTP $status, $(graph_message)"
        fi
        granted[index]=1
    done
    return 0
}

skipped=0
pause() {
    if [[ "$virtual_clock" == 1 ]]; then skipped=$((skipped + $1)); else sleep "$1"; fi
}

token="$(graph_token)"
start=$SECONDS
delay=5
say "granting $names on Microsoft Graph to app $app_id (service principal $principal);" \
    "waiting up to ${limit}s for it to be readable"
until attempt; do
    elapsed=$((SECONDS - start + skipped))
    if (( elapsed >= limit )); then
        fail "after ${elapsed}s Microsoft Graph still does not let the grant through: $why. Entra ID usually replicates \
a new service principal within minutes, rarely later. Nothing is wrong with the template: run 'azd provision' again in a \
few minutes (it finds the app registration again, and this hook grants what is still missing), or wait longer with \
'azd env set APP_ROLE_GRANT_WAIT_SECONDS 1200'."
    fi
    wait_for=$(( delay < limit - elapsed ? delay : limit - elapsed ))  # the last try falls on the bound
    say "$why; next try in ${wait_for}s (${elapsed}s of ${limit}s)"
    pause "$wait_for"
    delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
done
say "done: app $app_id holds $names on Microsoft Graph"
