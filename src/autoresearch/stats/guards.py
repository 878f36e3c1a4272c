"""Guards: a secondary metric may not worsen beyond its tolerance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from autoresearch.stats.robust import (
    Direction,
    gain_threshold,
    improvement_log_ratios,
    improvement_of,
    median,
    ratio_of,
    t_cdf,
    trimmed,
)

GUARD_TRIM = 0.2  # as the reported estimate; with fewer than 5 rounds, the plain mean


@dataclass(frozen=True)
class GuardCheck:
    """Whether a secondary metric worsened beyond its allowed tolerance."""

    violated: bool
    ratio: float  # candidate / incumbent
    worsening: float  # direction-adjusted relative loss: +0.1 = 10% worse
    p_value: float = 1.0  # one-sided, against "worsened by no more than the tolerance"


def check_guard(
    incumbent: Sequence[float],
    candidate: Sequence[float],
    direction: Direction,
    tolerance: float,
    alpha: float,
) -> GuardCheck:
    """Veto when the candidate is worse than `tolerance` allows, beyond doubt for noisy metrics.

    Yuen's trimmed-mean t statistic on all rounds, shifted by the tolerance: a guard is violated
    only if the loss exceeds `tolerance` at level `alpha` (a veto only removes keeps, so it never
    raises the false-keep rate). Metrics that repeat exactly are judged exactly.

    >>> check_guard([100.0] * 3, [120.0] * 3, "lower", 0.05, 0.01).violated
    True
    >>> check_guard([100.0] * 3, [104.0] * 3, "lower", 0.05, 0.01).violated
    False
    """
    if not incumbent or not candidate:
        return GuardCheck(False, 1.0, 0.0)
    if min(*incumbent, *candidate) <= 0:
        return _guard_on_medians(incumbent, candidate, direction, tolerance)
    d = improvement_log_ratios(incumbent, candidate, direction)
    # the loss, as an improvement log-ratio, that is still allowed (a negative number)
    allowed = -abs(gain_threshold(tolerance, "higher" if direction == "lower" else "lower"))
    t = trimmed(d, GUARD_TRIM if len(d) >= 5 else 0.0)
    ratio = ratio_of(t.est, direction)
    worsening = -improvement_of(ratio, direction)
    if max(d) - min(d) <= 1e-12 * max(1.0, abs(d[0])):
        bad = d[0] < allowed - 1e-12
        return GuardCheck(bad, ratio, worsening, 0.0 if bad else 1.0)
    if t.se == 0 or t.se != t.se or t.se == float("inf"):
        return GuardCheck(False, ratio, worsening, 1.0)
    p = t_cdf((t.est - allowed) / t.se, t.df)  # p-value of "loss within tolerance"
    return GuardCheck(t.est < allowed and p <= alpha, ratio, worsening, p)


def _guard_on_medians(incumbent: Sequence[float], candidate: Sequence[float],
                      direction: Direction, tolerance: float) -> GuardCheck:
    """A guarded metric that reaches 0 (an error count) has no log-ratio: compare medians.

    >>> _guard_on_medians([0.0, 0.0], [1.0, 1.0], "lower", 0.05).violated
    True
    >>> _guard_on_medians([0.0], [0.0], "lower", 0.0).violated
    False
    """
    before, after = median(incumbent), median(candidate)
    loss = (after - before) if direction == "lower" else (before - after)
    worsening = loss / abs(before) if before else (math.inf if loss > 0 else 0.0)
    ratio = after / before if before else (1.0 if after == before else math.inf)
    bad = worsening > tolerance + 1e-12
    return GuardCheck(bad, ratio, worsening, 0.0 if bad else 1.0)
