"""What the azd hooks talk to, stood in for on this machine: an `azd` on PATH that answers `azd auth token` like the real
one, an HTTP server on 127.0.0.1 for the service a hook calls, and the environment azd gives a hook."""
from __future__ import annotations

import base64
import contextlib
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest

FAKE_TOKEN = "eyFAKE.access.token-0123456789"

needs_bash_and_curl = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl")
needs_pwsh = pytest.mark.skipif(shutil.which("pwsh") is None, reason="PowerShell 7 (pwsh) is not installed here")


def jwt(claims: dict) -> str:
    """A token shaped like Entra ID's (header.payload.signature, base64url without padding); only the payload matters."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    return ".".join((part(b'{"typ":"JWT","alg":"none"}'), part(json.dumps(claims).encode()), part(b"signature")))


def write_fake_azd(tmp_path: Path) -> tuple[Path, Path]:
    """An `azd` that answers `azd auth token` like the real one (multi-line JSON) and appends its arguments to a file.
    FAKE_AZD_FAIL makes it fail as when signed out; FAKE_AZD_TOKEN replaces the token. Returns (bin folder, calls file)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "azd-calls"
    azd = bin_dir / "azd"
    azd.write_text(
        "#!/usr/bin/env bash\n"
        f"echo \"$*\" >> '{calls}'\n"
        "if [[ -n \"${FAKE_AZD_FAIL:-}\" ]]; then echo 'ERROR: not logged in, run `azd auth login`' >&2; exit 1; fi\n"
        "printf '{\\n  \"token\": \"%s\",\\n  \"expiresOn\": \"2030-01-01T00:00:00Z\"\\n}\\n' "
        f"\"${{FAKE_AZD_TOKEN:-{FAKE_TOKEN}}}\"\n",
        encoding="utf-8",
    )
    azd.chmod(0o755)
    return bin_dir, calls


def calls_of(calls: Path) -> list[str]:
    """The argument lines the fake azd was called with, in order."""
    return calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []


@contextlib.contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve the handler on a free port of 127.0.0.1 for the block; yields its root URL (no trailing slash)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def azd_environment(modules, **outputs: str) -> dict[str, str]:
    """What a hook gets from azd after `azd provision`: `azd env get-values` (the variables azd keeps: environment name,
    location, subscription) plus every output of main.bicep, `value-of-<name>` unless given here. Only outputs may be
    given: a hook must not depend on a value azd does not set. azd uses AZURE_PRINCIPAL_ID while it fills parameters but
    does not keep it, so it is not here."""
    declared = modules["main.bicep"].doc["outputs"]
    unknown = set(outputs) - set(declared)
    assert not unknown, f"not outputs of main.bicep, so azd would not give them to a hook: {sorted(unknown)}"
    values = {"AZURE_ENV_NAME": "broker-dev", "AZURE_LOCATION": "swedencentral",
              "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000"}
    for name in declared:
        values[name] = outputs.get(name, f"value-of-{name.lower()}")
    return values
