"""The shape the code keeps (docs/architecture.md): layers that import downwards only, no import cycle, modules small
enough to read in one sitting, and the status strings written only by the enum that owns them."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.import_graph import import_cycles, import_graph

SHARED = REPO_ROOT / "shared"
MAX_LINES = 400  # "about 400": past it, look whether a module does two things; below it, cohesion decides
STATUSES = ("pending", "created", "existing", "failed", "locked", "cancelled", "updated", "accepted", "deferred")


def _modules() -> list[Path]:
    return sorted(SHARED.rglob("*.py"))


@pytest.mark.parametrize("module", _modules() + sorted((REPO_ROOT / "localdev").rglob("*.py")) +
                         [REPO_ROOT / "function_app.py"], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_module_is_over_the_size_a_newcomer_reads_at_once(module: Path):
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(REPO_ROOT)} has {lines} lines: split it by concern"


def test_status_strings_appear_only_in_the_enum_that_owns_them():
    owner = SHARED / "domain" / "records.py"
    literal = re.compile(r"""(?<![\w.])["'](%s)["']""" % "|".join(STATUSES))
    found = []
    for module in _modules():
        if module == owner:
            continue
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if literal.search(code):
                found.append(f"shared/{module.relative_to(SHARED)}:{number}: {line.strip()}")
    assert not found, "status strings outside shared/domain/records.py (use the Status enum):\n" + "\n".join(found)


@pytest.mark.parametrize("package", ["shared", "localdev", "bench", "tests"])
def test_no_package_has_an_import_cycle(package: str):
    assert import_cycles(REPO_ROOT / package) == []


# Which layer of shared/ may import which (docs/architecture.md): the domain nothing but itself, use cases not the
# adapters nor the entry points, adapters not the use cases, and only bootstrap (and adapters themselves) the adapters.
LAYERS = {
    "shared.domain": {"shared.domain"},
    "shared.config": {"shared.config", "shared.domain"},
    "shared.ports": {"shared.domain"},
    "shared.telemetry": {"shared.telemetry", "shared.domain"},  # OpenTelemetry's API: every layer above may trace
    "shared.usecases": {"shared.usecases", "shared.domain", "shared.ports", "shared.config", "shared.telemetry"},
    "shared.adapters": {"shared.adapters", "shared.domain", "shared.ports", "shared.config", "shared.telemetry"},
    "shared.entrypoints": {"shared.entrypoints", "shared.usecases", "shared.domain", "shared.config",
                           "shared.bootstrap", "shared.telemetry"},
}


def test_each_layer_imports_only_the_layers_beneath_it():
    graph = import_graph(SHARED)
    wrong = []
    for module, found in graph.items():
        layer = next((name for name in LAYERS if module == name or module.startswith(name + ".")), None)
        if layer is None:
            continue
        for target in found:
            if target == "shared" or any(target == a or target.startswith(a + ".") for a in LAYERS[layer]):
                continue
            wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_domain_uses_the_standard_library_only():
    allowed = set(sys.stdlib_module_names) | {"shared"}
    wrong = []
    for path in sorted((SHARED / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            wrong += [f"{path.relative_to(SHARED)}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert not wrong, "\n".join(wrong)
