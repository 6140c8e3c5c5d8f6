"""The shape the service layer keeps (README "Layout"): modules small enough to read in one sitting, and the
status strings written only by the enum that owns them."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SHARED = REPO_ROOT / "shared"
MAX_LINES = 400  # "about 400": past it, look whether a module does two things; below it, cohesion decides
STATUSES = ("pending", "created", "existing", "failed", "locked", "cancelled", "updated", "accepted", "deferred")


def _modules() -> list[Path]:
    return sorted(SHARED.rglob("*.py"))


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(SHARED)))
def test_no_module_of_shared_is_over_the_size_a_newcomer_reads_at_once(module: Path):
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"shared/{module.relative_to(SHARED)} has {lines} lines: split it by concern"


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


def _imports(package: Path) -> dict[str, set[str]]:
    """Every module of ``package`` and the modules of the repo it imports at any depth of its body (deferred
    imports count: a cycle hidden in a function is still a cycle), ``TYPE_CHECKING`` blocks included."""
    root = package.parent
    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here.split(".")[: len(here.split(".")) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = found
    return {name: {m for m in found if m in graph and m != name} for name, found in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the modules of ``graph`` (a package's ``__init__`` re-exporting its modules is not
    one: an import of ``pkg.mod`` runs ``pkg`` first, so edges into a package from its own modules are left out)."""
    edges = {name: {m for m in found if not name.startswith(m + ".")} for name, found in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.mark.parametrize("package", ["shared", "localdev", "tests"])
def test_no_package_has_an_import_cycle(package: str):
    cycle = _cycle(_imports(REPO_ROOT / package))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


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
    graph = _imports(SHARED)
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
