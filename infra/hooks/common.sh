# Shared by the azd hooks in this folder (sourced by them, not run): their messages, their settings, and the token of the
# account azd is signed in with. A hook sets HOOK, the prefix of its messages, before it sources this file.

say() { printf '%s: %s\n' "$HOOK" "$*"; }
fail() { printf '%s: ERROR: %s\n' "$HOOK" "$*" >&2; exit 1; }

whole_seconds() {  # name value: the value, or fail when it is not a whole number of seconds
    [[ "$2" =~ ^[0-9]+$ ]] || fail "$1 must be a whole number of seconds, not '$2'"
    printf '%s' "$2"
}

# azd_token SCOPE SERVICE AGAIN [TENANT]: an access token for SCOPE (SERVICE names it in messages) from `azd auth token`,
# in TENANT when given; fails with the hint to sign in and run the azd command AGAIN. Never printed.
azd_token() {
    local json token
    local args=(auth token --output json --scope "$1")
    [[ -z "${4:-}" ]] || args+=(--tenant-id "$4")
    json="$(azd "${args[@]}")" \
        || fail "azd could not get a token for $2; sign in with 'azd auth login' and run '$3' again."
    token="$(printf '%s\n' "$json" | sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)"
    [[ -n "$token" ]] || fail "'azd auth token' answered without a token; sign in with 'azd auth login'."
    printf '%s' "$token"
}
