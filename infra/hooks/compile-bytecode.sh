#!/usr/bin/env bash
# azd prepackage hook (Linux, macOS): compile the app's own modules to bytecode, so that the package carries it.
#
# Why: Flex Consumption runs the app from its package, mounted read-only; Python cannot write __pycache__ there, so
# without bytecode in the package every new instance compiles function_app.py and shared/ before its first request.
# localdev/bytecode.py does the work (checked-hash pycs, ignored by any other Python version; see its docstring).
#
# Picks the project's .venv (made by ./scripts/test and ./scripts/run with Python 3.11), else python3.11, python3.
# Without any Python the package goes as before, without bytecode; a module that does not compile stops the deploy.
set -euo pipefail

cd "$(dirname "$0")/../.."
for candidate in .venv/bin/python python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then
        exec "$candidate" -m localdev.bytecode "$PWD"
    fi
done
printf 'compile-bytecode: no Python found; the package goes without bytecode\n' >&2
