"""The shape bench/ keeps (bench/README.md, "Layout"): no import cycle among its modules (``tests/import_graph.py``,
checked here on made-up packages too), every module importable, none past about 400 lines."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.import_graph import import_cycles, import_graph, modules_of

BENCH = REPO_ROOT / "bench"
MAX_LINES = 400
# Run by path in .venv-sdk (msgraph-sdk, matplotlib), never in the app's environment: they import nothing of the
# repository, which is checked instead of importing them.
OWN_ENVIRONMENT = {"bench.compare.sdk_worker", "bench.compare.chart"}
REPOSITORY_PACKAGES = {"bench", "shared", "localdev", "function_app", "tests"}


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
