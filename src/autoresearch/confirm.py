"""`autoresearch confirm`: the segment's baseline against the incumbent, interleaved, measured now."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch.config import Config
from autoresearch.errors import ArmFailure, AutoresearchError, UsageError
from autoresearch.infra import ledger
from autoresearch.infra.state import now_ms, session_lock
from autoresearch.measure.arms import measure_commits
from autoresearch.measure.bench import PROCESS_WALL, Measurement
from autoresearch.model import ConfirmRecord, Direction, Measure
from autoresearch.progress import Progress
from autoresearch.record import recover
from autoresearch.session import open_session
from autoresearch.stats.evidence import better_beyond_doubt, fixed_estimate, session_gain


@dataclass(frozen=True)
class ConfirmResult:
    """A confirm as recorded, with what the person who ran it should know."""

    record: ConfirmRecord
    remaining_heldout: int
    notes: tuple[str, ...] = ()

    def as_dict(self, numbers: bool = True) -> dict[str, Any]:
        """The result; without `numbers`, a held-out confirm says only whether it passed."""
        r = self.record
        out: dict[str, Any] = {"inputs": r.inputs, "passed": r.passed, "rounds": r.rounds,
                               "measure": r.measure, "metric": r.metric, "segment": r.segment,
                               "baseline_commit": r.baseline_commit,
                               "incumbent_commit": r.incumbent_commit,
                               "remaining_heldout": self.remaining_heldout,
                               "notes": list(self.notes)}
        if numbers or r.inputs != "heldout":
            out.update(ratio=r.ratio, ci=list(r.ci), improvement=r.improvement, p_value=r.p_value,
                       headline_ratio=r.headline_ratio,
                       headline_ci=list(r.headline_ci) if r.headline_ci else None,
                       agrees=r.agrees, logs=r.logs)
        return out


# What a benchmark prints when it has switched to held-out inputs. Without it a run with
# `[confirm] env` set may have measured the usual inputs, and saying "held-out" would be a claim
# nobody checked.
HELDOUT_MARKER = "heldout"


def acknowledged_heldout(result: Measurement) -> bool:
    """Every run, in both arms, printed `METRIC heldout=1`: the benchmark switched its inputs."""
    samples = [s for pair in result.rounds for s in pair]
    return bool(samples) and all(s.metrics.get(HELDOUT_MARKER) == 1 for s in samples)


def measured_by(config: Config, measure: Measure | None) -> Config:
    """The session's configuration, measuring by `measure` instead of its own (None: its own).

    `cpu` times the benchmark's processes; `wall` is the benchmark's own time METRIC when the
    session measures that way, else the process's wall time as the harness measured it.
    """
    if measure is None or measure is config.metric.measure:
        return config
    if measure is Measure.CPU:
        name, unit = "cpu_s", "s"
    elif measure is Measure.WALL:
        name, unit = PROCESS_WALL, "s"
    else:
        raise UsageError(f"confirm --measure is cpu or wall (the session measures {config.metric.measure})")
    return config.model_copy(update={"metric": config.metric.model_copy(update={
        "measure": measure, "name": name, "unit": unit, "direction": Direction.LOWER})})


def _across_measures(judged: Measure, metric: str, counted: float, timed: float, agrees: bool | None) -> str:
    """What a confirm in another measure says about the gain the session's measure found."""
    says = ("agree" if agrees else "DISAGREE: the judged measure is a poor proxy for time here"
            if timed < counted else "DISAGREE")
    return (f"the keeps were judged by {judged} ({counted:+.1%} from the keeps); measured in "
            f"{metric} the incumbent is {timed:+.1%} against the baseline: the intervals {says}")


def heldout_left(book: ledger.Ledger, cap: int) -> int:
    used = sum(1 for c in book.confirms if c.segment == book.segment and c.inputs == "heldout")
    return max(cap - used, 0)


def confirm_session(start: Path, rounds: int | None = None, heldout: bool = True,
                    progress: Progress = lambda _: None, measure: Measure | None = None) -> ConfirmResult:
    """Measure the segment's baseline commit against the incumbent on fresh interleaved rounds.

    Held-out confirms run the benchmark with `[confirm] env` (by default
    `AUTORESEARCH_ITEMS=heldout`, for a benchmark that switches to inputs the experiments never
    saw) and are capped per segment; `heldout=False` re-measures on the usual inputs, uncapped.
    A confirm counts as held-out only when the benchmark says it switched (`METRIC heldout=1` in
    every run); otherwise it is recorded as measured on the usual inputs, with a note.
    `measure` (cpu or wall) times a segment the session judges otherwise, instruction counts
    say: whether the counted gain is a gain in time.

    >>> confirm_session(Path(".")).record.passed  # doctest: +SKIP
    True
    """
    session = open_session(start)
    with session_lock(session.paths, "confirm"):
        recover(session)
        git, paths, config = session.git, session.paths, session.config
        book = session.ledger()
        runs = book.segment_runs()
        baseline = next((r for r in runs if r.is_baseline and r.commit), None)
        if baseline is None or baseline.commit is None:
            raise UsageError("this segment has no baseline yet: run `autoresearch init` first")
        head = git.rev("HEAD")
        if git.tree_of(head) == git.tree_of(baseline.commit):
            raise UsageError("nothing to confirm: the incumbent is still the baseline")
        if not any(r.is_keep for r in runs):
            # a configuration commit may have moved HEAD, but no measured change: measuring
            # would "fail" to confirm a gain nobody claimed
            raise UsageError("nothing to confirm: this segment has no keeps yet, so there is no "
                             "gain to check")
        left = heldout_left(book, config.confirm.max_heldout)
        if heldout and left == 0:
            raise UsageError(
                f"this segment has used its {config.confirm.max_heldout} held-out confirm(s); more "
                "would turn the held-out inputs into inputs the session is tuned on. "
                "`autoresearch confirm --inputs dev` re-measures on the usual inputs")
        judged = config
        config = measured_by(config, measure)
        n = 1 if config.metric.measure.deterministic else (rounds or config.confirm.rounds)
        if config.metric.measure is Measure.SINGLE:
            raise UsageError("confirm interleaves many runs; measure = single is for benchmarks too "
                             "expensive for that (confirm --measure cpu or wall times it anyway)")
        env = dict(config.confirm.env) if heldout else {}
        run_dir = paths.state / "confirms" / time.strftime("%Y%m%d-%H%M%S")
        # the baseline takes the incumbent's place in the comparison: ratio = incumbent / baseline
        try:
            result = measure_commits(session, baseline.commit, head, run_dir, n, env, progress, config)
        except ArmFailure as failure:
            which = "baseline" if failure.arm == "incumbent" else "incumbent"
            named = ", ".join(f"{k}={v}" for k, v in env.items())
            inputs = f" run with {named}" if env else ""  # whether it read them is unknown
            raise AutoresearchError(f"the benchmark failed on the {which}{inputs}: {failure.message}. "
                                    f"Log: {failure.log}\n{failure.tail}") from None
        notes: list[str] = []
        on_heldout = bool(env) and acknowledged_heldout(result)
        if env and not on_heldout:
            named = ", ".join(f"{k}={v}" for k, v in env.items())
            notes.append(
                f"measured on the same inputs as the experiments: the benchmark ran with {named} "
                f"but did not print `METRIC {HELDOUT_MARKER}=1`, which a benchmark that switches to "
                "held-out inputs prints to say so. Not counted as a held-out confirm")
        estimate = fixed_estimate(result.values("incumbent"), result.values("candidate"),
                                  config.metric.direction)
        gain = session_gain(runs, judged.metric.direction, judged.stats.alpha)
        agrees = None
        if gain is not None:
            agrees = gain.ci[0] <= estimate.ci[1] and estimate.ci[0] <= gain.ci[1]
        if config is not judged and gain is not None:
            notes.append(_across_measures(judged.metric.measure, config.metric.name, gain.improvement,
                                          estimate.improvement, agrees))
        record = ConfirmRecord(
            timestamp=now_ms(), segment=book.segment, baseline_commit=baseline.commit,
            incumbent_commit=head, inputs="heldout" if on_heldout else "dev", env=env,
            rounds=len(result.rounds), ratio=estimate.ratio, ci=estimate.ci,
            improvement=estimate.improvement, p_value=estimate.p_value,
            passed=better_beyond_doubt(estimate.ci, config.metric.direction),
            headline_ratio=gain.ratio if gain else None, headline_ci=gain.ci if gain else None,
            agrees=agrees, samples=result.as_record(), logs=str(run_dir),
            measure=config.metric.measure, metric=config.metric.name)
        session.append(record)
        return ConfirmResult(record, left - 1 if on_heldout else left, tuple(notes))
