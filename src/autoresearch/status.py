"""Where a session stands: the summary `status` prints and the fields `log` shows per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autoresearch import config as cfg
from autoresearch.infra.state import read_json
from autoresearch.infra.workspace import workspace_tree
from autoresearch.model import ConfirmRecord, RunRecord, Status, Verdict
from autoresearch.session import Session
from autoresearch.stats import audit_keeps, improvement_of
from autoresearch.stats.evidence import Combined, session_gain


@dataclass(frozen=True)
class SessionStatus:
    """Where a session stands, for people (`render`) and scripts (`as_dict`)."""

    session: str
    branch: str
    metric: str
    unit: str
    direction: str
    measure: str
    segment: int
    baseline: float | None
    incumbent: float | None
    improvement_pct: float | None
    counts: dict[str, int]
    runs: list[RunRecord]
    pending: bool
    interrupted: dict[str, Any] | None
    unjudged_commits: list[str]  # commits on the branch no experiment made, judged next
    warnings: list[str]
    expected_false_keeps: float
    marginal_keeps: list[int]  # run numbers of keeps that were close calls
    next_steps: list[str]  # how to finish the session, once it has keeps
    gain: Combined | None = None  # the keeps' paired ratios chained: the headline
    confirm: ConfirmRecord | None = None  # the segment's latest confirm
    confirm_current: bool = False  # that confirm measured the incumbent as it is now
    heldout_left: int = 0
    startup: int | None = None  # instructions of a trivial interpreter run, counted at the baseline

    def confirm_summary(self, numbers: bool) -> dict[str, Any] | None:
        """The latest confirm; a held-out one shows agents (`numbers=False`) only pass or fail."""
        c = self.confirm
        if c is None:
            return None
        out: dict[str, Any] = {"inputs": c.inputs, "passed": c.passed, "rounds": c.rounds,
                               "current": self.confirm_current, "timestamp": c.timestamp}
        if numbers or c.inputs != "heldout":
            out.update(ratio=c.ratio, ci=list(c.ci), improvement_pct=100 * c.improvement,
                       agrees=c.agrees)
        return out

    def as_dict(self, last: int = 10, numbers: bool = True) -> dict[str, Any]:
        g = self.gain
        return {
            "gain": None if g is None else {
                "ratio": g.ratio, "ci": list(g.ci), "improvement_pct": 100 * g.improvement,
                "keeps": g.steps, "exact": g.exact,
                "method": "product of the keeps' paired ratios; interval from their own errors"},
            "confirm": self.confirm_summary(numbers),
            "heldout_confirms_left": self.heldout_left,
            "startup_instructions": self.startup,
            "session": self.session,
            "branch": self.branch,
            "metric": self.metric,
            "unit": self.unit,
            "direction": self.direction,
            "measure": self.measure,
            "segment": self.segment,
            "baseline": self.baseline,
            "incumbent": self.incumbent,
            "improvement_pct": self.improvement_pct,
            "counts": self.counts,
            "experiments": len([r for r in self.runs if not r.is_baseline]),
            "last": [summarize(r) for r in self.runs[-last:]],
            "pending": self.pending,
            "interrupted": self.interrupted,
            "unjudged_commits": self.unjudged_commits,
            "warnings": self.warnings,
            "expected_false_keeps": self.expected_false_keeps,
            "marginal_keeps": self.marginal_keeps,
            "next_steps": self.next_steps,
        }


def summarize(record: RunRecord) -> dict[str, Any]:
    """The few fields of a ledger record a person scans first."""
    return {
        "run": record.run,
        "status": record.status,
        "verdict": record.verdict,
        "reason": record.reason,
        "metric": record.metric,
        "ratio": record.ratio,
        "ci": list(record.ci) if record.ci else None,
        "rounds": record.rounds,
        "commit": record.commit,
        "description": record.description,
        "timestamp": record.timestamp,
    }


def status(session: Session, check_workspace: bool = True) -> SessionStatus:
    """Summarize the current segment and the state of the working tree.

    `check_workspace=False` skips snapshotting the working tree (the live view refreshes
    between benchmark runs and must not load the machine).
    """
    book = session.ledger()
    runs = book.segment_runs()
    baseline = next((r.metric for r in runs if r.is_baseline), None)
    keeps = [r for r in runs if r.status is Status.KEEP and r.metric is not None]
    incumbent = keeps[-1].metric if keeps else None
    # the headline: only ever ratios measured within one round, never medians from different times
    gain = session_gain(runs, session.config.metric.direction, session.config.stats.alpha)
    improvement = 100 * gain.improvement if gain is not None else None
    confirms = [x for x in book.confirms if x.segment == book.segment]
    head = session.git.rev("HEAD") if confirms else None
    counts: dict[str, int] = {}
    for r in runs:
        if not r.is_baseline:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
    incumbent_commit = session.incumbent(book)
    pending = check_workspace and (
        workspace_tree(session.git, session.paths, session.config.scope.include)
        != session.git.tree_of(incumbent_commit.commit))
    warnings = list(book.warnings) + incumbent_commit.warnings()
    if not book.headers:
        warnings.append("no baseline recorded yet: run `autoresearch init` again to measure it")
    if check_workspace:
        from autoresearch.calibrate import noise_warnings  # `log` reads no calibration

        warnings += noise_warnings(session, runs)
    c = session.config
    if not c.commands.checks:
        warnings.append("no checks configured: a faster but wrong change would be kept. Put your "
                        "tests in autoresearch.checks.sh, set `checks` in autoresearch.toml and "
                        "commit it on the session branch")
    unsealed = [r.run for r in runs if r.sandbox == "off"]
    if unsealed:
        warnings.append(f"{len(unsealed)} run(s) of this segment ran unsealed (sandbox: off): the "
                        "candidate's code could reach the number, the other checkout and the ledger. "
                        "`autoresearch doctor` says how to seal them")
    judged = [r for r in runs if r.verdict in (Verdict.KEEP, Verdict.DISCARD) and r.p_value is not None]
    measured_keeps = [r for r in judged if r.is_keep]
    audit = audit_keeps([r.p_value or 0.0 for r in measured_keeps], judged=len(judged),
                        alpha=c.stats.alpha,
                        keep_improvements=[r.improvement or 0.0 for r in measured_keeps],
                        min_effect=c.stats.min_effect)
    return SessionStatus(
        session=c.session.name,
        branch=c.session.branch,
        metric=c.metric.name,
        unit=c.metric.unit,
        direction=c.metric.direction,
        measure=c.metric.measure,
        segment=book.segment,
        baseline=baseline,
        incumbent=incumbent,
        improvement_pct=improvement,
        counts=counts,
        runs=runs,
        pending=pending,
        interrupted=read_json(session.paths.pending),
        unjudged_commits=[c.commit for c in incumbent_commit.candidate_commits],
        warnings=warnings,
        expected_false_keeps=audit.expected_false_keeps,
        marginal_keeps=[r.run for r in measured_keeps if _close_call(r, c)],
        next_steps=[s for s in [combine_suggestion(runs)] if s] + finishing_steps(len(keeps)),
        gain=gain,
        confirm=confirms[-1] if confirms else None,
        confirm_current=bool(confirms) and confirms[-1].incumbent_commit == head,
        startup=next((r.startup_instructions for r in runs if r.is_baseline), None),
        heldout_left=max(c.confirm.max_heldout - sum(x.inputs == "heldout" for x in confirms), 0),
    )


def _close_call(record: RunRecord, config: cfg.Config) -> bool:
    """A keep whose interval (at the decision's level) reaches below min_effect: worth measuring again."""
    if not record.ci or record.ci[0] == record.ci[1]:
        return False  # deterministic metrics have no interval to doubt
    worst = min(improvement_of(r, config.metric.direction) for r in record.ci)
    return worst < config.stats.min_effect


def finishing_steps(keeps: int) -> list[str]:
    """What to do with a session's keeps once the experiments are over.

    >>> finishing_steps(0)
    []
    >>> finishing_steps(2)[0].startswith("autoresearch ablate")
    True
    """
    if not keeps:
        return []
    return ["autoresearch ablate: what each keep is worth now, and keeps that no longer matter",
            "autoresearch split RUN: which files of a kept bundle carry its gain",
            "autoresearch finalize --split: a clean branch of the keeps, and review branches "
            "that touch disjoint files, each with its checks run"]


# How many near-misses make combining them worth suggesting.
SUGGEST_FROM = 2


def near_misses(runs: list[RunRecord]) -> list[RunRecord]:
    """Measured discards since the last keep whose estimate was a gain, too small to keep alone."""
    since: list[RunRecord] = []
    for r in runs:
        if r.is_keep or r.is_baseline:
            since = []
        elif (r.verdict is Verdict.DISCARD and r.improvement is not None and r.improvement > 0
              and r.commit and r.incumbent_commit):
            since.append(r)
    return since


def combine_suggestion(runs: list[RunRecord]) -> str | None:
    """A line for `status` and the brief when near-misses could add up, else None."""
    misses = near_misses(runs)
    if len(misses) < SUGGEST_FROM:
        return None
    listed = " ".join(str(r.run) for r in misses[-5:])
    gains = ", ".join(f"{r.improvement:+.1%}" for r in misses[-5:] if r.improvement is not None)
    return (f"runs {listed} each measured a gain too small to keep alone ({gains}): "
            f"`autoresearch combine {listed}` judges them together as one candidate")
