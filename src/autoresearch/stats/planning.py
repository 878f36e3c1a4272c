"""Planning from A/A rounds: the noise, its uncertainty, the gain the test can detect, and
an audit of past keeps."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from autoresearch.stats.robust import robust_spread, trimmed
from autoresearch.stats.sequential import Policy

PLAN_TRIALS = 1000  # simulated comparisons per power estimate; seeded, so plans are repeatable
PLAN_SEED = 20261129


@dataclass(frozen=True)
class NoisePlan:
    """What A/A rounds say about the noise, and the settings they suggest."""

    noise: float  # robust spread (sd-equivalent) of A/A log-ratios; 0 for deterministic metrics
    rounds: int  # A/A rounds it was computed from
    detectable_effect: float  # gain kept with probability `power` within `max_rounds`
    min_effect: float  # recommended
    max_rounds: int  # recommended
    alpha: float
    power: float
    noise_low: float = 0.0  # 90% interval of `noise` (seeded bootstrap)
    noise_high: float = 0.0


def noise_of(values: Sequence[float], trim: float = 0.2) -> float:
    """Sd-equivalent noise of per-round log-ratios: the larger of the trimmed-mean statistic's
    spread and 1.4826 x MAD (MAD alone understates heavy tails).

    >>> noise_of([0.0] * 4)
    0.0
    """
    if len(values) < 2:
        return 0.0
    t = trimmed(values, trim)
    spread = t.se * math.sqrt(len(values)) if math.isfinite(t.se) else 0.0
    return max(spread, robust_spread(values))


def noise_interval(values: Sequence[float], level: float = 0.9, resamples: int = 400,
                   seed: int = PLAN_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of `noise_of(values)`: how sure calibration is of its noise.

    >>> lo, hi = noise_interval([0.1, -0.1, 0.05, -0.05, 0.2, -0.2, 0.0, 0.02])
    >>> 0 < lo < hi
    True
    """
    vals = list(values)
    if len(vals) < 3:
        return (0.0, math.inf)
    rng = random.Random(seed)
    stats = sorted(noise_of([rng.choice(vals) for _ in vals]) for _ in range(resamples))
    tail = (1.0 - level) / 2
    return stats[int(tail * (resamples - 1))], stats[math.ceil((1 - tail) * (resamples - 1))]


def power_at(effect: float, noise_draws: Sequence[float] | None, noise: float, policy: Policy,
             trials: int = PLAN_TRIALS, seed: int = PLAN_SEED) -> float:
    """Chance the decision keeps a true relative gain `effect`, simulated (numpy).

    The noise is resampled from `noise_draws` (A/A log-ratios, random signs) when given, else
    Gaussian with sd `noise`.
    """
    import numpy as np

    from autoresearch.stats.simulate import BETTER, decide_batch

    rng = np.random.default_rng(seed)
    shape = (trials, policy.max_rounds)
    if noise_draws is not None and len(noise_draws) > 0:
        base = rng.choice(np.asarray(noise_draws, dtype=float), shape) * rng.choice([-1.0, 1.0], shape)
    else:
        base = rng.normal(0.0, noise, shape)
    d = base - math.log(1.0 - effect)
    return float((decide_batch(d, policy).outcome == BETTER).mean())


def detectable_effect(noise: float, alpha: float, power: float, policy: Policy | None = None,
                      rounds: int | None = None, draws: Sequence[float] | None = None) -> float:
    """Smallest relative gain kept with probability `power` (simulated, bisection on the gain).

    >>> detectable_effect(0.0, 0.01, 0.8)
    0.0
    """
    if noise <= 0 and not draws:
        return 0.0
    base = replace(policy or Policy(), alpha=alpha, min_effect=0.0, futility=0.0)
    if rounds is not None:
        base = replace(base, max_rounds=rounds, horizon=None)
    lo, hi = 0.0, 0.95
    for _ in range(12):
        mid = (lo + hi) / 2
        if power_at(mid, draws, noise, base, trials=400) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def plan_from_aa(
    aa_log_ratios: Sequence[float],
    alpha: float = 0.01,
    power: float = 0.8,
    max_rounds: int = 24,
    target_effect: float | None = None,
    policy: Policy | None = None,
) -> NoisePlan:
    """Noise floor and recommended settings from A/A rounds (both arms the same code).

    `min_effect` is set to half the detectable effect (the test then has `power` for gains of
    2 x `min_effect`, the "useful effect" its futility stop aims at). With `target_effect`,
    `max_rounds` is the fewest rounds (up to 50) that detect it instead.

    >>> plan = plan_from_aa([0.0] * 5, alpha=0.01)
    >>> plan.noise, plan.max_rounds
    (0.0, 1)
    """
    values = [float(x) for x in aa_log_ratios]
    base = replace(policy or Policy(), alpha=alpha, max_rounds=max_rounds, horizon=None)
    if not values or max(values) - min(values) <= 1e-12:
        return NoisePlan(0.0, len(values), 0.0, 0.005, 1, alpha, power)
    noise = noise_of(values, base.trim)
    low, high = noise_interval(values)
    draws = [abs(x) for x in values]
    if target_effect is not None:
        lo_n, hi_n = base.first_look, 50
        while lo_n < hi_n:  # fewest rounds whose power at target_effect suffices
            mid = (lo_n + hi_n) // 2
            trial = replace(base, max_rounds=mid, min_effect=0.0, futility=0.0)
            if power_at(target_effect, draws, noise, trial, trials=400) >= power:
                hi_n = mid
            else:
                lo_n = mid + 1
        rounds = lo_n
        eff = detectable_effect(noise, alpha, power, base, rounds, draws)
        min_effect = max(target_effect / 2, 0.005)
    else:
        rounds = max_rounds
        eff = detectable_effect(noise, alpha, power, base, rounds, draws)
        min_effect = max(math.ceil(eff / 2 * 200) / 200, 0.005)
    return NoisePlan(noise, len(values), eff, min(min_effect, 0.5), rounds, alpha, power, low, high)


@dataclass(frozen=True)
class KeepAudit:
    """How many of the past keeps may be noise, and which ones were close calls."""

    judged: int  # experiments that reached a verdict
    keeps: int
    expected_false_keeps: float  # an upper estimate, see `audit_keeps`
    marginal: tuple[int, ...]  # indices (into the keeps given) of close calls


def audit_keeps(
    keep_p_values: Sequence[float],
    judged: int,
    alpha: float = 0.01,
    keep_improvements: Sequence[float] | None = None,
    min_effect: float = 0.05,
) -> KeepAudit:
    """Expected number of false keeps among past decisions, and the marginal keeps.

    Every judged experiment with no real gain is kept with probability at most `alpha` (the
    design's guarantee, over all its looks), and at least a fraction 1 - alpha of them are
    rejected, so the count of rejected experiments bounds how many were null:
    E[false keeps] <= alpha x rejected / (1 - alpha), never more than alpha x judged.
    A keep is marginal when its stage-wise p-value used more than a tenth of `alpha`, or
    when its estimated gain is below `min_effect`.

    >>> a = audit_keeps([0.0001, 0.008], judged=50, alpha=0.01)
    >>> round(a.expected_false_keeps, 3), a.marginal
    (0.485, (1,))
    """
    keeps = len(keep_p_values)
    rejected = max(judged - keeps, 0)
    expected = min(alpha * rejected / (1 - alpha), alpha * max(judged, keeps))
    marginal = []
    for i, p in enumerate(keep_p_values):
        small = keep_improvements is not None and keep_improvements[i] < min_effect
        if p > alpha / 10 or small:
            marginal.append(i)
    return KeepAudit(max(judged, keeps), keeps, expected, tuple(marginal))
