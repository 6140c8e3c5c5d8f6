"""The prepackage hook: the package carries fresh bytecode of the app's own modules (a read-only package cannot have it
written on a cold start), and that bytecode can never stand in for a source it was not compiled from.

The hook runs against a copy of the app in a temporary folder, with the test's own interpreter as the project's
``.venv/bin/python``.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.infra.template import REPO_ROOT
from tests.infra.test_package import _ignored

HOOK = Path("infra") / "hooks" / "compile-bytecode.sh"
CHECKED_HASH = 0b11  # PEP 552: the flags word of a hash-based pyc whose source is checked


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(REPO_ROOT / "shared", root / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "function_app.py", root / "function_app.py")
    (root / "localdev").mkdir()
    shutil.copy2(REPO_ROOT / "localdev" / "bytecode.py", root / "localdev" / "bytecode.py")
    (root / "localdev" / "__init__.py").write_text("")
    (root / HOOK).parent.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / HOOK, root / HOOK)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    return root


def _run_hook(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / HOOK)], cwd=root.parent, capture_output=True, text=True, timeout=120)


def _pycs(root: Path) -> dict[Path, Path]:
    """Each app module and its bytecode file for this interpreter."""
    sources = [root / "function_app.py", *sorted((root / "shared").rglob("*.py"))]
    return {source: Path(importlib.util.cache_from_source(str(source))) for source in sources}


def test_azure_yaml_runs_the_hook_before_the_package_is_made():
    hook = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))["hooks"]["prepackage"]
    assert hook["posix"]["run"] == HOOK.as_posix()
    assert hook["windows"]["run"] == "infra/hooks/compile-bytecode.ps1"
    assert hook["posix"]["continueOnError"] is False  # a module that does not compile stops the deploy


def test_the_hook_compiles_every_app_module_to_checked_hash_bytecode_and_drops_stale_files(app):
    stale = app / "shared" / "__pycache__" / "gone.cpython-311.pyc"
    stale.parent.mkdir()
    stale.write_bytes(b"stale")
    done = _run_hook(app)
    assert done.returncode == 0, done.stderr
    assert "compiled for" in done.stdout
    assert not stale.exists()
    for source, pyc in _pycs(app).items():
        assert pyc.is_file(), f"no bytecode for {source.relative_to(app)}"
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == CHECKED_HASH, pyc.name


def test_a_source_changed_after_compiling_is_run_from_the_source_not_the_old_bytecode(app):
    assert _run_hook(app).returncode == 0
    values = app / "shared" / "domain" / "clock.py"
    values.write_text(values.read_text(encoding="utf-8") + "\nCHANGED_AFTER_PACKAGING = True\n", encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(app)}
    probe = subprocess.run([sys.executable, "-c", "import shared.domain.clock as v; print(v.CHANGED_AFTER_PACKAGING)"],
                           cwd=app, env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "True", probe.stderr


def test_the_app_imports_from_the_bytecode_without_compiling_any_of_its_modules(app):
    assert _run_hook(app).returncode == 0
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(app)}
    code = ("import importlib.machinery as m, sys\n"
            "compiled = []\n"
            "original = m.SourceFileLoader.source_to_code\n"
            "def source_to_code(self, data, path, **kw):\n"
            "    compiled.append(path)\n"
            "    return original(self, data, path, **kw)\n"
            "m.SourceFileLoader.source_to_code = source_to_code\n"
            "import function_app\n"
            "app = [p for p in compiled if p.startswith(sys.argv[1])]\n"
            "print(len([n for n in sys.modules if n.startswith('shared.')]), app)\n")
    probe = subprocess.run([sys.executable, "-c", code, str(app)], cwd=app, env=env, capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr
    modules, compiled = probe.stdout.split(" ", 1)
    assert int(modules) > 20 and compiled.strip() == "[]"


def test_a_module_that_does_not_compile_stops_the_deploy(app):
    (app / "shared" / "broken.py").write_text("def broken(:\n")
    done = _run_hook(app)
    assert done.returncode == 1
    assert "did not compile" in done.stderr


def test_the_hook_compiles_for_the_python_version_the_template_runs():
    from localdev.bytecode import RUNTIME

    bicep = (REPO_ROOT / "infra" / "app" / "function.bicep").read_text(encoding="utf-8")
    assert f"version: '{RUNTIME[0]}.{RUNTIME[1]}'" in bicep


def test_the_package_carries_the_apps_bytecode_and_no_other():
    patterns = [line.strip() for line in (REPO_ROOT / ".funcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert not _ignored("shared/__pycache__/values.cpython-311.pyc", patterns)
    assert not _ignored("__pycache__/function_app.cpython-311.pyc", patterns)
    assert _ignored("tests/__pycache__/conftest.cpython-311.pyc", patterns)
    assert _ignored("localdev/__pycache__/bytecode.cpython-311.pyc", patterns)
