"""One experiment, top to bottom: guard → build → checks → measure → decide → record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoresearch import stats
from autoresearch.calibrate import calibrated_noise
from autoresearch.config import script_of
from autoresearch.errors import ArmFailure, AutoresearchError, UsageError
from autoresearch.infra import ledger
from autoresearch.infra.git import as_message, printable
from autoresearch.infra.state import claim_run, next_run_number, now_ms, session_lock, write_json
from autoresearch.infra.workspace import (
    candidate_ref,
    commit_snapshot,
    escaping_symlink,
    first_violation,
    run_by_scripts,
    save_candidate,
    take_snapshot,
    workspace_tree,
)
from autoresearch.measure.arms import build, prepare_arms, run_checks, sandbox, undo_checks
from autoresearch.measure.bench import CLAIM_LOOKS, Arm, Bench, Measurement, cross_check
from autoresearch.measure.claims import inconsistent_reason
from autoresearch.measure.executor import Executor, executor_for
from autoresearch.measure.single import measure_single
from autoresearch.model import Direction, Measure, RunRecord, Status, Verdict
from autoresearch.progress import Progress, ProgressEvent, clear_progress, tracked
from autoresearch.record import carry_out, forget_undecided, note_group, recover
from autoresearch.session import Session, open_session
from autoresearch.stats import improvement_of, median
from autoresearch.stats.evidence import continuation

TAIL_CHARS = 2000


@dataclass(frozen=True)
class ChecksRun:
    """The checks, run already on one candidate tree in a checkout of its own (`loop --parallel`
    runs them while another candidate is measured); they count only for exactly that tree."""

    tree: str
    failure: tuple[str, str] | None  # (reason, output tail), as `run_checks` gives them
    seconds: float


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
            "candidate_ref": r.candidate_ref,
            "continues": r.continues,
            "prior_rounds": r.prior_rounds,
            "parts": r.parts,
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
    candidate_commit: str | None = None,
    executor: str | Executor | None = None,
    checked: ChecksRun | None = None,
    unchanged: str | None = None,
) -> ExperimentResult:
    """Judge the working tree's change against the incumbent, then keep or restore it.

    `candidate_commit` names a commit whose tree is the change instead (made in another
    worktree and rebased onto the incumbent, as `loop --parallel` does): the working tree is
    then left alone on a discard and follows a keep. `checked` are its checks, run already.

    `reject` records a discard with that reason without measuring (a proposal that made no
    change, or a patch that does not apply); `unchanged` is the reason recorded when the working
    tree holds no change, otherwise a usage error; `extra` adds fields to the ledger record
    (tokens, cost). New untracked files outside the scope are the user's scratch and left out,
    unless `owns_new_files` (the loop made every change): then they are judged, out of scope.
    `executor` says where the measure step runs (`tcp://HOST:PORT`: a Dask cluster's
    worker; "local"; or an `Executor`); None takes the session's `[executor] address`.

    >>> run_experiment(Path("."), "cache the lexer regex").record.verdict  # doctest: +SKIP
    'keep'
    """
    # Cleaned before anything is measured: a byte git refuses in a commit message would
    # otherwise fail the keep after the whole measurement.
    description = as_message(description)
    hypothesis = as_message(hypothesis) if hypothesis is not None else None
    session = open_session(start)
    with session_lock(session.paths, "run"):
        notes = recover(session)
        try:
            result = _experiment(session, description, hypothesis, proposer, progress, reject,
                                 extra or {}, owns_new_files, candidate_commit,
                                 executor_for(session, executor), checked, unchanged)
        except Exception:
            forget_undecided(session)
            raise
        finally:
            clear_progress(session.paths.progress)
        result.notes[:0] = notes
        return result


def extend_experiment(start: Path, run: int, progress: Progress = lambda _: None) -> ExperimentResult:
    """Measure more rounds of an undecided discard: its test goes on within its own error budget.

    The run's candidate goes back into the working tree and is judged again; being the same
    tree against the same incumbent, it continues from the run's rounds. A run that reached
    the design's last look (or crossed a boundary) is settled: more rounds would spend error
    budget the design never had, so it is refused.
    """
    session = open_session(start)
    git = session.git
    book = session.ledger()
    past = next((r for r in book.runs if r.run == run), None)
    if past is None:
        raise UsageError(f"no run {run} in the ledger")
    if past.segment != book.segment:
        raise UsageError(f"run {run} belongs to segment {past.segment}, which measured something "
                         f"else; this is segment {book.segment}")
    if past.verdict is not Verdict.DISCARD or not past.samples.get("candidate") or not past.tree:
        raise UsageError(f"run {run} is a {past.verdict} without measured rounds to continue: only a "
                         "measured discard can be extended")
    if past.incumbent_tree != git.tree_of("HEAD"):
        raise UsageError(f"the incumbent has changed since run {run}: its rounds compared against "
                         "another incumbent. Apply its candidate (git diff "
                         f"{past.incumbent_commit} {past.commit} | git apply) and `autoresearch run` it "
                         "as a new experiment")
    if workspace_tree(git, session.paths, session.config.scope.include) != git.tree_of("HEAD"):
        raise UsageError("the working tree holds an unmeasured change: run or discard it first")
    latest = judged_before(book, past.tree, past.incumbent_tree) or past  # resubmitted since?
    go_on = continuation(latest.samples["incumbent"], latest.samples["candidate"],
                         session.config.metric.direction,
                         session.config.policy(calibrated_noise(session)))
    if go_on.settled is not None:
        also = f" (with run {latest.run}, which continued it)" if latest.run != run else ""
        raise UsageError(
            f"run {run}{also} is settled: its {len(latest.samples['candidate'])} rounds reached the "
            f"sequential test's verdict ({go_on.settled.reason}), and rounds past the design's last "
            "look would spend error budget it does not have. A larger max_rounds applies to new "
            "experiments")
    patch = git.run("diff", "--binary", past.incumbent_commit or "HEAD", past.commit or "", strip=False)
    git.run("apply", "--whitespace=nowarn", input=patch)
    return run_experiment(start, past.description, past.hypothesis, past.proposer, progress)


def _experiment(
    session: Session,
    description: str,
    hypothesis: str | None,
    proposer: str | None,
    progress: Progress,
    reject: str | None,
    extra: dict[str, Any],
    owns_new_files: bool,
    candidate_commit: str | None,
    executor: Executor,
    checked: ChecksRun | None,
    unchanged: str | None,
) -> ExperimentResult:
    git, paths, config = session.git, session.paths, session.config
    book = session.ledger()
    if not book.headers:
        raise UsageError("this session has no baseline yet: run `autoresearch init` to measure it")
    run = next_run_number(paths, book.next_run())
    progress = tracked(progress, paths.progress, run, description)  # also for the dashboard
    seal = sandbox(session)  # before anything is written: `mode = "on"` without bubblewrap is a usage error
    scope = [] if owns_new_files or candidate_commit else config.scope.include  # for new untracked files
    # Commits on the branch that no experiment made are part of this candidate, never its base.
    incumbent_of = session.incumbent(book)
    message = f"autoresearch candidate {run}: {description}"
    snapshot = (take_snapshot(git, paths, message, incumbent_of.commit, scope)
                if candidate_commit is None
                else commit_snapshot(git, candidate_commit, incumbent_of.commit, message))
    if snapshot is None:
        reason = reject or unchanged
        if reason is None:
            raise UsageError("nothing to measure: the working tree is identical to the incumbent")
        claim_run(paths, run)
        return _unmeasured(session, run, book.segment, description, hypothesis, proposer, reason,
                           incumbent_of.commit, extra)
    claim_run(paths, run)  # from here on the number is spent, whatever happens
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
        "diff_stat": snapshot.diff_stat, "logs": str(run_dir),
        "candidate_ref": ref, "tree": snapshot.tree, "incumbent_tree": snapshot.incumbent_tree,
        "sandbox": seal.label, **extra,
    }
    if incumbent_of.candidate_commits:
        base["unjudged_commits"] = [c.commit for c in incumbent_of.candidate_commits]

    ignored = snapshot.left_out
    notes = ([f"untracked files outside the scope are not part of the candidate: "
              f"{', '.join(printable(p) for p in ignored[:5])}"
              + (" …" if len(ignored) > 5 else "")] if ignored else [])
    notes += [f"commit {c.describe()} was not made by an experiment: judged as part of this candidate"
              for c in incumbent_of.candidate_commits]

    def finish(verdict: Verdict, reason: str, tail: str = "", **fields: Any) -> ExperimentResult:
        durations["total_s"] = round(time.monotonic() - started, 3)
        rec = RunRecord(**base, **fields, status=verdict.status, verdict=verdict, reason=reason,
                        timestamp=now_ms(), durations=durations, tail=tail[-TAIL_CHARS:] or None)
        kept, more = carry_out(session, rec, snapshot)
        return ExperimentResult(kept, notes=notes + more, tail=tail)

    if reject is not None:
        return finish(Verdict.DISCARD, reject)

    # guard: the harness's own files, git's and the user's protected paths; the scope
    scripts = [s for s in map(script_of, (config.commands.benchmark, config.commands.checks)) if s]
    protected = config.protected_paths() + run_by_scripts(git, snapshot.incumbent, scripts,
                                                          config.scope.include)
    violation = (first_violation(snapshot.changed, protected, config.scope.include)
                 or escaping_symlink(git, snapshot.incumbent, snapshot.commit))
    if violation:
        return finish(Verdict.DISCARD, violation)

    progress(ProgressEvent("preparing checkouts"))
    incumbent, candidate = prepare_arms(session, snapshot)

    # build
    if config.commands.build:
        progress(ProgressEvent("build"))
        t = time.monotonic()
        failure = build(session, incumbent, run_dir)
        if failure:
            raise AutoresearchError(f"the build fails on the incumbent ({failure[0]}):\n{failure[1]}")
        failure = build(session, candidate, run_dir)
        durations["build_s"] = round(time.monotonic() - t, 3)
        if failure:
            return finish(Verdict.CRASH, f"build failed: {failure[0]}", failure[1])

    # checks
    if config.commands.checks:
        progress(ProgressEvent("checks"))
        t = time.monotonic()
        ahead = checked if checked is not None and checked.tree == snapshot.tree else None
        failure = ahead.failure if ahead else run_checks(session, candidate, run_dir / "checks")
        durations["checks_s"] = round(ahead.seconds if ahead else time.monotonic() - t, 3)
        if failure:
            return finish(Verdict.CHECKS_FAILED, failure[0], failure[1])
        if not seal.sealed:  # what the checks left must not reach the candidate's runs alone
            failure = undo_checks(session, candidate, snapshot.commit, run_dir)
            if failure:
                return finish(Verdict.CRASH, f"build failed: {failure[0]}", failure[1])

    # measure: the same change judged before against this incumbent continues that test, so
    # submitting it again cannot buy a keep
    t = time.monotonic()
    bench = Bench(config, run_dir, seal, slowest_known_s=slowest_incumbent(book),
                  on_start=lambda pgid: note_group(session, pgid))
    pol, prior, settled = session.config.policy(calibrated_noise(session)), None, None
    earlier = judged_before(book, base["tree"], base["incumbent_tree"])
    if earlier is not None and config.metric.measure is not Measure.SINGLE:
        go_on = continuation(earlier.samples["incumbent"], earlier.samples["candidate"],
                             config.metric.direction, pol)
        pol, prior, settled = go_on.policy, Measurement.from_record(earlier.samples), go_on.settled
        base.update(continues=earlier.run, prior_rounds=len(prior.rounds))
        notes.append(_continuation_note(earlier.run, len(prior.rounds), pol, settled is not None))
    try:
        if config.metric.measure is Measure.SINGLE:
            result = measure_single(session, bench, candidate, book, progress)
        elif prior is not None and settled is not None:
            result, result.comparison = prior, settled
        else:
            result = executor.measure(bench, incumbent, candidate, config.metric.direction,
                                      pol, session.config.wants_warmup(), progress, prior=prior)
    except ArmFailure as failure:
        durations["measure_s"] = round(time.monotonic() - t, 3)
        if failure.arm == "incumbent":
            raise AutoresearchError(
                f"the incumbent's benchmark failed ({failure.message}); the candidate is left "
                f"unmeasured in the working tree. Log: {failure.log}\n{failure.tail}"
            ) from None
        verdict = Verdict.TIMEOUT if failure.kind == "timeout" else Verdict.CRASH
        return finish(verdict, failure.message, failure.tail)
    durations["measure_s"] = round(time.monotonic() - t, 3)
    if result.measured_on and result.measured_on["sandbox"] == "off":
        base["sandbox"] = "off"  # the worker that measured could not seal its runs

    # decide; with instructions+cpu, a keep must not be slower in time
    verdict, reason = decide(session, result)
    comparison = result.judged()
    samples = result.as_record()
    # a claimed time saving is kept only where the process's own work shows it
    if verdict is Verdict.KEEP and (claim := cross_check(config, result)) is not None:
        progress(ProgressEvent("checking the claimed time"))
        t = time.monotonic()
        rounds = min(pol.max_rounds, CLAIM_LOOKS * len(result.rounds))  # as many again, where allowed
        audit = executor.audit(bench, claim, result, incumbent, candidate, pol,
                               rounds if rounds > len(result.rounds) else None, progress)
        durations["claim_s"] = round(time.monotonic() - t, 3)
        samples["claim"] = audit.record
        notes += [audit.note] if audit.note else []
        if audit.veto:
            verdict, reason = Verdict.DISCARD, audit.veto
    if verdict is Verdict.KEEP and config.metric.measure is Measure.INSTRUCTIONS_CPU:
        t = time.monotonic()
        veto, samples["cpu_veto"] = cpu_veto(session, incumbent, candidate, run_dir, progress, executor)
        durations["veto_s"] = round(time.monotonic() - t, 3)
        if veto:
            verdict, reason = Verdict.DISCARD, veto
    return finish(
        verdict, reason,
        metric=median(result.values("candidate")),
        incumbent_metric=median(result.values("incumbent")),
        metrics=_secondary_medians(result),
        ratio=comparison.ratio, ci=comparison.ci, ci_level=comparison.ci_level,
        improvement=comparison.improvement,
        p_value=comparison.p_value, rounds=comparison.rounds, samples=samples,
        decided_at=comparison.decided_at or None, screen_ratio=comparison.screen_ratio,
    )


def cpu_veto(session: Session, incumbent: Arm, candidate: Arm, run_dir: Path,
             progress: Progress, executor: Executor) -> tuple[str | None, dict[str, Any]]:
    """Time a change the instruction count would keep: veto it if it is slower in CPU time.

    Fewer instructions can still cost more time (cache misses, system calls, a slower
    instruction mix). The candidate is vetoed when its CPU time is worse than the incumbent's
    beyond doubt at `alpha` (the guard test, with no tolerance), on `min_rounds` interleaved rounds.
    """
    config = session.config
    timed = config.model_copy(update={"metric": config.metric.model_copy(
        update={"measure": Measure.CPU, "name": "cpu_s", "unit": "s"})})
    log_dir = run_dir / "cpu-veto"
    log_dir.mkdir(parents=True, exist_ok=True)
    bench = Bench(timed, log_dir, sandbox(session), on_start=lambda pgid: note_group(session, pgid))
    rounds = max(config.stats.min_rounds, 4)
    timing = executor.measure(bench, incumbent, candidate, Direction.LOWER, timed.policy(),
                              timed.wants_warmup(), progress, fixed_rounds=rounds)
    before, after = timing.values("incumbent"), timing.values("candidate")
    check = stats.check_guard(before, after, Direction.LOWER, 0.0, config.stats.alpha)
    record = {"incumbent": before, "candidate": after, "worsening": check.worsening,
              "p_value": check.p_value}
    if check.violated:
        return (f"fewer instructions, but slower in CPU time ({check.worsening:+.1%} over "
                f"{rounds} rounds, p = {check.p_value:.2g})"), record
    return None, record


def judged_before(book: ledger.Ledger, tree: str, incumbent_tree: str) -> RunRecord | None:
    """The latest measured discard of exactly this tree against exactly this incumbent tree.

    Only in the current segment: another segment may measure something else.
    """
    for past in reversed(book.runs):
        if (past.segment == book.segment and past.tree == tree
                and past.incumbent_tree == incumbent_tree and past.verdict is Verdict.DISCARD
                and past.samples.get("candidate")):
            return past
    return None


def _continuation_note(run: int, rounds: int, pol: stats.Policy, settled: bool) -> str:
    if settled:
        return (f"the same change was measured against this incumbent in run {run}; its {rounds} "
                "rounds already settle the sequential test, so that verdict stands (no new rounds)")
    return (f"the same change was measured against this incumbent in run {run}: this measurement "
            f"continues its {rounds} rounds within the test's original error budget "
            f"(at most {pol.max_rounds} rounds in all)")


def _unmeasured(session: Session, run: int, segment: int, description: str,
                hypothesis: str | None, proposer: str | None, reason: str, head: str,
                extra: dict[str, Any]) -> ExperimentResult:
    """Record a proposal that left nothing to measure; the working tree is already the incumbent."""
    record = RunRecord(run=run, segment=segment, description=description, hypothesis=hypothesis,
                       proposer=proposer, incumbent_commit=head, status=Status.DISCARD,
                       verdict=Verdict.DISCARD, reason=reason, timestamp=now_ms(), **extra)
    session.append(record)
    return ExperimentResult(record)


def decide(session: Session, result: Measurement) -> tuple[Verdict, str]:
    """Keep only a significant gain of at least min_effect that no guard vetoes."""
    comparison = result.judged()
    config = session.config
    for name in config.guards:
        before, after = result.values("incumbent", name), result.values("candidate", name)
        if not after or len(before) != len(after):
            return Verdict.DISCARD, f"guard violated: {name} (not reported by the benchmark)"
        direction, tolerance = config.guard(name)
        check = stats.check_guard(before, after, direction, tolerance, config.stats.alpha)
        if check.violated:
            return Verdict.DISCARD, f"guard violated: {name} ({check.worsening:+.1%})"
    if comparison.outcome == "better":
        claim = cross_check(config, result)
        if claim is not None and claim.inconsistent:
            return Verdict.DISCARD, inconsistent_reason(claim, result)
        if comparison.ci[0] == comparison.ci[1]:  # a deterministic measure: the number says it all
            return Verdict.KEEP, f"better by {comparison.improvement:.1%}"
        low, high = sorted(improvement_of(r, config.metric.direction) for r in comparison.ci)
        return Verdict.KEEP, f"better by {comparison.improvement:.1%} [{low:+.1%}, {high:+.1%}]"
    # the comparison's reason speaks the decision's terms: rounds, estimate, bar, p needed
    return Verdict.DISCARD, comparison.reason


def _secondary_medians(result: Measurement) -> dict[str, float]:
    names = result.rounds[0][1].metrics if result.rounds else {}
    return {name: median(result.values("candidate", name)) for name in names}


def slowest_incumbent(book: ledger.Ledger) -> float | None:
    """The incumbent's slowest run in the latest measurement: what a run's timeout is scaled from."""
    for past in reversed(book.runs):
        walls = past.samples.get("wall_s")
        if walls:
            return float(max(pair[0] for pair in walls))
    return None


