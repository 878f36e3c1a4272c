"""`autoresearch calibrate`: A/A rounds of the incumbent against itself, and what they imply."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch import config as cfg
from autoresearch import stats
from autoresearch.errors import ArmFailure, AutoresearchError, UsageError
from autoresearch.infra.state import now_ms, read_json, remember_commit, session_lock, write_json
from autoresearch.model import Measure, RunRecord
from autoresearch.session import Session, open_session

if TYPE_CHECKING:
    from autoresearch.progress import Progress

NOISE_GROWTH_WARNING = 1.5  # recent noise this many times the calibrated noise triggers a warning


@dataclass(frozen=True)
class Calibration:
    """The noise of this benchmark on this machine, measured A/A."""

    commit: str
    timestamp: int
    rounds: int
    noise: float  # sd-equivalent spread of the per-round log-ratio
    detectable_effect: float  # with the session's current settings, at 80% power
    recommended_min_effect: float
    recommended_max_rounds: int
    current_min_effect: float
    current_max_rounds: int
    log_ratios: list[float]
    written: bool = False
    measure: str = "wall"  # what was measured: a calibration speaks for its own measure only
    metric: str = ""
    noise_low: float = 0.0  # 90% interval of `noise`: how sure the calibration is of it
    noise_high: float = 0.0
    run_s: float = 0.0  # median wall time of one benchmark run
    warnings: list[str] = field(default_factory=list)  # what makes these numbers less useful

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_path(session: Session, measure: str | None = None) -> Path:
    """One file per measure: the noise of wall time says nothing about instruction counts."""
    return session.paths.private / f"calibration-{measure or session.config.metric.measure}.json"


def last_calibration(session: Session) -> Calibration | None:
    """The latest calibration of the session's current measure and primary metric."""
    data = read_json(calibration_path(session))
    if not data:
        return None
    calibration = Calibration(**data)
    if calibration.metric and calibration.metric != session.config.metric.name:
        return None  # a benchmark metric since replaced by another
    return calibration


def calibrated_noise(session: Session) -> float | None:
    """The calibrated noise of the session's measure, or None when never calibrated."""
    calibration = last_calibration(session)
    return calibration.noise if calibration is not None and calibration.noise > 0 else None


def calibrate(start: Path, rounds: int = 12, write: bool = False,
              progress: Progress = lambda _: None) -> Calibration:
    """Measure the incumbent against itself in two checkouts and plan min_effect/max_rounds.

    >>> calibrate(Path("."), rounds=12).noise  # doctest: +SKIP
    0.083
    """
    # Measuring needs the sandbox and the benchmark runner; reading a past calibration
    # (`status`, `brief`, every `run`) needs neither.
    from autoresearch.measure.arms import build, checkout, sandbox
    from autoresearch.measure.bench import Arm, Bench, measure, proxy_warning, short_run_warning
    from autoresearch.record import recover

    if rounds < 4:
        raise UsageError("calibration needs at least 4 rounds")
    session = open_session(start)
    with session_lock(session.paths, "calibrate"):
        recover(session)
        git, paths, config = session.git, session.paths, session.config
        head = git.rev("HEAD")
        # Two real checkouts of the same commit: everything but the code differs as in a real run.
        a = Arm("incumbent", paths.incumbent, tuple(config.scope.link))
        b = Arm("candidate", paths.candidate, tuple(config.scope.link))
        run_dir = paths.state / "calibrations" / time.strftime("%Y%m%d-%H%M%S")
        for arm in (a, b):
            checkout(session, arm, head)
            if config.commands.build:
                failure = build(session, arm, run_dir)
                if failure:
                    raise AutoresearchError(f"the build fails: {failure[0]}\n{failure[1]}")
        bench = Bench(config, run_dir, sandbox(session))
        pol = session.config.policy()
        if config.metric.measure.deterministic:
            pol = stats.Policy(alpha=pol.alpha, min_effect=pol.min_effect, min_rounds=2,
                               max_rounds=2, confirm_rounds=0, deterministic=True)
        # Instruction counts need no spread estimate, only proof that they repeat.
        measure_rounds = 2 if config.metric.measure.deterministic else rounds
        try:
            result = measure(bench, a, b, config.metric.direction, pol, session.config.wants_warmup(),
                             progress, fixed_rounds=measure_rounds)
        except ArmFailure as failure:
            raise AutoresearchError(f"the benchmark failed during calibration: {failure.message}. "
                                    f"Log: {failure.log}\n{failure.tail}") from None
        d = stats.improvement_log_ratios(result.values("incumbent"), result.values("candidate"),
                                         config.metric.direction)
        plan = stats.plan_from_aa(d, alpha=pol.alpha, power=0.8, max_rounds=pol.max_rounds,
                                  policy=pol)
        current = stats.detectable_effect(plan.noise, pol.alpha, 0.8, pol,
                                          draws=[abs(x) for x in d]) if plan.noise > 0 else 0.0
        walls = [s.wall_s for pair in result.rounds for s in pair]
        too_short = short_run_warning(walls, config.metric.measure)
        proxy = (proxy_warning(a.path, config.commands.benchmark) if config.metric.measure.counts_instructions
                 else None)
        calibration = Calibration(
            commit=head, timestamp=now_ms(), rounds=len(result.rounds), noise=plan.noise,
            detectable_effect=current, recommended_min_effect=plan.min_effect,
            recommended_max_rounds=plan.max_rounds, current_min_effect=config.stats.min_effect,
            current_max_rounds=config.stats.max_rounds, log_ratios=[round(x, 6) for x in d],
            written=write, noise_low=plan.noise_low, noise_high=plan.noise_high,
            run_s=stats.median(walls), warnings=[w for w in [too_short, proxy] if w],
        )
        if write and not config.metric.measure.deterministic:
            _write_settings(session, plan.min_effect, plan.max_rounds)
        write_json(calibration_path(session), calibration.as_dict())
        return calibration


def _write_settings(session: Session, min_effect: float, max_rounds: int) -> None:
    """Store the recommendations in autoresearch.toml and commit them on the session branch."""
    path = session.root / cfg.CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    text = cfg.set_key(text, "stats", "min_effect", f"{min_effect:g}")
    text = cfg.set_key(text, "stats", "max_rounds", str(max(max_rounds, session.config.stats.min_rounds)))
    # the settings hold for this measure only; switching measure resets them
    text = cfg.set_key(text, "stats", "calibrated_for", f'"{session.config.metric.measure}"')
    path.write_text(text, encoding="utf-8")
    cfg.load(session.root)  # never commit a config the harness cannot read
    session.git.run("commit", "--quiet", "--no-verify", "-F", "-", "--", cfg.CONFIG_FILE,
                    input=f"autoresearch: calibrate (min_effect {min_effect:g}, max_rounds {max_rounds})\n",
                    env=session.git.identity())
    remember_commit(session.paths, session.git.rev("HEAD"))


def recent_noise(runs: list[RunRecord], direction: stats.Direction, experiments: int = 8) -> float | None:
    """Noise seen in recent experiments: the spread of each one's log-ratios around its own center."""
    residuals: list[float] = []
    for record in runs[-experiments:]:
        inc, cand = record.samples.get("incumbent"), record.samples.get("candidate")
        if not inc or not cand or len(inc) != len(cand) or len(inc) < 4:
            continue
        d = stats.improvement_log_ratios(inc, cand, direction)
        center = sorted(d)[len(d) // 2]
        residuals += [x - center for x in d]
    return stats.robust_spread(residuals) if len(residuals) >= 12 else None


def noise_warnings(session: Session, runs: list[RunRecord]) -> list[str]:
    """What `status` says about calibration: never done, or the noise has grown since."""
    s, measure = session.config.stats, session.config.metric.measure
    if s.calibrated_for and s.calibrated_for != measure:
        return [(f"min_effect ({s.min_effect:g}) and max_rounds ({s.max_rounds}) were calibrated "
                 f"for measure {s.calibrated_for}, but the session measures {measure}: run "
                 "`autoresearch calibrate --write` again")]
    if measure.deterministic:
        return []
    calibration = last_calibration(session)
    if calibration is None:
        return [("never calibrated: `autoresearch calibrate` measures this machine's noise and "
                 "the smallest gain the harness can confirm")]
    warnings = []
    recent = recent_noise(runs, session.config.metric.direction)
    if recent is not None and calibration.noise > 0 and recent > NOISE_GROWTH_WARNING * calibration.noise:
        warnings.append(f"noise grew since calibration ({recent:.1%} now vs {calibration.noise:.1%}): "
                        "run `autoresearch calibrate` again")
    hint = small_gains_hint(session, runs)
    if hint:
        warnings.append(hint)
    return warnings


SMALL_GAINS_SEEN = 3  # discards with a measured gain below the detectable one before saying so


def small_gains_hint(session: Session, runs: list[RunRecord], recent: int = 10) -> str | None:
    """Say so when ideas keep measuring real-looking gains too small for this measure to confirm.

    A discard whose estimated gain is positive but below the calibrated detectable gain is an
    idea the noise hid; several of them mean the measure, not the ideas, is the bottleneck.
    """
    measure = session.config.metric.measure
    calibration = last_calibration(session)
    if measure.deterministic or calibration is None or calibration.detectable_effect <= 0:
        return None
    hidden = [r.improvement for r in runs[-recent:]
              if r.verdict == "discard" and r.improvement is not None
              and 0 < r.improvement < calibration.detectable_effect]
    if len(hidden) < SMALL_GAINS_SEEN:
        return None
    better = ("--measure instructions (exact: a 1% gain is kept in one round; for CPU-bound code, "
              "needs valgrind)" if not measure.counts_instructions else "")
    if measure is Measure.WALL:
        better += " or --measure cpu (steadier than wall time)"
    return (f"{len(hidden)} of the last {min(recent, len(runs))} experiments measured gains of "
            f"{min(hidden):+.1%} to {max(hidden):+.1%}, below the {calibration.detectable_effect:.0%} "
            f"that measure {measure} confirms on this machine: small gains are being lost to noise. "
            f"`autoresearch init --new-segment {better.strip()}` lands them one by one")
