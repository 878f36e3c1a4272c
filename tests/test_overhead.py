"""The harness's own work per experiment, counted rather than timed: git processes, sealed
launches, heavy imports. A regression in any of them shows as a count, whatever the load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo

from autoresearch.infra.git import _SETTLE_NS
from autoresearch.measure.sandbox import probe

# Git processes one kept experiment starts in `autoresearch run` (the session opened, the
# session's own configuration commit walked, the working tree snapshot, the guard, both
# checkouts, the keep committed and the working tree compared again). Raise it only for a git
# call that earns its ~3-5 ms on every experiment.
GIT_PROCESSES_PER_KEEP = 42

# Run as `autoresearch run`, then report which heavy modules the process imported.
_RUN = """
import atexit, runpy, sys
HEAVY = ("scipy", "numpy", "matplotlib", "jinja2", "plotly", "dask", "distributed", "mcp", "openai")
atexit.register(lambda: print("modules:", json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in HEAVY)), file=sys.stderr))
import json
sys.argv = ["autoresearch", "run", "-m", "halve the cost", "--json"]
runpy.run_module("autoresearch", run_name="__main__")
"""


def _shim(bin_dir: Path, name: str, log: Path, pattern: str = "*") -> None:
    """`name` on PATH logs each start whose arguments match `pattern`, then runs the real program."""
    real = shutil.which(name)
    assert real is not None
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\ncase "$*" in {pattern}) echo "$1" >> {log};; esac\nexec {real} "$@"\n')
    script.chmod(0o755)


@pytest.mark.skipif(not probe().works, reason=f"runs cannot be sealed here: {probe().problem}")
def test_an_experiment_starts_few_git_processes_one_bwrap_per_run_and_no_heavy_imports(
        session: Repo, tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _shim(bin_dir, "git", tmp_path / "git.log")
    _shim(bin_dir, "bwrap", tmp_path / "bwrap.log", "*--new-session*")  # sealed runs, not the probe
    session.set("COST", 50)
    # The repository's config is read again while its files are younger than the coarsest
    # timestamps (git.py): let the session's worktrees age past that, as they do between experiments.
    time.sleep(_SETTLE_NS / 1e9 + 0.2)
    env = session.env()
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    proc = subprocess.run([sys.executable, "-c", _RUN], cwd=session.path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["verdict"] == "keep", result
    # the decision needs no scipy: the sequential test's boundary and the sign-flip test are pure Python
    assert "modules: []" in proc.stderr.splitlines(), proc.stderr[-2000:]

    gits = (tmp_path / "git.log").read_text().splitlines()
    assert len(gits) <= GIT_PROCESSES_PER_KEEP, "\n".join(gits)

    # every sealed run is exactly one bwrap: one per benchmark run and one for the checks
    logs = Path(result["logs"])
    runs = [p for p in logs.rglob("*.out") if p.stem != "checks"]
    assert len(runs) >= 2 * result["rounds"]
    launches = (tmp_path / "bwrap.log").read_text().splitlines()
    assert len(launches) == len(runs) + 1, launches
