"""The SDK's own virtual environment and the processes run from it, for ``python -m bench.compare``.

``.venv-sdk`` (git-ignored, never deployed, never a runtime or test dependency) is created on first use with
``python -m venv`` and ``pip install`` of the pinned versions below, from the package index; a later run reuses it while
its pins file says the same. It runs the SDK side (``sdk_worker.py``) and renders the chart
(``chart.py``, matplotlib).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from localdev.certs import TRUST_BUNDLE_FILE, trust_bundle

from ..common import REPO_ROOT

VENV = REPO_ROOT / ".venv-sdk"
SDK_PINS = ("msgraph-sdk==1.65.0", "azure-identity==1.27.0", "azure-data-tables==12.7.0", "matplotlib==3.11.2")
WORKER = Path(__file__).with_name("sdk_worker.py")
CHART = Path(__file__).with_name("chart.py")


class VenvError(RuntimeError):
    """The SDK's virtual environment could not be made."""


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path = VENV, pins: tuple[str, ...] = SDK_PINS, log: IO[str] = sys.stderr) -> Path:
    """The venv's python, after creating the venv and installing ``pins`` when its pins file differs."""
    stamp = venv / "bench-pins.txt"
    wanted = "\n".join(pins) + "\n"
    python = venv_python(venv)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"compare-sdk: installing {', '.join(pins)} into {venv.name} (first use; about a minute)", file=log,
          flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        (venv / ".gitignore").write_text("*\n")
    pip_log = venv / "pip-install.log"
    with pip_log.open("w") as out:
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise VenvError(f"pip install {' '.join(pins)} failed (log: {pip_log})")
    stamp.write_text(wanted)
    return python


def child_env(ca_bundle: Path | str) -> dict[str, str]:
    """The environment of an SDK process: a CA bundle for azure-core's requests transport that trusts the emulator's
    CA in addition to what this environment trusts (written beside the CA), no proxy for loopback, nothing of the
    app's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["REQUESTS_CA_BUNDLE"] = str(trust_bundle(ca_bundle, Path(ca_bundle).parent / TRUST_BUNDLE_FILE))
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, ["127.0.0.1", "localhost", env.get("NO_PROXY")]))
    return env


class SdkWorker:
    """A long-lived SDK process driven over JSON lines (``sdk_worker.py serve``)."""

    def __init__(self, python: Path, config: dict[str, Any], ca_bundle: Path | str, stderr: IO[str]) -> None:
        self._process = subprocess.Popen([str(python), str(WORKER), "serve"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=stderr, text=True, env=child_env(ca_bundle),
                                         cwd=str(REPO_ROOT))
        self.ready = self._exchange(config)
        if not self.ready.get("ready"):
            raise RuntimeError(f"the SDK worker did not start: {self.ready}")

    @property
    def pid(self) -> int:
        return self._process.pid

    def _exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK worker ended (exit code {self._process.wait()}); see its log")
        return json.loads(line)

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        return self._exchange({"op": op, **fields})

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._process.stdin.flush()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=10)


def run_cold(command: list[str], config: dict[str, Any], env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    """Start ``command`` (a new process), hand it ``config`` on stdin and wait for its one JSON line: that line plus
    ``wall_s``, from before the process was spawned to the arrival of the line (the process's exit is not timed)."""
    errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty child cannot block on it
    began = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
                               env=env, cwd=str(REPO_ROOT))
    assert process.stdin is not None and process.stdout is not None
    watchdog = threading.Timer(timeout, process.kill)  # a child that hangs is ended: the run stays bounded
    watchdog.start()
    line, wall = "", 0.0
    try:
        process.stdin.write(json.dumps(config) + "\n")
        process.stdin.close()
        for candidate in process.stdout:
            if candidate.startswith("{"):
                line, wall = candidate, time.perf_counter() - began
                break
        process.stdout.read()
        process.wait()
    finally:
        watchdog.cancel()
    with errors:
        errors.seek(0)
        err = errors.read()
    if process.returncode != 0 or not line:
        raise RuntimeError(f"{' '.join(command[-2:])} failed ({process.returncode}): {err.strip()[-2000:]}")
    return {**json.loads(line), "wall_s": wall}


def render_chart(python: Path, results_json: Path, png: Path) -> None:
    """The PNG beside the results, drawn by matplotlib in the SDK's venv."""
    subprocess.run([str(python), str(CHART), str(results_json), str(png)], check=True, cwd=str(REPO_ROOT),
                   env={**os.environ, "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(python.parent.parent / "mplconfig")})


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int] | None:
    """(steal, total) jiffies of the whole machine since boot (Linux /proc/stat), or None. Steal is CPU time the
    hypervisor gave to other guests while this one wanted it: on a shared VM it slows everything at once."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)
