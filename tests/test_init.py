"""`init` and the errors a user meets first: each one clear, none losing work."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from conftest import PYTHON, Repo, fewer_rounds

from autoresearch.measure.bench import SHORT_RUN_S


def test_not_a_git_repository(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "init", "--name", "x", "--metric", "m"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr


def test_detached_head_is_refused(repo: Repo):
    repo.git("checkout", "-q", "--detach")
    proc = repo.cli("init", "--name", "x", "--metric", "cost", check=2)
    assert "detached" in proc.stderr


def test_dirty_tracked_tree_is_refused_listing_the_files(repo: Repo):
    repo.set("COST", 7)
    proc = repo.cli("init", "--name", "x", "--metric", "cost", check=2)
    assert "uncommitted changes" in proc.stderr and "work.py" in proc.stderr
    assert "COST = 7" in repo.read("work.py")  # nothing lost
    assert repo.git("branch", "--show-current") == "main"


def test_missing_benchmark_is_scaffolded_and_init_stops(repo: Repo):
    repo.git("rm", "-q", "autoresearch.sh")
    repo.git("commit", "-qm", "no bench")
    out = repo.cli("init", "--name", "x", "--metric", "cost").stdout
    assert "created autoresearch.sh" in out and "run `autoresearch init` again" in out
    assert repo.git("branch", "--show-current") == "main"  # nothing committed yet
    assert "METRIC cost=" in repo.read("autoresearch.sh")
    # The user fills in the benchmark and edits the config; the second init uses both.
    from conftest import BENCH_SH
    repo.write("autoresearch.sh", BENCH_SH, executable=True)
    toml = repo.read("autoresearch.toml").replace("min_rounds = 4", "min_rounds = 3")
    repo.write("autoresearch.toml", toml)
    out = repo.cli("init").stdout
    assert "baseline 100" in out
    assert "min_rounds = 3" in repo.git("show", "HEAD:autoresearch.toml")


def test_checks_script_added_between_the_two_inits_is_switched_on(repo: Repo):
    from conftest import CHECKS_SH

    repo.git("rm", "-q", "autoresearch.sh", "autoresearch.checks.sh")
    repo.git("commit", "-qm", "neither bench nor checks")
    repo.cli("init", "--name", "x", "--metric", "cost", "--scope", "work.py")
    assert '# checks = "./autoresearch.checks.sh"' in repo.read("autoresearch.toml")
    from conftest import BENCH_SH
    repo.write("autoresearch.sh", BENCH_SH, executable=True)
    repo.write("autoresearch.checks.sh", CHECKS_SH, executable=True)
    out = repo.cli("init").stdout
    assert "checks   ./autoresearch.checks.sh passed on the baseline" in out
    repo.set("COST", 10)
    repo.set("FAIL", True)
    assert repo.cli_json("run", "-m", "fast but wrong")["status"] == "checks_failed"


def test_no_checks_is_warned_about(repo: Repo):
    repo.git("rm", "-q", "autoresearch.checks.sh")
    repo.git("commit", "-qm", "no checks")
    out = repo.cli("init", "--name", "x", "--metric", "cost").stdout
    assert "no checks configured" in out
    assert any("no checks configured" in w for w in repo.cli_json("status")["warnings"])


def test_json_errors_are_json(repo: Repo):
    proc = repo.cli("status", "--json", check=2)
    assert json.loads(proc.stdout)["exit_code"] == 2
    assert "not an autoresearch session" in json.loads(proc.stdout)["error"]


def test_named_benchmark_missing_or_not_executable(repo: Repo):
    proc = repo.cli("init", "--name", "x", "--metric", "cost", "--benchmark", "./bench.sh", check=2)
    assert "bench.sh does not exist" in proc.stderr
    repo.write("bench.sh", "#!/bin/sh\necho METRIC cost=1\n")
    repo.git("add", "bench.sh")
    repo.git("commit", "-qm", "bench")
    assert not (repo.path / "autoresearch.toml").exists()  # a refused init writes nothing
    proc = repo.cli("init", "--name", "x", "--metric", "cost", "--benchmark", "./bench.sh", check=2)
    assert "not executable" in proc.stderr and "chmod +x bench.sh" in proc.stderr


def test_a_benchmark_the_build_makes_need_not_exist_before_it(repo: Repo):
    make = ("import os; open('bench.sh', 'w').write('#!/bin/sh\\necho METRIC cost=7\\n'); "
            "os.chmod('bench.sh', 0o755)")
    proc = repo.cli("init", "--name", "x", "--metric", "cost", "--benchmark", "./bench.sh",
                    "--build", f"{PYTHON} -S -c \"pass\"", check=2)
    assert "bench.sh does not exist, and the build" in proc.stderr and "does not make it" in proc.stderr
    assert not (repo.path / "autoresearch.toml").exists()
    out = repo.cli("init", "--name", "x", "--metric", "cost", "--benchmark", "./bench.sh",
                   "--build", f"{PYTHON} -S -c \"{make}\"").stdout
    assert "baseline 7" in out
    assert not (repo.path / "bench.sh").exists()  # made in the measured checkouts, not in the user's tree


def test_benchmark_failing_on_the_baseline(repo: Repo):
    repo.write("autoresearch.sh", "#!/bin/sh\necho boom >&2\nexit 4\n", executable=True)
    repo.git("commit", "-qam", "broken bench")
    proc = repo.cli("init", "--name", "x", "--metric", "cost", check=2)
    assert "benchmark exited with code 4" in proc.stderr and "boom" in proc.stderr
    # The failed init left nothing behind; fixed, the same init starts the session.
    assert repo.git("branch", "--show-current") == "main"
    assert repo.git("branch", "--list", "autoresearch/*") == ""
    from conftest import BENCH_SH
    repo.write("autoresearch.sh", BENCH_SH, executable=True)
    repo.git("commit", "-qam", "fixed bench")
    assert "baseline 100" in repo.cli("init", "--name", "x", "--metric", "cost").stdout


def test_checks_failing_on_the_baseline(repo: Repo):
    repo.set("FAIL", True)
    repo.git("commit", "-qam", "broken")
    proc = repo.cli("init", "--name", "x", "--metric", "cost", check=2)
    assert "checks fail on the baseline" in proc.stderr


def test_primary_metric_missing_on_the_baseline(repo: Repo):
    proc = repo.cli("init", "--name", "x", "--metric", "latency", check=2)
    assert "no METRIC latency=<number> line" in proc.stderr


def test_existing_session_says_how_to_continue_and_new_segment(session: Repo):
    proc = session.cli("init", "--name", "speed", "--metric", "cost", check=2)
    assert "already exists" in proc.stderr and "--new-segment" in proc.stderr
    fewer_rounds(session)
    session.set("COST", 60)
    session.cli("run", "-m", "better")
    session.cli("init", "--new-segment")
    headers = [r for r in session.ledger() if r.get("type") == "config"]
    assert len(headers) == 2
    st = session.cli_json("status")
    assert st["segment"] == 1 and st["baseline"] == 60 and st["counts"] == {}


def test_session_name_must_make_a_valid_branch(repo: Repo):
    proc = repo.cli("init", "--name", "bad name", "--metric", "cost", check=2)
    assert "name" in proc.stderr


def test_malformed_config_names_file_and_line(session: Repo):
    text = session.read("autoresearch.toml").replace("alpha = 0.05", "alpha = 7")
    session.write("autoresearch.toml", text)
    line = next(i for i, text_line in enumerate(text.splitlines(), 1) if text_line.startswith("alpha"))
    proc = session.cli("status", check=2)
    assert f"autoresearch.toml:{line}: stats.alpha" in proc.stderr
    session.write("autoresearch.toml", text.replace("alpha = 7", "alpha = = 7"))
    proc = session.cli("status", check=2)
    assert "autoresearch.toml: invalid TOML" in proc.stderr and f"line {line}" in proc.stderr
    session.write("autoresearch.toml", text.replace("alpha = 7", "alhpa = 0.05"))
    proc = session.cli("status", check=2)
    assert f"autoresearch.toml:{line}: stats.alhpa: Extra inputs are not permitted" in proc.stderr


def test_run_outside_a_session(repo: Repo):
    proc = repo.cli("run", "-m", "x", check=2)
    assert "not an autoresearch session" in proc.stderr and "autoresearch init" in proc.stderr


def test_run_on_another_branch_points_to_the_session_branch(session: Repo):
    session.git("switch", "-q", "main")
    session.write("autoresearch.toml", session.git("show", "autoresearch/speed:autoresearch.toml"))
    proc = session.cli("run", "-m", "x", check=2)
    assert "git switch autoresearch/speed" in proc.stderr


def test_other_branches_are_untouched(session: Repo):
    main_before = session.git("rev-parse", "main")
    session.set("COST", 10)
    session.cli("run", "-m", "kept")
    session.set("COST", 20)
    session.cli("run", "-m", "discarded")
    assert session.git("rev-parse", "main") == main_before
    branches = session.git("for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert sorted(branches) == ["autoresearch/speed", "main"]


def test_help_is_fast_and_imports_no_heavy_library():
    code = ("import sys; from autoresearch.faces.cli import app; "
            "print(sorted(m for m in ('scipy', 'numpy', 'pydantic', 'rich') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for command in ("init", "run", "status", "log"):
        assert command in proc.stdout


def test_a_second_session_does_not_mix_its_history_into_the_first_ledger(session: Repo):
    session.git("switch", "-q", "main")
    proc = session.cli("init", "--name", "other", "--metric", "cost", check=2)
    assert "holds the ledger of session 'speed'" in proc.stderr
    assert session.git("branch", "--show-current") == "main"


def test_public_api_names_resolve_lazily():
    code = ("import sys, autoresearch; heavy = 'pydantic' in sys.modules; "
            "missing = [n for n in autoresearch.__all__ if not callable(getattr(autoresearch, n))]; "
            "print(heavy, missing)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False []"


def test_cleanup_removes_the_measured_checkouts_and_runs_still_work(session: Repo):
    assert len(session.git("worktree", "list").splitlines()) == 2  # the repo and the incumbent
    removed = session.cli_json("cleanup")["removed"]
    assert removed and all("worktrees" in p for p in removed)
    assert session.git("worktree", "list").splitlines()[0].startswith(str(session.path))
    assert len(session.git("worktree", "list").splitlines()) == 1
    session.set("COST", 50)
    assert session.cli_json("run", "-m", "after cleanup")["status"] == "keep"


def test_a_benchmark_too_short_to_time_is_warned_about_at_init_and_calibrate(repo: Repo):
    """Whether a run is shorter than SHORT_RUN_S is the machine's business; the warning must say
    so exactly when the runs the harness recorded were (this benchmark's usually are)."""
    repo.write("autoresearch.sh", "#!/bin/sh\necho 'METRIC cost=100'\n", executable=True)
    repo.git("commit", "-qam", "a benchmark that does next to nothing")
    out = repo.cli("init", "--name", "x", "--metric", "cost").stdout
    walls = [w[0] for w in repo.runs()[0]["samples"]["wall_s"]]
    short = statistics.median(walls) < SHORT_RUN_S
    assert ("Repeat the work inside the benchmark" in out) == short, (walls, out)
    calibration = repo.cli_json("calibrate", "--rounds", "4")
    assert bool(calibration["warnings"]) == (calibration["run_s"] < SHORT_RUN_S), calibration
    assert all("start-up" in w for w in calibration["warnings"])


def test_a_benchmark_long_enough_to_time_gets_no_such_warning(repo: Repo):
    repo.set("NAP", SHORT_RUN_S + 0.05)  # every run sleeps longer than the shortest worth timing
    repo.git("commit", "-qam", "a benchmark that takes its time")
    result = repo.cli_json("init", "--name", "x", "--metric", "cost")
    assert not [n for n in result["notes"] if "per run" in n], result["notes"]
    assert repo.cli_json("calibrate", "--rounds", "4")["warnings"] == []
