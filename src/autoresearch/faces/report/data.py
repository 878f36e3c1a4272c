"""What a report shows, computed from the ledger and the config alone; renderers only lay it out."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from autoresearch.model import AblationRecord, ConfigHeader, RunRecord
from autoresearch.session import Session
from autoresearch.stats import improvement_of
from autoresearch.stats.evidence import Combined, session_gain


class Group(StrEnum):
    """Where an experiment goes in a report: kept, or the reason it was not."""

    BASELINE = "baseline"
    KEEP = "keep"
    WORSE = "worse"
    NO_GAIN = "no significant gain"
    GUARD = "guard violated"
    CHECKS_FAILED = "checks failed"
    TAMPERED = "tampered or out of scope"
    CRASHED = "crashed"
    UNMEASURED = "not measured"

    @property
    def discarded(self) -> bool:
        return self not in (Group.BASELINE, Group.KEEP)


DISCARD_ORDER = [Group.WORSE, Group.NO_GAIN, Group.GUARD, Group.CHECKS_FAILED, Group.TAMPERED,
                 Group.CRASHED, Group.UNMEASURED]


def group_of(record: RunRecord) -> Group:
    """The report group of one ledger record, from its verdict and reason.

    >>> from autoresearch.model import AblationRecord, RunRecord
    >>> group_of(RunRecord(run=3, status="discard", verdict="discard", timestamp=0,
    ...                    reason="tampered: autoresearch.sh"))
    <Group.TAMPERED: 'tampered or out of scope'>
    """
    verdict, reason = str(record.verdict), record.reason
    if verdict == "baseline":
        return Group.BASELINE
    if verdict == "keep":
        return Group.KEEP
    if verdict == "checks_failed":
        return Group.CHECKS_FAILED
    if verdict in ("crash", "timeout"):
        return Group.CRASHED
    if reason.startswith(("tampered", "out of scope")):
        return Group.TAMPERED
    if reason.startswith("guard violated"):
        return Group.GUARD
    if record.ratio is None:
        return Group.UNMEASURED  # no change, a patch that does not apply
    if reason.removeprefix("deterministic metric: ").startswith("worse"):
        return Group.WORSE
    return Group.NO_GAIN


@dataclass(frozen=True)
class Experiment:
    """One ledger line as a report shows it; `n` is its place on the chart (0 = the baseline)."""

    n: int
    run: int
    verdict: str
    group: Group
    description: str
    reason: str
    metric: float | None
    best: float | None  # the incumbent's metric once this experiment was decided
    ratio: float | None
    ci: tuple[float, float] | None
    gain: float | None  # direction-adjusted relative gain: +0.2 = 20% better
    gain_ci: tuple[float, float] | None
    rounds: int
    seconds: float
    timestamp: int
    commit: str | None
    hypothesis: str | None
    tokens: int
    cost_usd: float


@dataclass(frozen=True)
class TotalGain:
    """The session's gain from paired evidence: the keeps' ratios multiplied, intervals combined.

    Each keep's ratio was measured against the incumbent of its moment, so the product is the
    final code against the baseline, with no comparison of numbers taken at different times.
    The interval adds the keeps' log-scale variances, as independent measurements do.
    """

    ratio: float
    ci: tuple[float, float]
    gain: float
    gain_ci: tuple[float, float]
    keeps: int


def total_gain(c: Combined | None, direction: str) -> TotalGain | None:
    """The keeps' ratios combined (`session_gain`), as the report shows them; None without keeps.

    >>> from autoresearch.stats.evidence import combine
    >>> t = total_gain(combine([0.8, 0.9], [(0.75, 0.85), (0.9, 0.9)], "lower"), "lower")
    >>> round(t.ratio, 3), round(t.gain, 3), [round(x, 3) for x in t.ci]
    (0.72, 0.28, [0.676, 0.766])
    """
    if c is None:
        return None
    return TotalGain(c.ratio, c.ci, c.improvement, _gain_interval(c.ci, direction), c.steps)


def _gain_interval(ci: tuple[float, float], direction: str) -> tuple[float, float]:
    a, b = (improvement_of(r, direction) for r in ci)  # type: ignore[arg-type]
    return (min(a, b), max(a, b))


@dataclass(frozen=True)
class Secondary:
    """A secondary metric: its value on the baseline and on the final incumbent, and its guard."""

    name: str
    baseline: float | None
    final: float | None
    change: float | None  # relative: +0.05 = 5% higher
    guard: str | None


@dataclass(frozen=True)
class ReportData:
    """Everything a report or the dashboard renders, for one segment of a session."""

    session: str
    branch: str
    metric: str
    unit: str
    direction: str
    measure: str
    segment: int
    segments: int
    min_effect: float
    max_rounds: int
    baseline: float | None
    incumbent: float | None
    total: TotalGain | None
    experiments: list[Experiment]
    secondary: list[Secondary]
    rounds: int
    seconds: float  # harness time spent on the experiments
    span_seconds: float  # from the baseline to the last verdict
    tokens: int
    cost_usd: float
    warnings: list[str] = field(default_factory=list)
    # the segment's latest `confirm`, as `status` shows it: a held-out one without its numbers
    confirm: dict[str, Any] | None = None
    # `autoresearch ablate` on the incumbent: what each keep is worth now
    ablations: list[AblationRecord] = field(default_factory=list)

    @property
    def keeps(self) -> list[Experiment]:
        return [e for e in self.experiments if e.group is Group.KEEP]

    @property
    def judged(self) -> list[Experiment]:
        """The experiments proper, without the baseline."""
        return [e for e in self.experiments if e.group is not Group.BASELINE]

    def discarded(self) -> list[tuple[Group, list[Experiment]]]:
        """Experiments not kept, by reason, in a fixed order; empty groups left out."""
        return [(g, [e for e in self.experiments if e.group is g]) for g in DISCARD_ORDER
                if any(e.group is g for e in self.experiments)]

    def counts(self) -> dict[str, int]:
        return {str(g): n for g in [Group.KEEP, *DISCARD_ORDER]
                if (n := sum(e.group is g for e in self.experiments))}

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: an unbounded interval end becomes null (JSON has no infinity)."""
        data = asdict(self)
        data["counts"] = self.counts()
        finite: dict[str, Any] = _finite(data)
        return finite


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def build_report(session: Session, segment: int | None = None) -> ReportData:
    """The report of one segment (default: the current one) of an open session."""
    from autoresearch.errors import UsageError

    book = session.ledger()
    seg = book.segment if segment is None else segment
    if seg < 0 or (book.headers and seg > book.segment):
        raise UsageError(f"no segment {seg}: this session has segments 0 to {book.segment}")
    header = book.headers[seg] if seg < len(book.headers) else None
    data = report_data(session, book.segment_runs(seg), seg, max(len(book.headers), 1),
                       header, book.warnings)
    if seg != book.segment:
        return data
    from dataclasses import replace

    from autoresearch.status import status

    head = session.git.rev("HEAD")
    return replace(data, confirm=status(session, check_workspace=False).confirm_summary(numbers=False),
                   ablations=[a for a in book.ablations if a.incumbent_commit == head])


def report_data(session: Session, runs: list[RunRecord], segment: int, segments: int,
                header: ConfigHeader | None = None, warnings: list[str] | None = None) -> ReportData:
    """Turn a segment's ledger records into what a report shows.

    The segment's header names its metric: an older segment may have measured another one.
    """
    config = session.config
    current = header is None or header.metricName == config.metric.name
    metric = config.metric.name if header is None else header.metricName
    unit = config.metric.unit if header is None else header.metricUnit
    direction = str(config.metric.direction if header is None else header.bestDirection)
    measure = getattr(header, "measure", None) or (config.metric.measure if current else "")
    baseline_record = next((r for r in runs if str(r.verdict) == "baseline"), None)
    baseline = baseline_record.metric if baseline_record else None
    experiments: list[Experiment] = []
    for record, best in zip(runs, running_best(runs), strict=False):
        group = group_of(record)
        # the baseline is each segment's first line: experiments count from 1 either way
        n = 0 if group is Group.BASELINE else len(experiments) + (baseline_record is None)
        experiments.append(_experiment(n, record, group, best, direction))
    total = total_gain(session_gain(runs, direction, config.stats.alpha), direction)  # type: ignore[arg-type]
    final = next((r for r in reversed(runs) if str(r.verdict) in ("keep", "baseline")), None)
    first, last = (runs[0].timestamp, runs[-1].timestamp) if runs else (0, 0)
    return ReportData(
        session=config.session.name, branch=config.session.branch, metric=metric,
        unit=unit, direction=direction, measure=str(measure),
        segment=segment, segments=segments, min_effect=config.stats.min_effect,
        max_rounds=config.stats.max_rounds, baseline=baseline,
        incumbent=final.metric if final else None, total=total, experiments=experiments,
        secondary=_secondaries(baseline_record, final, config.guards, metric),
        rounds=sum(e.rounds for e in experiments if e.group is not Group.BASELINE),
        seconds=sum(e.seconds for e in experiments if e.group is not Group.BASELINE),
        span_seconds=(last - first) / 1000,
        tokens=sum(e.tokens for e in experiments), cost_usd=sum(e.cost_usd for e in experiments),
        warnings=list(warnings or []),
    )


def running_best(runs: list[RunRecord]) -> list[float | None]:
    """The incumbent's metric after each record: the baseline, then each keep's.

    >>> from autoresearch.model import RunRecord
    >>> rec = lambda verdict, metric: RunRecord(run=0, status="keep", verdict=verdict,
    ...                                         metric=metric, timestamp=0)
    >>> running_best([rec("baseline", 100), rec("discard", 120), rec("keep", 80), rec("crash", None)])
    [100.0, 100.0, 80.0, 80.0]
    """
    best: float | None = None
    values = []
    for r in runs:
        if str(r.verdict) in ("baseline", "keep") and r.metric is not None:
            best = r.metric
        values.append(best)
    return values


def _experiment(n: int, r: RunRecord, group: Group, best: float | None, direction: str) -> Experiment:
    ci = tuple(r.ci) if r.ci else None
    tokens = getattr(r, "tokens", None) or {}
    return Experiment(
        n=n, run=r.run, verdict=str(r.verdict), group=group, description=r.description,
        reason=r.reason, metric=r.metric, best=best, ratio=r.ratio,
        ci=ci,  # type: ignore[arg-type]
        gain=r.improvement if r.improvement is not None else (
            improvement_of(r.ratio, direction) if r.ratio else None),  # type: ignore[arg-type]
        gain_ci=_gain_interval(ci, direction) if ci else None,  # type: ignore[arg-type]
        rounds=r.rounds, seconds=float(r.durations.get("total_s", 0.0)), timestamp=r.timestamp,
        commit=r.commit, hypothesis=r.hypothesis,
        tokens=int(sum(tokens.values())) if isinstance(tokens, dict) else int(tokens or 0),
        cost_usd=float(getattr(r, "cost_usd", None) or 0.0),
    )


def _secondaries(baseline: RunRecord | None, final: RunRecord | None,
                 guards: dict[str, str], primary: str) -> list[Secondary]:
    before = {k: v for k, v in (baseline.metrics if baseline else {}).items() if k != primary}
    after = {k: v for k, v in (final.metrics if final else {}).items() if k != primary}
    rows = []
    for name in sorted(set(before) | set(after) | set(guards)):
        a, b = before.get(name), after.get(name)
        change = (b - a) / a if a and b is not None else None
        rows.append(Secondary(name, a, b, change, guards.get(name)))
    return rows
