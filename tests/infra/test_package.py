"""What the deployment package carries: the app and its runtime requirements, nothing of the development kit."""
from __future__ import annotations

import fnmatch
import subprocess

from tests.conftest import REPO_ROOT


def _ignored(path: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        bare = pattern.rstrip("/")
        if fnmatch.fnmatch(path, bare) or any(fnmatch.fnmatch(part, bare) for part in path.split("/")[:-1]) \
                or path.startswith(bare + "/") or fnmatch.fnmatch(path.split("/")[0], bare):
            return True
    return False


def deployed_files() -> list[str]:
    patterns = [line.strip() for line in (REPO_ROOT / ".funcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    return [path for path in tracked if not _ignored(path, patterns)]


def test_the_package_holds_the_app_and_nothing_of_the_development_kit():
    files = deployed_files()
    assert {"function_app.py", "host.json", "requirements.txt"} <= set(files)
    assert any(path.startswith("shared/") for path in files)
    leaked = [path for path in files
              if path.split("/")[0] in {"infra", "tests", "bench", "localdev", "scripts", "node_modules", ".ci"}
              or path in {"requirements-dev.txt", "package.json", "package-lock.json", "azure.yaml",
                          "local.settings.sample.json"}]
    assert leaked == []


def test_runtime_requirements_carry_no_test_or_dev_tool():
    runtime = (REPO_ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "hypothesis", "checkov", "pycep", "jsonschema", "mypy", "azurite"):
        assert tool not in runtime


def test_the_data_files_the_code_reads_are_deployed():
    """shared/data holds the Windows time zone names (CLDR) that calendar-backed meetings translate."""
    files = set(deployed_files())
    data = {path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "shared" / "domain" / "data").iterdir()}
    assert "shared/domain/data/windows-time-zones.json" in data
    assert data <= files
