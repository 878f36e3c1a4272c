"""Real git repositories with a real benchmark, and a way to run the real CLI on them."""

from __future__ import annotations

import compileall
import contextlib
import fcntl
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import autoresearch
from autoresearch.infra import ledger
from autoresearch.model import RunRecord

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
}

# Scripts run this interpreter by its path: a `python3` found on PATH may be a version manager's
# shim (pyenv), slower to start and a different program under valgrind.
PYTHON = shlex.quote(sys.executable)

# The benchmark's numbers come from constants in work.py, so verdicts are deterministic:
# COST is the primary metric, MEM a secondary one; HANG makes the benchmark hang, leaving a
# grandchild `sleep HANG` (see `unique_hang`); FAIL makes the checks fail.
# Real measurements whose size the code fixes: SPIN loop iterations (an exact instruction
# count), BURN seconds of CPU time (cpu measure), NAP seconds asleep (wall time that CPU
# contention does not stretch).
WORK_PY = """\
import time

COST = 100
MEM = 50
HANG = False
FAIL = False
SPIN = 0
BURN = 0.0
NAP = 0.0


def answer():
    return 42 if not FAIL else 41


def spin():
    s = 0
    for i in range(SPIN):
        s += i * i
    return s


def burn():
    start = time.process_time()
    while time.process_time() - start < BURN:
        pass


def nap():
    time.sleep(NAP)
"""

BENCH_SH = """\
#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
__PYTHON__ -S - <<'PY'
import os, subprocess, sys, time
sys.path.insert(0, ".")
import work
time.sleep(float(os.environ.get("BENCH_SLEEP", "0")))
if getattr(work, "DOZE", 0):  # time the process spends outside every METRIC it prints
    time.sleep(work.DOZE)
if work.HANG:
    subprocess.Popen(["sleep", str(work.HANG)])  # a grandchild that must not outlive the timeout
    time.sleep(work.HANG)
t = time.perf_counter()
work.spin()
spun = time.perf_counter() - t
work.nap()
napped = time.perf_counter() - t - spun
print("some output")
print(f"METRIC cost={work.COST}")
print(f"METRIC mem={work.MEM}")
print(f"METRIC spin_ms={spun * 1000:.3f}")
print(f"METRIC nap_ms={napped * 1000:.3f}")
PY
""".replace("__PYTHON__", PYTHON)

CHECKS_SH = f"""\
#!/usr/bin/env bash
cd "$(dirname "$0")"
{PYTHON} -S -c "import sys; sys.path.insert(0, '.'); import work; assert work.answer() == 42, 'wrong answer'"
"""


@dataclass
class Repo:
    """A git repository under test, with helpers to edit it and run the CLI in it."""

    path: Path

    def git(self, *args: str, raw: bool = False) -> str:
        out = subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True,
                             text=True, env={**os.environ, **GIT_ENV}).stdout
        return out if raw else out.strip()

    def write(self, rel: str, text: str, executable: bool = False) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if executable:
            target.chmod(0o755)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def private(self, rel: str) -> Path:
        """A file of the harness's private state (under the git directory, out of the tree)."""
        return self.path / ".git" / "autoresearch" / rel

    def append_record(self, record: RunRecord) -> None:
        """Append a ledger line signed with the session's key, as the harness itself would."""
        ledger.append(self.path / "autoresearch.jsonl", record, ledger.make_signing_key(self.private("")))

    def set(self, name: str, value: object) -> None:
        """Change one constant in work.py, the way an agent would edit the source."""
        lines = self.read("work.py").splitlines()
        lines = [f"{name} = {value!r}" if line.startswith(f"{name} = ") else line for line in lines]
        self.write("work.py", "\n".join(lines) + "\n")

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **GIT_ENV, "COLUMNS": "200", **extra}

    def cli(self, *args: str, check: bool | int = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "autoresearch", *args], cwd=self.path,
                              capture_output=True, text=True, timeout=timeout, env=self.env())
        expected = 0 if check is True else check
        if check is not False and proc.returncode != expected:
            raise AssertionError(f"exit {proc.returncode} (wanted {expected})\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc

    def cli_json(self, *args: str) -> dict:
        return json.loads(self.cli(*args, "--json").stdout)

    def ledger(self) -> list[dict]:
        return [json.loads(line) for line in self.read("autoresearch.jsonl").splitlines() if line]

    def runs(self) -> list[dict]:
        return [r for r in self.ledger() if r.get("type") != "config"]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers per core. A test spends much of its time starting processes and
    sandboxes, and two per core keep the cores busy (on 2 cores beside two busy processes the
    default group took 13 minutes with four workers, 16 with two)."""
    return 2 * (os.cpu_count() or 1)


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker leads a session of its own, and so a scheduling group of its own.

    Linux's autogroup shares the CPU between sessions, not processes: with the whole suite in
    the terminal's session, two busy processes started elsewhere (each in its own session) held
    two thirds of a 2-core machine against four workers and every process they start, and the
    suite took three times as long as on an idle machine. A session per worker gives the suite
    the share of the cores it would have without autogroup, one per busy thread. The workers
    still end with the run: xdist stops them through their pipes, and kills what lingers.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        # Every command a test runs imports the package anew, and an environment with
        # PYTHONDONTWRITEBYTECODE (or a read-only install) would have each of them compile every
        # module from source: compile them once, before any worker starts.
        compileall.compile_dir(Path(autoresearch.__file__).parent, quiet=1, rx=re.compile(r"/examples/"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # a worker that already leads a group keeps the share it has
        with contextlib.suppress(OSError):
            os.setsid()
    # A suite started in the background by a shell without job control (`pytest &` in a script)
    # inherits SIGINT ignored, and so would every command a test starts: the tests that press
    # Ctrl-C on a command need it to arrive as it does at a terminal.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(trylast=True)  # after `-m` has deselected the rest
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow group starts its longest tests first, by the timeout each one states.

    They are interleaved with the shortest (long, short, long, short, ...) because `--dist
    load` hands each worker its first tests two at a time: so every worker starts one long
    test, and no two of them queue on one worker while another idles.
    """
    if not items or not all(item.get_closest_marker("slow") for item in items):
        return

    def allowed(item: pytest.Item) -> float:
        marker = item.get_closest_marker("timeout")
        return float(marker.args[0]) if marker and marker.args else 0.0

    ranked = sorted(items, key=allowed, reverse=True)
    half = (len(ranked) + 1) // 2
    longest, shortest = ranked[:half], ranked[half:][::-1]
    pairs = itertools.zip_longest(longest, shortest)
    items[:] = [item for pair in pairs for item in pair if item is not None]


@pytest.fixture(autouse=True, scope="session")
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Ledger signing keys go to a fresh state directory, never the machine's ~/.local/state
    (one for the whole run, so a session made once for every test finds its key in each)."""
    state = run_directory(tmp_path_factory) / "state"
    state.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(state))
        yield


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of the whole run, which its xdist workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Repo]) -> Repo:
    """The repository `make` builds at the path it is given, built once in the whole run: by the
    first worker that asks, while the others wait for it.

    For sessions that take seconds of CPU to make and that tests copy (`copy_repo`), never
    change. It lives to the end of the run, as its copies need: ledger records name their logs
    by absolute paths.
    """
    home = run_directory(tmp_path_factory) / "made-once" / name
    home.mkdir(parents=True, exist_ok=True)
    with (home / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released with the file, or the process
        if not (home / "made").exists():
            shutil.rmtree(home / "project", ignore_errors=True)  # what a failed attempt left
            make(home / "project")
            (home / "made").touch()
    return Repo(home / "project")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A committed project with a deterministic benchmark and checks; no session yet."""
    return make_project(tmp_path / "project")


def make_project(path: Path) -> Repo:
    """Create the project of the `repo` fixture at `path` (for fixtures of a wider scope)."""
    r = Repo(path)
    r.path.mkdir()
    r.git("init", "-q", "-b", "main")
    r.write("work.py", WORK_PY)
    r.write("autoresearch.sh", BENCH_SH, executable=True)
    r.write("autoresearch.checks.sh", CHECKS_SH, executable=True)
    r.write(".gitignore", "*.log\n__pycache__/\n")
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "project")
    return r


def unsealed(session: Repo) -> Repo:
    """The user turns the sandbox off: a benchmark orphaned by a killed harness then outlives it
    (a sealed one dies with the harness, at a moment of its own), for the next command to stop."""
    text = session.read("autoresearch.toml")
    session.write("autoresearch.toml", text.replace('mode = "auto"', 'mode = "off"'))
    session.git("commit", "-qm", "config", "autoresearch.toml")
    return session


# What a session on the deterministic `cost` metric changes from the defaults: a warm-up run
# serves no constant, and a keep at alpha = 5% takes 7 rounds instead of 9. The defaults are
# exercised by the tests that call `init` themselves.
SESSION_SETTINGS = (("alpha = 0.01", "alpha = 0.05"), ("warmup = true", "warmup = false"))


def start_session(repo: Repo) -> Repo:
    """Start the `session` fixture's session in `repo`: `init` on the deterministic `cost` metric."""
    repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py",
             "--timeout", "5", "--checks-timeout", "30")
    return decide_sooner(repo)


def decide_sooner(repo: Repo) -> Repo:
    """Commit `SESSION_SETTINGS` over `init`'s defaults: alpha 5% and no warm-up run, for changes
    far above their metric's noise."""
    text = repo.read("autoresearch.toml")
    for default, setting in SESSION_SETTINGS:
        assert default in text
        text = text.replace(default, setting)
    repo.write("autoresearch.toml", text)
    repo.git("commit", "-qm", "settings for effects far above the noise", "autoresearch.toml")
    return repo


@pytest.fixture(scope="session")
def started_session(_state_home: None, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """The session of the `session` fixture, started once in the run; tests get copies of it."""
    return made_once(tmp_path_factory, "session", lambda path: start_session(make_project(path)))


@pytest.fixture
def session(started_session: Repo, tmp_path: Path) -> Repo:
    """The project with a session started on the deterministic `cost` metric (a test's own copy)."""
    return copy_repo(started_session, tmp_path / "project")


def copy_repo(template: Repo, path: Path) -> Repo:
    """A copy at `path` of a repository and the linked worktrees inside it, as if made there.

    For fixtures that build a session once (`made_once`) and give each test a copy to change.
    The template must outlive its copies: ledger records name their logs by absolute paths.
    """
    shutil.copytree(template.path, path, symlinks=True)
    copy = Repo(path)
    # Git links a repository and its worktrees both ways by absolute paths. `git worktree
    # repair` cannot mend a copy: it follows the copy's link to the template and re-points the
    # template's link at the copy, so the copy's links are rewritten here as it would write them.
    admin = path / ".git" / "worktrees"
    for entry in sorted(admin.iterdir()) if admin.is_dir() else ():
        checkout = path / Path((entry / "gitdir").read_text().strip()).parent.relative_to(template.path)
        (entry / "gitdir").write_text(f"{checkout / '.git'}\n")
        (checkout / ".git").write_text(f"gitdir: {entry}\n")
        Repo(checkout).git("update-index", "-q", "--refresh")
    # a copied file has a new inode and ctime: refreshed, the index sees it unchanged as git
    # would, so even the plumbing that trusts the index's stat data (diff-files) finds no change
    copy.git("update-index", "-q", "--refresh")
    return copy


def fewer_rounds(repo: Repo) -> None:
    """Commit a session configuration for constant metrics: a lax test and few rounds decide
    as surely, and sooner."""
    toml = repo.read("autoresearch.toml")
    for old, new in (("alpha = 0.01", "alpha = 0.2"), ("min_rounds = 4", "min_rounds = 2"),
                     ("max_rounds = 24", "max_rounds = 6"), ("warmup = true", "warmup = false")):
        toml = toml.replace(old, new)
    repo.write("autoresearch.toml", toml)
    repo.git("commit", "-qam", "fewer rounds")


def live_members(pgid: int) -> list[int]:
    """Processes of a group that still run (zombies, awaiting a reaper, do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def unique_hang() -> float:
    """Seconds for a hang (about 1000) that no other process on this machine sleeps for.

    A test then finds the hang's processes by their command line (`sleep 1000.123456`) without
    mistaking another test's, or another user's, for them.
    """
    return 1000 + uuid.uuid4().int % 10**6 / 10**6


def processes_running(command_line: str) -> list[int]:
    """Pids of live processes (zombies do not count) whose whole command line is `command_line`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, UnicodeDecodeError):
                continue
            if cmdline == command_line and state != "Z":
                found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll until `condition()` is true; the timeout only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def textblock(text: str) -> str:
    return textwrap.dedent(text).lstrip()
