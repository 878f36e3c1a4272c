"""A session: the repository, its configuration and its files, opened on its branch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autoresearch import config as cfg
from autoresearch.errors import UsageError
from autoresearch.infra import ledger
from autoresearch.infra.git import Git
from autoresearch.infra.state import Paths


@dataclass(frozen=True)
class Session:
    """An open session: the repository, its configuration and where its files are."""

    git: Git
    config: cfg.Config
    paths: Paths

    @property
    def root(self) -> Path:
        return self.git.root

    def ledger(self) -> ledger.Ledger:
        return ledger.read(self.paths.ledger)


def open_session(start: Path) -> Session:
    """The session in the repository containing `start`, checked out on its branch."""
    git = Git.discover(start)
    branch = git.branch()
    if not (git.root / cfg.CONFIG_FILE).exists():
        sessions = git.run("for-each-ref", "--format=%(refname:short)", "refs/heads/autoresearch/").split()
        if sessions and branch not in sessions:
            raise UsageError(f"no session on branch {branch!r}; sessions in this repository: "
                             f"{', '.join(sessions)} (git switch {sessions[0]})")
    config = cfg.load(git.root)
    if branch is None:
        raise UsageError(
            f"HEAD is detached; switch to the session branch: git switch {config.session.branch}"
        )
    if branch != config.session.branch:
        raise UsageError(
            f"on branch {branch!r}, but the session {config.session.name!r} lives on "
            f"{config.session.branch!r}: git switch {config.session.branch}"
        )
    return Session(git, config, Paths(git.root))
