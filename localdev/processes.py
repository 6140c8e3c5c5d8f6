"""Stopping a child process the local world started (Azurite, the emulator in its own process)."""
from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM, so the process can close its servers and write its data out; SIGKILL if it has not exited within
    ``timeout`` seconds. Nothing to do when it has already exited."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
