"""The autonomous loop with real proposers: fake agents as real scripts, real patch folders."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Repo, fewer_rounds, live_members, processes_running, unique_hang, wait_until

from autoresearch.loop import Budget, LoopState, stop_reason
from autoresearch.model import StopReason

# A fake coding agent: a real executable that edits files the way an agent would. It pops its
# next action from a plan file outside the repository.
# run by this interpreter's path, not a `python3` on PATH that may be a version manager's shim
AGENT = f"#!{sys.executable} -S\n" + r'''import os, pathlib, re, subprocess, sys, time
plan = pathlib.Path(os.environ["PLAN"])
actions = plan.read_text().split()
action, rest = actions[0], actions[1:]
plan.write_text(" ".join(rest))
prompt = pathlib.Path(sys.argv[1]).read_text()
pathlib.Path(os.environ["SEEN"]).write_text(prompt)
work = pathlib.Path("work.py")
def set_const(name, value):
    work.write_text(re.sub(rf"^{name} = .*$", f"{name} = {value}", work.read_text(), flags=re.M))
def cost():
    return int(re.search(r"^COST = (\d+)", work.read_text(), re.M)[1])
report = pathlib.Path(os.environ["AUTORESEARCH_PROPOSAL_FILE"])
if action == "faster":
    set_const("COST", cost() // 2)
elif action == "slower":
    set_const("COST", cost() * 2)
elif action == "break":
    set_const("COST", 1); set_const("FAIL", True)
elif action == "tamper":
    b = pathlib.Path("autoresearch.sh"); b.write_text(b.read_text().replace("work.COST", "1"))
elif action == "hang":
    subprocess.Popen(["sleep", os.environ["HANG"]]); time.sleep(float(os.environ["HANG"]))
elif action == "interrupted":  # the user presses Ctrl-C while the agent works, then it finishes
    pathlib.Path(os.environ["PLAN"] + ".working").touch()
    while not pathlib.Path(os.environ["PLAN"] + ".go").exists():
        time.sleep(0.01)
    set_const("COST", cost() // 2)
elif action == "commit":
    set_const("COST", cost() // 2)
    subprocess.run(["git", "commit", "-qam", "agent commits on its own"], check=True)
elif action == "fail":
    print("model overloaded", file=sys.stderr); sys.exit(3)
if action != "noop":
    report.write_text(f"{action} the work\nHypothesis: {action} changes COST\n")
'''


def _agent(tmp_path: Path, plan: list[str]) -> tuple[str, dict[str, str]]:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    script.chmod(0o755)
    (tmp_path / "plan").write_text(" ".join(plan))
    env = {"PLAN": str(tmp_path / "plan"), "SEEN": str(tmp_path / "seen-prompt.md"),
           "HANG": str(unique_hang())}
    return f"{shlex.quote(sys.executable)} {script} {{prompt_file}}", env


def _loop(repo: Repo, *args: str, env: dict[str, str] | None = None, check: int = 0) -> dict:
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", *args, "--json"],
                          cwd=repo.path, capture_output=True, text=True, timeout=280,
                          env=repo.env(**(env or {})))
    assert proc.returncode == check, proc.stderr + proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_agent_cmd_session_judges_every_kind_of_proposal(session: Repo, tmp_path: Path):
    cmd, env = _agent(tmp_path, ["faster", "slower", "break", "tamper", "noop", "commit", "faster"])
    summary = _loop(session, "--agent-cmd", cmd, "--max-experiments", "6", env=env)
    assert summary["stop_reason"] == "reached --max-experiments 6"
    got = [(r["verdict"], r["reason"]) for r in session.runs()[1:]]
    assert got == [
        ("keep", "better by 50.0%"),
        ("discard", "worse"),
        ("checks_failed", "checks failed (exit code 1): AssertionError: wrong answer"),
        ("discard", "tampered: autoresearch.sh"),
        ("discard", "no change"),
        ("keep", "better by 50.0%"),
    ]
    runs = session.runs()
    assert runs[1]["description"] == "faster the work"
    assert runs[1]["hypothesis"] == "faster changes COST"
    assert runs[1]["proposer"].startswith("agent:")
    # The agent's own commit was rewound and judged by the harness like any candidate.
    assert session.git("log", "--format=%s", "-2").splitlines() == ["commit the work", "faster the work"]
    assert "COST = 25" in session.read("work.py")
    assert session.git("status", "--porcelain") == ""
    # The brief the agent saw holds the history, with verdicts and reasons.
    prompt = (tmp_path / "seen-prompt.md").read_text()
    assert "tampered: autoresearch.sh" in prompt and "make cost lower" in prompt
    assert "Output of the last failure" in prompt and "wrong answer" in prompt


def test_hanging_agent_is_killed_and_failures_stop_the_loop(session: Repo, tmp_path: Path):
    cmd, env = _agent(tmp_path, ["hang", "fail", "faster"])
    # The agent would hang ~1000 s: a loop that returns at all (within _loop's timeout) killed it.
    summary = _loop(session, "--agent-cmd", cmd, "--agent-timeout", "2", "--max-failures", "2",
                    env=env, check=1)  # gave up: scripts see a failure
    assert summary["stop_reason"] == "2 crashes or proposer failures in a row"
    assert summary["experiments"] == 0
    assert len(session.runs()) == 1  # proposer failures are not experiments
    assert processes_running(f"sleep {env['HANG']}") == []
    assert session.git("status", "--porcelain") == ""


def _make_patch(repo: Repo, folder: Path, name: str, edit, subject: str | None = None) -> None:
    """Write a patch against the current HEAD, as `git format-patch` would, then undo the edit."""
    edit()
    if subject:
        repo.git("commit", "-qam", subject)
        text = repo.git("format-patch", "-1", "--stdout", raw=True)
        repo.git("reset", "-q", "--hard", "HEAD~1")
    else:
        text = repo.git("diff", raw=True)
        repo.git("checkout", "-q", "--", ".")
    (folder / name).write_text(text)


def test_patch_folder_runs_in_order_records_conflicts_and_resumes(session: Repo, tmp_path: Path):
    folder = tmp_path / "candidates"
    folder.mkdir()
    _make_patch(session, folder, "01-halve.patch", lambda: session.set("COST", 50),
                subject="Halve the cost")
    _make_patch(session, folder, "02-conflicts.patch", lambda: session.set("COST", 70))
    _make_patch(session, folder, "03-wrong-answer.diff", lambda: session.set("FAIL", True))
    (folder / "notes.txt").write_text("not a patch")
    summary = _loop(session, "--patches", str(folder))
    assert summary["stop_reason"] == "no more proposals"
    runs = session.runs()[1:]
    assert [r["description"] for r in runs] == ["Halve the cost", "conflicts", "wrong answer"]
    assert [r["proposer"] for r in runs] == ["patch:01-halve.patch", "patch:02-conflicts.patch",
                                           "patch:03-wrong-answer.diff"]
    assert runs[0]["verdict"] == "keep"
    assert runs[1]["verdict"] == "discard" and runs[1]["reason"].startswith("patch does not apply")
    assert runs[2]["verdict"] == "checks_failed"
    assert "COST = 50" in session.read("work.py")
    assert session.git("status", "--porcelain") == ""
    assert "<<<<<<<" not in session.read("work.py")
    # Resuming skips the patches already tried.
    again = _loop(session, "--patches", str(folder))
    assert again["experiments"] == 0 and again["stop_reason"] == "no more proposals"


def test_loop_ends_with_its_keeps_gains_and_why_it_stopped(session: Repo, tmp_path: Path):
    folder = tmp_path / "candidates"
    folder.mkdir()
    _make_patch(session, folder, "01-halve.patch", lambda: session.set("COST", 50),
                subject="Halve the cost")
    _make_patch(session, folder, "02-wrong-answer.diff", lambda: session.set("FAIL", True))
    out = session.cli("loop", "--patches", str(folder)).stdout  # piped: plain lines
    assert "\x1b[" not in out, "no terminal codes when piped"
    summary = out[out.index("stopped: no more proposals"):]
    for expected in ("2 experiments, 1 kept", "Kept (each measured against the incumbent",
                     "run 2: Halve the cost — 50.0% better, ratio 0.500 [0.500, 0.500], ",
                     "Not kept:", "run 3: wrong answer — checks_failed: checks failed",
                     "session speed: cost 100 → 50, total +50.0% exact from 1 keep",
                     "autoresearch report"):
        assert expected in summary, expected
    again = session.cli("loop", "--patches", str(folder)).stdout
    assert "nothing left to judge" in again and "total +50.0% exact from 1 keep" in again


def test_patience_stops_after_experiments_without_a_keep(session: Repo, tmp_path: Path):
    cmd, env = _agent(tmp_path, ["slower", "slower", "slower", "faster"])
    summary = _loop(session, "--agent-cmd", cmd, "--patience", "2", env=env)
    assert summary["experiments"] == 2
    assert summary["stop_reason"] == "2 experiments without a keep (--patience 2)"


def test_one_proposer_is_required(session: Repo):
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop"], cwd=session.path,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "exactly one proposer" in proc.stderr


def test_loop_refuses_uncommitted_work_it_did_not_make(session: Repo, tmp_path: Path):
    session.set("COST", 1)
    cmd, env = _agent(tmp_path, ["faster"])
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", "--agent-cmd", cmd],
                          cwd=session.path, capture_output=True, text=True, env=session.env(**env))
    assert proc.returncode == 2 and "uncommitted changes that no experiment made" in proc.stderr
    assert "COST = 1" in session.read("work.py")


@pytest.mark.parametrize(("budget", "state", "expected"), [
    (Budget(max_experiments=3), LoopState(experiments=3),
     (StopReason.MAX_EXPERIMENTS, "reached --max-experiments 3")),
    (Budget(max_usd=1.0), LoopState(spent_usd=1.25), (StopReason.MAX_USD, "spent $1.25 of --max-usd 1")),
    (Budget(patience=4), LoopState(since_keep=4),
     (StopReason.PATIENCE, "4 experiments without a keep (--patience 4)")),
    (Budget(max_failures=3), LoopState(failures_in_a_row=3),
     (StopReason.FAILURES, "3 crashes or proposer failures in a row")),
    (Budget(max_experiments=3, max_usd=2), LoopState(experiments=2, spent_usd=1.0), None),
])
def test_stop_rules(budget: Budget, state: LoopState, expected: tuple[StopReason, str] | None):
    assert stop_reason(budget, state) == expected


def test_max_hours_stops(session: Repo, tmp_path: Path):
    cmd, env = _agent(tmp_path, ["faster"] * 5)
    summary = _loop(session, "--agent-cmd", cmd, "--max-hours", "0", env=env)
    assert summary["experiments"] == 0 and summary["stop_reason"] == "reached --max-hours 0"


def _wait_for_measurement(repo: Repo, run: int) -> None:
    group = repo.private("group.json")

    def measuring() -> bool:
        try:
            data = json.loads(group.read_text())
        except (FileNotFoundError, ValueError):
            return False
        return data.get("run") == run and "pgid" in data

    wait_until(measuring, f"the measurement of run {run}")


@contextmanager
def _killed_on_failure(proc: subprocess.Popen) -> Iterator[None]:
    """A failing test leaves no harness behind (its own cleanup stops the benchmark it ran)."""
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_line(stream, text: str) -> None:
    """Read a child's output until a line containing `text`: the child got that far."""
    for line in stream:
        if text in line:
            return
    raise AssertionError(f"the output ended without {text!r}")


def test_first_ctrl_c_finishes_the_experiment_then_stops(session: Repo, tmp_path: Path):
    # The agent holds its proposal until the harness has taken the Ctrl-C: no race with the clock.
    cmd, env = _agent(tmp_path, ["interrupted", "faster", "faster"])
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "loop", "--agent-cmd", cmd, "--json"],
                            cwd=session.path, env=session.env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with _killed_on_failure(proc):
        wait_until(lambda: Path(env["PLAN"] + ".working").exists(), "the agent to start")
        proc.send_signal(signal.SIGINT)
        _wait_for_line(proc.stderr, "stopping after the current experiment")
        Path(env["PLAN"] + ".go").touch()
        out, err = proc.communicate(timeout=280)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stop_reason"] == "stopped by Ctrl-C"
    assert [r["verdict"] for r in session.runs()] == ["baseline", "keep"]  # judged, then stopped
    assert session.git("status", "--porcelain") == ""


def test_second_ctrl_c_stops_at_once_and_loop_resumes(session: Repo, tmp_path: Path):
    cmd, env = _agent(tmp_path, ["faster", "faster"])
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "loop", "--agent-cmd", cmd, "--json"],
                            cwd=session.path, env=session.env(BENCH_SLEEP="1000", **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with _killed_on_failure(proc):
        _wait_for_measurement(session, 2)
        pgid = json.loads(session.private("group.json").read_text())["pgid"]
        proc.send_signal(signal.SIGINT)  # while the benchmark sleeps: the first asks to stop after it
        _wait_for_line(proc.stderr, "stopping after the current experiment")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=280)
    assert proc.returncode == 130
    assert live_members(pgid) == []
    assert [r["verdict"] for r in session.runs()] == ["baseline"]
    assert "COST = 50" in session.read("work.py")  # the candidate waits, unmeasured
    summary = _loop(session, "--agent-cmd", cmd, "--max-experiments", "2", env=env)
    assert [r["verdict"] for r in session.runs()] == ["baseline", "keep", "keep"]
    assert summary["experiments"] == 2
    assert "COST = 25" in session.read("work.py")


def test_ideas_backlog(session: Repo):
    session.cli("idea", "cache the parsed template")
    session.cli("idea", "  use   str.find  ")
    assert session.cli_json("ideas")["ideas"] == ["cache the parsed template", "use str.find"]
    assert "autoresearch.ideas.md" not in session.git("status", "--porcelain")
    session.set("COST", 20)
    assert session.cli_json("run", "-m", "with ideas around")["status"] == "keep"
    assert "autoresearch.ideas.md" not in session.git("show", "--name-only", "--format=", "HEAD")


def test_llm_loop_against_a_local_openai_compatible_server(session: Repo):
    from test_llm_proposer import FakeServer, completion

    good = ("DESCRIPTION: halve the cost\nHYPOTHESIS: less work\n\nwork.py\n<<<<<<< SEARCH\n"
            "COST = 100\n=======\nCOST = 50\n>>>>>>> REPLACE\n")
    server = FakeServer()
    server.replies = [completion("no edits here, sorry"), completion(good)]  # retried once
    try:
        summary = _loop(session, "--llm", "test-model", "--base-url", server.url,
                        "--price-in", "2", "--price-out", "10", "--max-experiments", "1",
                        env={"OPENAI_API_KEY": "test-key"})
    finally:
        server.close()
    assert summary["experiments"] == 1 and summary["keeps"] == 1
    record = session.runs()[-1]
    assert (record["verdict"], record["description"], record["hypothesis"]) == (
        "keep", "halve the cost", "less work")
    assert record["proposer"] == "llm:test-model"
    assert record["tokens"] == {"input": 2000, "output": 400}
    assert abs(record["cost_usd"] - (2000 * 2 + 400 * 10) / 1e6) < 1e-12
    assert abs(summary["spent_usd"] - record["cost_usd"]) < 1e-12
    # The model saw the brief and the file in scope.
    first = server.requests[0]["messages"]
    text = json.dumps(first)
    assert "make cost lower" in text and "COST = 100" in text
    assert "COST = 50" in session.read("work.py")


def test_live_view_shows_phase_progress_recent_experiments_and_budget(session: Repo):
    import io

    from rich.console import Console

    from autoresearch.experiment import ExperimentResult
    from autoresearch.faces.view import LiveView, PlainView
    from autoresearch.model import RunRecord
    from autoresearch.progress import MEASURING, ProgressEvent
    from autoresearch.session import open_session
    from autoresearch.stats import Comparison

    session.set("COST", 80)
    session.cli("run", "-m", "trim the work")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    budget = Budget(max_experiments=10, patience=5)
    view = LiveView(open_session(session.path), budget, console=console)
    running = Comparison("continue", 2, 0.88, (0.80, 0.96), 0.12, 0.2, "too few rounds")
    view.phase(ProgressEvent(MEASURING, 3, 24, running, "lower", seconds_per_round=10.0, run=4,
                             description="cache the lexer"))
    view.message("stopping after the current experiment")
    # measurements under way on Dask workers before their turn: one line each, with the worker
    for slot, worker in ((1, "tcp://10.0.0.7:4001"), (2, "tcp://10.0.0.8:4002")):
        view.phase(ProgressEvent(MEASURING, 2 * slot, 24, running, "lower",
                                 description=f"proposer {slot}: idea {slot}", worker=worker))
    state = LoopState(experiments=2, since_keep=1)
    record = RunRecord(run=3, status="discard", verdict="discard", reason="worse", timestamp=0)
    view.experiment(ExperimentResult(record), state)
    judged = RunRecord(run=5, status="discard", verdict="discard", reason="worse", timestamp=0,
                       slot=2, description="idea 2")
    view.experiment(ExperimentResult(judged), state)
    assert list(view.remote) == ["proposer 1: idea 1"]  # a judged one leaves the list
    view.close()
    screen = buffer.getvalue()
    for expected in ("now: run 4 cache the lexer · round 3/24",
                     "on tcp://10.0.0.7:4001: proposer 1: idea 1 · round 2/24  estimate +12.0%",
                     "estimate +12.0% [+4.0%, +20.0%]", "≤ 3 min 40 s left",
                     "baseline 100", "gain (keeps' paired ratios) +20.0%", "trim the work",
                     "better by 20.0%", "experiments 2/10", "without keep 1/5",
                     "stopping after the current experiment"):
        assert expected in screen, expected
    lines = io.StringIO()
    plain = PlainView(open_session(session.path), lines)
    plain.experiment(ExperimentResult(record), state)
    assert "run 3 DISCARD" in lines.getvalue() and "worse" in lines.getvalue()


def test_a_proposers_new_file_outside_the_scope_is_judged_out_of_scope(session: Repo, tmp_path: Path):
    agent = tmp_path / "stray.sh"
    agent.write_text("#!/bin/sh\necho 'import os' > sitecustomize.py\n"
                     "sed -i 's/^COST = .*/COST = 10/' work.py\n")
    agent.chmod(0o755)
    _loop(session, "--agent-cmd", str(agent), "--max-experiments", "1")
    record = session.runs()[-1]
    assert (record["verdict"], record["reason"]) == ("discard", "out of scope: sitecustomize.py")
    assert not (session.path / "sitecustomize.py").exists()
    saved = session.git("show", "--name-only", "--format=", record["candidate_ref"]).split()
    assert sorted(saved) == ["sitecustomize.py", "work.py"]
    assert session.git("status", "--porcelain") == ""


def test_patch_folder_inside_the_repository_with_an_open_scope(repo: Repo):
    repo.cli("init", "--name", "open", "--metric", "cost", "--timeout", "5")  # no --scope
    fewer_rounds(repo)
    folder = repo.path / "ideas"
    folder.mkdir()
    _make_patch(repo, folder, "01-halve.patch", lambda: repo.set("COST", 50), subject="Halve")
    summary = _loop(repo, "--patches", "ideas")
    assert summary["experiments"] == 1 and summary["keeps"] == 1
    assert (folder / "01-halve.patch").exists()  # the user's folder is not part of any candidate
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == ["work.py"]


def test_dead_ends_survive_a_new_segment_in_the_brief(session: Repo):
    from autoresearch.brief import build_brief
    from autoresearch.session import open_session

    session.set("COST", 300)
    session.cli("run", "-m", "triple the cost")
    session.cli("init", "--new-segment")
    text = build_brief(open_session(session.path)).text
    assert "## Dead ends" in text and "triple the cost → worse" in text
    assert "do not call `autoresearch run`" in text  # the loop runs the experiment itself
