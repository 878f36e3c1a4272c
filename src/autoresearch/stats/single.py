"""Single mode: one expensive candidate run against the incumbent's recorded runs."""

from __future__ import annotations

import math
from collections.abc import Sequence

from autoresearch.stats.robust import (
    Direction,
    gain_threshold,
    improvement_of,
    normal_cdf,
    normal_quantile,
    ratio_of,
)
from autoresearch.stats.sequential import Comparison, Outcome


def judge_single(
    reference: Sequence[float],
    candidate: float,
    direction: Direction,
    noise: float,
    alpha: float,
    min_effect: float,
) -> Comparison:
    """One candidate run against the incumbent's recorded runs, judged by a calibrated noise floor.

    `noise` is calibration's sd-equivalent of a paired log-ratio (two runs), so one run's own
    spread is noise / sqrt(2); against the mean of m recorded runs, the log-ratio's sd is that
    times sqrt(1 + 1/m). Keep when the gain clears the one-sided z bound at `alpha` and is at
    least `min_effect`. Nothing is interleaved, so machine drift since the reference runs is not
    cancelled: that is the price of a single run, and its error rate rests on the calibration.

    >>> judge_single([100.0, 102.0, 98.0], 70.0, "lower", 0.05, 0.01, 0.05).outcome
    'better'
    >>> judge_single([100.0, 102.0, 98.0], 97.0, "lower", 0.05, 0.01, 0.05).outcome
    'not_better'
    """
    if not reference:
        raise ValueError("single mode needs recorded runs of the incumbent")
    logs = [math.log(x) for x in reference]
    center = sum(logs) / len(logs)
    sign = 1.0 if direction == "lower" else -1.0
    d = sign * (center - math.log(candidate))
    sd = noise / math.sqrt(2.0) * math.sqrt(1.0 + 1.0 / len(logs))
    threshold = gain_threshold(min_effect, direction)
    ratio = ratio_of(d, direction)
    z = normal_quantile(1.0 - alpha) * sd
    if sd <= 0:
        p = 0.0 if d > 0 else 1.0
        bounds = (ratio, ratio)
    else:
        p = 1.0 - normal_cdf(d / sd)
        lo, hi = ratio_of(d - z, direction), ratio_of(d + z, direction)
        bounds = (min(lo, hi), max(lo, hi))
    outcome: Outcome
    if d > z and d >= threshold:
        outcome, reason = "better", "better than the recorded runs beyond the noise floor"
    elif d < -z:
        outcome, reason = "worse", "worse"
    elif d > z:
        outcome, reason = "not_better", "estimated gain below min_effect"
    else:
        outcome, reason = "not_better", "within the calibrated noise floor"
    return Comparison(outcome, 1, ratio, bounds, improvement_of(ratio, direction), p, reason,
                      decided_at=1, screen_ratio=ratio, level=alpha,
                      ci_level=1.0 - 2.0 * alpha)
