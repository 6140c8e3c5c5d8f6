"""The shape bench/ keeps (bench/README.md, "Layout"): no import cycle among its modules, every module importable,
none past about 400 lines.

``import_cycles(package_dir)`` reads the modules with ``ast`` (nothing is imported) and follows every import
statement that names a module of the same package, wherever it stands: at the top, inside a function, under
``TYPE_CHECKING``. A deferred or type-only import hides a cycle from the interpreter, not from a reader. It takes any
package directory, so that shared/ and localdev/ can be held to the same rule.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

BENCH = REPO_ROOT / "bench"
MAX_LINES = 400
# Run by path in .venv-sdk (msgraph-sdk, matplotlib), never in the app's environment: they import nothing of the
# repository, which is checked instead of importing them.
OWN_ENVIRONMENT = {"bench.compare.sdk_worker", "bench.compare.chart"}
REPOSITORY_PACKAGES = {"bench", "shared", "localdev", "function_app", "tests"}


def modules_of(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module under package_dir (a package is its ``__init__.py``)."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _known(target: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of the modules (``import a.b.c`` imports a.b.c, or a.b)."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def imports_of(name: str, modules: dict[str, Path]) -> set[str]:
    """The modules of the same tree that ``name`` imports, by any import statement anywhere in its file."""
    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # ``from pkg import mod`` imports the module pkg.mod; ``from pkg.mod import name`` the module pkg.mod
            targets += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    return {module for target in targets if (module := _known(target, modules)) and module != name}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    modules = modules_of(package_dir)
    return {name: imports_of(name, modules) for name in modules}


def import_cycles(package_dir: Path) -> list[list[str]]:
    """Each set of modules under package_dir that import one another in a circle, as one cycle through them
    (``[a, b, a]``: a imports b, b imports a); empty when the imports go one way only."""
    graph = import_graph(package_dir)
    cycles = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            cycles.append(_cycle_through(min(component), graph, component))
    return sorted(cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            following = next(edges, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, iter(sorted(graph[following]))))
                elif following in on_stack:
                    low[node] = min(low[node], index[following])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_through(start: str, graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """The shortest way from start back to itself inside its component (breadth first)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is not on a cycle of {sorted(component)}")


# ---- bench ------------------------------------------------------------------------------------------------------

def test_no_import_cycle_among_the_modules_of_bench():
    assert import_cycles(BENCH) == []


@pytest.mark.parametrize("name", sorted(set(modules_of(BENCH)) - OWN_ENVIRONMENT))
def test_every_module_of_bench_imports(name: str):
    importlib.import_module(name)


@pytest.mark.parametrize("name", sorted(OWN_ENVIRONMENT))
def test_the_modules_run_in_the_sdks_environment_import_nothing_of_the_repository(name: str):
    tree = ast.parse(modules_of(BENCH)[name].read_text(encoding="utf-8"))
    named = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    named |= {"." if node.level else str(node.module) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {n for n in named if n == "." or n.split(".")[0] in REPOSITORY_PACKAGES}


@pytest.mark.parametrize("name", sorted(modules_of(BENCH)))
def test_no_module_of_bench_is_past_about_400_lines(name: str):
    path = modules_of(BENCH)[name]
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(REPO_ROOT)}: {lines} lines; split it by what its parts do"


# ---- the check itself ---------------------------------------------------------------------------------------------

def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / next(iter(files)).split("/")[0]


def test_the_check_finds_cycles_behind_deferred_and_type_only_imports(tmp_path):
    package = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from .b import thing\n",
        "pkg/b.py": "def late():\n    from .a import other\n",                       # deferred
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n",
        "pkg/d.py": "import pkg.c\n",                                                    # absolute
        "pkg/sub/__init__.py": "",
        "pkg/sub/e.py": "from .. import f\n",                                          # a module by from-import
        "pkg/f.py": "from pkg.sub.e import name\nimport os\nimport requests\n",
        "pkg/g.py": "from . import a\nfrom .a import thing\n",                           # one way only
    })
    assert import_cycles(package) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.d", "pkg.c"],
                                      ["pkg.f", "pkg.sub.e", "pkg.f"]]
    assert import_graph(package)["pkg.g"] == {"pkg.a"}


def test_a_package_whose_imports_go_one_way_has_no_cycle(tmp_path):
    package = _package(tmp_path, {
        "pkg/__init__.py": '"""Nothing imported here."""\n',
        "pkg/__main__.py": "from .command import main\n",
        "pkg/command.py": "from .plan import Plan\nfrom .ledger import record\n",
        "pkg/ledger.py": "from .plan import Plan\n",
        "pkg/plan.py": "import json\n",
    })
    assert import_cycles(package) == []
    assert import_graph(package)["pkg.__main__"] == {"pkg.command"}
