#!/usr/bin/env bash
# Delete the broker's Entra ID app registration for good: `az ad app delete` only moves it to the directory's deleted
# items (restorable for 30 days), where its uniqueName still counts, so a new environment of the same name then fails
# to create it. This deletes it, then deletes it permanently (Microsoft Graph DELETE /directory/deletedItems/{id}).
#
# Usage: infra/scripts/delete-app-registration.sh [--what-if] [APP_ID]
#   APP_ID   the application (client) id; default: `azd env get-value GRAPH_CLIENT_ID` (run it before `azd down`
#            removes the environment's values)
#   --what-if  say what would be deleted, delete nothing
# Needs the Azure CLI signed in (az login) as someone who may delete the application (its owner, or an Application
# Administrator).
set -euo pipefail

say() { printf 'delete-app-registration: %s\n' "$*"; }
fail() { printf 'delete-app-registration: ERROR: %s\n' "$*" >&2; exit 1; }

what_if=0
app_id=""
for argument in "$@"; do
    case "$argument" in
        --what-if) what_if=1 ;;
        -*) fail "unknown option $argument (usage: $0 [--what-if] [APP_ID])" ;;
        *) app_id="$argument" ;;
    esac
done
if [[ -z "$app_id" ]]; then
    app_id="$(azd env get-value GRAPH_CLIENT_ID 2>/dev/null)" \
        || fail "no APP_ID given and 'azd env get-value GRAPH_CLIENT_ID' has none"
fi
[[ "$app_id" =~ ^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$ ]] || fail "'$app_id' is not an application id (a GUID)"

graph="$(az cloud show --query endpoints.microsoftGraphResourceId -o tsv 2>/dev/null || true)"
graph="${graph%/}"
graph="${graph:-https://graph.microsoft.com}"

# The application's object id: what deletedItems knows it by. A registration deleted before is looked up there.
object_id="$(az ad app show --id "$app_id" --query id -o tsv 2>/dev/null || true)"
if [[ -n "$object_id" ]]; then
    if (( what_if )); then
        say "would delete app registration $app_id (object $object_id), then purge it from the deleted items"
        exit 0
    fi
    az ad app delete --id "$app_id" || fail "az ad app delete failed for $app_id"
    say "deleted app registration $app_id (object $object_id); purging it from the deleted items"
else
    object_id="$(az rest --method GET \
        --url "$graph/v1.0/directory/deletedItems/microsoft.graph.application?\$filter=appId eq '$app_id'&\$select=id" \
        --query 'value[0].id' -o tsv 2>/dev/null || true)"
    [[ -n "$object_id" && "$object_id" != "None" ]] || { say "no app registration $app_id, deleted or not: nothing to do"; exit 0; }
    if (( what_if )); then
        say "would purge the deleted app registration $app_id (object $object_id)"
        exit 0
    fi
fi
az rest --method DELETE --url "$graph/v1.0/directory/deletedItems/$object_id" \
    || fail "could not purge $object_id from the deleted items (it stays restorable; try again in a minute)"
say "app registration $app_id deleted permanently; an environment of the same name can create it again"
