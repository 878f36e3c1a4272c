"""The package's layers: no module imports one that imports it back, however lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import autoresearch

ROOT = Path(autoresearch.__file__).parent


def _module_graph() -> dict[str, set[str]]:
    files = {}
    for path in ROOT.rglob("*.py"):
        if "examples" in path.relative_to(ROOT).parts:
            continue
        name = ".".join(("autoresearch", *path.relative_to(ROOT).with_suffix("").parts))
        files[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                # `from package import module` depends on the module; any other name, on the
                # package itself (loading a submodule always loads its package: not an edge)
                subs = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t for t in subs if t in files]
                if len(targets) < len(subs):
                    targets.append(node.module)
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_even_through_lazy_imports():
    graph = _module_graph()
    assert {"autoresearch.experiment", "autoresearch.infra.git", "autoresearch.faces.cli"} <= set(graph)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lower_layers_never_import_the_faces():
    graph = _module_graph()
    below = [m for m in graph if not m.startswith("autoresearch.faces") and m != "autoresearch.__main__"]
    assert [(m, sorted(t for t in graph[m] if t.startswith("autoresearch.faces.")))
            for m in below if any(t.startswith("autoresearch.faces.") for t in graph[m])] == []
