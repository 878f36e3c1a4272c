"""A thin wrapper over the `git` command: argument lists only, and nothing the repository can steer."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from autoresearch.errors import AutoresearchError, UsageError

log = logging.getLogger(__name__)

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
    The answer is reused while every config file it came from is unchanged (`_ConfigFiles`).
    """
    where = Path(os.path.abspath(cwd))
    files = _ConfigFiles.of(where)
    cached = _DRIVERS_OFF.get(where)
    if files is not None and cached is not None and files.still(cached[0]):
        return list(cached[1])
    started = time.time_ns()
    proc = subprocess.run(["git", *ALWAYS_OFF, "config", "--show-scope", "--show-origin", "-z",
                           "--get-regexp", _DRIVER_KEYS],
                          cwd=cwd, capture_output=True, encoding="utf-8", errors=BYTES_AS_TEXT,
                          env=_env(), check=False)
    fields = proc.stdout.split("\0")
    options: dict[str, None] = {}
    for scope, origin, entry in zip(fields[::3], fields[1::3], fields[2::3], strict=False):
        if scope not in _REPOSITORY_SCOPES:
            continue
        key, _, value = entry.partition("\n")
        section, _, rest = key.partition(".")
        name = rest.rpartition(".")[0]
        if files is not None:
            files.read(origin, section, value)
        if section == "gpg":
            options.update(dict.fromkeys(("commit.gpgSign=false", "tag.gpgSign=false")))
        elif section in _DRIVER_OFF and name:
            options.update(dict.fromkeys(f"{section}.{name}.{off}" for off in _DRIVER_OFF[section]))
    result = [arg for option in options for arg in ("-c", option)]
    if files is not None and proc.returncode in (0, 1) and files.settled(started):
        _DRIVERS_OFF[where] = (files.state(), tuple(result))
    return result


# Config keys under which a repository names a program for git to run, and the includes that
# bring in more config files.
_DRIVER_KEYS = r"^(filter|diff|merge|gpg|include|includeif)\."
_FileState = tuple[tuple[Path, tuple[int, ...] | None], ...]
# Per directory: the state of the config files read there and the options they gave.
_DRIVERS_OFF: dict[Path, tuple[_FileState, tuple[str, ...]]] = {}
# Environment variables that change which repository or config files git reads.
_REDIRECTING = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES",
                "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_CONFIG", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS")
# Longer than the coarsest file timestamps: a file changed this recently could change again
# without its timestamp moving.
_SETTLE_NS = 2_000_000_000


class _ConfigFiles:
    """The repository-scope config files git reads in a directory, to tell when they change.

    A `git config` process before every harness git call (~40 per experiment) costs more than
    the rest of the harness; asking again only when a file changed keeps the protection: any
    write to a config file (a new driver, an include) changes its size, inode or ctime, and no
    one can set a ctime back. A file is trusted only once it is older than the coarsest
    timestamps, as git treats a "racily clean" index. Nothing is reused when the environment
    redirects git or a conditional include is set (whether it applies can change while no
    file does).
    """

    def __init__(self, top: Path, paths: list[Path]):
        self.top = top
        self.paths = dict.fromkeys(paths)
        self.reusable = True

    @classmethod
    def of(cls, cwd: Path) -> _ConfigFiles | None:
        """The files found from `cwd` the way git finds its repository; None when unsure."""
        if any(name in os.environ for name in _REDIRECTING):
            return None
        for directory in (cwd, *cwd.parents):
            dot_git = directory / ".git"
            if dot_git.is_dir() and not dot_git.is_symlink():
                return cls(directory, [dot_git / "config", dot_git / "config.worktree"])
            if dot_git.is_file() and not dot_git.is_symlink():
                try:
                    gitdir = Path(dot_git.read_text().removeprefix("gitdir: ").strip())
                    gitdir = gitdir if gitdir.is_absolute() else directory / gitdir
                    common = gitdir / (gitdir / "commondir").read_text().strip()
                except OSError:
                    return None
                return cls(directory, [dot_git, gitdir / "commondir", common / "config",
                                       gitdir / "config.worktree"])
            if os.path.lexists(dot_git):
                return None  # a link or something else git may read its own way
        return None

    def read(self, origin: str, section: str, value: str) -> None:
        """Note where an entry came from and the file an include names."""
        if not origin.startswith("file:"):
            self.reusable = False
            return
        source = self.top / origin.removeprefix("file:")
        self.paths[source] = None
        if section == "include":
            self.paths[source.parent / os.path.expanduser(value)] = None
        elif section == "includeif":
            self.reusable = False

    def state(self) -> _FileState:
        return tuple((path, _stat(path)) for path in self.paths)

    def still(self, before: _FileState) -> bool:
        """Whether the files of an earlier answer are these files, unchanged."""
        known = [path for path, _ in before]
        return known[:len(self.paths)] == list(self.paths) and all(_stat(p) == s for p, s in before)

    def settled(self, before_ns: int) -> bool:
        return self.reusable and all(s is None or max(s[-2:]) < before_ns - _SETTLE_NS
                                     for _, s in self.state())


def _stat(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mode, st.st_mtime_ns, st.st_ctime_ns)


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
        return cls.locate(start)[0]

    @classmethod
    def locate(cls, start: Path) -> tuple[Git, Path | None, Path | None]:
        """`discover`, with its git directory and the one its worktrees share (both absolute),
        from one git process; None for those two where a path holds a line break."""
        proc = subprocess.run(git_command(start, "rev-parse", "--show-toplevel", "--path-format=absolute",
                                          "--git-dir", "--git-common-dir"), cwd=start,
                              capture_output=True, encoding="utf-8",
                              errors=BYTES_AS_TEXT, env=_env(), check=False)
        if proc.returncode != 0:
            raise UsageError(f"{start} is not inside a git repository (run `git init` first).")
        lines = proc.stdout.removesuffix("\n").split("\n")
        if len(lines) != 3:  # a path with a line break: ask for the top level alone
            return cls(Path(cls(start).run("rev-parse", "--show-toplevel"))), None, None
        return cls(Path(lines[0])), Path(lines[1]), Path(lines[2])

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
        found = self.run("config", "--get-regexp", r"^user\.(name|email)$", check=False)
        values = dict(line.partition(" ")[::2] for line in found.splitlines())  # the last one wins
        if values.get("user.email") and values.get("user.name"):
            return {}
        name, email = "autoresearch", "autoresearch@localhost"
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two trees or commits (renames as delete + add)."""
        return self.changes(old, new)[0]

    def changes(self, old: str, new: str) -> tuple[list[str], dict[str, int]]:
        """The paths that differ (renames as delete + add) and the diff's size, from one `git diff`:
        files, inserted and deleted lines (binary files count as changed files only)."""
        out = self.run("diff", "--numstat", "--no-renames", "-z", old, new)
        paths: list[str] = []
        added = deleted = 0
        for entry in filter(None, out.split("\0")):
            a, d, path = entry.split("\t", 2)
            paths.append(path)
            added += int(a) if a != "-" else 0
            deleted += int(d) if d != "-" else 0
        return paths, {"files": len(paths), "insertions": added, "deletions": deleted}

    def texts_at(self, commit: str, paths: Sequence[str]) -> dict[str, str]:
        """The text of each of `paths` that is a file in `commit`, read by one `git cat-file`."""
        batch = [p for p in dict.fromkeys(paths) if "\n" not in p]  # a line per name
        proc = subprocess.run(git_command(self.root, "cat-file", "--batch"), cwd=self.root,
                              input="".join(f"{commit}:{p}\n" for p in batch).encode("utf-8", BYTES_AS_TEXT),
                              capture_output=True, env=_env(), check=False)
        out, at, found = proc.stdout, 0, {}
        for path in batch:
            end = out.find(b"\n", at)
            if end < 0:
                break
            header, at = out[at:end].split(), end + 1
            if len(header) == 3 and header[2].isdigit():  # "<sha> <type> <size>", then the object
                size = int(header[2])
                if header[1] == b"blob":
                    found[path] = out[at:at + size].decode("utf-8", BYTES_AS_TEXT)
                at += size + 1
        return found

    def diff(self, old: str, new: str) -> str:
        return self.run("diff", "--binary", "--no-renames", old, new, strip=False)

    # --- worktrees -----------------------------------------------------------------------

    def worktree_at(self, path: Path, commit: str, keep: Sequence[str] = ()) -> bool:
        """Make `path` a detached worktree holding exactly `commit`, creating it if needed.

        A worktree already at `commit` with unchanged tracked files is left as it is, build
        outputs included. Otherwise untracked files are removed too, except the paths in `keep`
        (linked data). Returns True when the worktree was (re)made.
        """
        if _link_gone(path):
            # moved with its repository, its link names the old place: made again below (git's
            # own repair would trust the link's text, which a build in the checkout can write)
            log.info("worktree %s links to a repository no longer there: making it again", path)
            shutil.rmtree(path)
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


def _link_gone(worktree: Path) -> bool:
    """Whether a worktree's `.git` file names a git directory that is not there."""
    link = worktree / ".git"
    if not link.is_file():
        return False
    target = link.read_text(encoding="utf-8", errors="replace").removeprefix("gitdir:").strip()
    return not (worktree / target).is_dir()  # relative to the worktree (worktree.useRelativePaths)
