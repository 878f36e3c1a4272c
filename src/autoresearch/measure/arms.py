"""The measured checkouts of a session: worktrees, build, checks, and how to measure them."""

from __future__ import annotations

from pathlib import Path

from autoresearch.errors import AutoresearchError
from autoresearch.infra.runner import run_command
from autoresearch.infra.workspace import Snapshot, link_untracked
from autoresearch.measure.bench import Arm, Bench, Measurement, measure
from autoresearch.measure.failures import first_failure
from autoresearch.progress import Progress
from autoresearch.session import Session


def prepare_arms(session: Session, snapshot: Snapshot) -> tuple[Arm, Arm]:
    """Check out the incumbent and the candidate in their own worktrees."""
    links = tuple(session.config.scope.link)
    incumbent = Arm("incumbent", session.paths.incumbent, links)
    candidate = Arm("candidate", session.paths.candidate, links)
    for arm, commit in ((incumbent, snapshot.incumbent), (candidate, snapshot.commit)):
        checkout(session, arm, commit)
    return incumbent, candidate


def checkout(session: Session, arm: Arm, commit: str) -> None:
    """Put exactly `commit` in the arm's worktree; a fresh checkout needs a fresh build."""
    if session.git.worktree_at(arm.path, commit, keep=list(arm.links)):
        (session.paths.state / "worktrees" / f"{arm.name}.built").unlink(missing_ok=True)
    link_untracked(arm.path, session.root, list(arm.links))


def build(session: Session, arm: Arm, cache_key: str | None, run_dir: Path) -> tuple[str, str] | None:
    """Run the build command in an arm; the incumbent's build is reused while it is current."""
    marker = session.paths.state / "worktrees" / f"{arm.name}.built"
    if cache_key and marker.exists() and marker.read_text() == cache_key:
        return None
    if not session.config.commands.build:
        return None  # nothing to build
    result = run_command(session.config.commands.build, arm.path, run_dir / f"build-{arm.name}",
                         session.config.commands.build_timeout)
    if not result.ok:
        tail = result.tail()
        what = "timed out" if result.timed_out else f"exit code {result.returncode}{_named(tail)}"
        return what, tail
    if cache_key:
        marker.write_text(cache_key)
    return None


def run_checks(session: Session, arm: Arm, log_stem: Path) -> tuple[str, str] | None:
    """Run the correctness checks in an arm; a (reason, output tail) pair when they fail."""
    commands = session.config.commands
    if not commands.checks:
        return None  # no checks configured: nothing can fail (init warns about it)
    result = run_command(commands.checks, arm.path, log_stem, commands.checks_timeout)
    if result.timed_out:
        return f"checks timed out after {commands.checks_timeout:g} s", result.tail()
    if result.returncode != 0:
        tail = result.tail()
        return f"checks failed (exit code {result.returncode}){_named(tail)}", tail
    return None


def _named(tail: str) -> str:
    """What a reason adds after "failed (exit code N)": the first failure the output names."""
    failure = first_failure(tail)
    return failure.summary() if failure else ""


def measure_commits(session: Session, before: str, after: str, run_dir: Path, rounds: int,
                    env: dict[str, str] | None = None, progress: Progress = lambda _: None) -> Measurement:
    """`after` against `before` (any two commits) on `rounds` fresh interleaved rounds.

    `before` takes the incumbent's checkout and `after` the candidate's, so ratios read
    after / before. A build failure is an `AutoresearchError`; a failed benchmark run raises
    `ArmFailure` naming the arm.
    """
    config = session.config
    links = tuple(config.scope.link)
    arms = (Arm("incumbent", session.paths.incumbent, links), Arm("candidate", session.paths.candidate, links))
    for arm, commit in zip(arms, (before, after), strict=True):
        checkout(session, arm, commit)
        if config.commands.build:
            failure = build(session, arm, None, run_dir)
            if failure:
                raise AutoresearchError(f"the build fails on {commit[:10]}: {failure[0]}\n{failure[1]}")
    return measure(Bench(config, run_dir, env=env), *arms, config.metric.direction, config.policy(),
                   config.wants_warmup(), progress, fixed_rounds=rounds)
