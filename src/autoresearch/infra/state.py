"""The harness's private state under `.autoresearch/`: paths, the session lock, the pending run."""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from autoresearch.config import LEDGER_FILE, STATE_DIR
from autoresearch.errors import LockedError


@dataclass(frozen=True)
class Paths:
    """Where everything of one session lives, relative to the repository root."""

    root: Path

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
        return self.state / "lock"

    @property
    def pending(self) -> Path:
        return self.state / "pending.json"

    @property
    def progress(self) -> Path:
        """The running experiment's latest progress event, for the dashboard."""
        return self.state / "progress.json"

    @property
    def preexisting(self) -> Path:
        """Untracked files that belong to the user, not to any candidate."""
        return self.state / "untracked.json"

    def run_dir(self, run: int) -> Path:
        return self.state / "runs" / f"{run:04d}"


@contextmanager
def session_lock(paths: Paths, command: str) -> Iterator[None]:
    """Hold the session's lock for the duration of a command.

    An flock dies with its process, so a lock left by a killed command is never stale: the next
    command simply gets it (and recovers the interrupted run, see `experiment.recover`).
    """
    paths.state.mkdir(parents=True, exist_ok=True)
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
        yield
    finally:
        os.close(fd)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def now_ms() -> int:
    return int(time.time() * 1000)
