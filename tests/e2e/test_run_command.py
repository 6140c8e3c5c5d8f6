"""The README's main-job command, as a user runs it: ``./scripts/run`` in a clone with nothing beside it, one process
that starts everything and stops it on Ctrl-C; with the caller's CA variables as they are (a corporate machine sets
REQUESTS_CA_BUNDLE), and once more with REQUESTS_CA_BUNDLE naming an unrelated CA. A result callback to a local
receiver works out of the box."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from localdev.certs import ensure_certs, environment_bundle
from localdev.receiver import CallbackReceiver
from localdev.settings_file import LOCAL_SETTINGS
from tests.conftest import REPO_ROOT


@pytest.mark.skipif(LOCAL_SETTINGS.exists(), reason="a local.settings.json may point the run at a real tenant")
@pytest.mark.parametrize("ca_variables", ["the callers", "an unrelated CA"])
def test_the_run_command_serves_the_app_from_a_bare_clone_and_stops_cleanly_on_ctrl_c(tmp_path, ca_variables):
    clone = _bare_clone(tmp_path / "empty" / "teams-meeting-broker")
    state = tmp_path / "state"
    # The caller's environment as it is, CA variables included; only the app's own settings are left out.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GRAPH_", "ALLOWED_", "MEETING", "AzureWebJobs", "VIRTUAL_ENV"))}
    if ca_variables == "an unrelated CA":
        env["REQUESTS_CA_BUNDLE"] = str(ensure_certs(tmp_path / "corporate-ca").ca_cert)
    env["LOCALDEV_STATE_DIR"] = str(state)
    process = subprocess.Popen(["./scripts/run", "--port", "0"], cwd=clone, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in process.stdout:  # blocks until the banner is printed: no polling, no sleeping
            banner.append(line)
            if "Ctrl-C to stop" in line:
                break
        assert any("Graph emulator: https://127.0.0.1:" in line for line in banner), "".join(banner)
        assert "Ctrl-C to stop" in banner[-1], "".join(banner)
        where = json.loads((state / "env.json").read_text())
        # The app trusts what the caller trusts, then the emulator's CA: one bundle under the state folder.
        bundle = Path(where["requestsCaBundle"])
        assert bundle.parent == state
        assert bundle.read_bytes().startswith(_pem(environment_bundle(env))), "the caller's CAs come first"
        assert bundle.read_bytes().endswith(_pem(Path(where["caBundle"]))), "then the emulator's"
        http = requests.Session()
        http.trust_env = False
        body = {"organizerId": "alice@contoso.example", "externalId": "run-command-1"}
        created = http.post(f"{where['baseUrl']}/api/meetings", json=body, timeout=30)
        assert created.status_code == 201, created.text
        repeat = http.post(f"{where['baseUrl']}/api/meetings", json=body, timeout=30)
        assert (repeat.status_code, repeat.json()["id"]) == (200, created.json()["id"])
        assert http.get(f"{where['baseUrl']}/api/health", timeout=30).json() == {"status": "ok"}
        # A result callback to a receiver on this machine: loopback is allowed in local runs, and the secret the
        # run made is in the state folder. The host's queue listener delivers it (no drain here).
        secret = (state / "callback-signing-secret").read_text().strip()
        with CallbackReceiver(secret) as receiver:
            hooked = http.post(f"{where['baseUrl']}/api/meetings", timeout=30, json={
                "organizerId": "alice@contoso.example", "externalId": "run-command-2", "callbackUrl": receiver.url()})
            assert hooked.status_code == 201, hooked.text
            assert receiver.wait_for(lambda received: len(received) >= 1, timeout=60), "no callback delivered"
            (delivery,) = receiver.received
            assert delivery.verified and json.loads(delivery.body)["externalId"] == "run-command-2"
        assert any("Result callbacks: to 127.0.0.1,::1" in line for line in banner), "".join(banner)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Stopping" in output
    assert not (state / "env.json").exists(), "the run removes what it wrote on exit"
    assert _processes_mentioning(str(state)) == [], "Azurite stopped with the run"


def _pem(path: Path) -> bytes:
    """The first certificate of a bundle, as the trust bundle writes it."""
    text = path.read_bytes()
    start = text.index(b"-----BEGIN CERTIFICATE-----")
    end = text.index(b"-----END CERTIFICATE-----", start) + len(b"-----END CERTIFICATE-----")
    return text[start:end].replace(b"\r\n", b"\n") + b"\n"


def _bare_clone(target: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored) alone in an empty folder, as `git clone` leaves them.
    The installed .venv and node_modules are linked in so the run's own set-up finds them current instead of
    installing again; modification times are kept, so npm's stamp stays newer than package-lock.json."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for installed in (".venv", "node_modules"):
        (target / installed).symlink_to(REPO_ROOT / installed, target_is_directory=True)
    return target


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if text.encode() in cmdline.read():
                        found.append(entry)
            except OSError:
                continue
    return found
