"""The layout holds the architecture (issue 23): no import cycle between modules or between
the sub-packages (imports inside functions count: a lazy import hides a cycle, it does not
remove it; imports only for type checkers do not run and do not count), and no module over
400 lines. docs/architecture.md draws the layers these tests hold."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "dreamfx"


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _target(name: str) -> str | None:
    """The dreamfx module an import names (``from dreamfx.a import b``: ``dreamfx.a.b`` when
    that is a module, else ``dreamfx.a``)."""
    if not name.startswith("dreamfx"):
        return None
    path = ROOT.joinpath(*name.split("."))
    return name if path.with_suffix(".py").exists() or (path / "__init__.py").exists() else None


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        source = _module_name(path)
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            for name in names:
                target = _target(name)
                if target is not None and target != source:
                    graph[source].add(target)
        graph.setdefault(source, set())
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else "dreamfx"


def test_no_module_imports_itself_through_others():
    graph = _imports()
    # The root package is the facade (``dreamfx.dream`` and ``atlas`` import the API when
    # called); modules read only ``__version__`` and ``hookimpl`` from it, which exist before
    # it imports anything, so an edge into it is not a dependency on the layers.
    roots = {source for source, targets in graph.items() if "dreamfx" in targets}
    for source in roots:
        graph[source].discard("dreamfx")
    assert _cycles(graph) == []


def test_the_sub_packages_form_layers():
    packages: dict[str, set[str]] = defaultdict(set)
    for source, targets in _imports().items():
        for target in targets:
            a, b = _package(source), _package(target)
            if a != b and "dreamfx" not in (a, b):
                packages[a].add(b)
    assert _cycles(packages) == [], dict(packages)
    assert {"runs", "engine"} <= packages["cli"] and "host" in packages["config"]  # the graph was read


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
