"""The README's main-job command, as a user runs it: one process that starts everything and stops it on Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from localdev.settings_file import LOCAL_SETTINGS
from tests.conftest import REPO_ROOT


@pytest.mark.skipif(LOCAL_SETTINGS.exists(), reason="a local.settings.json may point the run at a real tenant")
def test_the_run_command_serves_the_app_and_stops_cleanly_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPH_", "ALLOWED_", "MEETING", "AzureWebJobs"))}
    env["LOCALDEV_STATE_DIR"] = str(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "localdev", "run", "--port", "0"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in process.stdout:  # blocks until the banner is printed: no polling, no sleeping
            banner.append(line)
            if "Ctrl-C to stop" in line:
                break
        assert any("Graph emulator: https://127.0.0.1:" in line for line in banner), "".join(banner)
        state = json.loads((tmp_path / "env.json").read_text())
        http = requests.Session()
        http.trust_env = False
        body = {"organizerId": "alice@contoso.example", "externalId": "run-command-1"}
        created = http.post(f"{state['baseUrl']}/api/meetings", json=body, timeout=30)
        assert created.status_code == 201, created.text
        assert http.post(f"{state['baseUrl']}/api/meetings", json=body, timeout=30).json()["id"] == created.json()["id"]
        assert http.get(f"{state['baseUrl']}/api/health", timeout=30).json() == {"status": "ok"}
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Stopping" in output
    assert not (tmp_path / "env.json").exists(), "the run removes what it wrote on exit"
    assert _processes_mentioning(str(tmp_path)) == [], "Azurite stopped with the run"


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
