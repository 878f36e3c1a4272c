"""A session: open it, start it (`init`), and summarize it (`status`, `log`)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from autoresearch import config as cfg
from autoresearch import ledger
from autoresearch.errors import UsageError
from autoresearch.git import Git
from autoresearch.stats import audit_keeps, improvement_of
from autoresearch.state import Paths, read_json
from autoresearch.workspace import workspace_tree

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Session:
    """An open session: the repository, its configuration and where its files are."""

    git: Git
    config: cfg.Config
    paths: Paths

    @property
    def root(self) -> Path:
        return self.git.root

    def ledger(self) -> ledger.Ledger:
        return ledger.read(self.paths.ledger)


def open_session(start: Path) -> Session:
    """The session in the repository containing `start`, checked out on its branch."""
    git = Git.discover(start)
    branch = git.branch()
    if not (git.root / cfg.CONFIG_FILE).exists():
        sessions = git.run("for-each-ref", "--format=%(refname:short)", "refs/heads/autoresearch/").split()
        if sessions and branch not in sessions:
            raise UsageError(f"no session on branch {branch!r}; sessions in this repository: "
                             f"{', '.join(sessions)} (git switch {sessions[0]})")
    config = cfg.load(git.root)
    if branch is None:
        raise UsageError(
            f"HEAD is detached; switch to the session branch: git switch {config.session.branch}"
        )
    if branch != config.session.branch:
        raise UsageError(
            f"on branch {branch!r}, but the session {config.session.name!r} lives on "
            f"{config.session.branch!r}: git switch {config.session.branch}"
        )
    return Session(git, config, Paths(git.root))


# --- status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
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
    runs: list[ledger.RunRecord]
    pending: bool
    interrupted: dict[str, Any] | None
    warnings: list[str]
    expected_false_keeps: float
    marginal_keeps: list[int]  # run numbers of keeps that were close calls

    def as_dict(self, last: int = 10) -> dict[str, Any]:
        return {
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
            "experiments": len([r for r in self.runs if r.verdict != "baseline"]),
            "last": [summarize(r) for r in self.runs[-last:]],
            "pending": self.pending,
            "interrupted": self.interrupted,
            "warnings": self.warnings,
            "expected_false_keeps": self.expected_false_keeps,
            "marginal_keeps": self.marginal_keeps,
        }


def summarize(record: ledger.RunRecord) -> dict[str, Any]:
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


def status(session: Session, check_workspace: bool = True) -> Status:
    """Summarize the current segment and the state of the working tree.

    `check_workspace=False` skips snapshotting the working tree (the live view refreshes
    between benchmark runs and must not load the machine).
    """
    book = session.ledger()
    runs = book.segment_runs()
    baseline = next((r.metric for r in runs if r.verdict == "baseline"), None)
    keeps = [r for r in runs if r.status == "keep" and r.metric is not None]
    incumbent = keeps[-1].metric if keeps else None
    improvement = None
    if baseline and incumbent is not None:
        improvement = 100 * improvement_of(incumbent / baseline, session.config.metric.direction)
    counts: dict[str, int] = {}
    for r in runs:
        if r.verdict != "baseline":
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
    pending = check_workspace and (
        workspace_tree(session.git, session.paths, session.config.scope.include)
        != session.git.tree_of("HEAD"))
    warnings = list(book.warnings)
    if not book.headers:
        warnings.append("no baseline recorded yet: run `autoresearch init` again to measure it")
    from autoresearch.calibrate import noise_warnings

    if check_workspace:
        warnings += noise_warnings(session, runs)
    c = session.config
    if not c.commands.checks:
        warnings.append("no checks configured: a faster but wrong change would be kept. Put your "
                        "tests in autoresearch.checks.sh, set `checks` in autoresearch.toml and "
                        "commit it on the session branch")
    judged = [r for r in runs if r.verdict in ("keep", "discard") and r.p_value is not None]
    measured_keeps = [r for r in judged if r.verdict == "keep"]
    audit = audit_keeps([r.p_value or 0.0 for r in measured_keeps], judged=len(judged),
                        alpha=c.stats.alpha,
                        keep_improvements=[r.improvement or 0.0 for r in measured_keeps],
                        min_effect=c.stats.min_effect)
    return Status(
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
        warnings=warnings,
        expected_false_keeps=audit.expected_false_keeps,
        marginal_keeps=[r.run for r in measured_keeps if _close_call(r, c)],
    )


def _close_call(record: ledger.RunRecord, config: cfg.Config) -> bool:
    """A keep whose confirmed 95% interval reaches below min_effect: worth measuring again."""
    if not record.ci or record.ci[0] == record.ci[1]:
        return False  # deterministic metrics have no interval to doubt
    worst = min(improvement_of(r, config.metric.direction) for r in record.ci)
    return worst < config.stats.min_effect


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# --- init ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitOptions:
    """What `autoresearch init` was asked for; None (or "") = not given."""

    name: str
    metric: str
    direction: str | None = None
    unit: str | None = None
    measure: str | None = None
    benchmark: str = f"./{cfg.BENCHMARK_FILE}"
    checks: str | None = None
    build: str | None = None
    scope: tuple[str, ...] = ()
    protect: tuple[str, ...] = ()
    timeout: float | None = None
    checks_timeout: float = 300
    new_segment: bool = False


@dataclass(frozen=True)
class InitResult:
    """What `init` did."""

    created: list[str]
    branch: str
    baseline: ledger.RunRecord | None
    needs_benchmark: bool = False
    notes: list[str] = field(default_factory=list)


def metric_section(opts: InitOptions, current: cfg.MetricConfig | None = None) -> dict[str, Any]:
    """The `[metric]` table for `opts`, on top of `current` when a session switches measure.

    A harness-measured primary (cpu, instructions) carries its fixed name and unit; a metric
    named beside it, or the benchmark metric it replaces, becomes a secondary one.

    >>> metric_section(InitOptions("s", "render_ms", measure="cpu"))["secondary"]
    ['render_ms']
    >>> wall = cfg.MetricConfig(name="render_ms", unit="ms")
    >>> section = metric_section(InitOptions("", "", measure="instructions"), wall)
    >>> section["name"], section["unit"], section["secondary"]
    ('instructions', 'instr', ['render_ms'])
    """
    measure = opts.measure or (current.measure if current else "wall")
    secondary = list(current.secondary) if current else []
    harness = cfg.HARNESS_METRICS.get(measure)
    if harness:
        name, unit = harness
        named = opts.metric or (current.name if current and current.measure not in cfg.HARNESS_METRICS
                                else "")
        if named and named != name and named not in secondary:
            secondary.insert(0, named)
        direction = opts.direction or "lower"
    else:
        name = opts.metric or (current.name if current and current.measure == measure else "")
        if not name and current:
            # back from a harness measure: the benchmark's own metric it reported beside it
            name = next(iter(current.secondary), "")
        if not name:
            raise UsageError(f"--measure {measure} needs --metric: the METRIC line of the benchmark "
                             "that is the primary metric")
        same = current is not None and current.name == name
        unit = opts.unit if opts.unit is not None else (current.unit if same and current else "")
        direction = opts.direction or (current.direction if same and current else "lower")
        secondary = [m for m in secondary if m != name]
    return {"name": name, "direction": direction, "unit": unit, "measure": measure,
            "secondary": [m for m in secondary if m not in cfg.HARNESS_METRICS_NAMES]}


def build_config(opts: InitOptions, root: Path) -> cfg.Config:
    """The configuration `init` writes; a harness-measured primary gets its fixed name."""
    checks = opts.checks
    if checks is None and (root / cfg.CHECKS_FILE).exists():
        checks = f"./{cfg.CHECKS_FILE}"
    try:
        return cfg.Config.model_validate(
            {
                "session": {"name": opts.name},
                "metric": metric_section(opts),
                "commands": {"benchmark": opts.benchmark, "checks": checks or None,
                             "build": opts.build, "timeout": opts.timeout,
                             "checks_timeout": opts.checks_timeout},
                "scope": {"include": list(opts.scope), "protect": list(opts.protect)},
            }
        )
    except ValidationError as exc:
        raise UsageError(f"invalid init options: {option_errors(exc)}") from None


def option_errors(exc: ValidationError) -> str:
    """Validation errors named by the `init` option that set the field."""
    return "; ".join(f"--{str(e['loc'][-1]).replace('_', '-')}: {e['msg']}" for e in exc.errors())


def check_benchmark(root: Path, command: str) -> None:
    """A benchmark that is a repository script must exist and be executable."""
    script = cfg.script_of(command)
    if script is None:
        return
    path = root / script
    if not path.exists():
        raise UsageError(f"the benchmark {script} does not exist")
    if not os.access(path, os.X_OK):
        raise UsageError(f"the benchmark {script} is not executable: chmod +x {script}")
