# Sourced by scripts/run and scripts/test: prepare a fresh checkout (Python 3.11 venv, dev requirements, Azurite via npm).
# Idempotent and quick when nothing changed. Environment: PYTHON (default python3.11).
# shellcheck shell=bash

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="$ROOT/.venv"

_setup_python() {
    local python="${PYTHON:-python3.11}"
    if [[ ! -x "$VENV/bin/python" ]]; then
        command -v "$python" >/dev/null || { echo "setup: $python not found (Python 3.11 is required)" >&2; return 1; }
        echo "setup: creating $VENV with $python" >&2
        "$python" -m venv "$VENV"
    fi
    # Reinstall only when requirements changed: a stamp holds the hash of both requirement files.
    local stamp="$VENV/.requirements-dev.sha256" wanted
    wanted="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
        echo "setup: installing requirements-dev.txt into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
        printf '%s\n' "$wanted" > "$stamp"
    fi
}

_setup_node() {
    command -v npm >/dev/null || { echo "setup: npm not found (Node 20 is required for Azurite)" >&2; return 1; }
    # Reinstall only when package-lock.json changed: a stamp in node_modules holds its hash (modification times
    # change with every checkout and copy).
    local stamp="$ROOT/node_modules/.package-lock.sha256" wanted
    wanted="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -x "$ROOT/node_modules/.bin/azurite" || "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
        echo "setup: npm ci (Azurite)" >&2
        (cd "$ROOT" && npm ci --no-audit --no-fund)
        printf '%s\n' "$wanted" > "$stamp"
    fi
}

setup_dev_environment() {
    _setup_python
    _setup_node
}
