"""The import graph of a package read with ``ast`` (nothing is imported): every import statement that names a module
of the same package counts, wherever it stands (at the top, inside a function, under ``TYPE_CHECKING``): a deferred
or type-only import hides a cycle from the interpreter, not from a reader."""
from __future__ import annotations

import ast
from pathlib import Path


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
