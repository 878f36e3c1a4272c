"""`init` is all or nothing, and names the untracked files a measured checkout lacks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import PYTHON, Repo, fewer_rounds

# The benchmark reads a data set that git ignores, as real ones often are.
NEEDS_DATA = """\
#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
__PYTHON__ - <<'PY'
import sys
sys.path.insert(0, ".")
import work
rows = open("data/rows.txt").read().split()
print(f"METRIC cost={work.COST * len(rows)}")
PY
""".replace("__PYTHON__", PYTHON)


def _state(repo: Repo) -> dict:
    return {
        "branch": repo.git("branch", "--show-current"),
        "branches": repo.git("branch", "--format=%(refname:short)"),
        "head": repo.git("rev-parse", "HEAD"),
        # .autoresearch/ keeps the failed attempt's logs, which the error message points to
        "status": repo.git("status", "--porcelain", "--ignored", "--", ".", ":!.autoresearch"),
        "worktrees": repo.git("worktree", "list", "--porcelain").count("worktree "),
    }


def _project_with_ignored_data(repo: Repo) -> None:
    repo.write("autoresearch.sh", NEEDS_DATA, executable=True)
    repo.write(".gitignore", "*.log\n__pycache__/\ndata/\n")
    repo.write("data/rows.txt", "a b c\n")
    repo.git("commit", "-qam", "benchmark over a data set")


def test_a_failed_init_leaves_the_repository_as_it_was_and_names_the_missing_files(repo: Repo):
    _project_with_ignored_data(repo)
    repo.write("notes.txt", "the user's own untracked file\n")
    before = _state(repo)
    proc = repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py", check=2)
    assert "the benchmark fails on the baseline" in proc.stderr
    assert "not in them: data/ (in autoresearch.sh, the output)" in proc.stderr
    assert "--link data" in proc.stderr and 'link = ["data"]' in proc.stderr
    assert _state(repo) == before  # no branch, no commit, no files of its own, no worktree
    assert not (repo.path / "autoresearch.toml").exists()
    assert not (repo.path / "autoresearch.md").exists()
    assert repo.read("notes.txt") == "the user's own untracked file\n"

    out = repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py",
                   "--link", "data").stdout
    assert "baseline 300" in out
    assert 'link = ["data"]' in repo.read("autoresearch.toml")
    fewer_rounds(repo)
    repo.set("COST", 50)
    assert repo.cli_json("run", "-m", "halve")["verdict"] == "keep"  # both arms see the data


def test_a_failed_init_keeps_the_users_own_uncommitted_benchmark(repo: Repo):
    repo.git("rm", "-q", "--cached", "autoresearch.sh")
    repo.git("commit", "-qm", "the benchmark is not committed yet")
    script = repo.read("autoresearch.sh").replace("import work", "import work, helper")
    repo.write("autoresearch.sh", script, executable=True)  # imports an untracked helper
    repo.write("helper.py", "X = 1\n")
    before = _state(repo)
    proc = repo.cli("init", "--name", "speed", "--metric", "cost", check=2)
    assert "helper.py (in autoresearch.sh" in proc.stderr
    assert _state(repo) == before
    assert repo.read("autoresearch.sh") == script  # committed on the session branch, then given back


def test_checks_that_fail_on_the_baseline_roll_back_too(repo: Repo):
    repo.set("FAIL", True)
    repo.git("commit", "-qam", "a failing test")
    before = _state(repo)
    proc = repo.cli("init", "--name", "speed", "--metric", "cost", check=2)
    assert "the checks fail on the baseline itself" in proc.stderr
    assert "AssertionError: wrong answer" in proc.stderr
    assert _state(repo) == before


def test_an_existing_config_is_given_back_unchanged(repo: Repo):
    repo.git("rm", "-q", "--cached", "autoresearch.checks.sh")
    repo.git("commit", "-qm", "no checks yet")
    repo.write("autoresearch.checks.sh", "#!/usr/bin/env bash\nexit 0\n", executable=True)
    # a config from an earlier init, with checks still commented out; then a broken benchmark
    repo.cli("init", "--name", "speed", "--metric", "cost", "--benchmark", "./autoresearch.sh",
             "--checks", "")
    config = repo.read("autoresearch.toml")
    repo.git("switch", "-q", "main")
    repo.git("branch", "-qD", "autoresearch/speed")
    repo.write("autoresearch.sh", "#!/usr/bin/env bash\nexit 3\n", executable=True)
    repo.git("commit", "-qam", "broken benchmark")
    repo.write("autoresearch.toml", config.replace('checks = "./autoresearch.checks.sh"',
                                                   '# checks = "./autoresearch.checks.sh"'))
    edited = repo.read("autoresearch.toml")
    repo.cli("init", check=2)
    assert repo.read("autoresearch.toml") == edited
    assert repo.git("branch", "--show-current") == "main"


def test_ctrl_c_during_the_baseline_rolls_back(repo: Repo):
    before = _state(repo)
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "init", "--name", "speed",
                             "--metric", "cost"], cwd=repo.path, env=repo.env(BENCH_SLEEP="30"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = repo.path / ".autoresearch" / "runs" / "0001"
    deadline = time.monotonic() + 60
    while not list(runs.glob("*-warmup-*.out")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert repo.git("branch", "--show-current") == "autoresearch/speed"  # mid-baseline
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert _state(repo) == before


def test_untracked_files_the_benchmark_mentions_are_noted_even_when_it_succeeds(repo: Repo):
    # A benchmark that falls back when its input is missing still measures: the note says what
    # the checkouts did not have.
    bench = repo.read("autoresearch.sh").replace('cd "$(dirname "$0")"\n',
                                                 'cd "$(dirname "$0")"\n[ -f fixtures.txt ] || true\n')
    repo.write("autoresearch.sh", bench, executable=True)
    repo.git("commit", "-qam", "optional fixtures")
    repo.write("fixtures.txt", "big input\n")
    out = repo.cli("init", "--name", "speed", "--metric", "cost").stdout
    assert "note: not in the measured checkouts, because git does not track them: fixtures.txt " \
           "(in autoresearch.sh)" in out
