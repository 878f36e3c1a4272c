"""Near-misses combined: three 2% gains, each discarded alone, kept together as one judged keep."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PYTHON, Repo, copy_repo, made_once

BENCH = f"""#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
{PYTHON} -S -c "import sys; sys.path.insert(0, '.'); import a, b, c; \\
print(f'METRIC cost={{a.A * b.B * c.C / 10000}}')"
"""


@pytest.fixture
def near(near_once: Repo, tmp_path: Path) -> Repo:
    """A session (min_effect 5%) in which three candidates each cut the cost by 2% and were discarded
    (a test's own copy)."""
    return copy_repo(near_once, tmp_path / "project")


@pytest.fixture(scope="session")
def near_once(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """The session of `near`, made once in the run."""
    return made_once(tmp_path_factory, "near", _near)


def _near(path: Path) -> Repo:
    r = Repo(path)
    r.path.mkdir()
    r.git("init", "-q", "-b", "main")
    for name in "abc":
        r.write(f"{name}.py", f"{name.upper()} = 100\n")
    r.write("autoresearch.sh", BENCH, executable=True)
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "project")
    r.cli("init", "--name", "speed", "--metric", "cost", "--timeout", "10")
    for name in "abc":
        r.write(f"{name}.py", f"{name.upper()} = 98\n")
        result = r.cli_json("run", "-m", f"{name} to 98")
        assert result["verdict"] == "discard" and round(result["improvement"], 6) == 0.02
    return r


def test_status_and_brief_suggest_combining_near_misses(near: Repo):
    steps = near.cli_json("status")["next_steps"]
    assert steps and "`autoresearch combine 2 3 4`" in steps[0]
    assert "autoresearch combine 2 3 4" in near.cli("brief").stdout


def test_combine_lands_three_near_misses_as_one_judged_keep(near: Repo):
    result = near.cli_json("combine", "2", "3", "4")
    assert result["verdict"] == "keep" and result["parts"] == [2, 3, 4]
    assert round(result["ratio"], 6) == round(0.98**3, 6)
    assert [near.read(f"{n}.py") for n in "abc"] == ["A = 98\n", "B = 98\n", "C = 98\n"]
    assert near.git("log", "-1", "--format=%s") == "combined: a to 98; b to 98; c to 98"
    record = near.runs()[-1]
    assert record["proposer"] == "combine" and record["parts"] == [2, 3, 4]
    # once kept, they are near-misses no more
    assert not any("combine" in s for s in near.cli_json("status")["next_steps"])


def test_combine_refuses_conflicts_and_runs_that_gained_nothing(near: Repo):
    near.write("a.py", "A = 99\n")
    assert near.cli_json("run", "-m", "a to 99")["verdict"] == "discard"  # run 5: same line as run 2
    proc = near.cli("combine", "2", "5", check=2)
    assert "run 5 does not apply together with run 2: they change the same lines" in proc.stderr
    near.write("a.py", "A = 101\n")
    assert near.cli_json("run", "-m", "a to 101")["verdict"] == "discard"  # run 6: worse
    proc = near.cli("combine", "3", "6", check=2)
    assert "run 6 measured no gain" in proc.stderr
    proc = near.cli("combine", "1", "3", check=2)
    assert "not a measured discard" in proc.stderr
    assert near.git("status", "--porcelain") == ""  # nothing was left in the working tree


def test_combine_names_the_runs_and_segments_it_refuses(near: Repo):
    near.write("a.py", "A = 50\n")
    assert near.cli_json("run", "-m", "a to 50")["verdict"] == "keep"  # run 5 changes run 2's line
    proc = near.cli("combine", "2", "3", check=2)
    assert "run 2 no longer applies to the incumbent: a keep since changed the same lines" in proc.stderr
    near.cli("init", "--new-segment")  # run 6: the baseline of segment 1
    near.write("c.py", "C = 98\n")
    assert near.cli_json("run", "-m", "c to 98 again")["verdict"] == "discard"  # run 7
    proc = near.cli("combine", "3", "4", "7", check=2)
    assert ("runs 3 and 4 were measured in segment 0, before the session moved to segment 1: "
            "combine takes near-misses of the current segment only") in proc.stderr, proc.stderr
