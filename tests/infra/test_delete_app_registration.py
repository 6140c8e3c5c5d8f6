"""infra/scripts/delete-app-registration.sh: a permanent delete (the soft delete alone keeps the uniqueName taken),
run against a stand-in `az` that records its calls."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.infra.template import INFRA

SCRIPT = INFRA / "scripts" / "delete-app-registration.sh"
APP_ID = "11111111-2222-3333-4444-555555555555"
OBJECT_ID = "99999999-8888-7777-6666-555555555555"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _run(tmp_path, *args: str, show: str = OBJECT_ID, deleted: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "az-calls"
    (bin_dir / "az").write_text(
        "#!/usr/bin/env bash\n"
        f"echo \"$*\" >> '{calls}'\n"
        "case \"$1 $2\" in\n"
        "  'cloud show') echo 'https://graph.microsoft.com/' ;;\n"
        f"  'ad app') if [[ $3 == show ]]; then [[ -n '{show}' ]] && echo '{show}' || exit 3; fi ;;\n"
        f"  'rest --method') if [[ $3 == GET ]]; then echo '{deleted or 'None'}'; fi ;;\n"
        "esac\n", encoding="utf-8")
    (bin_dir / "az").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_it_deletes_then_purges_the_deleted_item(tmp_path):
    result, calls = _run(tmp_path, APP_ID)
    assert result.returncode == 0, result.stderr
    assert f"ad app delete --id {APP_ID}" in calls
    assert calls[-1] == f"rest --method DELETE --url https://graph.microsoft.com/v1.0/directory/deletedItems/{OBJECT_ID}"
    assert calls.index(f"ad app delete --id {APP_ID}") < len(calls) - 1, "soft delete first, then the purge"


def test_a_registration_already_soft_deleted_is_purged(tmp_path):
    result, calls = _run(tmp_path, APP_ID, show="", deleted=OBJECT_ID)
    assert result.returncode == 0, result.stderr
    assert not any(call.startswith("ad app delete") for call in calls)
    assert calls[-1].endswith(f"/directory/deletedItems/{OBJECT_ID}") and "DELETE" in calls[-1]


def test_what_if_deletes_nothing(tmp_path):
    result, calls = _run(tmp_path, "--what-if", APP_ID)
    assert result.returncode == 0 and "would delete" in result.stdout
    assert not any("delete" in call.lower() for call in calls)


def test_nothing_to_delete_is_said(tmp_path):
    result, calls = _run(tmp_path, APP_ID, show="", deleted="")
    assert result.returncode == 0 and "nothing to do" in result.stdout
    assert not any("DELETE" in call for call in calls)


def test_a_wrong_app_id_is_refused(tmp_path):
    result, calls = _run(tmp_path, "not-a-guid")
    assert result.returncode == 1 and "not an application id" in result.stderr and calls == []
