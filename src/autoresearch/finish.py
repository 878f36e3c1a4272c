"""Finish a session: what each keep is worth now, which parts of a bundle carry it, clean branches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoresearch.errors import ArmFailure, AutoresearchError, UsageError
from autoresearch.infra.git import Git, GitError
from autoresearch.infra.state import now_ms, session_lock
from autoresearch.infra.workspace import HARNESS_ONLY
from autoresearch.measure.arms import build, checkout, measure_commits, run_checks
from autoresearch.measure.bench import Arm
from autoresearch.model import AblationRecord, ratio_interval
from autoresearch.progress import Progress, ProgressEvent
from autoresearch.record import recover
from autoresearch.session import Session, open_session
from autoresearch.stats.evidence import Estimate, better_beyond_doubt, fixed_estimate

# The session's own files never travel to a review branch.
_NOT_FOR_REVIEW = [f":(exclude){p}" for p in ("autoresearch.*", *HARNESS_ONLY)]


# --- the keeps, as changes ----------------------------------------------------------------


@dataclass(frozen=True)
class Keep:
    """A kept change on the session branch: its commit and what it was measured to be worth."""

    run: int
    commit: str
    parent: str
    description: str
    ratio: float | None
    ci: tuple[float, float] | None
    improvement: float | None
    files: tuple[str, ...]


def keeps_on_branch(session: Session) -> list[Keep]:
    """Every keep whose commit is still in the session branch's history, oldest first."""
    git = session.git
    history = set(git.run("rev-list", "HEAD").split())
    out = []
    for r in session.ledger().runs:
        if r.is_keep and r.commit and r.commit in history:
            parent = git.rev(f"{r.commit}^")
            files = tuple(git.run("diff", "--name-only", "-z", parent, r.commit, "--", ".",
                                  *_NOT_FOR_REVIEW).split("\0")[:-1])
            out.append(Keep(r.run, r.commit, parent, r.description, r.ratio, r.ci, r.improvement, files))
    return out


def session_base(session: Session) -> str:
    """The commit the session branch grew from: the parent of the first baseline's commit."""
    first = next((r for r in session.ledger().runs if r.is_baseline and r.commit), None)
    if first is None or first.commit is None:
        raise UsageError("this session has no baseline yet: run `autoresearch init` first")
    return session.git.rev(f"{first.commit}^")


def patch_of(git: Git, old: str, new: str) -> str:
    """The change from `old` to `new` as a binary-safe patch, without the session's own files."""
    return git.run("diff", "--binary", "--full-index", old, new, "--", ".", *_NOT_FOR_REVIEW,
                   strip=False)


def apply_patches(git: Git, start: str, patches: list[str], index: Path) -> str | None:
    """The tree of `start` with `patches` applied in order, or None when one does not apply.

    Works on a private index, so no working tree, branch or the user's index is touched.
    """
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        git.run("read-tree", start, env=env)
        for patch in patches:
            if patch.strip():
                git.run("apply", "--cached", "--whitespace=nowarn", input=patch, env=env)
        return git.run("write-tree", env=env)
    except GitError:
        return None
    finally:
        index.unlink(missing_ok=True)


# --- measuring one tree against another ---------------------------------------------------


def measure_trees(session: Session, before: str, after: str, run_dir: Path, rounds: int | None,
                  progress: Progress) -> Estimate:
    """`after` against `before` (commits), interleaved on fresh rounds: ratio = after / before."""
    config = session.config
    n = 1 if config.metric.measure.deterministic else (rounds or config.confirm.rounds)
    try:
        result = measure_commits(session, before, after, run_dir, n, progress=progress)
    except ArmFailure as failure:
        raise AutoresearchError(f"the benchmark failed: {failure.message}. Log: {failure.log}\n"
                                f"{failure.tail}") from None
    return fixed_estimate(result.values("incumbent"), result.values("candidate"), config.metric.direction)


def _commit(git: Git, tree: str, parent: str, message: str) -> str:
    return git.commit_tree(tree, parent, message)


# --- ablate -------------------------------------------------------------------------------


@dataclass
class AblationTable:
    """What each keep is worth now, with the total it should multiply up to."""

    rows: list[AblationRecord]
    total: Estimate | None  # the session's first baseline against the incumbent, when measured
    pending: list[int] = field(default_factory=list)  # keeps not measured within the time

    def as_dict(self) -> dict[str, Any]:
        return {"rows": [r.model_dump(exclude={"samples"}) for r in self.rows],
                "total": None if self.total is None else vars(self.total),
                "pending": self.pending}


def ablate(start: Path, max_minutes: float | None = None, rounds: int | None = None,
           progress: Progress = lambda _: None) -> AblationTable:
    """For each keep, the incumbent without it against the incumbent: what it is worth now.

    Results are recorded in the ledger as `ablation` records for the incumbent they measured;
    a second call continues with the keeps not measured yet.
    """
    session = open_session(start)
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    with session_lock(session.paths, "ablate"):
        recover(session)
        git, paths = session.git, session.paths
        head = git.rev("HEAD")
        keeps = keeps_on_branch(session)
        if not keeps:
            raise UsageError("no keeps on the session branch to attribute")
        done = {a.keep_run: a for a in session.ledger().ablations if a.incumbent_commit == head}
        rows, pending = [done[k.run] for k in keeps if k.run in done], []
        for keep in (k for k in keeps if k.run not in done):
            if deadline is not None and time.monotonic() > deadline:
                pending.append(keep.run)
                continue
            progress(ProgressEvent(f"without run {keep.run}: {keep.description}"))
            rows.append(_ablate_one(session, keep, head, rounds))
            session.append(rows[-1])
        rows.sort(key=lambda a: a.keep_run)
        total = None
        if not pending:
            progress(ProgressEvent("the session's base against the incumbent"))
            first = next(r for r in session.ledger().runs if r.is_baseline and r.commit)
            total = measure_trees(session, first.commit or head, head,
                                  paths.state / "ablations" / f"total-{head[:10]}", rounds, lambda _: None)
        return AblationTable(rows, total, pending)


def _ablate_one(session: Session, keep: Keep, head: str, rounds: int | None) -> AblationRecord:
    git, paths = session.git, session.paths
    revert = patch_of(git, keep.commit, keep.parent)
    index = paths.state / f"ablate-{keep.run}.index"
    tree = apply_patches(git, head, [revert], index)
    base = {"timestamp": now_ms(), "segment": session.ledger().segment, "keep_run": keep.run,
            "keep_commit": keep.commit, "incumbent_commit": head, "description": keep.description}
    if tree is None:
        return AblationRecord(**base, outcome="conflict",
                              reason="does not revert cleanly: later keeps changed the same lines")
    without = _commit(git, tree, head, f"autoresearch ablation: without run {keep.run}")
    run_dir = paths.state / "ablations" / f"{keep.run:04d}-{head[:10]}"
    # the keep's worth: incumbent (with it) against the tree without it
    est = measure_trees(session, without, head, run_dir, rounds, lambda _: None)
    significant = better_beyond_doubt(est.ci, session.config.metric.direction)
    return AblationRecord(**base, outcome="measured" if significant else "no longer matters",
                          ratio=est.ratio, ci=est.ci, improvement=est.improvement,
                          p_value=est.p_value, rounds=est.rounds, logs=str(run_dir),
                          reason="" if significant else "removing it makes no significant difference")


# --- split a bundle -----------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One file of a kept bundle, measured on its own against the keep's parent."""

    file: str
    ratio: float | None
    ci: tuple[float, float] | None
    improvement: float | None
    share: float | None  # of the bundle's log-gain
    carries: bool  # better than the parent beyond its interval's doubt
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def split(start: Path, run: int, rounds: int | None = None,
          progress: Progress = lambda _: None) -> list[Part]:
    """Measure each file of kept run `run` alone against the keep's parent: which parts carry it."""
    import math

    session = open_session(start)
    with session_lock(session.paths, "split"):
        recover(session)
        keep = next((k for k in keeps_on_branch(session) if k.run == run), None)
        if keep is None:
            raise UsageError(f"run {run} is not a keep on the session branch")
        if len(keep.files) < 2:
            raise UsageError(f"run {run} changed one file ({', '.join(keep.files)}): nothing to split")
        git, paths = session.git, session.paths
        total = math.log(keep.ratio) if keep.ratio else None
        parts = []
        for number, name in enumerate(keep.files):
            progress(ProgressEvent(f"part {number + 1}/{len(keep.files)}: {name}"))
            patch = git.run("diff", "--binary", "--full-index", keep.parent, keep.commit, "--", name,
                            strip=False)
            tree = apply_patches(git, keep.parent, [patch], paths.state / f"split-{run}.index")
            if tree is None:
                parts.append(Part(name, None, None, None, None, False, "does not apply on its own"))
                continue
            alone = _commit(git, tree, keep.parent, f"autoresearch split: run {run}, only {name}")
            est = measure_trees(session, keep.parent, alone,
                                paths.state / "splits" / f"{run:04d}-{number:02d}", rounds, lambda _: None)
            better = better_beyond_doubt(est.ci, session.config.metric.direction)
            share = math.log(est.ratio) / total if total else None
            parts.append(Part(name, est.ratio, est.ci, est.improvement, share, better))
        return parts


# --- finalize -----------------------------------------------------------------------------


@dataclass
class Finalized:
    """The branches `finalize` made."""

    branch: str
    commits: list[dict[str, Any]]
    groups: list[dict[str, Any]] = field(default_factory=list)  # with --split
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"branch": self.branch, "commits": self.commits, "groups": self.groups, "notes": self.notes}


def finalize(start: Path, branch: str | None = None, split_groups: bool = False,
             progress: Progress = lambda _: None) -> Finalized:
    """A clean branch off the session's base holding only the kept changes, one commit per keep.

    With `split_groups`, also one review branch per group of keeps that touch disjoint files,
    each verified to hold exactly the final content of its files, with the checks run on it.
    Existing branches are never moved: a taken name gets a numbered suffix, and the result says so.
    """
    session = open_session(start)
    with session_lock(session.paths, "finalize"):
        recover(session)
        git = session.git
        keeps = keeps_on_branch(session)
        if not keeps:
            raise UsageError("no keeps on the session branch: nothing to finalize")
        base = session_base(session)
        notes: list[str] = []
        name = _free_branch(git, branch or f"{session.config.session.branch}-final", notes)
        progress(ProgressEvent(f"stacking {len(keeps)} keeps on {base[:10]}"))
        tip, commits = _stack(session, base, keeps)
        git.run("branch", name, tip)
        result = Finalized(name, commits, notes=notes)
        if split_groups:
            result.groups = _split_branches(session, base, keeps, name, tip, notes, progress)
        return result


def _stack(session: Session, base: str, keeps: list[Keep]) -> tuple[str, list[dict[str, Any]]]:
    git, tip, made = session.git, base, []
    for keep in keeps:
        tree = apply_patches(git, tip, [patch_of(git, keep.parent, keep.commit)],
                             session.paths.state / "finalize.index")
        if tree is None:
            raise AutoresearchError(f"run {keep.run} does not apply on the kept changes before it; "
                                    "was the session branch rewritten?")
        tip = _commit(git, tree, tip, _keep_message(keep))
        made.append({"run": keep.run, "commit": tip, "description": keep.description,
                     "files": list(keep.files), "improvement": keep.improvement})
    return tip, made


def _keep_message(keep: Keep) -> str:
    subject = keep.description.strip().splitlines()[0] if keep.description.strip() else f"run {keep.run}"
    if keep.ratio is not None and keep.ci is not None and keep.improvement is not None:
        measured = (f"Measured by autoresearch (run {keep.run}): {keep.improvement:+.1%}, "
                    f"ratio {keep.ratio:.3f} {ratio_interval(keep.ci)} against the "
                    "incumbent of its moment.")
    else:
        measured = f"Kept by autoresearch (run {keep.run})."
    return f"{subject}\n\n{measured}\n"


def groups_of(keeps: list[Keep]) -> list[list[Keep]]:
    """Keeps joined when they touch a common file (union-find), each group in session order.

    >>> k = lambda run, *files: Keep(run, "", "", "", None, None, None, files)
    >>> [[x.run for x in g] for g in groups_of([k(1, "a"), k(2, "b"), k(3, "a", "c"), k(4, "c")])]
    [[1, 3, 4], [2]]
    """
    parent = list(range(len(keeps)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, keep in enumerate(keeps):
        for f in keep.files:
            if f in owner:
                parent[root(i)] = root(owner[f])
            else:
                owner[f] = i
    groups: dict[int, list[Keep]] = {}
    for i, keep in enumerate(keeps):
        groups.setdefault(root(i), []).append(keep)
    return sorted(groups.values(), key=lambda g: g[0].run)


def _split_branches(session: Session, base: str, keeps: list[Keep], name: str, final: str,
                    notes: list[str], progress: Progress) -> list[dict[str, Any]]:
    git = session.git
    made = []
    groups = groups_of(keeps)
    if len(groups) == 1:  # one group: the clean branch is its review branch
        notes.append(f"every keep touches a file another keep touches: {name} is the one review branch")
        progress(ProgressEvent(f"checks on {name}"))
        return [{"branch": name, "runs": [k.run for k in keeps],
                 "files": sorted({f for k in keeps for f in k.files}),
                 "checks": _checks_pass(session, final, name)}]
    for number, group in enumerate(groups, start=1):
        branch = _free_branch(git, f"{name}-{number}", notes)
        tip, _ = _stack(session, base, group)
        files = sorted({f for k in group for f in k.files})
        mismatched = [f for f in files if _blob(git, tip, f) != _blob(git, final, f)]
        if mismatched:
            raise AutoresearchError(f"group {number} does not reproduce the final content of "
                                    f"{', '.join(mismatched)}; no branch made for it")
        git.run("branch", branch, tip)
        progress(ProgressEvent(f"checks on {branch}"))
        checks = _checks_pass(session, tip, branch)
        made.append({"branch": branch, "runs": [k.run for k in group], "files": files,
                     "checks": checks})
    union = sorted({f for k in keeps for f in k.files})
    changed = git.run("diff", "--name-only", "-z", base, final, "--", ".", *_NOT_FOR_REVIEW).split("\0")[:-1]
    if sorted(changed) != union:
        raise AutoresearchError("the review branches do not add up to the final tree: "
                                f"changed {changed}, covered {union}")
    return made


def _blob(git: Git, commit: str, path: str) -> str | None:
    proc = git.call("rev-parse", "--verify", "--quiet", f"{commit}:{path}")
    return proc.stdout.strip() or None


def _checks_pass(session: Session, commit: str, branch: str) -> str:
    """`passed`, `failed: <reason>` or `none configured`, from the checks run on `commit`.

    A review branch holds no session files, so the checks run on its tree with the session's
    own (`autoresearch.*`, the checks script among them) put back, as they were at the incumbent.
    """
    if not session.config.commands.checks:
        return "none configured"
    git = session.git
    harness = git.run("diff", "--binary", "--full-index", commit, "HEAD", "--", "autoresearch.*", strip=False)
    tree = apply_patches(git, commit, [harness], session.paths.state / "finalize-checks.index")
    if tree is None:
        return "failed: the session's files do not apply to this branch"
    commit = _commit(git, tree, commit, f"autoresearch finalize: {branch} with the session's files")
    arm = Arm("candidate", session.paths.candidate, tuple(session.config.scope.link))
    checkout(session, arm, commit)
    log = session.paths.state / "finalize" / branch.replace("/", "_") / "checks"
    if session.config.commands.build:
        failure = build(session, arm, log.parent)
        if failure:
            return f"failed: build {failure[0]}"
    failure = run_checks(session, arm, log)
    return "passed" if failure is None else f"failed: {failure[0]}"


def _free_branch(git: Git, wanted: str, notes: list[str]) -> str:
    if not git.branch_exists(wanted):
        return wanted
    for n in range(2, 100):
        name = f"{wanted}-v{n}"
        if not git.branch_exists(name):
            notes.append(f"branch {wanted} exists and was left as it is; made {name}")
            return name
    raise UsageError(f"branches {wanted} and {wanted}-v2..v99 all exist: pass --branch")

