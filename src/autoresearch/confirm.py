"""`autoresearch confirm`: the segment's baseline against the incumbent, interleaved, measured now."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch.errors import ArmFailure, AutoresearchError, UsageError
from autoresearch.infra import ledger
from autoresearch.infra.state import now_ms, session_lock
from autoresearch.measure.arms import measure_commits
from autoresearch.model import ConfirmRecord, Measure
from autoresearch.progress import Progress
from autoresearch.record import recover
from autoresearch.session import open_session
from autoresearch.stats.evidence import better_beyond_doubt, fixed_estimate, session_gain


@dataclass(frozen=True)
class ConfirmResult:
    """A confirm as recorded, with what the person who ran it should know."""

    record: ConfirmRecord
    remaining_heldout: int

    def as_dict(self, numbers: bool = True) -> dict[str, Any]:
        """The result; without `numbers`, a held-out confirm says only whether it passed."""
        r = self.record
        out: dict[str, Any] = {"inputs": r.inputs, "passed": r.passed, "rounds": r.rounds,
                               "segment": r.segment, "baseline_commit": r.baseline_commit,
                               "incumbent_commit": r.incumbent_commit,
                               "remaining_heldout": self.remaining_heldout}
        if numbers or r.inputs != "heldout":
            out.update(ratio=r.ratio, ci=list(r.ci), improvement=r.improvement, p_value=r.p_value,
                       headline_ratio=r.headline_ratio,
                       headline_ci=list(r.headline_ci) if r.headline_ci else None,
                       agrees=r.agrees, logs=r.logs)
        return out


def heldout_left(book: ledger.Ledger, cap: int) -> int:
    used = sum(1 for c in book.confirms if c.segment == book.segment and c.inputs == "heldout")
    return max(cap - used, 0)


def confirm_session(start: Path, rounds: int | None = None, heldout: bool = True,
                    progress: Progress = lambda _: None) -> ConfirmResult:
    """Measure the segment's baseline commit against the incumbent on fresh interleaved rounds.

    Held-out confirms run the benchmark with `[confirm] env` (by default
    `AUTORESEARCH_ITEMS=heldout`, for a benchmark that switches to inputs the experiments never
    saw) and are capped per segment; `heldout=False` re-measures on the usual inputs, uncapped.

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
        left = heldout_left(book, config.confirm.max_heldout)
        if heldout and left == 0:
            raise UsageError(
                f"this segment has used its {config.confirm.max_heldout} held-out confirm(s); more "
                "would turn the held-out inputs into inputs the session is tuned on. "
                "`autoresearch confirm --inputs dev` re-measures on the usual inputs")
        n = 1 if config.metric.measure.deterministic else (rounds or config.confirm.rounds)
        if config.metric.measure is Measure.SINGLE:
            raise UsageError("confirm interleaves many runs; measure = single is for benchmarks too "
                             "expensive for that")
        env = dict(config.confirm.env) if heldout else {}
        run_dir = paths.state / "confirms" / time.strftime("%Y%m%d-%H%M%S")
        # the baseline takes the incumbent's place in the comparison: ratio = incumbent / baseline
        try:
            result = measure_commits(session, baseline.commit, head, run_dir, n, env, progress)
        except ArmFailure as failure:
            which = "baseline" if failure.arm == "incumbent" else "incumbent"
            named = ", ".join(f"{k}={v}" for k, v in env.items())
            inputs = f" on held-out inputs ({named})" if env else ""
            raise AutoresearchError(f"the benchmark failed on the {which}{inputs}: {failure.message}. "
                                    f"Log: {failure.log}\n{failure.tail}") from None
        estimate = fixed_estimate(result.values("incumbent"), result.values("candidate"),
                                  config.metric.direction)
        gain = session_gain(runs, config.metric.direction)
        agrees = None
        if gain is not None:
            agrees = gain.ci[0] <= estimate.ci[1] and estimate.ci[0] <= gain.ci[1]
        record = ConfirmRecord(
            timestamp=now_ms(), segment=book.segment, baseline_commit=baseline.commit,
            incumbent_commit=head, inputs="heldout" if heldout else "dev", env=env,
            rounds=len(result.rounds), ratio=estimate.ratio, ci=estimate.ci,
            improvement=estimate.improvement, p_value=estimate.p_value,
            passed=better_beyond_doubt(estimate.ci, config.metric.direction),
            headline_ratio=gain.ratio if gain else None, headline_ci=gain.ci if gain else None,
            agrees=agrees, samples=result.as_record(), logs=str(run_dir))
        session.append(record)
        return ConfirmResult(record, left - 1 if heldout else left)
