"""Single mode: one candidate run judged against the incumbent's recorded runs and the noise floor."""

from __future__ import annotations

from autoresearch import stats
from autoresearch.errors import UsageError
from autoresearch.infra import ledger
from autoresearch.measure.bench import Arm, Bench, Measurement, Sample
from autoresearch.model import Status
from autoresearch.progress import Progress, ProgressEvent
from autoresearch.session import Session
from autoresearch.stats import median


def measure_single(session: Session, bench: Bench, candidate: Arm, book: ledger.Ledger,
                   progress: Progress) -> Measurement:
    """One candidate run, judged against the incumbent's recorded runs and the noise floor."""
    from autoresearch.calibrate import last_calibration

    calibration = last_calibration(session)
    if calibration is None:
        raise UsageError("measure = single judges one run against the calibrated noise floor: "
                         "run `autoresearch calibrate` first")
    reference = next(r for r in reversed(book.segment_runs()) if r.status is Status.KEEP)
    values: list[float] = reference.samples.get("incumbent" if reference.is_baseline else "candidate") or []
    progress(ProgressEvent("single run"))
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
