"""The user's working tree as a candidate: snapshot it, check its scope, keep it or restore it."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from autoresearch.config import IDEAS_FILE, LEDGER_FILE, STATE_DIR
from autoresearch.infra.git import BYTES_AS_TEXT, Git, printable
from autoresearch.infra.state import Paths, read_json, write_json

# Files the harness and agents write during a session that are never part of a candidate.
HARNESS_ONLY = (LEDGER_FILE, IDEAS_FILE, f"{STATE_DIR}/")


@dataclass(frozen=True)
class Snapshot:
    """The candidate as git objects: its tree and a commit on top of the incumbent."""

    tree: str
    commit: str
    incumbent: str
    changed: list[str]
    incumbent_tree: str
    diff_stat: dict[str, int]  # files, insertions, deletions
    untracked_scope: tuple[str, ...] = ()  # new untracked files outside it were left out
    left_out: tuple[str, ...] = ()  # the new untracked files it left out


@dataclass(frozen=True)
class Unjudged:
    """A commit on the session branch that no experiment made."""

    commit: str
    subject: str
    paths: tuple[str, ...]
    configuration: bool  # touches only files no candidate may change: the user's own config

    def describe(self) -> str:
        shown = ", ".join(printable(p) for p in self.paths[:3]) + (" …" if len(self.paths) > 3 else "")
        return f"{self.commit[:10]} {printable(self.subject)!r} ({shown})"


@dataclass(frozen=True)
class Incumbent:
    """What a candidate is judged against: the last commit the harness made or accepted.

    Commits above it on the branch (an agent's own commit, or one candidate code made during
    its checks) are part of the next candidate, never the incumbent unmeasured.
    """

    commit: str
    candidate_commits: tuple[Unjudged, ...] = ()  # above `commit`, newest first: judged next
    configuration: tuple[Unjudged, ...] = ()  # accepted as the user's configuration
    unrelated: bool = False  # HEAD descends from no recorded commit: taken as it is

    def warnings(self) -> list[str]:
        out = [f"commit {c.describe()} was not made by an experiment; the next `autoresearch run` "
               "judges it as part of the candidate" for c in self.candidate_commits]
        out += [f"commit {c.describe()} changes only session files and is taken as your "
                "configuration" for c in self.configuration]
        if self.unrelated:
            out.append(f"the branch does not descend from any commit this session recorded; "
                       f"{self.commit[:10]} is taken as the incumbent")
        return out


# How far back to look for the last recorded commit before taking HEAD as it is.
_HISTORY_LIMIT = 200


def find_incumbent(git: Git, recorded: set[str], protected: list[str]) -> Incumbent:
    """The incumbent for the next experiment, given the commits the session's ledger recorded.

    Walking back from HEAD, each commit up to the last recorded one was made outside an
    experiment. Those that change only files no candidate may change (the config, the
    benchmark, the user's protected paths) are the user's configuration and accepted; from the
    oldest one that changes anything else, all are judged as part of the next candidate.
    """
    head = git.rev("HEAD")
    if not recorded or head in recorded:
        return Incumbent(head)
    newer: list[Unjudged] = []
    for sha in git.run("rev-list", "--first-parent", f"--max-count={_HISTORY_LIMIT}", head).split():
        if sha in recorded:
            break
        parent = git.run("rev-parse", "--verify", "--quiet", f"{sha}^", check=False)
        if not parent:
            return Incumbent(head, unrelated=True)
        paths = tuple(git.changed_paths(parent, sha))
        newer.append(Unjudged(sha, git.run("log", "-1", "--format=%s", sha), paths,
                              all(any(glob_match(p, g) for g in protected) for p in paths)))
    else:
        return Incumbent(head, unrelated=True)
    oldest_code = max((i for i, c in enumerate(newer) if not c.configuration), default=None)
    if oldest_code is None:
        return Incumbent(head, configuration=tuple(newer))
    base = git.rev(f"{newer[oldest_code].commit}^")
    return Incumbent(base, tuple(newer[:oldest_code + 1]), tuple(newer[oldest_code + 1:]))


def preexisting_untracked(paths: Paths) -> set[str]:
    data = read_json(paths.preexisting)
    return set(data["paths"]) if data else set()


def remember_untracked(git: Git, paths: Paths) -> None:
    """Mark the untracked files present now as the user's: no candidate owns them."""
    write_json(paths.preexisting, {"paths": git.untracked()})


def exclude_harness_files(git: Git) -> None:
    """Keep the ledger and private state out of `git add -A`, without touching tracked files."""
    exclude_paths(git, [f"/{p}" for p in HARNESS_ONLY], "harness-only files")


def exclude_paths(git: Git, patterns: Iterable[str], label: str) -> None:
    """Add the gitignore `patterns` missing from `.git/info/exclude` (the user's .gitignore and
    tracked files stay untouched)."""
    exclude = git.common_dir() / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    missing = [p for p in patterns if p not in current.split("\n")]
    if missing:
        block = f"\n# autoresearch: {label}\n" + "\n".join(missing) + "\n"
        exclude.write_text(current + ("" if current.endswith("\n") or not current else "\n") + block,
                           encoding="utf-8")


def untracked_outside(git: Git, paths: Paths, scope: list[str]) -> list[str]:
    """New untracked files outside the scope: never measured, committed or deleted.

    The arms are checked out from the candidate's snapshot, so such files cannot reach a
    measurement; leaving them alone spares the user's scratch files.
    """
    if not scope:
        return []
    mine = preexisting_untracked(paths)
    return [p for p in git.untracked()
            if p not in mine and not any(glob_match(p, g) for g in scope)]


def workspace_tree(git: Git, paths: Paths, scope: Sequence[str] = ()) -> str:
    """The tree the working tree would commit as a candidate (the user's index is untouched)."""
    return _workspace(git, paths, scope)[0]


def _workspace(git: Git, paths: Paths, scope: Sequence[str]) -> tuple[str, list[str]]:
    """`workspace_tree`, and the new untracked files outside the scope it left out."""
    outside = untracked_outside(git, paths, list(scope))
    exclude = preexisting_untracked(paths) | {LEDGER_FILE, IDEAS_FILE} | set(outside)
    # A private index per process: `status` may snapshot while a `run` does.
    return git.snapshot_tree(paths.private / f"snapshot-{os.getpid()}.index", exclude=exclude), outside


def take_snapshot(git: Git, paths: Paths, message: str, incumbent: str,
                  scope: Sequence[str] = ()) -> Snapshot | None:
    """Snapshot the working tree as a candidate commit on `incumbent`; None when they are equal."""
    tree, outside = _workspace(git, paths, scope)
    incumbent_tree = git.tree_of(incumbent)
    if tree == incumbent_tree:
        return None
    commit = git.commit_tree(tree, incumbent, message)
    changed, stat = git.changes(incumbent, commit)
    return Snapshot(tree, commit, incumbent, changed, incumbent_tree, stat, tuple(scope), tuple(outside))


def commit_snapshot(git: Git, candidate: str, incumbent: str, message: str) -> Snapshot | None:
    """A candidate made elsewhere (another worktree) as a commit: its tree on `incumbent`.

    The tree is judged as it is, so a candidate made on an older incumbent must be rebased
    first (see `parallel.rebase`); None when the tree is the incumbent's.
    """
    tree, incumbent_tree = git.tree_of(candidate), git.tree_of(incumbent)
    if tree == incumbent_tree:
        return None
    commit = git.commit_tree(tree, incumbent, message)
    changed, stat = git.changes(incumbent, commit)
    return Snapshot(tree, commit, incumbent, changed, incumbent_tree, stat)


def first_violation(changed: list[str], protected: list[str], scope: list[str]) -> str | None:
    """The discard reason for the first file a candidate may not change, if any.

    >>> first_violation(["src/a.py", "bench.sh"], ["bench.sh"], [])
    'tampered: bench.sh'
    >>> first_violation(["docs/x.md"], [], ["src/**"])
    'out of scope: docs/x.md'
    """
    for path in changed:
        if any(glob_match(path, pattern) for pattern in protected):
            return f"tampered: {printable(path)}"
    if scope:
        for path in changed:
            if not any(glob_match(path, pattern) for pattern in scope):
                return f"out of scope: {printable(path)}"
    return None


def run_by_scripts(git: Git, commit: str, scripts: list[str], scope: list[str]) -> list[str]:
    """Globs of what the benchmark and checks scripts run, outside the scope: protected too.

    The benchmark is more than its script: `python3 bench.py` measures with bench.py, and a
    candidate that edits it changes the measuring, not the code. Tracked files a script names
    are protected unless the scope covers them; folders it names (`pytest tests`) only when a
    scope is set, since an open scope would otherwise lose everything under them.
    """
    listing = git.run("ls-tree", "-r", "--name-only", "-z", commit).split("\0")
    files = {f for f in listing if f}
    folders = {str(parent) for f in files for parent in PurePosixPath(f).parents if str(parent) != "."}
    found: list[str] = []
    texts = git.texts_at(commit, scripts)
    for script in scripts:
        for token in re.findall(r"[\w@%+,./-]+", texts.get(script, "")):
            name = token.removeprefix("./").rstrip("/")
            inside = [f for f in files if f == name or f.startswith(name + "/")]
            if name in scripts or (scope and any(glob_match(f, g) for f in inside for g in scope)):
                continue
            if name in files:
                found.append(name)
            elif name in folders and scope:
                found.append(f"{name}/**")
    return list(dict.fromkeys(found))


def escaping_symlink(git: Git, old: str, new: str) -> str | None:
    """`out of scope: <file>` for the first symlink `new` adds whose target leaves the repository.

    Such a link measures and commits whatever the target holds at the time, which the
    candidate's code can swap after the verdict.
    """
    fields = git.run("diff-tree", "-r", "-z", "--no-renames", old, new).split("\0")
    for meta, path in zip(fields[::2], fields[1::2], strict=False):
        if meta.split(" ")[1:2] == ["120000"]:
            target = git.run("cat-file", "blob", meta.split(" ")[3], strip=False)
            if leaves_repository(path, target):
                return f"out of scope: {path}"
    return None


def leaves_repository(path: str, target: str) -> bool:
    """Whether a symlink at `path` (relative to the root) points outside the work tree or into `.git`.

    >>> leaves_repository("src/a.py", "../lib/a.py"), leaves_repository("src/a.py", "../../x")
    (False, True)
    >>> leaves_repository("a", "/tmp/a"), leaves_repository("a", ".git/config")
    (True, True)
    """
    if posixpath.isabs(target):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../") or resolved.split("/")[0] == ".git"


def glob_match(path: str, pattern: str) -> bool:
    """Match a repository path against a glob where `**` spans directories.

    A pattern without wildcards also matches everything below it as a directory.

    >>> glob_match("src/pkg/mod.py", "src/**/*.py"), glob_match("src/x", "src"), glob_match("a/b.py", "*.py")
    (True, True, False)
    """
    pattern = pattern.strip()
    return bool(_glob_regex(pattern[2:] if pattern.startswith("./") else pattern).match(path))


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.rstrip("/")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + "(?:/.*)?$")


def restore(git: Git, paths: Paths, scope: Sequence[str] = ()) -> list[str]:
    """Put the working tree back exactly to the incumbent; return the files removed.

    Tracked files are reset; untracked files the candidate created are deleted; untracked files
    that predate the candidate or lie outside the scope, ignored files and the harness's own
    files are left alone.
    """
    outside = set(untracked_outside(git, paths, list(scope)))
    git.run("reset", "--quiet", "--hard", "HEAD")
    keep = preexisting_untracked(paths) | outside
    removed = []
    for rel in git.untracked():
        if rel in keep:
            continue
        target = git.root / rel
        target.unlink(missing_ok=True)
        removed.append(rel)
        _prune_empty_dirs(target.parent, git.root)
    return removed


def _prune_empty_dirs(directory: Path, root: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def candidate_ref(session_name: str, run: int) -> str:
    """Where a candidate stays recoverable: `refs/autoresearch/<session>/runs/<n>`."""
    return f"refs/autoresearch/{session_name}/runs/{run}"


def unjudged_ref(session_name: str, run: int) -> str:
    """Where a branch tip that no experiment made stays reachable after run `run` replaced it."""
    return f"refs/autoresearch/{session_name}/unjudged/{run}"


def save_candidate(git: Git, paths: Paths, ref: str, run: int, snapshot: Snapshot) -> Path:
    """Keep the candidate recoverable whatever the verdict: a ref and a patch file."""
    git.run("update-ref", ref, snapshot.commit)
    patch = paths.run_dir(run) / "candidate.patch"
    patch.parent.mkdir(parents=True, exist_ok=True)
    patch.write_text(git.diff(snapshot.incumbent, snapshot.commit), encoding="utf-8", errors=BYTES_AS_TEXT)
    return patch


def advance_branch(git: Git, branch: str, new: str, old: str) -> None:
    """Move the session branch from `old` to `new` and sync the index; the files stay as they are."""
    git.run("update-ref", f"refs/heads/{branch}", new, old)
    git.run("reset", "--quiet", "--mixed", "HEAD")


# Caches that tools leave next to the code; never what a benchmark is missing.
_CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".DS_Store"}


def outside_checkouts(git: Git, linked: list[str]) -> list[str]:
    """Untracked and ignored entries of the working tree that a measured checkout lacks.

    A directory git does not track at all is one entry (`venv/`, `node_modules/`); the harness's
    own files, tool caches and paths already linked are left out.
    """
    out = git.run("ls-files", "--others", "--directory", "--no-empty-directory", "-z")
    own = HARNESS_ONLY
    entries = []
    for entry in (e for e in out.split("\0") if e):
        bare = entry.rstrip("/")
        if entry in own or bare in own or Path(bare).name in _CACHES or bare.endswith(".pyc"):
            continue
        if any(bare == link.rstrip("/") or bare.startswith(link.rstrip("/") + "/") for link in linked):
            continue
        entries.append(entry)
    return sorted(entries)


def link_untracked(worktree: Path, repo: Path, links: list[str]) -> None:
    """Symlink untracked data (datasets, venvs) from the repository into a measured checkout."""
    for rel in links:
        source = repo / rel.rstrip("/")
        target = worktree / rel.rstrip("/")
        if target.is_symlink() or target.exists() or not source.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source, target, target_is_directory=source.is_dir())


def remove_worktrees(git: Git, paths: Paths) -> list[Path]:
    """Unregister and delete the measured checkouts; return the ones that existed."""
    removed = []
    for path in (paths.incumbent, paths.candidate):
        if path.exists():
            git.run("worktree", "remove", "--force", str(path))
            removed.append(path)
        (paths.state / "worktrees" / f"{path.name}.built").unlink(missing_ok=True)
    git.run("worktree", "prune")
    return removed
