"""Phase 4 of ``bench.reliability``: schemathesis against ``/api/openapi.json`` of the running host, and the checker
of answers against that document that phase 3 uses.

schemathesis runs from its own virtual environment, ``.venv-schemathesis`` (created on first use, like
``.venv-checkov``): it is never a runtime or test dependency of the app. Its checks: no 5xx server error
(``not_a_server_error``), and status codes, content types, headers and bodies as documented.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import jsonschema
import requests

from .ledger import Ledger
from .rig import Rig

SECTION = "4. schemathesis"
SCHEMATHESIS = "schemathesis==4.32.5"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance")


class Documented:
    """What the app's own OpenAPI document allows an answer to be."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self._validators: dict[tuple[str, str, str, str], jsonschema.Draft202012Validator] = {}

    def statuses(self, method: str, template: str) -> set[int]:
        return {int(code) for code in self.doc["paths"][template][method.lower()]["responses"] if code.isdigit()}

    def problems(self, method: str, template: str, answer: requests.Response) -> list[str]:
        """Why the answer is not what the document says (empty: it is)."""
        status = answer.status_code
        if status == 500:
            return ["500"]
        if status not in self.statuses(method, template):
            return [f"{status} is not documented for {method} {template}"]
        try:
            text = answer.content.decode("utf-8")
        except UnicodeDecodeError:
            return [f"{status}: the body is not UTF-8"]
        response = self._resolve(self.doc["paths"][template][method.lower()]["responses"][str(status)])
        content = response.get("content") or {}
        if not content:
            return []
        media = (answer.headers.get("content-type") or "").split(";")[0].strip()
        if media not in content:
            return [f"{status}: content type {media!r}, documented {sorted(content)}"]
        try:
            body = json.loads(text)
        except ValueError:
            return [f"{status}: the body is not JSON"]
        key = (method, template, str(status), media)
        if key not in self._validators:
            schema = {**content[media]["schema"], "components": self.doc["components"]}
            self._validators[key] = jsonschema.Draft202012Validator(schema)
        error = next(iter(self._validators[key].iter_errors(body)), None)
        return [f"{status}: {error.message[:200]} at {list(error.absolute_path)[:6]}"] if error else []

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node


def ensure_venv(root: Path) -> Path:
    """``.venv-schemathesis/bin/schemathesis``, installed on first use (pip, by package name)."""
    venv = root / ".venv-schemathesis"
    exe = venv / "bin" / "schemathesis"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    SCHEMATHESIS], check=True)
    return exe


def schemathesis(rig: Rig, ledger: Ledger, root: Path) -> None:
    sizes = rig.sizes
    if sizes.schemathesis <= 0:
        ledger.note(SECTION, "skipped (--schemathesis 0)", "-")
        return
    exe = ensure_venv(root)
    with contextlib.ExitStack() as stack:
        world = rig.world(stack, "schema", credential="managed_identity_fic")
        report = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="schemathesis-")))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                                                                          "https_proxy"))}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        command = [str(exe), "run", f"{world.url}/api/openapi.json", "--checks", CHECKS,
                   "--max-examples", str(sizes.schemathesis), "--seed", str(sizes.seed), "--workers", "2",
                   "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
                   "--request-timeout", "60", "--generation-database", "none", "--report", "junit", "--report-junit-path", str(report / "junit.xml"),
                   "--no-color"]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, cwd=report)
        world.settle(lambda: True, sizes.settle)
        cases, failures = _junit(report / "junit.xml")
        ledger.note(SECTION, "command", f"schemathesis run <host>/api/openapi.json --checks {CHECKS} "
                                       f"--max-examples {sizes.schemathesis}")
        ledger.note(SECTION, "API operations tested", cases)
        ledger.zero(SECTION, "operations with a failed check (500, or an answer unlike the document)", failures)
        tail = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-3:]
        ledger.expect(SECTION, "schemathesis exit code", done.returncode, done.returncode == 0, "0", tail)


def _junit(path: Path) -> tuple[int, list[str]]:
    if not path.exists():
        return 0, ["no junit report was written"]
    tree = ElementTree.parse(path)
    cases = tree.getroot().iter("testcase")
    count, failures = 0, []
    for case in cases:
        count += 1
        for problem in list(case.iter("failure")) + list(case.iter("error")):
            text = f"{problem.get('message') or ''} {problem.text or ''}".split()
            failures.append(f"{case.get('name')}: {' '.join(text)[:400]}")
    return count, failures
