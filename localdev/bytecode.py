"""Compile the app's own modules to bytecode before they are packaged.

    python -m localdev.bytecode [ROOT]      # the azd prepackage hook runs this (infra/hooks/compile-bytecode.*)

A Flex Consumption app runs from its deployment package, mounted read-only, so Python cannot write ``__pycache__``
beside the code: without bytecode in the package every new instance compiles every module of the app again before
its first request. The dependencies are compiled already (pip compiles what it installs, also in the remote build);
this compiles ``function_app.py`` and ``shared/``, after removing any earlier ``__pycache__`` there.
https://learn.microsoft.com/azure/azure-functions/run-functions-from-deployment-package

The files are ``checked-hash`` pycs (PEP 552): valid whatever times the zip gives the files, and never used for a
source they were not compiled from (Python compares a hash of the source first). Only an interpreter of the same
version uses them (``__pycache__/*.cpython-311.pyc``): compiled by another Python they are ignored, which loses the
gain and nothing else. https://docs.python.org/3/library/compileall.html
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
