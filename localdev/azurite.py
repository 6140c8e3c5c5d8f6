"""Start and stop Azurite (the npm storage emulator) on free loopback ports.

Azurite is started with port 0 for each service and reports the ports it bound on stdout, so parallel test runs
never fight over 10000-10002. Telemetry is always disabled: nothing here may call out of the machine.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from .processes import stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_NAME = "devstoreaccount1"
# The documented, public Azurite development key (not a secret): https://learn.microsoft.com/azure/storage/common/storage-use-azurite
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at http://127\.0\.0\.1:(\d+)")


class AzuriteError(RuntimeError):
    """Azurite could not be found or did not start."""


def azurite_executable() -> str:
    """The repo's pinned Azurite (npm ci), else one on PATH."""
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if not found:
        raise AzuriteError("azurite is not installed: run `npm ci` in the repository root")
    return found


@dataclass
class Azurite:
    """A running Azurite process; use as a context manager or call start()/stop()."""

    location: Path | None = None  # None: in-memory persistence
    startup_timeout: float = 60.0

    def __post_init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}

    def start(self, *, same_ports: bool = False) -> "Azurite":
        """Start Azurite on free ports; ``same_ports``: on the ports of the previous start (after ``stop()``), so
        that connection strings handed out before stay valid. With ``location`` the data of the previous run is
        kept (Azurite writes it out when stopped)."""
        if self.running:
            raise AzuriteError("Azurite is already running")
        previous = dict(self.ports)
        if same_ports and len(previous) != 3:
            raise AzuriteError("same_ports needs an earlier start()")
        ports = previous if same_ports else {"blob": 0, "queue": 0, "table": 0}
        self.ports = {}
        args = [
            azurite_executable(),
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--blobHost", "127.0.0.1", "--blobPort", str(ports["blob"]),
            "--queueHost", "127.0.0.1", "--queuePort", str(ports["queue"]),
            "--tableHost", "127.0.0.1", "--tablePort", str(ports["table"]),
        ]
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
        self._process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=str(self.location or REPO_ROOT),
        )
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert self._process is not None and self._process.stdout is not None
            for line in self._process.stdout:
                if len(lines) < 200:
                    lines.append(line.rstrip())
                match = _LISTENING.search(line)
                if match:
                    self.ports[match.group(1).lower()] = int(match.group(2))
                    if len(self.ports) == 3:
                        ready.set()

        threading.Thread(target=read, name="azurite-stdout", daemon=True).start()
        if not ready.wait(self.startup_timeout):
            self.stop()
            if same_ports:
                self.ports = previous
            raise AzuriteError("Azurite did not start: " + " | ".join(lines[-10:]))
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop Azurite (SIGTERM: it closes its servers and, with ``location``, writes its data out). The ports are
        remembered for ``start(same_ports=True)``."""
        stop_process(self._process)
        self._process = None

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def endpoint(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.endpoint('blob')};"
            f"QueueEndpoint={self.endpoint('queue')};"
            f"TableEndpoint={self.endpoint('table')};"
        )
