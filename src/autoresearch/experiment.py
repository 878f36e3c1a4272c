"""One experiment, top to bottom: guard → build → checks → measure → decide → record."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from autoresearch import ledger, stats
from autoresearch.errors import AutoresearchError, UsageError
from autoresearch.interrupts import deferred
from autoresearch.ledger import RunRecord
from autoresearch.measure import Arm, ArmFailure, Bench, Measurement, Sample, measure
from autoresearch.runner import group_alive, kill_group, run_command
from autoresearch.session import Session, median, open_session
from autoresearch.stats import improvement_of
from autoresearch.state import now_ms, read_json, session_lock, write_json
from autoresearch.workspace import (
    Snapshot,
    advance_branch,
    candidate_ref,
    first_violation,
    link_untracked,
    restore,
    save_candidate,
    take_snapshot,
    untracked_outside,
    workspace_tree,
)

Progress = Callable[[str], None]
TAIL_CHARS = 2000


@dataclass
class ExperimentResult:
    """A finished experiment as the ledger recorded it, plus what a person should know."""

    record: RunRecord
    notes: list[str] = field(default_factory=list)
    tail: str = ""

    def as_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "run": r.run,
            "status": r.status,
            "verdict": r.verdict,
            "reason": r.reason,
            "metric": r.metric,
            "incumbent_metric": r.incumbent_metric,
            "ratio": r.ratio,
            "ci": list(r.ci) if r.ci else None,
            "improvement": r.improvement,
            "p_value": r.p_value,
            "rounds": r.rounds,
            "commit": r.commit,
            "metrics": r.metrics,
            "durations": r.durations,
            "logs": r.logs,
            "candidate_ref": getattr(r, "candidate_ref", None),
            "notes": self.notes,
        }


def run_experiment(
    start: Path,
    description: str,
    hypothesis: str | None = None,
    proposer: str | None = None,
    progress: Progress = lambda _: None,
    reject: str | None = None,
    extra: dict[str, Any] | None = None,
    owns_new_files: bool = False,
) -> ExperimentResult:
    """Judge the working tree's change against the incumbent, then keep or restore it.

    `reject` records a discard with that reason without measuring (a proposal that made no
    change, or a patch that does not apply); `extra` adds fields to the ledger record
    (tokens, cost). New untracked files outside the scope are the user's scratch and left out,
    unless `owns_new_files` (the loop made every change): then they are judged, out of scope.

    >>> run_experiment(Path("."), "cache the lexer regex").record.verdict  # doctest: +SKIP
    'keep'
    """
    session = open_session(start)
    with session_lock(session.paths, "run"):
        notes = recover(session)
        try:
            result = _experiment(session, description, hypothesis, proposer, progress, reject,
                                 extra or {}, owns_new_files)
        except Exception:
            _forget_undecided(session)
            raise
        result.notes[:0] = notes
        return result


def _forget_undecided(session: Session) -> None:
    """After an error before the verdict, the working tree is untouched: nothing to recover."""
    pending = read_json(session.paths.pending)
    if pending and not (session.paths.run_dir(int(pending["run"])) / "result.json").exists():
        _clear_pending(session)


def _experiment(
    session: Session,
    description: str,
    hypothesis: str | None,
    proposer: str | None,
    progress: Progress,
    reject: str | None,
    extra: dict[str, Any],
    owns_new_files: bool,
) -> ExperimentResult:
    git, paths, config = session.git, session.paths, session.config
    book = session.ledger()
    if not book.headers:
        raise UsageError("this session has no baseline yet: run `autoresearch init` to measure it")
    run = book.next_run()
    scope = [] if owns_new_files else config.scope.include  # for new untracked files
    snapshot = take_snapshot(git, paths, f"autoresearch candidate {run}: {description}", scope)
    if snapshot is None:
        if reject is None:
            raise UsageError("nothing to measure: the working tree is identical to the incumbent")
        return _unmeasured(session, run, book.segment, description, hypothesis, proposer, reject, extra)
    run_dir = paths.run_dir(run)
    write_json(paths.pending, {"run": run, "snapshot": snapshot.commit, "tree": snapshot.tree,
                               "incumbent": snapshot.incumbent, "description": description,
                               "untracked_scope": scope, "started": now_ms()})
    ref = candidate_ref(config.session.name, run)
    save_candidate(git, paths, ref, run, snapshot)
    started = time.monotonic()
    durations: dict[str, float] = {}
    base = {
        "run": run, "description": description, "hypothesis": hypothesis, "proposer": proposer,
        "segment": book.segment, "incumbent_commit": snapshot.incumbent, "commit": snapshot.commit,
        "diff_stat": git.diff_stat(snapshot.incumbent, snapshot.commit), "logs": str(run_dir),
        "candidate_ref": ref, **extra,
    }

    ignored = untracked_outside(git, paths, scope)
    notes = ([f"untracked files outside the scope are not part of the candidate: {', '.join(ignored[:5])}"
              + (" …" if len(ignored) > 5 else "")] if ignored else [])

    def finish(verdict: str, reason: str, tail: str = "", **fields: Any) -> ExperimentResult:
        durations["total_s"] = round(time.monotonic() - started, 3)
        status = {"keep": "keep", "checks_failed": "checks_failed", "crash": "crash",
                  "timeout": "crash"}.get(verdict, "discard")
        record = RunRecord(**base, **fields, status=status, verdict=verdict, reason=reason,
                           timestamp=now_ms(), durations=durations,
                           tail=tail[-TAIL_CHARS:] or None)
        return ExperimentResult(_record(session, record, snapshot), notes=list(notes), tail=tail)

    if reject is not None:
        return finish("discard", reject)

    # guard: the harness's own files and the user's protected paths; the scope
    violation = first_violation(snapshot.changed, config.protected_paths(), config.scope.include)
    if violation:
        return finish("discard", violation)

    progress("preparing checkouts")
    incumbent, candidate = prepare_arms(session, snapshot)

    # build
    if config.commands.build:
        progress("build")
        t = time.monotonic()
        failure = build(session, incumbent, snapshot.incumbent, run_dir) or None
        if failure:
            raise AutoresearchError(f"the build fails on the incumbent: {failure}")
        failure = build(session, candidate, None, run_dir)
        durations["build_s"] = round(time.monotonic() - t, 3)
        if failure:
            return finish("crash", f"build failed: {failure[0]}", failure[1])

    # checks
    if config.commands.checks:
        progress("checks")
        t = time.monotonic()
        failure = run_checks(session, candidate, run_dir / "checks")
        durations["checks_s"] = round(time.monotonic() - t, 3)
        if failure:
            return finish("checks_failed", failure[0], failure[1])

    # measure
    t = time.monotonic()
    bench = Bench(config, run_dir, slowest_known_s=_slowest_incumbent(book),
                  on_start=lambda pgid: _note_group(session, pgid))
    try:
        if config.metric.measure == "single":
            result = measure_single(session, bench, candidate, book, progress)
        else:
            result = measure(bench, incumbent, candidate, config.metric.direction,
                             policy(session), wants_warmup(session), progress)
    except ArmFailure as failure:
        durations["measure_s"] = round(time.monotonic() - t, 3)
        if failure.arm == "incumbent":
            raise AutoresearchError(
                f"the incumbent's benchmark failed ({failure.message}); the candidate is left "
                f"unmeasured in the working tree. Log: {failure.log}\n{failure.tail}"
            ) from None
        verdict = "timeout" if failure.kind == "timeout" else "crash"
        return finish(verdict, failure.message, failure.tail)
    durations["measure_s"] = round(time.monotonic() - t, 3)

    # decide
    verdict, reason = decide(session, result)
    comparison = result.comparison
    assert comparison is not None
    return finish(
        verdict, reason,
        metric=median(result.values("candidate")),
        incumbent_metric=median(result.values("incumbent")),
        metrics=_secondary_medians(result),
        ratio=comparison.ratio, ci=comparison.ci, improvement=comparison.improvement,
        p_value=comparison.p_value, rounds=comparison.rounds, samples=result.as_record(),
        decided_at=comparison.decided_at or None, screen_ratio=comparison.screen_ratio,
    )


def _unmeasured(session: Session, run: int, segment: int, description: str,
                hypothesis: str | None, proposer: str | None, reason: str,
                extra: dict[str, Any]) -> ExperimentResult:
    """Record a proposal that left nothing to measure; the working tree is already the incumbent."""
    head = session.git.rev("HEAD")
    record = RunRecord(run=run, segment=segment, description=description, hypothesis=hypothesis,
                       proposer=proposer, incumbent_commit=head, status="discard",
                       verdict="discard", reason=reason, timestamp=now_ms(), **extra)
    ledger.append(session.paths.ledger, record)
    return ExperimentResult(record)


def policy(session: Session) -> stats.Policy:
    """The statistics policy of the session's configuration and measure."""
    s = session.config.stats
    if session.config.metric.measure == "instructions":
        return stats.Policy(alpha=s.alpha, min_effect=s.min_effect, min_rounds=1, max_rounds=1)
    return stats.Policy(alpha=s.alpha, min_effect=s.min_effect, min_rounds=s.min_rounds,
                        max_rounds=s.max_rounds, confirm_rounds=s.confirm_rounds)


def wants_warmup(session: Session) -> bool:
    """A discarded first run per arm, except for exact counts and unaffordable single runs."""
    return session.config.stats.warmup and session.config.metric.measure not in ("instructions", "single")


def measure_single(session: Session, bench: Bench, candidate: Arm, book: ledger.Ledger,
                   progress: Progress) -> Measurement:
    """One candidate run, judged against the incumbent's recorded runs and the noise floor."""
    from autoresearch.calibrate import last_calibration

    calibration = last_calibration(session)
    if calibration is None:
        raise UsageError("measure = single judges one run against the calibrated noise floor: "
                         "run `autoresearch calibrate` first")
    reference = next(r for r in reversed(book.segment_runs()) if r.status == "keep")
    values = reference.samples.get("incumbent" if reference.verdict == "baseline" else "candidate")
    progress("single run")
    sample = bench.run(candidate, "single")
    s = session.config.stats
    result = Measurement(order=["c"])
    recorded = Sample("incumbent", median(values), dict(reference.metrics), reference.timestamp / 1000,
                      0.0, 0.0, 0)
    result.rounds.append((recorded, sample))
    result.comparison = stats.judge_single(values, sample.value, session.config.metric.direction,
                                           calibration.noise, s.alpha, s.min_effect)
    result.warnings.append(f"single mode: compared with the {len(values)} recorded run(s) of run "
                           f"{reference.run}")
    return result


def decide(session: Session, result: Measurement) -> tuple[str, str]:
    """Keep only a significant gain of at least min_effect that no guard vetoes."""
    comparison = result.comparison
    assert comparison is not None
    config = session.config
    for name in config.guards:
        before, after = result.values("incumbent", name), result.values("candidate", name)
        if not after or len(before) != len(after):
            return "discard", f"guard violated: {name} (not reported by the benchmark)"
        check = stats.check_guard(before, after, _guard_direction(name), config.guard_tolerance(name),
                                  config.stats.alpha)
        if check.violated:
            return "discard", f"guard violated: {name} ({check.worsening:+.1%})"
    if comparison.outcome == "better":
        return "keep", f"better by {comparison.improvement:.1%}"
    if comparison.outcome == "worse" or comparison.reason == "worse":
        return "discard", "worse"
    if comparison.ci[0] == comparison.ci[1]:  # a deterministic metric: the number says it all
        return "discard", comparison.reason
    # A discard names the measured gain, so a reader can see how close it came.
    low, high = (improvement_of(r, config.metric.direction) for r in comparison.ci)
    low, high = min(low, high), max(low, high)
    return "discard", (f"{comparison.reason}: measured {comparison.improvement:+.1%} "
                       f"[{low:+.1%}, {high:+.1%}], keeps need ≥ {config.stats.min_effect:.0%}")


def _guard_direction(name: str) -> stats.Direction:
    # Guards protect costs (memory, allocations, size): lower is better unless named otherwise.
    return "higher" if name.endswith(("_per_s", "per_second", "throughput", "tok_s", "ops")) else "lower"


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
    assert session.config.commands.build
    result = run_command(session.config.commands.build, arm.path, run_dir / f"build-{arm.name}",
                         session.config.commands.build_timeout)
    if not result.ok:
        what = "timed out" if result.timed_out else f"exit code {result.returncode}"
        return what, result.tail()
    if cache_key:
        marker.write_text(cache_key)
    return None


def run_checks(session: Session, arm: Arm, log_stem: Path) -> tuple[str, str] | None:
    """Run the correctness checks in an arm; a (reason, output tail) pair when they fail."""
    commands = session.config.commands
    assert commands.checks
    result = run_command(commands.checks, arm.path, log_stem, commands.checks_timeout)
    if result.timed_out:
        return f"checks timed out after {commands.checks_timeout:g} s", result.tail()
    if result.returncode != 0:
        return f"checks failed (exit code {result.returncode})", result.tail()
    return None


def _secondary_medians(result: Measurement) -> dict[str, float]:
    names = result.rounds[0][1].metrics if result.rounds else {}
    return {name: median(result.values("candidate", name)) for name in names}


def _slowest_incumbent(book: ledger.Ledger) -> float | None:
    for record in reversed(book.runs):
        walls = record.samples.get("wall_s")
        if walls:
            return max(pair[0] for pair in walls)
    return None


# --- record: the only place that changes the user's working tree ---------------------------


def _record(session: Session, record: RunRecord, snapshot: Snapshot) -> RunRecord:
    """Commit or restore, then append to the ledger, in an order a `kill -9` cannot corrupt.

    The decision is written to disk first; `recover` finishes it if the process dies after.
    """
    with deferred():
        return _record_now(session, record, snapshot)


def _record_now(session: Session, record: RunRecord, snapshot: Snapshot) -> RunRecord:
    git, paths = session.git, session.paths
    keep_commit = None
    if record.verdict == "keep":
        keep_commit = git.commit_tree(snapshot.tree, snapshot.incumbent, commit_message(record))
        record = record.model_copy(update={"commit": keep_commit})
    scope = list(snapshot.untracked_scope)
    write_json(paths.run_dir(record.run) / "result.json",
               {"record": json.loads(record.model_dump_json()), "tree": snapshot.tree,
                "incumbent": snapshot.incumbent, "keep_commit": keep_commit,
                "untracked_scope": scope})
    _apply(session, record, snapshot.tree, snapshot.incumbent, keep_commit, scope)
    return record


def _apply(session: Session, record: RunRecord, tree: str, incumbent: str,
           keep_commit: str | None, scope: list[str]) -> list[str]:
    """Carry out a recorded decision; safe to repeat after an interruption."""
    git, paths = session.git, session.paths
    notes = []
    head = git.rev("HEAD")
    if keep_commit:
        if head == incumbent:
            advance_branch(git, session.config.session.branch, keep_commit, incumbent)
        elif head != keep_commit:
            notes.append(f"HEAD moved to {head[:10]} meanwhile; kept commit {keep_commit[:10]} not applied")
    else:
        current = workspace_tree(git, paths, scope)
        if current == tree:
            restore(git, paths, scope)
        elif current != git.tree_of("HEAD"):
            notes.append("the working tree changed during the experiment; it was left as it is")
    if record.run not in {r.run for r in session.ledger().runs}:
        ledger.append(paths.ledger, record)
    _clear_pending(session)
    return notes


def commit_message(record: RunRecord) -> str:
    """Description, optional hypothesis, and pi-autoresearch's `Result:` trailer."""
    result = {"status": "keep", "metric": record.metric, "run": record.run,
              "ratio": _round(record.ratio), "ci": [_round(x) for x in record.ci or ()],
              "rounds": record.rounds, "incumbent_metric": record.incumbent_metric}
    body = record.description.strip() or f"autoresearch run {record.run}"
    if record.hypothesis:
        body += f"\n\nHypothesis: {record.hypothesis.strip()}"
    return f"{body}\n\nResult: {json.dumps(result, ensure_ascii=False)}\n"


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 5)


def _note_group(session: Session, pgid: int) -> None:
    pending = read_json(session.paths.pending) or {}
    pending["pgid"] = pgid
    write_json(session.paths.pending, pending)


def _clear_pending(session: Session) -> None:
    session.paths.pending.unlink(missing_ok=True)


def recover(session: Session) -> list[str]:
    """Finish or clean up after a run that was killed; say what state the workspace is in."""
    pending = read_json(session.paths.pending)
    if not pending:
        return []
    notes = []
    run = int(pending["run"])
    pgid = pending.get("pgid")
    if pgid and group_alive(int(pgid)):
        kill_group(int(pgid))
        notes.append(f"stopped processes left running by interrupted run {run}")
    decided = read_json(session.paths.run_dir(run) / "result.json")
    if decided is None:
        _clear_pending(session)
        scope = pending.get("untracked_scope", session.config.scope.include)
        if workspace_tree(session.git, session.paths, scope) == pending.get("tree"):
            notes.append(f"run {run} was interrupted before its verdict; the candidate is still "
                         "in the working tree, unmeasured (`autoresearch run` measures it)")
        else:
            notes.append(f"run {run} was interrupted before its verdict; nothing was recorded")
        return notes
    record = RunRecord.model_validate(decided["record"])
    notes += _apply(session, record, decided["tree"], decided["incumbent"], decided["keep_commit"],
                    decided.get("untracked_scope", session.config.scope.include))
    state = "committed" if record.verdict == "keep" else "working tree restored"
    notes.append(f"run {run} was interrupted after its verdict ({record.verdict}); finished: {state}")
    return notes
