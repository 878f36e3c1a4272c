"""A thin wrapper over the `git` command: argument lists only, and nothing the repository can steer."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from autoresearch.errors import AutoresearchError, UsageError

# File names and file contents are bytes to git. Read as UTF-8, any other byte becomes a lone
# surrogate that turns back into the same byte when it is written or passed to git again, the
# way Python itself treats file names (os.fsdecode).
BYTES_AS_TEXT = "surrogateescape"


def printable(text: str) -> str:
    r"""Text with undecodable bytes shown as `\xNN` escapes, safe to print or store as JSON.

    >>> printable("caf" + b"\xe9".decode("utf-8", "surrogateescape") + ".py")
    'caf\\xe9.py'
    """
    return text.encode("utf-8", BYTES_AS_TEXT).decode("utf-8", "backslashreplace")


def as_message(text: str) -> str:
    r"""Free text (a description, a hypothesis) made fit for a commit message and the ledger.

    Undecodable bytes become `\xNN` escapes; NUL and other control characters, which git
    refuses in a message or a terminal would act on, are dropped (tabs and newlines stay).

    >>> as_message("fast\x00er\x1b[2J path\tnow")
    'faster[2J path\tnow'
    """
    return _CONTROL.sub("", printable(text))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class GitError(AutoresearchError):
    """A git command failed."""


# Candidate code and agents can write the repository's own config (`.git/config`, a worktree's
# config, files those include): a hook, an fsmonitor or a filter or diff driver put there would
# run inside the harness's own git calls. Hooks (reference-transaction and post-checkout
# included) and fsmonitor are off for every call; drivers are switched off by name below.
ALWAYS_OFF = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
# Config keys under which a repository names a program for git to run.
_DRIVER_KEYS = r"^(filter|diff|merge|gpg)\."
_DRIVER_OFF = {
    "filter": ("clean=", "smudge=", "process=", "required=false"),
    "diff": ("textconv=", "command="),
    "merge": ("driver=",),
}
# Scopes the proposer or the candidate can write; system and global config are the user's.
_REPOSITORY_SCOPES = {"local", "worktree"}
# Commands that would apply a textconv or external diff driver to their output.
_DIFFING = {"diff", "log", "show"}


def drivers_off(cwd: Path) -> list[str]:
    """`-c` options that empty every program the repository's own config defines.

    Drivers from the user's global or system config (git-lfs, for one) keep working. A signing
    program set in the repository's config turns commit signing off instead of running it.
    """
    proc = subprocess.run(["git", *ALWAYS_OFF, "config", "--show-scope", "-z", "--get-regexp", _DRIVER_KEYS],
                          cwd=cwd, capture_output=True, encoding="utf-8", errors=BYTES_AS_TEXT,
                          env=_env(), check=False)
    fields = proc.stdout.split("\0")
    options: dict[str, None] = {}
    for scope, entry in zip(fields[::2], fields[1::2], strict=False):
        if scope not in _REPOSITORY_SCOPES:
            continue
        key = entry.split("\n", 1)[0]
        section, _, rest = key.partition(".")
        name = rest.rpartition(".")[0]
        if section == "gpg":
            options.update(dict.fromkeys(("commit.gpgSign=false", "tag.gpgSign=false")))
        elif name:
            options.update(dict.fromkeys(f"{section}.{name}.{off}" for off in _DRIVER_OFF[section]))
    return [arg for option in options for arg in ("-c", option)]


def git_command(cwd: Path, *args: str) -> list[str]:
    """The argument list of a harness git call in `cwd`: hooks, fsmonitor and drivers off."""
    if args and args[0] in _DIFFING:
        args = (args[0], "--no-ext-diff", "--no-textconv", *args[1:])
    return ["git", *ALWAYS_OFF, *drivers_off(cwd), *args]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(extra or {}), "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class Git:
    """Git commands run in one repository (or worktree).

    >>> Git(Path(".")).run("rev-parse", "--is-inside-work-tree")  # doctest: +SKIP
    'true'
    """

    root: Path

    def call(self, *args: str, input: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `git <args>` and return the finished process, whatever its exit code."""
        return subprocess.run(git_command(self.root, *args), cwd=self.root, input=input,
                              capture_output=True, encoding="utf-8",
                              errors=BYTES_AS_TEXT, env=_env(env), check=False)

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        strip: bool = True,
    ) -> str:
        """Run `git <args>` and return its stdout (without the trailing newline if `strip`)."""
        proc = self.call(*args, input=input, env=env)
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout.rstrip("\n") if strip else proc.stdout

    def ok(self, *args: str) -> bool:
        """True when `git <args>` exits 0."""
        return self.call(*args).returncode == 0

    # --- repository state -------------------------------------------------------------

    @classmethod
    def discover(cls, start: Path) -> Git:
        """The repository containing `start`; a clear error outside one."""
        proc = subprocess.run(git_command(start, "rev-parse", "--show-toplevel"), cwd=start,
                              capture_output=True, encoding="utf-8",
                              errors=BYTES_AS_TEXT, env=_env(), check=False)
        if proc.returncode != 0:
            raise UsageError(f"{start} is not inside a git repository (run `git init` first).")
        return cls(Path(proc.stdout.strip()))

    def common_dir(self) -> Path:
        """The repository's git directory shared by all its worktrees (absolute)."""
        common = Path(self.run("rev-parse", "--git-common-dir"))
        return common if common.is_absolute() else self.root / common

    def branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        name = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return name or None

    def head(self) -> str | None:
        """The commit HEAD points to, or None in a repository without commits."""
        sha = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return sha or None

    def rev(self, ref: str) -> str:
        return self.run("rev-parse", "--verify", f"{ref}^{{commit}}")

    def branch_exists(self, name: str) -> bool:
        return self.ok("show-ref", "--verify", "--quiet", f"refs/heads/{name}")

    def dirty_tracked(self) -> list[str]:
        """Tracked files with staged or unstaged changes."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no")
        return [entry[3:] for entry in out.split("\0") if entry]

    def untracked(self) -> list[str]:
        """Untracked files git would add (ignored ones excluded)."""
        out = self.run("ls-files", "--others", "--exclude-standard", "-z")
        return sorted(p for p in out.split("\0") if p)

    def tree_of(self, ref: str) -> str:
        return self.run("rev-parse", f"{ref}^{{tree}}")

    # --- snapshots: commit the working tree without touching the user's index -----------

    def snapshot_tree(self, index_file: Path, exclude: AbstractSet[str] = frozenset()) -> str:
        """The tree of the working tree as `git add -A` would see it, built in a private index.

        Paths in `exclude` keep their state at HEAD (absent if HEAD lacks them).
        """
        env = {"GIT_INDEX_FILE": str(index_file)}
        index_file.unlink(missing_ok=True)
        try:
            self.run("read-tree", "HEAD", env=env)
            self.run("add", "-A", "--", ".", env=env)
            if exclude:
                self.run(
                    "reset", "--quiet", "HEAD", "--pathspec-from-file=-", "--pathspec-file-nul",
                    input="\0".join(sorted(exclude)), env=env, check=False,
                )
            return self.run("write-tree", env=env)
        finally:
            index_file.unlink(missing_ok=True)

    def commit_tree(self, tree: str, parent: str, message: str) -> str:
        """Create a commit object (no branch moves); the message goes through stdin."""
        return self.run("commit-tree", tree, "-p", parent, "-F", "-", input=message, env=self.identity())

    def identity(self) -> dict[str, str]:
        """A fallback author for machines where git has no user configured."""
        if self.run("config", "user.email", check=False) and self.run("config", "user.name", check=False):
            return {}
        name, email = "autoresearch", "autoresearch@localhost"
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two trees or commits (renames as delete + add)."""
        out = self.run("diff", "--name-only", "--no-renames", "-z", old, new)
        return [p for p in out.split("\0") if p]

    def diff_stat(self, old: str, new: str) -> dict[str, int]:
        out = self.run("diff", "--numstat", "--no-renames", old, new)
        files = added = deleted = 0
        for line in out.splitlines():
            a, d, _ = line.split("\t", 2)
            files += 1
            added += int(a) if a != "-" else 0
            deleted += int(d) if d != "-" else 0
        return {"files": files, "insertions": added, "deletions": deleted}

    def diff(self, old: str, new: str) -> str:
        return self.run("diff", "--binary", "--no-renames", old, new, strip=False)

    # --- worktrees -----------------------------------------------------------------------

    def worktree_at(self, path: Path, commit: str, keep: Sequence[str] = ()) -> bool:
        """Make `path` a detached worktree holding exactly `commit`, creating it if needed.

        A worktree already at `commit` with unchanged tracked files is left as it is, build
        outputs included. Otherwise untracked files are removed too, except the paths in `keep`
        (linked data). Returns True when the worktree was (re)made.
        """
        if (path / ".git").exists():
            wt = Git(path)
            if wt.head() == commit and not wt.dirty_tracked():
                return False
            wt.run("checkout", "--quiet", "--detach", "--force", commit)
            wt.run("reset", "--quiet", "--hard", commit)
            wt.run("clean", "-fdq", *[arg for p in keep for arg in ("-e", p)])
            return True
        self.run("worktree", "prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run("worktree", "add", "--quiet", "--detach", "--force", str(path), commit)
        return True

    def is_clean(self) -> bool:
        """No tracked changes and no untracked (non-ignored) files."""
        return not self.run("status", "--porcelain=v1")
