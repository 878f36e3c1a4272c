"""What the benchmark and checks scripts run is protected like the scripts themselves."""

from __future__ import annotations

from conftest import PYTHON, Repo, fewer_rounds

BENCH_PY = "import sys\nsys.path.insert(0, '.')\nimport work\nprint(f'METRIC cost={work.COST}')\n"


def _project(repo: Repo) -> Repo:
    repo.write("bench.py", BENCH_PY)
    repo.write("autoresearch.sh", f'#!/usr/bin/env bash\ncd "$(dirname "$0")"\n{PYTHON} -S bench.py\n',
               executable=True)
    repo.write("tests/test_work.py", "import work\n\ndef test_answer():\n    assert work.answer() == 42\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "benchmark script runs bench.py")
    return repo


def test_a_file_the_benchmark_runs_is_protected_even_with_an_open_scope(repo: Repo):
    _project(repo).cli("init", "--name", "s", "--metric", "cost", "--timeout", "10")
    repo.write("bench.py", BENCH_PY.replace("work.COST}", "work.COST / 10}"))
    result = repo.cli_json("run", "-m", "a faster benchmark")
    assert (result["verdict"], result["reason"]) == ("discard", "tampered: bench.py")
    assert repo.read("bench.py") == BENCH_PY


def test_code_in_scope_stays_the_candidates_and_named_folders_are_protected(repo: Repo):
    _project(repo)
    repo.write("autoresearch.checks.sh", f'#!/usr/bin/env bash\ncd "$(dirname "$0")"\n'
               f"{PYTHON} -m pytest -q -p no:cacheprovider tests\n", executable=True)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "checks")
    repo.cli("init", "--name", "s", "--metric", "cost", "--scope", "work.py", "--timeout", "10")
    fewer_rounds(repo)
    repo.set("COST", 50)
    assert repo.cli_json("run", "-m", "cheaper")["verdict"] == "keep"  # work.py: in scope
    # tests/ is what the checks run: a candidate that weakens a test tampers with the checks
    repo.write("tests/test_work.py", "def test_answer():\n    assert True\n")
    assert repo.cli_json("run", "-m", "a weaker test")["reason"] == "tampered: tests/test_work.py"
