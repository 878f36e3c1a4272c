"""Finishing a session: ablate, split and finalize on a real session with several keeps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import PYTHON, Repo, copy_repo, made_once

from autoresearch.finish import Keep, groups_of

# cost = A * B * C * D / 1000: each factor lives in its own file, so each keep is independent
# and the metric (a constant of the code) makes every verdict deterministic.
BENCH = f"""#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
{PYTHON} -S - <<'PY'
import sys
sys.path.insert(0, ".")
import a, b, c, d
print(f"METRIC cost={{a.A * b.B * c.C * d.D / 1000}}")
PY
"""
CHECKS = f"""#!/usr/bin/env bash
cd "$(dirname "$0")"
{PYTHON} -S -c "import sys; sys.path.insert(0, '.'); import a, b, c, d, e; assert e.ANSWER == 42"
"""


@pytest.fixture
def finished(finished_once: Repo, tmp_path: Path) -> Repo:
    """A session with four keeps: three one-file gains and a two-file bundle (d.py carries it);
    each test's own copy, to finish as it likes."""
    return copy_repo(finished_once, tmp_path / "project")


@pytest.fixture(scope="session")
def finished_once(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """The session of `finished`, made once in the run."""
    return made_once(tmp_path_factory, "finish", _finish)


def _finish(path: Path) -> Repo:
    r = Repo(path)
    r.path.mkdir()
    r.git("init", "-q", "-b", "main")
    for name in "abcd":
        r.write(f"{name}.py", f"{name.upper()} = 10\n")
    r.write("e.py", "ANSWER = 42\n")
    r.write("autoresearch.sh", BENCH, executable=True)
    r.write("autoresearch.checks.sh", CHECKS, executable=True)
    r.git("add", "-A")
    r.git("rm", "-q", "--cached", "autoresearch.checks.sh")  # written for the session: not in the base
    r.git("commit", "-q", "-m", "project")
    r.cli("init", "--name", "speed", "--metric", "cost", "--timeout", "10", "--checks-timeout", "30")
    assert "autoresearch.checks.sh" in r.git("ls-tree", "--name-only", "HEAD")
    for file, value, what in (("a.py", 8, "a to 8"), ("b.py", 9, "b to 9"), ("c.py", 7, "c to 7")):
        r.write(file, f"{file[0].upper()} = {value}\n")
        assert r.cli_json("run", "-m", what)["verdict"] == "keep"
    # a configuration commit on the session branch, as a user makes them
    r.write("autoresearch.md", r.read("autoresearch.md") + "\nMore context.\n")
    r.git("commit", "-q", "-am", "brief: more context")
    r.write("d.py", "D = 5\n")
    r.write("e.py", "# the answer\nANSWER = 42\n")
    assert r.cli_json("run", "-m", "bundle: d to 5, comment e")["verdict"] == "keep"
    return r


def test_finalize_split_makes_review_branches_that_add_up(finished: Repo):
    before = {b: finished.git("rev-parse", b) for b in ("main", "autoresearch/speed")}
    status_before = finished.git("status", "--porcelain")
    made = finished.cli_json("finalize", "--split")
    assert made["branch"] == "autoresearch/speed-final"
    assert [c["run"] for c in made["commits"]] == [2, 3, 4, 5]
    final = "autoresearch/speed-final"
    # only the kept changes: no harness files, no configuration commit, one commit per keep
    changed = finished.git("diff", "--name-only", "main", final).split()
    assert changed == ["a.py", "b.py", "c.py", "d.py", "e.py"]
    assert finished.git("rev-list", "--count", f"main..{final}") == "4"
    message = finished.git("log", "-1", "--format=%B", f"{final}~3")
    assert "Measured by autoresearch (run 2): +20.0%" in message
    # the clean branch holds exactly the session's final code
    for f in "abcde":
        assert finished.git("show", f"{final}:{f}.py") == finished.git("show", f"autoresearch/speed:{f}.py")
    groups = made["groups"]
    assert [g["runs"] for g in groups] == [[2], [3], [4], [5]]
    assert [g["checks"] for g in groups] == ["passed"] * 4  # run with the session's checks script
    assert "autoresearch.checks.sh" not in finished.git("ls-tree", "--name-only", groups[0]["branch"])
    for g in groups:  # each review branch: the base plus its own files, nothing else
        assert finished.git("diff", "--name-only", "main", g["branch"]).split() == g["files"]
    # nothing else moved
    assert {b: finished.git("rev-parse", b) for b in before} == before
    assert finished.git("status", "--porcelain") == status_before
    # a second finalize never moves the first one's branches
    again = finished.cli_json("finalize")
    assert again["branch"] == "autoresearch/speed-final-v2"
    assert finished.git("rev-parse", final) == made["commits"][-1]["commit"]
    assert any("left as it is" in n for n in again["notes"])


def test_ablate_parts_multiply_to_the_total(finished: Repo):
    table = finished.cli_json("ablate", "--rounds", "2")
    rows = {r["keep_run"]: r for r in table["rows"]}
    assert set(rows) == {2, 3, 4, 5}
    assert {run: round(r["ratio"], 6) for run, r in rows.items()} == {2: 0.8, 3: 0.9, 4: 0.7, 5: 0.5}
    assert all(r["outcome"] == "measured" for r in rows.values())
    total = table["total"]
    product = math.prod(r["ratio"] for r in rows.values())
    assert total["ci"][0] - 1e-9 <= product <= total["ci"][1] + 1e-9
    assert round(total["ratio"], 6) == round(0.8 * 0.9 * 0.7 * 0.5, 6)
    # recorded: a second call measures nothing new
    ablations = [line for line in finished.ledger() if line.get("type") == "ablation"]
    assert len(ablations) == 4
    finished.cli_json("ablate", "--rounds", "2")
    assert len([line for line in finished.ledger() if line.get("type") == "ablation"]) == 4
    # the report shows the table
    out = finished.path / ".autoresearch" / "ablation-report"
    finished.cli("report", "--out", str(out))
    report = (out / "report.md").read_text()
    assert "### What each keep is worth now" in report
    assert "| 2 | a to 8 | +20.0% " in report and "| 5 | bundle: d to 5, comment e | +50.0% " in report
    # the experiments' own records are unaffected, and status points to the finishing steps
    status = finished.cli_json("status")
    assert status["counts"] == {"keep": 4}
    assert [step.split(":")[0] for step in status["next_steps"]] == [
        "autoresearch ablate", "autoresearch split RUN", "autoresearch finalize --split"]


def test_split_names_the_part_that_carries_the_bundle(finished: Repo):
    parts = {p["file"]: p for p in finished.cli_json("split", "5", "--rounds", "2")["parts"]}
    assert parts["d.py"]["carries"] and round(parts["d.py"]["ratio"], 6) == 0.5
    assert round(parts["d.py"]["share"], 6) == 1.0
    assert not parts["e.py"]["carries"] and parts["e.py"]["ratio"] == 1.0


def test_split_refuses_a_one_file_keep(finished: Repo):
    proc = finished.cli("split", "2", check=2)
    assert "nothing to split" in proc.stderr


def test_groups_join_keeps_that_share_a_file():
    def keep(run: int, *files: str) -> Keep:
        return Keep(run, "", "", "", None, None, None, files)

    groups = groups_of([keep(1, "x"), keep(2, "y"), keep(3, "z", "x"), keep(4, "w"), keep(5, "z")])
    assert [[k.run for k in g] for g in groups] == [[1, 3, 5], [2], [4]]


def test_finalize_without_keeps_is_a_usage_error(session: Repo):
    proc = session.cli("finalize", check=2)
    assert "nothing to finalize" in proc.stderr
