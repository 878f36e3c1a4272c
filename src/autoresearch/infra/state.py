"""The harness's private state (under the git directory) and its logs (under `.autoresearch/`)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.config import LEDGER_FILE, STATE_DIR
from autoresearch.errors import LockedError

if TYPE_CHECKING:
    from autoresearch.infra.git import Git

log = logging.getLogger(__name__)

# Files that decide what the harness does next. A proposer edits the working tree, so none of
# them may live there: they go under the repository's git directory, out of its reach.
_PRIVATE_FILES = ("pending.json", "untracked.json", "calibration.json", "calibration-*.json")


@dataclass(frozen=True)
class Paths:
    """Where everything of one session lives.

    `private` holds what the harness decides by (the pending run, its verdict, calibration,
    the user's untracked files, the lock, the run counter); `state` holds logs and the
    measured checkouts, which nothing is decided by.
    """

    root: Path
    private: Path

    @classmethod
    def of(cls, git: Git, git_dir: Path | None = None) -> Paths:
        """The paths of the working tree `git` runs in (whose git directory is `git_dir`, when
        known); state an older version kept is moved."""
        git_dir = git_dir or Path(git.run("rev-parse", "--path-format=absolute", "--git-dir"))
        paths = cls(git.root, git_dir / "autoresearch")
        if not paths.private.is_dir():
            _adopt_old_state(paths)
        return paths

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER_FILE

    @property
    def incumbent(self) -> Path:
        return self.state / "worktrees" / "incumbent"

    @property
    def candidate(self) -> Path:
        return self.state / "worktrees" / "candidate"

    @property
    def lock(self) -> Path:
        return self.private / "lock"

    @property
    def pending(self) -> Path:
        return self.private / "pending.json"

    @property
    def group(self) -> Path:
        """The process group the pending run measures in now (see `record.note_group`)."""
        return self.private / "group.json"

    @property
    def progress(self) -> Path:
        """The running experiment's latest progress event, for the dashboard."""
        return self.state / "progress.json"

    @property
    def preexisting(self) -> Path:
        """Untracked files that belong to the user, not to any candidate."""
        return self.private / "untracked.json"

    @property
    def counter(self) -> Path:
        """The last run number handed out: numbers are never reused, whatever the ledger says."""
        return self.private / "runs.json"

    @property
    def commits(self) -> Path:
        """Commits the harness made outside an experiment (a calibration's config change)."""
        return self.private / "commits.json"

    @property
    def jobs(self) -> Path:
        """Detached workers' state and verdicts (MCP): read back as results, so private."""
        return self.private / "jobs"

    def decision(self, run: int) -> Path:
        """The verdict of `run`, written before it is carried out (see `record.recover`)."""
        return self.private / "runs" / f"{run:04d}.json"

    def run_dir(self, run: int) -> Path:
        """Logs of one run."""
        return self.state / "runs" / f"{run:04d}"


def _adopt_old_state(paths: Paths) -> None:
    """Move the private files of a session started by an older version out of the working tree.

    Runs once, when the private directory does not exist yet; afterwards files of these names
    under `.autoresearch/` are never read, whoever writes them.
    """
    moved = []
    for old in [f for pattern in _PRIVATE_FILES for f in paths.state.glob(pattern)]:
        if old.is_file() and not old.is_symlink():
            paths.private.mkdir(parents=True, exist_ok=True)
            os.replace(old, paths.private / old.name)
            moved.append(old.name)
    pending = read_json(paths.pending)
    if pending and "run" in pending:
        result = paths.run_dir(int(pending["run"])) / "result.json"
        if result.is_file() and not result.is_symlink():
            paths.decision(int(pending["run"])).parent.mkdir(parents=True, exist_ok=True)
            os.replace(result, paths.decision(int(pending["run"])))
            moved.append(str(result.relative_to(paths.state)))
    paths.private.mkdir(parents=True, exist_ok=True)
    if moved:
        log.info("moved %s from %s to %s", ", ".join(moved), paths.state, paths.private)


def next_run_number(paths: Paths, ledger_next: int) -> int:
    """The next run number: above every number handed out before and every number in the ledger."""
    return max(int((read_json(paths.counter) or {}).get("last_run", 0)) + 1, ledger_next)


def claim_run(paths: Paths, run: int) -> int:
    """Hand out `run` for good: it is never given to another run (hold the session lock)."""
    write_json(paths.counter, {"last_run": run})
    return run


def remember_commit(paths: Paths, commit: str) -> None:
    """Record a commit the harness made on the session branch, so it is never taken as foreign."""
    known = (read_json(paths.commits) or {}).get("commits", [])
    write_json(paths.commits, {"commits": [*known, commit]})


def harness_commits(paths: Paths) -> set[str]:
    return set((read_json(paths.commits) or {}).get("commits", []))


# Locks this process holds, so the loop can hold the lock for its whole life while each
# experiment it runs takes it again.
_held: dict[Path, int] = {}


@contextmanager
def session_lock(paths: Paths, command: str) -> Iterator[None]:
    """Hold the session's lock for the duration of a command (re-entrant within one process).

    An flock dies with its process, so a lock left by a killed command is never stale: the next
    command simply gets it (and recovers the interrupted run, see `record.recover`).
    """
    key = paths.lock
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    paths.private.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise LockedError(
                f"another autoresearch command is running in this repository ({holder}); "
                "wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: autoresearch {command}".encode(), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)


def write_json(path: Path, data: dict[str, Any], durable: bool = True) -> None:
    """Replace `path` atomically: a reader sees the old file or the new one, never half.

    `durable=False` skips the fsync, for files that mean nothing after the machine restarts
    (the live progress of a running command): it costs milliseconds on every benchmark run.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def now_ms() -> int:
    return int(time.time() * 1000)
