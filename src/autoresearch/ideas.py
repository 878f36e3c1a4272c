"""The ideas backlog, `autoresearch.ideas.md`: a Markdown list that people and agents append to."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from autoresearch.config import IDEAS_FILE
from autoresearch.infra.git import Git, as_message

HEADER = "# Ideas backlog\n\nOne idea per line. Agents read this before each proposal and may add to it.\n\n"


def _path(start: Path) -> Path:
    return Git.discover(start).root / IDEAS_FILE


def add_idea(start: Path, text: str) -> Path:
    """Append one idea as a list item.

    >>> add_idea(Path("."), "cache parsed templates").name  # doctest: +SKIP
    'autoresearch.ideas.md'
    """
    from autoresearch.errors import UsageError

    line = as_message(" ".join(text.split()))
    if not line:
        raise UsageError("an idea needs some text")
    path = _path(start)
    # People, agents and the loop add ideas at the same time: one writer at a time, appending
    # in place, so no idea is lost to another's read-modify-write.
    with path.open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            fh.write(HEADER.encode("utf-8"))
        else:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(f"- {line}\n".encode())
        fh.flush()
        os.fsync(fh.fileno())
    return path


def list_ideas(start: Path) -> list[str]:
    """The ideas, in the order they were added."""
    path = _path(start)
    if not path.exists():
        return []
    return [line[2:].strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith(("- ", "* "))]
