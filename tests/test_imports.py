"""No import cycles among reenact's modules, nor between its packages.

The graph is read from the source with `ast`, without importing anything. An edge A -> B is any
import of reenact module B written in module A:
- at any depth: module level, inside functions (the lazy imports that keep `import reenact` and
  the CLI cheap) and under `if TYPE_CHECKING:`; a lazy import still ties the two modules
  together, and hiding a cycle inside a function only moves its failure to run time;
- `from P import name` is an edge to module P.name when that is a module, else to P itself;
- the lazy-export tables (`_EXPORTS = {"Name": "reenact.module", ...}`, read by a package's
  `__getattr__` through importlib) count as imports of the modules they name.
Not an edge: the implicit import of a package's `__init__` when one of its modules is imported.
Every module would otherwise depend on its package's `__init__`, and each package that gathers
its modules' names there (reenact.cli, reenact.io, reenact.engine, ...) would form a "cycle" with
them, although Python resolves that order without a problem: a module never reads its
half-initialised package. An explicit `from reenact.cli import main` is an edge to the package.

Between packages: the same edges, with each module taken as the top-level part of reenact it
belongs to (reenact.io, reenact.provenance, reenact.cli, reenact.api, ...; the root `reenact`
itself is one). Two packages that reach into each other through different modules (io's writer
importing provenance's marker while provenance reads through io) form no module cycle, but they
are no longer layers: that is what this second test refuses.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import reenact

PACKAGE = Path(reenact.__file__).parent

Graph = dict[str, dict[str, str]]  # module -> {imported module: where, e.g. "line 12"}


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under the package directory `root`."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` is, or the nearest package or module above it; None outside `modules`."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree: ast.AST, module: str, is_package: bool,
             modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in `tree`, at any depth."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, modules)
                if target is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else _resolve(base, modules)
                if target is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    target = _resolve(value.value, modules)
                    if target is not None:
                        yield target, value.lineno


def import_graph(root: Path) -> Graph:
    modules = module_names(root)
    graph: Graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, str] = {}
        for target, line in _imports(tree, module, path.name == "__init__.py", modules):
            if target != module:
                edges.setdefault(target, f"line {line}")
        graph[module] = edges
    return graph


def package_graph(graph: Graph) -> Graph:
    """`graph` with each module taken as the top-level part of its package it belongs to (root.x
    for root.x.y.z; root for the root package), and the edges within a part left out."""
    def part(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: Graph = {part(module): {} for module in graph}
    for module, edges in graph.items():
        for target, where in edges.items():
            if part(target) != part(module):
                packages[part(module)].setdefault(part(target), f"{module} {where}")
    return packages


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle through each strongly connected component that has one (Tarjan), as the list of
    modules along it, the first repeated at the end."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:  # iterative: no recursion limit on a deep graph
        work = [(node, iter(sorted(graph[node])))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                elif successor in on_stack:
                    low[current] = min(low[current], index[successor])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[current])
            if low[current] == index[current]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == current:
                        break
                if len(component) > 1:
                    components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(component, graph) for component in components]


def _cycle_in(component: set[str], graph: Graph) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first within it)."""
    start = min(component)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for successor in sorted(graph[node]):
            if successor not in component:
                continue
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}")  # a strong component always has one


def describe(cycle: list[str], graph: Graph) -> str:
    return " -> ".join(f"{a} ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])) \
        + f" -> {cycle[-1]}"


def test_no_import_cycles() -> None:
    graph = import_graph(PACKAGE)
    cycles = find_cycles(graph)
    assert not cycles, "import cycles among reenact's modules:\n" + "\n".join(
        describe(cycle, graph) for cycle in cycles)


def test_no_import_cycles_between_packages() -> None:
    graph = package_graph(import_graph(PACKAGE))
    cycles = find_cycles(graph)
    assert not cycles, "packages of reenact that import each other:\n" + "\n".join(
        describe(cycle, graph) for cycle in cycles)


def test_the_graph_sees_lazy_imports_and_export_tables() -> None:
    """The reader finds what the rules above say it does, on this package's own imports."""
    graph = import_graph(PACKAGE)
    assert "reenact.cli.parser" in graph["reenact.cli.main"]  # module level
    assert "reenact.pipelines.animate" in graph["reenact.cli.animate"]  # inside cmd_animate
    assert "reenact.cli.animate" in graph["reenact.cli.parser"]  # from reenact.cli import animate
    assert "reenact.api" in graph["reenact"]  # the lazy-export table
    assert "reenact.provenance.writers" in graph["reenact.provenance"]
    assert "reenact.cli" not in graph["reenact.cli.options"]  # no implicit edge to the package


@pytest.mark.parametrize("lazy", [False, True])
def test_a_cycle_is_found_and_named(tmp_path: Path, lazy: bool) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("from pkg.sub.b import B\n")
    (root / "a.py").write_text("from pkg.sub import b\n\nA = 1\n")
    back = ("def f():\n    from pkg.a import A\n    return A\n" if lazy else "from pkg import a\n")
    (root / "sub" / "b.py").write_text(back + "\nB = 2\n")
    (root / "c.py").write_text("from . import a\n")  # relative, outside the cycle
    graph = import_graph(root)
    assert graph["pkg.c"] == {"pkg.a": "line 1"}
    assert [describe(cycle, graph) for cycle in find_cycles(graph)] == [
        f"pkg.a (line 1) -> pkg.sub.b (line {2 if lazy else 1}) -> pkg.a"]


def test_packages_that_reach_into_each_other_are_found(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    for package in ("io", "marks"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "io" / "files.py").write_text("")
    (root / "io" / "writer.py").write_text("from pkg.marks.marker import mark\n")
    (root / "marks" / "marker.py").write_text("def mark():\n    pass\n")
    (root / "marks" / "verify.py").write_text("from pkg.io.files import *\n")
    graph = import_graph(root)
    assert find_cycles(graph) == []  # no module cycle ...
    packages = package_graph(graph)
    assert [describe(cycle, packages) for cycle in find_cycles(packages)] == [  # ... but this
        "pkg.io (pkg.io.writer line 1) -> pkg.marks (pkg.marks.verify line 1) -> pkg.io"]
