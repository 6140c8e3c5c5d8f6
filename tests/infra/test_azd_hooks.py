"""azure.yaml: its hooks follow the azd schema, run on both platforms, and name files that exist; and the predeploy hook
waits for storage access the way its comments say.

Hook schema (Azure/azure-dev schemas/v1.0/azure.yaml.json, `hooks` and `definitions/hook`): command hooks are keyed by
`pre`/`post` + command; a hook has `shell` (sh | pwsh), `run`, `continueOnError`, `interactive`, and `posix` / `windows`
overrides of the same shape; when both overrides are given, `run`, `shell`, `continueOnError` and `interactive` may not
stand beside them. On Linux and macOS azd runs an `sh` hook's file directly, so its shebang picks the shell and the file
must be executable.

The behaviour tests run the bash hook against a stand-in for Blob Storage on 127.0.0.1 and a stand-in `azd` on PATH.
"""
from __future__ import annotations

import http.server
import os
import re
import subprocess

import pytest
import yaml

from tests.infra.stand_ins import (
    FAKE_TOKEN, azd_environment, calls_of, jwt, needs_bash_and_curl, needs_pwsh, serve,
)
from tests.infra.template import INFRA, REPO_ROOT

AZURE_YAML = REPO_ROOT / "azure.yaml"
COMMAND_HOOKS = frozenset(
    f"{when}{command}" for when in ("pre", "post")
    for command in ("provision", "deploy", "up", "down", "package", "publish", "restore", "infracreate", "infradelete")
)
HOOK_KEYS = frozenset({"shell", "run", "continueOnError", "interactive", "posix", "windows", "secrets"})
SCRIPT_KEYS = frozenset({"shell", "run", "continueOnError", "interactive", "secrets"})
HOOK_SCRIPT = INFRA / "hooks" / "wait-for-storage-access.sh"
HOOK_SCRIPT_PS = INFRA / "hooks" / "wait-for-storage-access.ps1"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(AZURE_YAML.read_text(encoding="utf-8"))


def test_every_hook_is_a_command_hook_with_a_script_for_each_platform(config):
    hooks = config.get("hooks") or {}
    assert hooks, "azure.yaml has no hooks"
    for name, hook in hooks.items():
        assert name in COMMAND_HOOKS, f"{name} is not an azd command hook"
        assert set(hook) <= HOOK_KEYS, f"{name}: unknown keys {set(hook) - HOOK_KEYS}"
        assert {"posix", "windows"} <= set(hook), f"{name}: needs both a posix and a windows script"
        beside = set(hook) & {"run", "shell", "continueOnError", "interactive"}
        assert not beside, f"{name}: {beside} may not stand beside posix and windows (azd schema)"
        for platform, shell, suffix in (("posix", "sh", ".sh"), ("windows", "pwsh", ".ps1")):
            script = hook[platform]
            assert set(script) <= SCRIPT_KEYS, f"{name}.{platform}: unknown keys {set(script) - SCRIPT_KEYS}"
            assert script["shell"] == shell, f"{name}.{platform}: shell must be {shell}"
            assert script["run"].endswith(suffix), f"{name}.{platform}: {script['run']} is not a {suffix} file"
            for flag in ("continueOnError", "interactive"):
                assert isinstance(script.get(flag, False), bool), f"{name}.{platform}.{flag}"


def test_every_hook_script_exists_and_posix_scripts_can_be_run_directly(config):
    for name, hook in (config.get("hooks") or {}).items():
        for platform in ("posix", "windows"):
            path = REPO_ROOT / hook[platform]["run"]
            assert path.is_file(), f"{name}.{platform}: {hook[platform]['run']} does not exist"
        posix = REPO_ROOT / hook["posix"]["run"]
        assert os.access(posix, os.X_OK), f"{posix.name} is not executable (azd runs it directly)"
        assert posix.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")


def test_the_first_azd_up_waits_for_storage_access_before_deploying(config):
    hook = config["hooks"]["predeploy"]
    assert hook["posix"]["run"] == "infra/hooks/wait-for-storage-access.sh"
    assert hook["windows"]["run"] == "infra/hooks/wait-for-storage-access.ps1"
    assert not hook["posix"].get("continueOnError") and not hook["windows"].get("continueOnError")


def test_azure_yaml_names_no_file_that_does_not_exist():
    text = AZURE_YAML.read_text(encoding="utf-8")
    without_urls = re.sub(r"https?://\S+", "", text)
    named = set(re.findall(r"[\w./-]+\.(?:md|sh|ps1|bicep|json|ya?ml|py|txt)\b", without_urls))
    assert named, "expected azure.yaml to name its scripts"
    missing = sorted(name for name in named if not (REPO_ROOT / name).exists())
    assert not missing, f"azure.yaml names files that do not exist: {missing}"


def test_the_hook_reads_outputs_main_bicep_provides(modules):
    outputs = modules["main.bicep"].doc["outputs"]
    for script in (HOOK_SCRIPT, HOOK_SCRIPT_PS):
        text = script.read_text(encoding="utf-8")
        for name in ("AZURE_STORAGE_BLOB_ENDPOINT", "AZURE_DEPLOYMENT_CONTAINER_NAME"):
            assert name in outputs and name in text, (script.name, name)
        assert "AZURE_DEPLOYER_PRINCIPAL_ID" in text
        assert re.search(r"azd_token|Get-AzdToken", text), script.name


def test_the_hooks_share_their_messages_settings_and_azd_token_from_one_file():
    """infra/hooks/common.sh (sourced) and common.ps1 (dot-sourced): `azd auth token` in one place a language."""
    for suffix, source, helper in ((".sh", 'source "$(dirname "${BASH_SOURCE[0]}")/common.sh"', "azd_token"),
                                   (".ps1", ". (Join-Path $PSScriptRoot 'common.ps1')", "Get-AzdToken")):
        common = (INFRA / "hooks" / f"common{suffix}").read_text(encoding="utf-8")
        assert "auth', 'token', '--output', 'json', '--scope'" in common or "auth token --output json --scope" in common
        for name in ("wait-for-storage-access", "grant-app-roles"):
            text = (INFRA / "hooks" / f"{name}{suffix}").read_text(encoding="utf-8")
            assert source in text and helper in text, f"{name}{suffix}"
            assert "auth token" not in text.replace("`azd auth token`", ""), f"{name}{suffix} calls azd itself"


def _tunables_bash(text: str) -> dict[str, str]:
    return dict(re.findall(r"\$\{([A-Z_]+_SECONDS):-(\d+)\}", text))


def _tunables_ps(text: str) -> dict[str, str]:
    return dict(re.findall(r"Get-WholeSeconds '([A-Z_]+_SECONDS)' '(\d+)'", text))


@pytest.mark.parametrize("name, expected", [
    ("wait-for-storage-access", {
        "STORAGE_ACCESS_WAIT_SECONDS": "600",
        "STORAGE_ACCESS_POLL_SECONDS": "15",
        "STORAGE_ACCESS_SETTLE_SECONDS": "30",
    }),
    ("grant-app-roles", {"APP_ROLE_GRANT_WAIT_SECONDS": "600"}),
])
def test_both_hook_scripts_take_the_same_settings_with_the_same_bounded_defaults(name, expected):
    bash = _tunables_bash((INFRA / "hooks" / f"{name}.sh").read_text(encoding="utf-8"))
    ps = _tunables_ps((INFRA / "hooks" / f"{name}.ps1").read_text(encoding="utf-8"))
    assert bash == ps == expected


# -- behaviour of the bash hook ---------------------------------------------------------------------------------------
CONTAINER = "app-package-test"
DEPLOYER = "11111111-1111-1111-1111-111111111111"


class _Blob(http.server.BaseHTTPRequestHandler):
    """Answers each GET with the next scripted status (the last one repeats) and records what it was asked."""

    statuses: list[int] = []
    seen: list[dict] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        status = self.statuses[min(len(self.seen) - 1, len(self.statuses) - 1)]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def blob():
    handler = type("Blob", (_Blob,), {"statuses": [200], "seen": []})
    with serve(handler) as url:
        yield handler, f"{url}/"


def _run(blob_url: str, fake_azd, **env_overrides) -> subprocess.CompletedProcess:
    bin_dir, _calls = fake_azd
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "AZURE_STORAGE_BLOB_ENDPOINT": blob_url,
        "AZURE_DEPLOYMENT_CONTAINER_NAME": CONTAINER,
        "AZURE_PRINCIPAL_ID": DEPLOYER,
        "STORAGE_ACCESS_POLL_SECONDS": "0",
        "STORAGE_ACCESS_SETTLE_SECONDS": "0",
    }
    env.update(env_overrides)
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run([str(HOOK_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)


def _calls(fake_azd) -> list[str]:
    return calls_of(fake_azd[1])


@needs_bash_and_curl
def test_it_waits_through_403s_until_the_grant_works_then_deploys(blob, fake_azd):
    handler, url = blob
    handler.statuses = [403, 403, 200]
    result = _run(url, fake_azd)
    assert result.returncode == 0, result.stderr
    assert len(handler.seen) == 3
    assert "HTTP 403: not effective yet" in result.stdout and "effective after" in result.stdout
    request = handler.seen[-1]
    assert request["path"] == f"/{CONTAINER}?restype=container&comp=list&maxresults=1"
    assert request["headers"]["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert request["headers"]["x-ms-version"]
    assert _calls(fake_azd) == ["auth token --output json --scope https://storage.azure.com/.default"]
    assert FAKE_TOKEN not in result.stdout + result.stderr


@needs_bash_and_curl
def test_it_costs_one_request_when_access_already_works(blob, fake_azd):
    handler, url = blob
    result = _run(url, fake_azd)
    assert result.returncode == 0, result.stderr
    assert len(handler.seen) == 1 and "effective after" not in result.stdout


@needs_bash_and_curl
def test_it_gives_up_at_the_bound_and_says_what_to_do(blob, fake_azd):
    handler, url = blob
    handler.statuses = [403]
    result = _run(url, fake_azd, STORAGE_ACCESS_WAIT_SECONDS="0")
    assert result.returncode == 1
    assert len(handler.seen) == 1
    assert "still answers HTTP 403" in result.stderr
    assert "run 'azd deploy' again" in result.stderr and "STORAGE_ACCESS_WAIT_SECONDS" in result.stderr


@needs_bash_and_curl
def test_an_expired_token_is_fetched_again(blob, fake_azd):
    handler, url = blob
    handler.statuses = [401, 200]
    result = _run(url, fake_azd)
    assert result.returncode == 0, result.stderr
    assert len(_calls(fake_azd)) == 2


@needs_bash_and_curl
def test_a_missing_container_fails_at_once(blob, fake_azd):
    handler, url = blob
    handler.statuses = [404]
    result = _run(url, fake_azd)
    assert result.returncode == 1 and len(handler.seen) == 1
    assert "does not exist" in result.stderr and "azd provision" in result.stderr


@needs_bash_and_curl
def test_an_unreachable_account_is_retried_until_the_bound(fake_azd):
    result = _run("http://127.0.0.1:9/", fake_azd, STORAGE_ACCESS_WAIT_SECONDS="0")  # discard port: refused
    assert result.returncode == 1
    assert "still answers HTTP 000" in result.stderr


@needs_bash_and_curl
def test_it_probes_when_signed_in_as_the_principal_that_provisioned(blob, fake_azd):
    handler, url = blob
    token = jwt({"oid": DEPLOYER.upper(), "aud": "https://storage.azure.com"})
    result = _run(url, fake_azd, FAKE_AZD_TOKEN=token)
    assert result.returncode == 0, result.stderr
    assert handler.seen[-1]["headers"]["Authorization"] == f"Bearer {token}"


@needs_bash_and_curl
def test_someone_else_deploying_has_no_grant_to_probe_with_so_it_does_not_wait(blob, fake_azd):
    handler, url = blob
    handler.statuses = [403]
    result = _run(url, fake_azd, FAKE_AZD_TOKEN=jwt({"oid": "22222222-2222-2222-2222-222222222222"}))
    assert result.returncode == 0, result.stderr
    assert handler.seen == []
    assert "not as the principal that provisioned" in result.stdout


@needs_bash_and_curl
def test_without_a_deployer_principal_it_does_not_probe(blob, fake_azd):
    """Neither the environment nor the token (not a readable JWT here) names the deployer."""
    handler, url = blob
    result = _run(url, fake_azd, AZURE_PRINCIPAL_ID="")
    assert result.returncode == 0 and handler.seen == []
    assert "run 'azd deploy' again" in result.stdout


@needs_bash_and_curl
def test_before_provisioning_there_is_nothing_to_wait_for(blob, fake_azd):
    handler, url = blob
    result = _run(url, fake_azd, AZURE_STORAGE_BLOB_ENDPOINT=None)
    assert result.returncode == 0 and handler.seen == []


@needs_bash_and_curl
def test_a_signed_out_azd_stops_the_deploy_with_the_login_hint(blob, fake_azd):
    handler, url = blob
    result = _run(url, fake_azd, FAKE_AZD_FAIL="1")
    assert result.returncode == 1 and handler.seen == []
    assert "azd auth login" in result.stderr


@needs_bash_and_curl
def test_a_bad_setting_is_refused(blob, fake_azd):
    _handler, url = blob
    result = _run(url, fake_azd, STORAGE_ACCESS_WAIT_SECONDS="ten minutes")
    assert result.returncode == 1 and "whole number of seconds" in result.stderr


@needs_pwsh
def test_the_windows_script_waits_through_403s_like_the_bash_one(blob, fake_azd, tmp_path):
    handler, url = blob
    handler.statuses = [403, 200]
    bin_dir, _calls_path = fake_azd
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", AZURE_STORAGE_BLOB_ENDPOINT=url,
               AZURE_DEPLOYMENT_CONTAINER_NAME=CONTAINER, AZURE_PRINCIPAL_ID="1",
               STORAGE_ACCESS_POLL_SECONDS="0", STORAGE_ACCESS_SETTLE_SECONDS="0")
    result = subprocess.run(["pwsh", "-NoProfile", "-File", str(HOOK_SCRIPT_PS)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(handler.seen) == 2
    assert handler.seen[-1]["headers"]["Authorization"] == f"Bearer {FAKE_TOKEN}"


def test_azd_itself_enforces_the_version_the_template_needs(config):
    """azure.yaml `requiredVersions.azd` (a semver range): azd refuses to load the project outside it."""
    assert config.get("requiredVersions", {}).get("azd") == ">= 1.17.0"
    assert set(config["requiredVersions"]) <= {"azd", "bicep", "extensions"}


# -- the hook with exactly the environment azd gives it -----------------------------------------------------------------
def _azd_environment(modules, blob_url: str, deployer: str) -> dict[str, str]:
    return azd_environment(modules, AZURE_STORAGE_BLOB_ENDPOINT=blob_url, AZURE_DEPLOYMENT_CONTAINER_NAME=CONTAINER,
                           AZURE_DEPLOYER_PRINCIPAL_ID=deployer)


def _run_with(env: dict[str, str], fake_azd) -> subprocess.CompletedProcess:
    bin_dir, _calls = fake_azd
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STORAGE_ACCESS_POLL_SECONDS": "0",
           "STORAGE_ACCESS_SETTLE_SECONDS": "0"}
    return subprocess.run([str(HOOK_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)


def test_main_bicep_tells_the_hook_whom_the_read_grant_is_for(modules):
    outputs = modules["main.bicep"].doc["outputs"]
    assert "AZURE_DEPLOYER_PRINCIPAL_ID" in outputs
    assert "AZURE_PRINCIPAL_ID" not in outputs, "azd's own variable: an output of that name would shadow the signed-in user"
    text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert re.search(r"output AZURE_DEPLOYER_PRINCIPAL_ID string = empty\(principalId\) \? 'none' : principalId", text)
    for script in (HOOK_SCRIPT, HOOK_SCRIPT_PS):
        assert "AZURE_DEPLOYER_PRINCIPAL_ID" in script.read_text(encoding="utf-8"), script.name


@needs_bash_and_curl
def test_the_first_deploy_waits_with_exactly_the_environment_azd_gives_the_hook(blob, fake_azd, modules):
    handler, url = blob
    handler.statuses = [403, 403, 200]
    token = jwt({"oid": DEPLOYER, "aud": "https://storage.azure.com"})
    env = _azd_environment(modules, url, DEPLOYER)
    assert "AZURE_PRINCIPAL_ID" not in env
    result = _run_with({**env, "FAKE_AZD_TOKEN": token}, fake_azd)
    assert result.returncode == 0, result.stderr
    assert len(handler.seen) == 3 and "effective after" in result.stdout
    assert token not in result.stdout + result.stderr


@needs_bash_and_curl
def test_an_environment_provisioned_before_the_output_probes_as_the_signed_in_principal(blob, fake_azd, modules):
    handler, url = blob
    handler.statuses = [403, 200]
    env = _azd_environment(modules, url, DEPLOYER)
    del env["AZURE_DEPLOYER_PRINCIPAL_ID"]
    result = _run_with({**env, "FAKE_AZD_TOKEN": jwt({"oid": DEPLOYER})}, fake_azd)
    assert result.returncode == 0, result.stderr
    assert len(handler.seen) == 2 and "probing as the signed-in principal" in result.stdout


@needs_bash_and_curl
def test_a_template_without_a_deployer_grant_does_not_wait(blob, fake_azd, modules):
    handler, url = blob
    result = _run_with(_azd_environment(modules, url, "none"), fake_azd)
    assert result.returncode == 0 and handler.seen == [] and _calls(fake_azd) == []
    assert "run 'azd deploy' again" in result.stdout
