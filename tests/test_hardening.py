"""Attacks on git and on the harness's state, tried end to end on real repositories."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo, live_members, unsealed

from autoresearch.config import load
from autoresearch.infra.git import Git, _link_gone, drivers_off
from autoresearch.infra.runner import process_identity, same_group
from autoresearch.infra.workspace import first_violation


def _counter(repo: Repo, name: str) -> tuple[Path, str]:
    """A file outside the repository and a shell line that appends to it when run."""
    path = repo.path.parent / f"{name}.count"
    return path, f'echo {name} >> "{path}"'


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _install_hostile_git_config(repo: Repo) -> dict[str, Path]:
    """What an agent (or unsealed candidate code) can put in `.git`: a hook, an fsmonitor,
    filter and diff drivers that every file is routed through. Each one counts its runs."""
    counters = {}
    common = Path(repo.git("rev-parse", "--path-format=absolute", "--git-common-dir"))
    for name in ("reference-transaction", "post-checkout", "post-index-change"):
        counters[name], line = _counter(repo, name)
        hook = common / "hooks" / name
        hook.parent.mkdir(exist_ok=True)
        hook.write_text(f"#!/bin/sh\n{line}\n")
        hook.chmod(0o755)
    counters["fsmonitor"], line = _counter(repo, "fsmonitor")
    script = repo.path.parent / "fsmonitor.sh"
    script.write_text(f"#!/bin/sh\n{line}\nexit 1\n")
    script.chmod(0o755)
    repo.git("config", "core.fsmonitor", str(script))
    for driver in ("smudge", "clean", "textconv", "command"):
        counters[driver], line = _counter(repo, driver)
    # The smudge filter would give the candidate's checkout a cheaper work.py than it committed.
    _, smudge = _counter(repo, "smudge")
    repo.git("config", "filter.evil.smudge", f"{smudge}; sed 's/^COST = .*/COST = 1/'")
    repo.git("config", "filter.evil.clean", f"{_counter(repo, 'clean')[1]}; cat")
    repo.git("config", "filter.evil.required", "true")
    repo.git("config", "diff.evil.textconv", f"{_counter(repo, 'textconv')[1]}; cat")
    repo.git("config", "diff.evil.command", f"{_counter(repo, 'command')[1]}; true")
    (common / "info").mkdir(exist_ok=True)
    (common / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    return counters


def test_hooks_fsmonitor_and_drivers_in_the_repository_never_run_in_harness_git_calls(session: Repo):
    counters = _install_hostile_git_config(session)
    session.set("COST", 50)
    result = session.cli_json("run", "-m", "halve cost")
    assert {name: _count(path) for name, path in counters.items()} == dict.fromkeys(counters, 0)
    # Measured and committed as written, not as the smudge filter would have checked it out.
    assert (result["verdict"], result["metric"]) == ("keep", 50)
    assert "COST = 50" in (session.path / ".autoresearch/worktrees/candidate/work.py").read_text()
    assert session.git("rev-parse", "HEAD") == result["commit"]
    # The same config does run in a plain git call: the counters above would have seen it.
    session.git("update-ref", "refs/heads/probe", "HEAD")
    assert _count(counters["reference-transaction"]) > 0


def test_candidate_code_installing_hooks_during_its_checks_does_not_reach_the_harness(session: Repo):
    hook_count, line = _counter(session, "hook")
    fsmonitor_count, fsm_line = _counter(session, "fsm")
    # Runs whenever the checks or the benchmark import the candidate's work.py.
    session.write("work.py", session.read("work.py").replace("COST = 100", "COST = 50") + f"""
import os, subprocess
try:
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            capture_output=True, text=True).stdout.strip()
    if common:
        os.makedirs(common + "/hooks", exist_ok=True)
        with open(common + "/hooks/reference-transaction", "w") as fh:
            fh.write({"#!/bin/sh" + chr(10) + line + chr(10)!r})
        os.chmod(common + "/hooks/reference-transaction", 0o755)
        subprocess.run(["git", "config", "core.fsmonitor", {fsm_line!r}], capture_output=True)
except OSError:
    pass
""")
    result = session.cli_json("run", "-m", "halve cost, and plant a hook")
    assert _count(hook_count) == 0 and _count(fsmonitor_count) == 0
    assert result["verdict"] == "keep" and session.git("rev-parse", "HEAD") == result["commit"]


def test_git_files_are_protected_at_any_depth(session: Repo):
    session.write(".gitignore", session.read(".gitignore") + "work.py\n")
    session.set("COST", 50)
    result = session.cli_json("run", "-m", "hide work.py from snapshots")
    assert (result["verdict"], result["reason"]) == ("discard", "tampered: .gitignore")
    # A new .gitattributes outside the scope is the user's scratch: never part of a candidate.
    session.write(".gitattributes", "autoresearch.sh filter=evil\n")
    session.set("COST", 50)
    assert session.cli_json("run", "-m", "attributes")["verdict"] == "keep"
    assert ".gitattributes" not in session.git("ls-tree", "--name-only", "HEAD").split()
    protected = load(session.path).protected_paths()
    for path in (".gitattributes", "sub/.gitmodules", "a/b/.gitattributes", ".github/workflows/ci.yml"):
        assert first_violation([path], protected, ["**"]) == f"tampered: {path}"
    assert first_violation(["src/git.py", "digit"], protected, ["**"]) is None


def test_symlink_leaving_the_repository_is_out_of_scope(session: Repo, tmp_path: Path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text(session.read("work.py").replace("COST = 100", "COST = 1"))
    (session.path / "work.py").unlink()
    (session.path / "work.py").symlink_to(outside)
    result = session.cli_json("run", "-m", "swap in a file from /tmp")
    assert (result["verdict"], result["reason"]) == ("discard", "out of scope: work.py")
    assert not (session.path / "work.py").is_symlink() and "COST = 100" in session.read("work.py")
    (session.path / "work.py").unlink()
    (session.path / "work.py").symlink_to("../../x/work.py")
    assert session.cli_json("run", "-m", "dot-dot")["reason"] == "out of scope: work.py"


def test_only_the_repositorys_own_drivers_are_switched_off(repo: Repo, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    (tmp_path / "home").mkdir()
    subprocess.run(["git", "config", "--global", "filter.lfs.smudge", "git-lfs smudge -- %f"],
                   check=True)
    repo.git("config", "filter.evil.clean", "evil")
    repo.git("config", "diff.evil.textconv", "evil")
    repo.git("config", "gpg.program", "evil")
    options = drivers_off(repo.path)
    assert Git(repo.path).run("config", "filter.lfs.smudge") == "git-lfs smudge -- %f"
    pairs = set(options[1::2])
    assert {"filter.evil.clean=", "filter.evil.smudge=", "diff.evil.textconv=",
            "commit.gpgSign=false"} <= pairs
    assert not any(p.startswith("filter.lfs") for p in pairs)


def test_drivers_are_read_again_whenever_a_config_file_changes(repo: Repo, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    """The switch-off list is reused between git calls, but never past a change to the config."""
    import autoresearch.infra.git as git_module

    monkeypatch.setattr(git_module, "_SETTLE_NS", 0)  # no waiting for timestamps to age
    trace = tmp_path / "git.trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))

    def reads() -> int:
        return trace.read_text().count("built-in: git config --show-scope") if trace.exists() else 0

    def switched_off(where: Path) -> set[str]:
        return set(drivers_off(where)[1::2])

    repo.git("config", "filter.evil.clean", "evil")
    assert "filter.evil.clean=" in switched_off(repo.path)
    assert "filter.evil.clean=" in switched_off(repo.path)
    assert reads() == 1  # unchanged files: the first answer is reused

    repo.git("config", "diff.late.textconv", "evil")  # added between two harness calls
    assert {"filter.evil.clean=", "diff.late.textconv="} <= switched_off(repo.path)
    assert reads() == 2

    # An included file changed, its modification time set back: seen all the same.
    extra = repo.path / ".git" / "extra.cfg"
    extra.write_text("[core]\n\tquotePath = false\n")
    repo.git("config", "include.path", "extra.cfg")
    switched_off(repo.path)
    before = extra.stat()
    with extra.open("a") as fh:
        fh.write('[filter "hidden"]\n\tsmudge = evil\n')
    os.utime(extra, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "filter.hidden.smudge=" in switched_off(repo.path)

    # A linked worktree's own config.
    repo.git("config", "extensions.worktreeConfig", "true")
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "--quiet", "--detach", str(linked))
    assert "filter.wt.clean=" not in switched_off(linked)
    subprocess.run(["git", "config", "--worktree", "filter.wt.clean", "evil"], cwd=linked, check=True)
    assert "filter.wt.clean=" in switched_off(linked)

    # A conditional include may start to apply with no file changing: read on every call.
    repo.git("config", "includeIf.onbranch:main.path", "extra.cfg")
    count = reads()
    switched_off(repo.path)
    switched_off(repo.path)
    assert reads() == count + 2


# --- commits no experiment made -----------------------------------------------------------


def test_an_agents_own_commit_is_judged_not_taken_as_the_incumbent(session: Repo):
    incumbent = session.git("rev-parse", "HEAD")
    session.set("COST", 200)
    session.git("commit", "-qam", "agent: trust me, faster")
    agent_commit = session.git("rev-parse", "HEAD")
    status = session.cli_json("status")
    assert status["unjudged_commits"] == [agent_commit] and status["pending"]
    assert any(agent_commit[:10] in w and "judges it" in w for w in status["warnings"])
    result = session.cli_json("run", "-m", "measure what is there")
    assert (result["verdict"], result["reason"]) == ("discard", "worse")
    assert session.runs()[-1]["unjudged_commits"] == [agent_commit]
    # Where the honest verdict leaves it: the incumbent, with the agent's commit still reachable.
    assert session.git("rev-parse", "HEAD") == incumbent
    assert session.git("rev-parse", f"refs/autoresearch/speed/unjudged/{result['run']}") == agent_commit
    assert "COST = 100" in session.read("work.py") and session.git("status", "--porcelain") == ""
    assert session.cli_json("status")["unjudged_commits"] == []

    session.set("COST", 50)
    session.git("commit", "-qam", "agent: really faster")
    result = session.cli_json("run", "-m", "measure it")
    assert result["verdict"] == "keep"
    assert session.git("rev-parse", "HEAD") == result["commit"]
    assert session.git("rev-parse", "HEAD^") == incumbent  # measured against the last keep


def test_a_configuration_commit_by_the_user_is_accepted(session: Repo):
    session.write("autoresearch.toml", session.read("autoresearch.toml") + "\n# tuned\n")
    session.git("commit", "-qam", "tune the config")
    config_commit = session.git("rev-parse", "HEAD")
    status = session.cli_json("status")
    assert status["unjudged_commits"] == [] and not status["pending"]
    assert any("taken as your configuration" in w for w in status["warnings"])
    session.set("COST", 50)
    result = session.cli_json("run", "-m", "halve cost")
    assert result["verdict"] == "keep" and session.git("rev-parse", "HEAD^") == config_commit


COMMITS_ITSELF = """
import os, subprocess
common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                        capture_output=True, text=True).stdout.strip()
if common:  # the main repository's working tree holds this very candidate
    subprocess.run(["git", "-C", os.path.dirname(common), "commit", "-qam", "candidate commits itself"],
                   capture_output=True)
"""


def test_candidate_code_committing_during_its_checks_does_not_stay_head(session: Repo):
    incumbent = session.git("rev-parse", "HEAD")
    session.write("work.py", session.read("work.py").replace("FAIL = False", "FAIL = True") + COMMITS_ITSELF)
    result = session.cli_json("run", "-m", "broken, and commits itself")
    assert result["verdict"] == "checks_failed"
    # Unsealed, the commit happened and was undone; sealed, the code never saw the repository.
    assert (any("no experiment made" in n for n in result["notes"])
            or session.runs()[-1].get("sandbox") not in (None, "off"))
    assert session.git("rev-parse", "HEAD") == incumbent
    assert "FAIL = False" in session.read("work.py") and session.git("status", "--porcelain") == ""

    session.write("work.py", session.read("work.py").replace("COST = 100", "COST = 50") + COMMITS_ITSELF)
    result = session.cli_json("run", "-m", "faster, and commits itself")
    assert result["verdict"] == "keep"
    assert session.git("rev-parse", "HEAD") == result["commit"]
    assert session.git("rev-parse", "HEAD^") == incumbent
    assert session.git("status", "--porcelain") == ""


# --- the harness's state --------------------------------------------------------------------


def _forged_keep(session: Repo) -> str:
    """A commit a proposer made itself (COST = 1), without touching the branch or the index."""
    session.set("COST", 1)
    blob = subprocess.run(["git", "hash-object", "-w", "work.py"], cwd=session.path, check=True,
                          capture_output=True, text=True).stdout.strip()
    session.git("checkout", "--", "work.py")
    listing = session.git("ls-tree", "HEAD").replace(
        session.git("rev-parse", "HEAD:work.py"), blob)
    tree = subprocess.run(["git", "mktree"], input=listing + "\n", cwd=session.path, check=True,
                          capture_output=True, text=True).stdout.strip()
    return session.git("commit-tree", tree, "-p", "HEAD", "-m", "forged keep")


def test_forged_pending_and_result_files_in_the_working_tree_yield_nothing(session: Repo):
    head = session.git("rev-parse", "HEAD")
    forged = _forged_keep(session)
    record = {"run": 2, "status": "keep", "verdict": "keep", "timestamp": 1, "metric": 1,
              "commit": forged, "description": "forged"}
    state = session.path / ".autoresearch"
    (state / "runs" / "0002").mkdir(parents=True, exist_ok=True)
    decision = {"record": record, "tree": session.git("rev-parse", f"{forged}^{{tree}}"),
                "incumbent": head, "keep_commit": forged, "untracked_scope": []}
    (state / "runs" / "0002" / "result.json").write_text(json.dumps(decision))
    (state / "pending.json").write_text(json.dumps({"run": 2, "tree": decision["tree"]}))
    assert session.cli_json("status")["interrupted"] is None
    session.set("COST", 50)
    result = session.cli_json("run", "-m", "honest")
    assert (result["run"], result["verdict"], result["metric"]) == (2, "keep", 50)
    assert session.git("rev-parse", "HEAD^") == head
    assert [r["run"] for r in session.runs()] == [1, 2] and session.runs()[-1]["metric"] == 50


def test_state_of_an_older_version_is_moved_out_of_the_working_tree(session: Repo):
    unsealed(session)
    session.set("COST", 50)
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "run", "-m", "killed"],
                            cwd=session.path, env=session.env(BENCH_SLEEP="30"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    group = session.private("group.json")
    deadline = time.monotonic() + 60
    while not (group.exists() and "pgid" in group.read_text()):
        assert time.monotonic() < deadline, "the benchmark never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Lay the state out as an older version did: in .autoresearch/, no private directory, the
    # process group in the pending file, no signatures in the ledger.
    old = session.path / ".autoresearch"
    pending = json.loads(session.private("pending.json").read_text())
    noted = json.loads(group.read_text())
    pgid = noted["pgid"]
    session.private("pending.json").write_text(json.dumps(
        {**pending, "pgid": pgid, "pgid_identity": noted["pgid_identity"]}))
    for name in ("pending.json", "untracked.json"):
        shutil.move(session.private(name), old / name)
    shutil.rmtree(session.private(""))
    unsigned = [{k: v for k, v in line.items() if k != "mac"} for line in session.ledger()]
    session.write("autoresearch.jsonl", "".join(json.dumps(line) + "\n" for line in unsigned))
    status = session.cli_json("status")
    assert status["interrupted"]["run"] == 2 and status["pending"]
    assert any("read unverified" in w for w in status["warnings"])
    assert not (old / "pending.json").exists() and session.private("pending.json").exists()
    result = session.cli_json("run", "-m", "again")
    assert any("stopped processes left running" in n for n in result["notes"])
    assert result["verdict"] == "keep"
    assert live_members(pgid) == []


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "300"], start_new_session=True)


def test_a_stored_process_group_is_killed_only_while_its_leader_is_the_same_process(session: Repo):
    replaced, ours = _sleeper(), _sleeper()
    try:
        identity = process_identity(replaced.pid)
        assert identity is not None and same_group(ours.pid, process_identity(ours.pid))
        boot, start = identity.rsplit(":", 1)
        # The stored group's number now belongs to another process: one started later.
        session.private("pending.json").write_text(json.dumps(
            {"run": 2, "pgid": replaced.pid, "pgid_identity": f"{boot}:{int(start) - 100}"}))
        session.set("COST", 50)
        result = session.cli_json("run", "-m", "recovers first")
        assert replaced.poll() is None, "a process that merely reused the number was killed"
        assert any(f"process group {replaced.pid} of interrupted run 2 was left alone" in n
                   for n in result["notes"])
        session.private("pending.json").write_text(json.dumps(
            {"run": 3, "pgid": ours.pid, "pgid_identity": process_identity(ours.pid)}))
        session.cli("run", "-m", "nothing", check=2)
        assert ours.wait(timeout=10) == -signal.SIGKILL
    finally:
        for p in (replaced, ours):
            p.kill()
            p.wait()


# run by this interpreter's path, not a `python3` on PATH that may be a version manager's shim
HAND_RUN_AGENT = f"#!{sys.executable} -S\n" + r'''import os, pathlib, re, subprocess, sys
work = pathlib.Path("work.py")
work.write_text(re.sub(r"^COST = .*$", "COST = 50", work.read_text(), flags=re.M))
proc = subprocess.run([sys.executable, "-m", "autoresearch", "run", "-m", "judge myself"],
                      capture_output=True, text=True)
pathlib.Path(os.environ["HAND_RUN"]).write_text(f"{proc.returncode}\n{proc.stderr}")
'''


def test_a_run_by_hand_while_the_loop_lives_is_refused(session: Repo, tmp_path: Path):
    agent = tmp_path / "agent.py"
    agent.write_text(HAND_RUN_AGENT)
    agent.chmod(0o755)
    report = tmp_path / "hand-run"
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", "--agent-cmd", str(agent),
                           "--max-experiments", "1", "--json"], cwd=session.path, capture_output=True,
                          text=True, timeout=600, env=session.env(HAND_RUN=str(report)), check=False)
    assert proc.returncode == 0, proc.stderr
    code, stderr = report.read_text().split("\n", 1)
    assert code == "2" and "another autoresearch command is running" in stderr and "loop" in stderr
    runs = session.runs()
    assert [(r["run"], r["verdict"]) for r in runs[1:]] == [(2, "keep")]
    assert runs[-1]["proposer"].startswith("agent:")


FORGES_A_LINE = """
import json, os, subprocess
common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                        capture_output=True, text=True).stdout.strip()
if common:
    with open(os.path.join(os.path.dirname(common), "autoresearch.jsonl"), "a") as fh:
        fh.write(json.dumps({"run": 2, "status": "keep", "verdict": "keep", "metric": 0.5,
                             "timestamp": 1, "description": "mine", "mac": "0" * 64}) + "\\n")
"""


def test_forged_ledger_lines_are_reported_and_never_used(session: Repo):
    forged = {"run": 2, "status": "keep", "verdict": "keep", "metric": 1, "timestamp": 1,
              "description": "the agent's own verdict"}
    with (session.path / "autoresearch.jsonl").open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    status = session.cli_json("status")
    assert status["incumbent"] == 100 and not status["improvement_pct"]  # no gain from a forged line
    assert [r["run"] for r in status["last"]] == [1]
    assert any("autoresearch.jsonl:3: not used" in w for w in status["warnings"])
    session.write("work.py", session.read("work.py").replace("COST = 100", "COST = 200") + FORGES_A_LINE)
    result = session.cli_json("run", "-m", "worse, and says otherwise")
    assert (result["run"], result["verdict"]) == (2, "discard")
    log = session.cli_json("log")
    assert [(r["run"], r["verdict"]) for r in log["runs"]] == [(1, "baseline"), (2, "discard")]
    assert any("not used" in w for w in log["warnings"])
    status = session.cli_json("status")
    assert status["incumbent"] == 100 and status["counts"] == {"discard": 1}
    assert "not used" in session.cli("log").stdout + session.cli("log").stderr


def test_a_session_moved_whole_goes_on_where_it_is_now(session: Repo, tmp_path: Path):
    session.set("COST", 50)
    assert session.cli_json("run", "-m", "half")["status"] == "keep"
    moved = Repo(tmp_path / "moved")  # the repository and the measured checkouts inside it
    shutil.move(session.path, moved.path)
    moved.set("COST", 25)
    assert moved.cli_json("run", "-m", "quarter")["status"] == "keep"
    assert "COST = 25" in moved.read("work.py")
    assert "prunable" not in moved.git("worktree", "list")


def test_a_worktree_link_is_read_relative_to_its_worktree(tmp_path: Path):
    checkout, admin = tmp_path / "checkout", tmp_path / "admin"
    checkout.mkdir()
    admin.mkdir()
    (checkout / ".git").write_text("gitdir: ../admin\n")  # as git writes it with worktree.useRelativePaths
    assert not _link_gone(checkout)
    (checkout / ".git").write_text(f"gitdir: {tmp_path / 'moved-away'}\n")
    assert _link_gone(checkout)
