"""The ideas backlog, `autoresearch.ideas.md`: a Markdown list that people and agents append to."""

from __future__ import annotations

from pathlib import Path

from autoresearch.config import IDEAS_FILE
from autoresearch.infra.git import Git

HEADER = "# Ideas backlog\n\nOne idea per line. Agents read this before each proposal and may add to it.\n\n"


def _path(start: Path) -> Path:
    return Git.discover(start).root / IDEAS_FILE


def add_idea(start: Path, text: str) -> Path:
    """Append one idea as a list item.

    >>> add_idea(Path("."), "cache parsed templates").name  # doctest: +SKIP
    'autoresearch.ideas.md'
    """
    from autoresearch.errors import UsageError

    line = " ".join(text.split())
    if not line:
        raise UsageError("an idea needs some text")
    path = _path(start)
    existing = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if not existing.endswith("\n"):
        existing += "\n"
    path.write_text(existing + f"- {line}\n", encoding="utf-8")
    return path


def list_ideas(start: Path) -> list[str]:
    """The ideas, in the order they were added."""
    path = _path(start)
    if not path.exists():
        return []
    return [line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith(("- ", "* "))]
