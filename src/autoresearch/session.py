"""A session: the repository, its configuration and its files, opened on its branch."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from autoresearch import config as cfg
from autoresearch.errors import UsageError
from autoresearch.infra import ledger
from autoresearch.infra.git import Git
from autoresearch.infra.ledger import Ledger
from autoresearch.infra.state import Paths, harness_commits
from autoresearch.infra.workspace import Incumbent, find_incumbent
from autoresearch.model import AblationRecord, ConfigHeader, ConfirmRecord, RunRecord, Status

# Every kind of line the ledger holds.
LedgerLine = RunRecord | ConfigHeader | ConfirmRecord | AblationRecord


@dataclass(frozen=True)
class Session:
    """An open session: the repository, its configuration and where its files are."""

    git: Git
    config: cfg.Config
    paths: Paths
    shared_dir: Path | None = field(default=None, compare=False)  # `common_dir`, when known

    @property
    def root(self) -> Path:
        return self.git.root

    @functools.cached_property
    def common_dir(self) -> Path:
        """The git directory the repository's worktrees share: asked once per opened session."""
        return self.shared_dir or self.git.common_dir()

    def ledger(self) -> ledger.Ledger:
        return ledger.read(self.paths.ledger, ledger.signing_key(self.paths.private))

    def append(self, record: LedgerLine) -> None:
        """Sign and append one line to the ledger (hold the session lock)."""
        ledger.append(self.paths.ledger, record, ledger.make_signing_key(self.paths.private))

    def incumbent(self, book: Ledger | None = None) -> Incumbent:
        """The commit the next candidate is judged against (see `workspace.find_incumbent`)."""
        book = book or self.ledger()
        recorded = {c for r in book.runs
                    for c in (r.incumbent_commit, r.commit if r.status is Status.KEEP else None) if c}
        recorded |= harness_commits(self.paths)
        session_files = [*self.config.protected_paths(), cfg.BRIEF_FILE, cfg.IDEAS_FILE]
        return find_incumbent(self.git, recorded, session_files)


def open_session(start: Path) -> Session:
    """The session in the repository containing `start`, checked out on its branch."""
    git, git_dir, common_dir = Git.locate(start)
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
    return Session(git, config, Paths.of(git, git_dir), common_dir)
