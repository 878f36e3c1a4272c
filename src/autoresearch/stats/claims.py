"""A benchmark's claimed time saving against the saving the harness measured on its process."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from autoresearch.stats.robust import t_cdf, trimmed

CLAIM_TRIM = 0.2  # as the guards; with fewer than 5 rounds, the plain mean


@dataclass(frozen=True)
class ClaimCheck:
    """Whether a benchmark's claimed time saving exceeds what its process measurably saved."""

    inconsistent: bool
    claimed: float  # relative time saving the benchmark reports: 0.6 = 60% less time
    process: float  # relative saving of the process's wall time, as the harness measured it
    implied: float  # relative process saving the claim implies, given the timed share of the process
    p_value: float = 1.0  # one-sided, against "the claim exceeds the process by at most the tolerance"
    # The process's own wall time bears the claim out: the claim implies a process saving the
    # check can see (at least the tolerance) and the process measurably got faster. Otherwise
    # the rounds cannot tell the claim from a lie, and it needs other evidence (a count).
    confirmed: bool = False
    visible: bool = False  # the claim implies a process saving of at least the tolerance


def check_claim(
    claimed_incumbent: Sequence[float],
    claimed_candidate: Sequence[float],
    wall_incumbent: Sequence[float],
    wall_candidate: Sequence[float],
    tolerance: float,
    alpha: float,
    confirm_alpha: float | None = None,
) -> ClaimCheck:
    """Test a claimed time (seconds, per round) against the process wall time of the same runs.

    A section that takes M of a process's W seconds and gets a fraction g faster saves the
    process M*g seconds at least (more if it runs several times): the process must get faster
    by the share s = M/W times g. Per round, d = log-gain the claim implies for the process
    (-log(1 - s*g)) minus the log-gain the process showed; the claim is inconsistent when d
    exceeds `tolerance` (a log-ratio) at level `alpha`, by Yuen's trimmed-mean t statistic as
    the guards use it. A timed section that is a small share of the process implies a small
    process gain, so such a benchmark is never called inconsistent for its noise, and the check
    sees only lies larger than the process's noise. `confirmed` (at `confirm_alpha`, default
    `alpha`) says the process measurably got faster by a saving the check can see.

    >>> check_claim([0.3] * 4, [0.003] * 4, [0.35] * 4, [0.35] * 4, 0.05, 0.01).inconsistent
    True
    >>> check_claim([0.3] * 4, [0.1] * 4, [0.35] * 4, [0.15] * 4, 0.05, 0.01).inconsistent
    False
    """
    d: list[float] = []
    implied: list[float] = []
    claimed: list[float] = []
    process: list[float] = []
    for mi, mc, wi, wc in zip(claimed_incumbent, claimed_candidate, wall_incumbent, wall_candidate,
                              strict=True):
        share = min(1.0, mi / wi)
        saving = min(share * (1.0 - mc / mi), 1.0 - 1e-9)
        implied.append(-math.log(1.0 - saving))
        process.append(math.log(wi / wc))
        claimed.append(math.log(mi / mc))
        d.append(implied[-1] - process[-1])
    if not d:
        return ClaimCheck(False, 0.0, 0.0, 0.0)
    trim = CLAIM_TRIM if len(d) >= 5 else 0.0
    said, saved, implied_saving = (1.0 - math.exp(-trimmed(logs, trim).est)
                                   for logs in (claimed, process, implied))
    summary = (said, saved, implied_saving)
    visible = trimmed(implied, trim).est >= tolerance
    confirmed = visible and _exceeds(process, 0.0, trim, alpha if confirm_alpha is None else confirm_alpha)
    if max(d) - min(d) <= 1e-12 * max(1.0, abs(d[0])):
        bad = d[0] > tolerance + 1e-12
        return ClaimCheck(bad, *summary, p_value=0.0 if bad else 1.0, confirmed=confirmed and not bad,
                          visible=visible)
    t = trimmed(d, trim)
    if t.se == 0 or not math.isfinite(t.se):
        return ClaimCheck(False, *summary, confirmed=confirmed, visible=visible)
    p = t_cdf(-(t.est - tolerance) / t.se, t.df)  # p-value of "exceeds by at most the tolerance"
    bad = t.est > tolerance and p <= alpha
    return ClaimCheck(bad, *summary, p_value=p, confirmed=confirmed and not bad, visible=visible)


def count_outruns_process(cpu_incumbent: Sequence[float], cpu_candidate: Sequence[float],
                          saved_s: float, tolerance: float, alpha: float) -> bool:
    """Whether the process measurably saved less CPU time than `saved_s` per run, by more than
    `tolerance` (a log-ratio) at level `alpha`: the saving a count of the process's instructions
    implies did not happen in the timed runs, so the counted run did other work than they did.

    Per round, d = log-gain the count implies (-log(1 - saved/incumbent)) minus the log-gain the
    process showed, tested one-sided by Yuen's trimmed-mean t statistic, as `check_claim` does.

    >>> count_outruns_process([0.17] * 6, [0.17] * 6, 0.04, 0.05, 0.01)
    True
    >>> count_outruns_process([0.17, 0.18, 0.16, 0.17], [0.08, 0.09, 0.09, 0.07], 0.04, 0.05, 0.01)
    False
    """
    d = []
    for ci, cc in zip(cpu_incumbent, cpu_candidate, strict=True):
        if ci <= 0 or cc <= 0:
            return False  # a clock too coarse to show the process's own time: nothing to test
        implied = -math.log(1.0 - min(max(saved_s, 0.0) / ci, 1.0 - 1e-9))
        d.append(implied - math.log(ci / cc))
    if not d:
        return False
    return _exceeds(d, tolerance, CLAIM_TRIM if len(d) >= 5 else 0.0, alpha)


def _exceeds(values: Sequence[float], bound: float, trim: float, alpha: float) -> bool:
    """Whether the values' trimmed mean exceeds `bound` beyond doubt at `alpha` (Yuen, one-sided)."""
    if (len(values) > 1 and min(values) > bound
            and max(values) - min(values) <= 1e-12 * max(1.0, abs(values[0]))):
        return True  # identical rounds: a deterministic process time
    t = trimmed(values, trim)
    if t.se == 0 or not math.isfinite(t.se):
        return False
    return t.est > bound and t_cdf(-(t.est - bound) / t.se, t.df) <= alpha
