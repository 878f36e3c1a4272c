"""The package's layers: no module imports one that imports it back, however lazily; and each
command imports only what it uses (counted in `sys.modules`, never timed)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from conftest import Repo

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


# Third-party libraries only some commands use: no other command may pay for loading them.
HEAVY = ("numpy", "scipy", "matplotlib", "jinja2", "plotly", "dask", "distributed", "mcp", "openai")
# What measuring takes (the sandbox, instruction counts, the benchmark, recovery of a killed
# run, the experiment): commands that only read the session never load it.
MEASURING = ("autoresearch.measure", "autoresearch.record", "autoresearch.experiment",
             "autoresearch.loop", "autoresearch.parallel")
# Parsing the command line needs typer alone; every command imports its own library lazily.
CLI_ONLY = ["autoresearch", "autoresearch.faces", "autoresearch.faces.cli", "autoresearch.infra",
            "autoresearch.infra.interrupts"]

# Runs the CLI with the given arguments, then prints the modules it loaded as its last line.
_LOADED = """
import atexit, json, runpy, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules))))
sys.argv = ["autoresearch", *sys.argv[1:]]
runpy.run_module("autoresearch", run_name="__main__")
"""

# Shows the help of every command in one process, then prints the modules loaded.
_HELPS = """
import json, sys
import typer
from autoresearch.faces.cli import app
command = typer.main.get_command(app)
names = [None, *sorted(command.commands)]
for name in names:
    try:
        command.main([name, "--help"] if name else ["--help"], "autoresearch", standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps({"commands": names[1:], "modules": sorted(sys.modules)}))
"""


def _ours(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] == "autoresearch"]


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


def _loaded(repo: Repo, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _LOADED, *args], cwd=repo.path, env=repo.env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_help_of_every_command_imports_only_the_command_line():
    proc = subprocess.run([sys.executable, "-c", _HELPS], capture_output=True, text=True, check=True,
                          timeout=120)
    loaded = json.loads(proc.stdout.splitlines()[-1])
    assert {"init", "run", "status", "log", "loop", "report", "mcp", "dashboard"} <= set(loaded["commands"])
    assert set(_ours(loaded["modules"])) <= set(CLI_ONLY)
    assert _heavy(loaded["modules"]) == []


def test_commands_that_read_the_session_load_no_measuring_and_no_heavy_library(session: Repo):
    for *args, worker in (("status", "autoresearch.status"), ("status", "--json", "autoresearch.status"),
                          ("log", "autoresearch.status"), ("log", "--json", "autoresearch.status"),
                          ("brief", "autoresearch.brief"), ("ideas", "autoresearch.ideas")):
        modules = _loaded(session, *args)
        assert worker in modules, args  # the command did its work
        assert [m for m in _ours(modules) if m.startswith(MEASURING)] == [], args
        assert _heavy(modules) == [], args
