"""`loop --parallel`: several scripted agents at once, one measurement queue, rebases and conflicts."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    Repo,
    fewer_rounds,
    live_members,
    make_project,
    processes_running,
    unique_hang,
    wait_until,
)

from autoresearch.infra.git import Git
from autoresearch.parallel import Conflict, rebase

# A scripted agent: each proposal takes the next step of its slot's plan (the slot is the name
# of the worktree it runs in; in the plain loop, the repository's). Steps, `;`-separated:
# `claim` (apply the next prepared patch of the shared folder, taken atomically),
# `set NAME VALUE` (edit a constant of work.py), `wait FILE` / `touch FILE` (in the plan
# folder), `idea TEXT` (add to the backlog), `hang`. Every prompt is kept as <slot>-<n>.md in the plan folder.
# run by this interpreter's path, not a `python3` on PATH that may be a version manager's shim
AGENT = f"#!{sys.executable} -S\n" + r'''import os, pathlib, re, subprocess, sys, time
plans = pathlib.Path(os.environ["PLANS"])
slot = pathlib.Path.cwd().name
plan = plans / slot
steps = plan.read_text().splitlines() if plan.exists() else []
step, rest = (steps[0], steps[1:]) if steps else ("", [])
plan.write_text("\n".join(rest))
seen = sorted(plans.glob(f"{slot}-*.md"))
(plans / f"{slot}-{len(seen) + 1}.md").write_text(pathlib.Path(sys.argv[1]).read_text())
time.sleep(float(os.environ.get("DELAY", "0")))
report = pathlib.Path(os.environ["AUTORESEARCH_PROPOSAL_FILE"])
for action in filter(None, (s.strip() for s in step.split(";"))):
    word, *args = action.split()
    if word == "claim":
        for patch in sorted((plans / "patches").glob("*.patch")):
            mine = plans / "taken" / patch.name
            try:
                patch.rename(mine)
            except FileNotFoundError:
                continue  # another slot took it first
            subprocess.run(["git", "apply", "--3way", str(mine)], check=True)
            report.write_text(patch.stem + "\n")
            break
    elif word == "set":
        work = pathlib.Path("work.py")
        work.write_text(re.sub(rf"^{args[0]} = .*$", f"{args[0]} = {args[1]}", work.read_text(), flags=re.M))
        report.write_text(f"{args[0]} to {args[1]}\n")
    elif word == "wait":
        while not (plans / args[0]).exists():
            time.sleep(0.01)
    elif word == "touch":
        (plans / args[0]).touch()
    elif word == "idea":
        with open("autoresearch.ideas.md", "a") as fh:
            fh.write("- " + " ".join(args) + "\n")
    elif word == "hang":
        subprocess.Popen(["sleep", os.environ["HANG"]]); time.sleep(float(os.environ["HANG"]))
'''


def _agent(tmp_path: Path, plans: dict[str, list[str]] | None = None) -> tuple[str, dict[str, str]]:
    folder = tmp_path / "plans"
    (folder / "patches").mkdir(parents=True, exist_ok=True)
    (folder / "taken").mkdir(exist_ok=True)
    for slot, steps in (plans or {}).items():
        (folder / slot).write_text("\n".join(steps))
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    return (f"{shlex.quote(sys.executable)} {script} {{prompt_file}}",
            {"PLANS": str(folder), "HANG": str(unique_hang())})


def _session(path: Path) -> Repo:
    repo = make_project(path)
    repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py",
             "--timeout", "5", "--checks-timeout", "30")
    fewer_rounds(repo)
    return repo


def _loop(repo: Repo, *args: str, env: dict[str, str], check: int = 0) -> dict:
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", *args, "--json"],
                          cwd=repo.path, capture_output=True, text=True, timeout=280,
                          env=repo.env(**env))
    assert proc.returncode == check, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def _write_patches(repo: Repo, folder: Path) -> None:
    """Patches that touch lines far enough apart to merge onto each other in any order."""
    edits = {
        "1-halve-cost": lambda: repo.set("COST", 50),
        "2-break-the-answer": lambda: repo.set("FAIL", True),
        "3-nap-a-little": lambda: repo.set("NAP", 0.001),
        "4-tamper-with-the-benchmark": lambda: repo.write(
            "autoresearch.sh", repo.read("autoresearch.sh").replace("work.COST", "1")),
        "5-notes-outside-the-scope": lambda: repo.write("notes.txt", "scratch\n"),
    }
    for name, edit in edits.items():
        edit()
        repo.git("add", "-A")
        (folder / f"{name}.patch").write_text(repo.git("diff", "--cached", "--binary", raw=True))
        repo.git("reset", "-q", "--hard")


def _verdicts(repo: Repo) -> dict[str, tuple[str, str]]:
    return {r["description"]: (r["verdict"], r["reason"]) for r in repo.runs()[1:]}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_three_proposers_reach_the_verdicts_of_one(tmp_path: Path):
    verdicts = []
    for n in (1, 3):
        repo = _session(tmp_path / f"n{n}")
        cmd, env = _agent(tmp_path / f"agent{n}", {slot: ["claim"] * 5 for slot in
                                                   ("proposer-1", "proposer-2", "proposer-3", f"n{n}")})
        _write_patches(repo, tmp_path / f"agent{n}" / "plans" / "patches")
        summary = _loop(repo, "--agent-cmd", cmd, "--parallel", str(n), "--max-experiments", "5",
                        env={**env, "DELAY": "0.2"})
        assert summary["experiments"] == 5
        verdicts.append(_verdicts(repo))
        runs = repo.runs()[1:]
        if n == 3:
            assert {r["slot"] for r in runs} <= {1, 2, 3} and len({r["slot"] for r in runs}) > 1
            assert all(r["proposal"] for r in runs)
            worktrees = repo.git("worktree", "list", "--porcelain")
            assert "proposer-" not in worktrees  # removed when the loop ends
        assert repo.git("status", "--porcelain") == ""
        assert "COST = 50" in repo.read("work.py")  # the keep reached the user's working tree
    assert verdicts[0] == verdicts[1]
    assert verdicts[0]["1-halve-cost"] == ("keep", "better by 50.0%")
    assert verdicts[0]["2-break-the-answer"][0] == "checks_failed"
    assert verdicts[0]["4-tamper-with-the-benchmark"] == ("discard", "tampered: autoresearch.sh")
    assert verdicts[0]["5-notes-outside-the-scope"] == ("discard", "out of scope: notes.txt")


def test_a_stale_candidate_is_rebased_and_judged_a_conflicting_one_recorded(tmp_path: Path):
    repo = _session(tmp_path / "project")
    # Both start on the baseline; the second and third finish only once the first is kept.
    # Then each waits in its next proposal until the test has seen its brief.
    cmd, env = _agent(tmp_path, {
        "proposer-1": ["set COST 50", "wait end"],
        "proposer-2": ["wait go; set NAP 0.001; idea nap less", "wait end"],
        "proposer-3": ["wait go; set COST 70", "wait end"],
    })
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "loop", "--agent-cmd", cmd,
                             "--parallel", "3", "--json"],
                            cwd=repo.path, env=repo.env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    briefs = tmp_path / "plans"
    try:
        wait_until(lambda: any(r["verdict"] == "keep" for r in repo.runs()), "the first keep")
        (briefs / "go").touch()
        wait_until(lambda: (briefs / "proposer-2-2.md").exists() and (briefs / "proposer-3-2.md").exists(),
                   "the next proposals of the late proposers")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    runs = {r["description"]: r for r in repo.runs()[1:]}
    kept = runs["COST to 50"]
    stale = runs["NAP to 0.001"]
    # Made on the first incumbent, measured on the kept commit: the candidate held both changes.
    assert repo.git("rev-parse", f"{stale['proposal']}^") == kept["incumbent_commit"]
    assert stale["incumbent_commit"] == kept["commit"]
    assert stale["metric"] == 50 and stale["verdict"] == "discard"
    assert "COST = 50" in repo.git("show", f"{stale['commit']}:work.py")
    # Checks run ahead in the proposer's slot count only for the tree they ran on.
    state = repo.path / ".autoresearch"
    assert not (state / "runs" / f"{kept['run']:04d}" / "checks.out").exists()
    assert (state / "runs" / f"{stale['run']:04d}" / "checks.out").exists()  # merged: checked again
    assert kept["durations"]["checks_s"] > 0
    clash = runs["COST to 70"]
    assert clash["verdict"] == "conflict" and clash["status"] == "discard"
    assert clash["reason"] == "conflict with the incumbent in work.py"
    assert clash["slot"] == 3 and clash["rounds"] == 0
    # Its author is told in its next brief, and only its author.
    assert "conflicts with changes kept meanwhile in work.py" in (briefs / "proposer-3-2.md").read_text()
    assert "conflicts with" not in (briefs / "proposer-2-2.md").read_text()
    assert json.loads(out)["experiments"] == 3
    assert "- nap less" in repo.read("autoresearch.ideas.md")  # from its worktree's backlog
    for run in runs.values():  # the agents' transcripts outlive their worktrees
        assert Path(run["transcript"]).is_file()
        assert "/proposals/proposer-" in run["transcript"]
    assert repo.git("status", "--porcelain") == ""


def test_rebase_merges_separate_lines_and_names_conflicting_files(repo: Repo):
    git = Git(repo.path)
    base = git.rev("HEAD")
    commits = {}
    for name, value in (("COST", 50), ("NAP", 0.5), ("COST", 70)):
        repo.set(name, value)
        repo.git("commit", "-qam", f"{name} {value}")
        commits[f"{name} {value}"] = git.rev("HEAD")
        repo.git("reset", "-q", "--hard", base)
    merged = rebase(git, commits["NAP 0.5"], commits["COST 50"])
    assert isinstance(merged, str)
    text = repo.git("show", f"{merged}:work.py")
    assert "COST = 50" in text and "NAP = 0.5" in text
    assert repo.git("rev-parse", f"{merged}^") == commits["COST 50"]
    assert rebase(git, commits["COST 70"], commits["COST 50"]) == Conflict(("work.py",))
    assert git.rev("HEAD") == base and repo.git("status", "--porcelain") == ""


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_with_two_proposers_leaves_no_process_and_a_consistent_ledger(tmp_path: Path, presses: int):
    repo = _session(tmp_path / "project")
    # One candidate is measured (its benchmark sleeps) while the other proposer hangs.
    cmd, env = _agent(tmp_path, {"proposer-1": ["set COST 50"], "proposer-2": ["touch hanging; hang"]})
    bench_sleep = "1000" if presses == 2 else "0.3"
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "loop", "--agent-cmd", cmd,
                             "--parallel", "2", "--json"],
                            cwd=repo.path, env=repo.env(BENCH_SLEEP=bench_sleep, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        group = repo.private("group.json")
        wait_until(lambda: group.exists() and "pgid" in json.loads(group.read_text() or "{}"),
                   "the measurement of the first candidate")
        wait_until(lambda: (tmp_path / "plans" / "hanging").exists(), "the second proposer")
        pgid = json.loads(group.read_text())["pgid"]
        proc.send_signal(signal.SIGINT)
        if presses == 2:
            for line in proc.stderr:
                if "stopping after the current experiment" in line:
                    break
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert processes_running(f"sleep {env['HANG']}") == []  # the hanging agent was stopped
    assert live_members(pgid) == []
    verdicts = [r["verdict"] for r in repo.runs()]
    if presses == 1:
        assert proc.returncode == 0, err
        assert json.loads(out)["stop_reason"] == "stopped by Ctrl-C"
        assert verdicts == ["baseline", "keep"]  # the experiment in flight was finished
        assert "COST = 50" in repo.read("work.py")
    else:
        assert proc.returncode == 130
        assert verdicts == ["baseline"]
        # The candidate waits in the queue: the next loop judges it first.
        cmd2, env2 = _agent(tmp_path / "again", {})
        summary = _loop(repo, "--agent-cmd", cmd2, "--parallel", "2", "--max-experiments", "1",
                        env=env2)
        assert [r["verdict"] for r in repo.runs()] == ["baseline", "keep"]
        assert summary["runs"][0]["description"] == "COST to 50"
    assert repo.git("status", "--porcelain") == ""
    assert "proposer-" not in repo.git("worktree", "list", "--porcelain")
