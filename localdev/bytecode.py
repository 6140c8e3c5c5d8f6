"""Compile the app's own modules to ``checked-hash`` bytecode before they are packaged (the read-only package cannot
write ``__pycache__``): localdev/README.md, "Bytecode in the package".

    python -m localdev.bytecode [ROOT]      # the azd prepackage hook runs this (infra/hooks/compile-bytecode.*)
"""
from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
from pathlib import Path

APP_FILES = ("function_app.py",)
APP_PACKAGES = ("shared",)
MODE = py_compile.PycInvalidationMode.CHECKED_HASH
RUNTIME = (3, 11)  # infra/app/function.bicep: runtime python 3.11


def compile_app(root: Path) -> bool:
    """Fresh bytecode for the app under ``root``; False when a module does not compile."""
    for package in APP_PACKAGES:
        for cache in sorted((root / package).rglob("__pycache__")):
            shutil.rmtree(cache)
    shutil.rmtree(root / "__pycache__", ignore_errors=True)
    ok = all(compileall.compile_file(root / name, quiet=1, invalidation_mode=MODE) for name in APP_FILES)
    return all(compileall.compile_dir(root / package, quiet=1, invalidation_mode=MODE)
               for package in APP_PACKAGES) and ok


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path.cwd()
    if not (root / "function_app.py").is_file():
        print(f"compile-bytecode: no function_app.py in {root}", file=sys.stderr)
        return 2
    if not compile_app(root):
        print("compile-bytecode: a module did not compile (see above)", file=sys.stderr)
        return 1
    tag = sys.implementation.cache_tag
    print(f"compile-bytecode: function_app.py and {', '.join(APP_PACKAGES)}/ compiled for {tag} (checked-hash)")
    if sys.version_info[:2] != RUNTIME:
        print(f"compile-bytecode: note: the app runs on Python {'.'.join(map(str, RUNTIME))} in Azure, which does not "
              f"use bytecode of Python {sys.version_info[0]}.{sys.version_info[1]}: run the hook with Python "
              f"{'.'.join(map(str, RUNTIME))} for the faster cold start", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
