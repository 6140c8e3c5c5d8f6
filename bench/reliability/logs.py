"""Phase 5 of ``bench.reliability``: log hygiene. Every log record of the whole run (the app, MSAL, the Azure SDKs,
requests/urllib3, the local host, the emulator) is written at DEBUG to one file; at the end the file is searched for
anything secret: JWT-shaped strings (every token and assertion the emulator issued is a JWT), the tokens and
assertions the emulator says it issued, the passcodes of its meetings, the client secret, the identity header value
and the Azurite account key."""
from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from localdev.azurite import ACCOUNT_KEY
from localdev.emulator import DEFAULT_CLIENT_SECRET

from .ledger import Ledger

SECTION = "5. Log hygiene"
# A JWT or a piece of one: base64url of a JSON object ("{" encodes to "ey"), 16+ characters.
JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]{16,}")
# A passcode on its own: letters and digits not inside a longer run of them (ids and tokens are longer runs).
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{4,15}(?![A-Za-z0-9])")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


class FailedInvocations(logging.Handler):
    """Counts the local host's 'Executed ... (Failed ...)' records per function: a function that raised."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "localdev.host" and isinstance(record.msg, str) and record.msg.startswith("Executed '"):
            if "(Failed" in record.msg and record.args:
                self.counts[str(record.args[0])] += 1  # type: ignore[index]


class LogCapture:
    """Root logger at DEBUG into ``path`` for the duration (restored after); warnings go to the log too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed = FailedInvocations()
        self._file: logging.Handler | None = None
        self._level = logging.WARNING

    def __enter__(self) -> "LogCapture":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = logging.FileHandler(self.path, mode="w", encoding="utf-8", errors="backslashreplace")
        self._file.setFormatter(logging.Formatter(FORMAT))
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self._file)
        root.addHandler(self.failed)
        logging.captureWarnings(True)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        for handler in (self._file, self.failed):
            if handler is not None:
                root.removeHandler(handler)
        if self._file is not None:
            self._file.close()
        root.setLevel(self._level)
        logging.captureWarnings(False)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()


def scan(path: Path, issued: Iterable[str], fixed: dict[str, str]) -> dict[str, list[str]]:
    """What of each kind of secret the log holds: {kind: [line numbers and a redacted hint]}."""
    issued = [value for value in issued if value]
    passcodes = {v for v in issued if len(v) < 16}
    tokens = {v for v in issued if len(v) >= 16}
    found: dict[str, list[str]] = {"JWT-shaped strings": [], "issued tokens and assertions": [], "passcodes": [],
                                   **{kind: [] for kind in fixed}}
    with path.open(encoding="utf-8", errors="replace") as log:
        for number, line in enumerate(log, 1):
            for match in JWT_SHAPED.finditer(line):
                found["JWT-shaped strings"].append(f"line {number}: {match.group()[:12]}... ({_where(line)})")
            if "eyJ" in line and any(token in line for token in tokens):
                found["issued tokens and assertions"].append(f"line {number} ({_where(line)})")
            if any(word in passcodes for word in WORD.findall(line)):
                found["passcodes"].append(f"line {number} ({_where(line)})")
            for kind, value in fixed.items():
                if value and value in line:
                    found[kind].append(f"line {number} ({_where(line)})")
    return found


def _where(line: str) -> str:
    """The logger name of a formatted line, without the message (which holds the secret)."""
    parts = line.split(" ", 4)
    return parts[3] if len(parts) > 3 else "?"


def check(ledger: Ledger, capture: LogCapture, issued: list[str], identity_header: str,
          failed: Counter[str]) -> None:
    capture.flush()
    with capture.path.open(encoding="utf-8", errors="replace") as log:
        lines = sum(1 for _ in log)
    ledger.note(SECTION, "log lines captured (DEBUG, every logger)", lines)
    ledger.note(SECTION, "secrets the emulator issued (tokens, assertions, passcodes)", len(issued))
    ledger.note(SECTION, "invocations that raised, whole run (the fault run's retries raise by design)",
                dict(failed) or "none")
    fixed = {"the client secret": DEFAULT_CLIENT_SECRET, "the identity header value": identity_header,
             "the Azurite account key": ACCOUNT_KEY}
    for kind, hits in scan(capture.path, issued, fixed).items():
        ledger.zero(SECTION, f"log lines with {kind}", hits)
