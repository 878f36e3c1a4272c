"""The measured checkouts of a session: worktrees, build, checks, and how to measure them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from autoresearch.config import Config
from autoresearch.errors import AutoresearchError
from autoresearch.infra.git import Git
from autoresearch.infra.runner import run_command
from autoresearch.infra.state import read_json, write_json
from autoresearch.infra.workspace import Snapshot, glob_match, link_untracked
from autoresearch.measure.bench import Arm, Bench, Measurement, measure
from autoresearch.measure.failures import first_failure
from autoresearch.measure.sandbox import Sandbox, Step, make_sandbox
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


def sandbox(session: Session) -> Sandbox:
    """How this session's build, checks and benchmark runs are sealed on this machine."""
    c = session.config
    return make_sandbox(c.sandbox.mode, session.root, session.common_dir, links=c.scope.link,
                        writable=c.sandbox.writable, readable=c.sandbox.readable, network=c.sandbox.network)


def checkout(session: Session, arm: Arm, commit: str) -> None:
    """Put exactly `commit` in the arm's worktree, and nothing else but its own build's outputs.

    Anything untracked (bytecode, files written by checks or a benchmark, or by anyone with
    access to the worktree between experiments) could change what the next run executes, so it
    goes, unless it is byte for byte what the build of this very commit left (then that build
    is reused); otherwise the build runs again.
    """
    session.git.worktree_at(arm.path, commit, keep=list(arm.links))
    marker = _build_marker(session, arm)
    built = read_json(marker)
    if not (built and built.get("commit") == commit and built.get("outputs") == _outputs_digest(arm)):
        marker.unlink(missing_ok=True)
        Git(arm.path).run("clean", "-ffdxq", *[arg for p in arm.links for arg in ("-e", p)])
    link_untracked(arm.path, session.root, list(arm.links))


def build(session: Session, arm: Arm, run_dir: Path) -> tuple[str, str] | None:
    """Run the build command in an arm, sealed, with its checkout writable for the outputs.

    Skipped when `checkout` found this commit's build intact.
    """
    if not session.config.commands.build:
        return None  # nothing to build
    marker = _build_marker(session, arm)
    if marker.exists():
        return None
    result = run_command(session.config.commands.build, arm.path, run_dir / f"build-{arm.name}",
                         session.config.commands.build_timeout,
                         prefix=sandbox(session).prefix(arm.path, Step.BUILD))
    if not result.ok:
        tail = result.tail()
        what = "timed out" if result.timed_out else f"exit code {result.returncode}{_named(tail)}"
        return what, tail
    write_json(marker, {"commit": Git(arm.path).rev("HEAD"), "outputs": _outputs_digest(arm)})
    return None


def _build_marker(session: Session, arm: Arm) -> Path:
    """Beside the checkout, named after it (`worktrees/incumbent.built`)."""
    return arm.path.with_name(f"{arm.path.name}.built")


def _outputs_digest(arm: Arm) -> str:
    """A hash of every untracked file in a checkout, ignored ones included, contents and modes."""
    digest = hashlib.sha256()
    listed = Git(arm.path).run("ls-files", "--others", "-z").split("\0")
    for rel in sorted(p for p in listed if p and not any(glob_match(p, link) for link in arm.links)):
        path = arm.path / rel
        info = path.lstat()
        digest.update(f"{rel}\0{info.st_mode:o}\0".encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def run_checks(session: Session, arm: Arm, log_stem: Path) -> tuple[str, str] | None:
    """Run the correctness checks in an arm; a (reason, output tail) pair when they fail."""
    commands = session.config.commands
    if not commands.checks:
        return None  # no checks configured: nothing can fail (init warns about it)
    result = run_command(commands.checks, arm.path, log_stem, commands.checks_timeout,
                         prefix=sandbox(session).prefix(arm.path, Step.CHECKS))
    if result.timed_out:
        return f"checks timed out after {commands.checks_timeout:g} s", result.tail()
    if result.returncode != 0:
        tail = result.tail()
        return f"checks failed (exit code {result.returncode}){_named(tail)}", tail
    return None


def undo_checks(session: Session, arm: Arm, commit: str, run_dir: Path) -> tuple[str, str] | None:
    """Put back the checkout that unsealed checks ran in, as the other arm has it.

    Checks run in the candidate's checkout only. Unsealed, whatever they leave there (bytecode,
    a test cache, a file a fixture writes) would be read by the candidate's benchmark runs and
    never by the incumbent's: a measured difference that no code change made. Sealed checks see
    their checkout read-only and leave nothing. A build the checks disturbed is redone.
    """
    checkout(session, arm, commit)
    return build(session, arm, run_dir)


def _named(tail: str) -> str:
    """What a reason adds after "failed (exit code N)": the first failure the output names."""
    failure = first_failure(tail)
    return failure.summary() if failure else ""


def measure_commits(session: Session, before: str, after: str, run_dir: Path, rounds: int,
                    env: dict[str, str] | None = None, progress: Progress = lambda _: None,
                    config: Config | None = None) -> Measurement:
    """`after` against `before` (any two commits) on `rounds` fresh interleaved rounds.

    `before` takes the incumbent's checkout and `after` the candidate's, so ratios read
    after / before. A build failure is an `AutoresearchError`; a failed benchmark run raises
    `ArmFailure` naming the arm. `config` measures otherwise than the session (another measure).
    """
    config = config or session.config
    links = tuple(config.scope.link)
    arms = (Arm("incumbent", session.paths.incumbent, links),
            Arm("candidate", session.paths.candidate, links))
    for arm, commit in zip(arms, (before, after), strict=True):
        checkout(session, arm, commit)
        if config.commands.build:
            failure = build(session, arm, run_dir)
            if failure:
                raise AutoresearchError(f"the build fails on {commit[:10]}: {failure[0]}\n{failure[1]}")
    return measure(Bench(config, run_dir, sandbox(session), env=env), *arms, config.metric.direction,
                   config.policy(), config.wants_warmup(), progress, fixed_rounds=rounds)
