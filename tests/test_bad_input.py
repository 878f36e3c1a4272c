"""Bad input a new user (or a careless agent) gives: each is a clear verdict or error, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import PYTHON, Repo, fewer_rounds, unique_hang, wait_until

NOISY_BENCH = """\
#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
__PYTHON__ - <<'PY'
import random, sys
sys.path.insert(0, ".")
import work
print(f"METRIC cost={work.COST * random.uniform(0.99, 1.01)}")
PY
""".replace("__PYTHON__", PYTHON)


def _refuse(constant: str) -> None:
    raise ValueError(f"not JSON: {constant}")


def _running_with(marker: str) -> bool:
    """Whether a process's command line (arguments joined by NUL) contains `marker`."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def _commit_config(repo: Repo, old: str, new: str) -> None:
    repo.write("autoresearch.toml", repo.read("autoresearch.toml").replace(old, new))
    repo.git("commit", "-qm", "config", "autoresearch.toml")


def test_one_round_keeps_an_infinite_interval_readable(repo: Repo):
    # One noisy round cannot estimate a spread: the interval is infinite, and must survive the ledger.
    repo.write("autoresearch.sh", NOISY_BENCH, executable=True)
    repo.git("commit", "-qam", "noisy benchmark")
    repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py", "--timeout", "10")
    text = repo.read("autoresearch.toml").replace("min_rounds = 4", "min_rounds = 1")
    repo.write("autoresearch.toml", text.replace("max_rounds = 24", "max_rounds = 1"))
    repo.git("commit", "-qm", "config", "autoresearch.toml")
    repo.set("COST", 50)
    judged = repo.cli_json("run", "-m", "halve the cost")
    assert judged["verdict"] == "discard" and judged["rounds"] == 1  # one sign is no proof
    line = repo.runs()[-1]
    assert line["run"] == judged["run"] and "Infinity" in line["ci"]
    assert None in judged["ci"]  # what `run --json` prints for the unbounded side
    log = repo.cli_json("log")
    assert not log["warnings"]
    assert [r["run"] for r in log["runs"]][-1] == judged["run"]
    for command in ("log", "status"):  # strict JSON for scripts: no bare Infinity
        out = repo.cli(command, "--json").stdout
        json.loads(out, parse_constant=_refuse)
    repo.set("MEM", 51)  # the next run number is new, not the judged one's again
    assert repo.cli_json("run", "-m", "nothing")["run"] == judged["run"] + 1


def test_a_candidate_whose_metric_reaches_zero_is_a_crash_that_says_why(session: Repo):
    session.set("COST", 0)
    crashed = session.cli_json("run", "-m", "no cost at all")
    assert crashed["verdict"] == "crash"
    assert "cost=0" in crashed["reason"] and "undefined at 0 or below" in crashed["reason"]
    assert session.git("status", "--porcelain") == ""  # restored: the session goes on
    session.set("COST", 50)
    assert session.cli_json("run", "-m", "halve")["verdict"] == "keep"


def test_a_baseline_metric_of_zero_or_below_is_a_usage_error(repo: Repo):
    repo.set("COST", -3)
    repo.git("commit", "-qam", "negative")
    proc = repo.cli("init", "--name", "speed", "--metric", "cost", check=2)
    assert "cost=-3" in proc.stderr and "positive quantity" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_a_guard_on_a_count_that_is_zero_is_judged_on_the_count(repo: Repo):
    repo.set("MEM", 0)  # an error count, say: zero on the baseline
    repo.git("commit", "-qam", "no errors")
    repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py", "--timeout", "10")
    fewer_rounds(repo)
    _commit_config(repo, "[guards]", '[guards]\nmem = "<= incumbent"')
    repo.set("MEM", 1)
    repo.set("COST", 50)
    vetoed = repo.cli_json("run", "-m", "faster, one error")
    assert vetoed["verdict"] == "discard" and vetoed["reason"].startswith("guard violated: mem")
    repo.set("COST", 50)
    assert repo.cli_json("run", "-m", "faster, no error")["verdict"] == "keep"


def test_non_utf8_file_names_and_source_bytes_are_measured_and_committed(session: Repo):
    latin = session.read("work.py").replace("COST = 100", "COST = 50  # caf\xe9").encode("latin-1")
    (session.path / "work.py").write_bytes(latin)
    _commit_config(session, 'include = ["work.py"]', "include = []")
    name = os.fsdecode(b"caf\xe9.dat")
    (session.path / name).write_bytes(b"\xff\xfe raw")
    kept = session.cli_json("run", "-m", "latin-1 source")
    assert kept["verdict"] == "keep"
    def committed(path: str) -> bytes:
        return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=session.path, capture_output=True,
                              check=True).stdout

    assert committed("work.py") == latin and committed(name) == b"\xff\xfe raw"
    patch = session.path / ".autoresearch/runs" / f"{kept['run']:04d}" / "candidate.patch"
    assert b"+COST = 50  # caf\xe9\n" in patch.read_bytes()  # the bytes as they are, not re-encoded


def test_a_non_utf8_name_out_of_scope_is_named_readably(session: Repo):
    name = os.fsdecode(b"caf\xe9.txt")
    (session.path / name).write_bytes(b"x\n")
    session.git("add", name)
    session.git("commit", "-qm", "a user file")
    (session.path / name).write_bytes(b"y\n")
    result = session.cli_json("run", "-m", "touch it")
    assert result["reason"] == "out of scope: caf\\xe9.txt"
    assert "caf\\xe9.txt" in session.cli("log").stdout


def test_rich_markup_in_descriptions_and_reasons_is_shown_as_text(session: Repo):
    session.set("COST", 50)
    session.cli("run", "-m", "[/] closing tag [bold]not bold[/bold] [link=x]", "--hypothesis", "[/]")
    for command in ("log", "status"):
        out = session.cli(command).stdout
        assert "[/] closing tag [bold]not bold[/bold]" in out, out
    session.set("COST", 200)
    out = session.cli("run", "-m", "[red]worse[/]").stdout
    assert "DISCARD" in out


def test_undecodable_bytes_in_a_hypothesis_are_escaped_before_measuring(session: Repo):
    session.set("COST", 50)
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "run", "-m", b"caf\xe9 \x1b[2J",
                           "--hypothesis", b"less \xff work", "--json"], check=False,
                          cwd=session.path, capture_output=True, env=session.env())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "keep"
    message = session.git("log", "-1", "--format=%B")
    assert message.startswith("caf\\xe9 [2J") and "Hypothesis: less \\xff work" in message
    assert session.runs()[-1]["hypothesis"] == "less \\xff work"


def test_an_infinite_or_huge_timeout_is_a_config_error(repo: Repo):
    proc = repo.cli("init", "--name", "x", "--metric", "cost", "--checks-timeout", "inf", check=2)
    assert "--checks-timeout: Input should be a finite number" in proc.stderr
    proc = repo.cli("init", "--name", "x", "--metric", "cost", "--timeout", "1e12", check=2)
    assert "--timeout: Input should be less than or equal to 604800" in proc.stderr
    repo.cli("init", "--name", "x", "--metric", "cost")
    repo.write("autoresearch.toml", repo.read("autoresearch.toml").replace(
        "checks_timeout = 300", "checks_timeout = inf"))
    proc = repo.cli("status", check=2)
    assert "commands.checks_timeout: Input should be a finite number" in proc.stderr


def test_a_binary_config_file_is_a_config_error(session: Repo):
    (session.path / "autoresearch.toml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff")
    proc = session.cli("status", check=2)
    assert "autoresearch.toml: not a text file" in proc.stderr
    (session.path / "autoresearch.toml").write_bytes(b"[session]\nname = \"a\x00\"\n")
    assert "invalid TOML" in session.cli("status", check=2).stderr


def test_concurrent_ideas_are_all_kept(session: Repo):
    # eight writers started at once, more than the cores: their appends contend for the file
    procs = [subprocess.Popen([sys.executable, "-m", "autoresearch", "idea", f"idea number {i}"],
                              cwd=session.path, env=session.env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for i in range(8)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read() if p.stderr else ""
    ideas = session.cli_json("ideas")["ideas"]
    assert sorted(ideas) == sorted(f"idea number {i}" for i in range(8))
    assert session.read("autoresearch.ideas.md").count("# Ideas backlog") == 1


def test_measured_checkouts_removed_during_a_run_give_a_clear_error_and_come_back(session: Repo):
    session.set("COST", 50)
    env = session.env(BENCH_SLEEP="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "run", "-m", "halve"],
                            cwd=session.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    runs = session.path / ".autoresearch" / "runs" / "0002"
    deadline = time.monotonic() + 60
    while not list(runs.glob("*-r01-*.out")) and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(session.path / ".autoresearch" / "worktrees")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (out, err)
    assert "was removed while autoresearch was using it" in err
    assert len(session.runs()) == 1  # nothing recorded
    assert "COST = 50" in session.read("work.py")  # the candidate is still there
    assert session.cli_json("run", "-m", "halve")["verdict"] == "keep"


def test_agent_command_with_literal_braces_and_a_nul_in_its_proposal(session: Repo, tmp_path: Path):
    agent = tmp_path / "agent.py"
    agent.write_text(textwrap.dedent("""\
        import os, pathlib, re, sys
        assert sys.argv[1] == '{"a": 1}' and sys.argv[2] == "{unknown}", sys.argv
        work = pathlib.Path("work.py")
        work.write_text(re.sub(r"^COST = .*$", "COST = 50", work.read_text(), flags=re.M))
        pathlib.Path(os.environ["AUTORESEARCH_PROPOSAL_FILE"]).write_bytes(
            b"halve the cost\\x00 now\\nHypothesis: less \\x00work\\n")
        """))
    cmd = f"{sys.executable} {agent} '{{\"a\": 1}}' {{unknown}} {{prompt_file}}"
    proc = session.cli("loop", "--agent-cmd", cmd, "--max-experiments", "1", "--json")
    assert json.loads(proc.stdout)["keeps"] == 1
    assert session.git("log", "-1", "--format=%s") == "halve the cost now"
    assert session.runs()[-1]["hypothesis"] == "less work"
    assert "not a valid shell command line" in session.cli("loop", "--agent-cmd", "agent 'open",
                                                           check=2).stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_counts_of_a_killed_attempt_are_not_counted_again(repo: Repo):
    # `cat` reports its count when it exits; with HOLD set the benchmark then waits, so a harness
    # killed there has had part of a count. Counts travel over each run's own channel, never
    # through files a later attempt could find. (A command rather than a script: valgrind starts
    # no `env` and second shell in every counted run.)
    hold = f"{unique_hang() - 940:.6f}"  # about 60 s, and no other process's
    repo.cli("init", "--name", "instr", "--metric", "instructions", "--measure", "instructions",
             "--benchmark", f'cat work.py > /dev/null; if [ -n "${{HOLD:-}}" ]; then sleep {hold}; fi',
             "--scope", "work.py")
    repo.write("work.py", repo.read("work.py") + "# a comment: the same work\n")
    run_dir = repo.path / ".autoresearch" / "runs" / "0002"
    harness = subprocess.Popen([sys.executable, "-m", "autoresearch", "run", "-m", "no-op"],
                               cwd=repo.path, env=repo.env(HOLD="1"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    # the benchmark sleeps (under valgrind too): `cat` has counted and exited
    wait_until(lambda: _running_with(f"sleep\0{hold}"), "the benchmark's wait after its count")
    harness.kill()  # kill -9 in the middle of the measurement
    harness.wait()
    result = repo.cli_json("run", "-m", "no-op")
    assert result["verdict"] == "discard" and result["reason"] != "worse", result
    assert abs(result["ratio"] - 1) < 0.001
    assert not list(run_dir.glob("**/cg.*"))
