"""Session-level evidence: the keeps' paired gains combined, and fixed-sample estimates for `confirm`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from autoresearch import stats
from autoresearch.model import RunRecord
from autoresearch.stats import Direction, Policy, improvement_log_ratios, improvement_of
from autoresearch.stats.robust import normal_quantile, ratio_of, t_cdf, t_quantile, trimmed

COMBINED_LEVEL = 0.95  # the level of the session's interval


@dataclass(frozen=True)
class Combined:
    """The product of paired ratios, with an interval from their own uncertainty."""

    ratio: float  # final / first, as the product of the steps' candidate/incumbent ratios
    ci: tuple[float, float]  # 95% interval of `ratio` (COMBINED_LEVEL)
    improvement: float  # direction-adjusted: +0.4 = 40% better
    steps: int
    exact: bool  # every step deterministic (an exact count): the interval is a point


def combine(ratios: Sequence[float], cis: Sequence[tuple[float, float] | None],
            direction: Direction, levels: Sequence[float] | float = COMBINED_LEVEL) -> Combined:
    """Chain the keeps' paired ratios: the session's gain, measured only ever within a round.

    Each keep's log-ratio estimate is independent of the others' (fresh rounds, fresh
    processes), so the logs add and so do their variances. A keep's standard error is read
    back from its recorded interval and the two-sided level it was made at (`levels`, one per
    keep or one for all): half the log-width over that level's normal quantile. A keep's
    interval is at one-sided alpha each side (98% at alpha 1%); read as a 95% one it would
    make the headline's interval 19% too wide. The result is a 95% interval.

    >>> c = combine([0.8, 0.9], [(0.75, 0.85), (0.85, 0.95)], "lower")
    >>> round(c.ratio, 3), round(c.improvement, 3), c.ci[0] < 0.72 < c.ci[1]
    (0.72, 0.28, True)
    >>> wide = combine([0.8], [(0.7, 0.9)], "lower", 0.95).ci
    >>> narrow = combine([0.8], [(0.7, 0.9)], "lower", 0.98).ci
    >>> wide[0] < narrow[0] < 0.8 < narrow[1] < wide[1]
    True
    >>> combine([], [], "lower").ratio
    1.0
    """
    if len(ratios) != len(cis):
        raise ValueError("one interval per ratio")
    if isinstance(levels, float | int):
        levels = [float(levels)] * len(ratios)
    if len(levels) != len(ratios):
        raise ValueError("one level per ratio")
    log_sum, var = 0.0, 0.0
    exact = True
    for ratio, ci, level in zip(ratios, cis, levels, strict=False):
        log_sum += math.log(ratio)
        if ci is None or not all(math.isfinite(x) and x > 0 for x in ci):
            var = math.inf
            exact = False
            continue
        half = (math.log(max(ci)) - math.log(min(ci))) / 2
        exact = exact and half == 0.0
        var += (half / normal_quantile((1.0 + level) / 2.0)) ** 2
    ratio = float(math.prod(ratios))  # = exp(log_sum), without its rounding
    if math.isinf(var):
        ci_out = (0.0, math.inf)
    else:
        spread = normal_quantile((1.0 + COMBINED_LEVEL) / 2.0) * math.sqrt(var)
        ci_out = (math.exp(log_sum - spread), math.exp(log_sum + spread))
    return Combined(ratio, ci_out, improvement_of(ratio, direction), len(ratios), exact and bool(ratios))


def session_gain(runs: Sequence[RunRecord], direction: Direction, alpha: float) -> Combined | None:
    """A segment's gain from paired evidence only: its keeps' ratios chained.

    Every factor compares a keep with its own incumbent in interleaved rounds, so machine drift
    between experiments never enters (medians measured hours apart would carry it). A record
    that does not say its interval's level was made at one-sided `alpha` each side.
    """
    keeps = [r for r in runs if r.verdict == "keep" and r.ratio is not None]
    if not keeps:
        return None
    levels = [r.ci_level if r.ci_level else 1.0 - 2.0 * alpha for r in keeps]
    return combine([r.ratio or 1.0 for r in keeps], [r.ci for r in keeps], direction, levels)


@dataclass(frozen=True)
class Estimate:
    """A fixed-sample comparison (one look, no stopping rule to adjust for)."""

    ratio: float
    ci: tuple[float, float]  # 95%
    improvement: float
    p_value: float  # one-sided, against "no improvement"
    rounds: int


def better_beyond_doubt(ci: tuple[float, float], direction: Direction) -> bool:
    """The whole 95% interval of a candidate/incumbent ratio lies on the better side of 1.

    >>> better_beyond_doubt((0.7, 0.9), "lower"), better_beyond_doubt((0.9, 1.1), "lower")
    (True, False)
    """
    return ci[1] < 1.0 if direction == "lower" else ci[0] > 1.0


def fixed_estimate(incumbent: Sequence[float], candidate: Sequence[float], direction: Direction,
                   trim: float = 0.2) -> Estimate:
    """Trimmed-mean estimate of candidate/incumbent from a fixed number of paired rounds.

    The rounds were not chosen by looking at them, so the plain Yuen interval is valid.

    >>> e = fixed_estimate([100.0, 102.0, 98.0, 101.0], [80.0, 81.0, 79.0, 80.5], "lower")
    >>> round(e.ratio, 2), e.ci[1] < 0.85, e.p_value < 0.01
    (0.8, True, True)
    """
    d = improvement_log_ratios(incumbent, candidate, direction)
    if not d:
        raise ValueError("no rounds to estimate from")
    if max(d) - min(d) <= 1e-12 * max(1.0, abs(d[0])):  # an exact measure: the number is the answer
        ratio = ratio_of(d[0], direction)
        p = 0.0 if d[0] > 0 else 1.0
        return Estimate(ratio, (ratio, ratio), improvement_of(ratio, direction), p, len(d))
    t = trimmed(d, trim if len(d) >= 5 else 0.0)
    if not math.isfinite(t.se):
        low, high, p = -math.inf, math.inf, 0.5
    elif t.se == 0:
        low = high = t.est
        p = 0.0 if t.est > 0 else 1.0
    else:
        half = t_quantile(t.df, 0.975) * t.se
        low, high = t.est - half, t.est + half
        p = 1.0 - t_cdf(t.est / t.se, t.df)
    bounds = sorted((ratio_of(low, direction), ratio_of(high, direction)))
    ratio = ratio_of(t.est, direction)
    return Estimate(ratio, (bounds[0], bounds[1]), improvement_of(ratio, direction), p, len(d))


def resumed(policy: Policy) -> Policy:
    """The policy that continues an earlier, unfinished measurement of the same change.

    The false-keep bound holds for the rule "keep only when the statistic crosses the keep
    boundary at one of the design's looks": stopping early for any other reason (futility, a
    significant loss) only removes keeps. A resubmission therefore continues the same walk
    through the same looks with the same boundary, skipping the non-binding futility stop
    that ended it, and never beyond the design's last look.

    >>> resumed(Policy()).futility
    0.0
    """
    return replace(policy, futility=0.0)


def budget_left(policy: Policy, prior_rounds: int) -> int:
    """Rounds a resubmission may still add before the design's last look (0 = spent).

    >>> budget_left(Policy(max_rounds=20), 8), budget_left(Policy(max_rounds=20), 20)
    (12, 0)
    """
    return max(policy.max_rounds - prior_rounds, 0)


@dataclass(frozen=True)
class Continuation:
    """How a resubmitted change goes on from its earlier rounds."""

    policy: Policy  # the policy the continued measurement runs under
    settled: stats.Comparison | None  # the verdict the earlier rounds already fix; None = measure on


def continuation(prior_incumbent: Sequence[float], prior_candidate: Sequence[float],
                 direction: Direction, policy: Policy) -> Continuation:
    """Continue an earlier measurement of the same change against the same incumbent.

    The earlier rounds are the prefix of one sequential test: looks already taken are not
    taken again with fresh luck. When the prefix alone is final under the resumed policy (it
    reached the last look, crossed a boundary, or failed its confirmation), more rounds
    cannot change the verdict, and it stands without measuring.

    >>> c = continuation([100.0] * 4, [100.0, 101.0, 99.0, 100.5], "lower", Policy(max_rounds=8))
    >>> c.settled is None, c.policy.futility
    (True, 0.0)
    """
    policy = resumed(policy)
    verdict = stats.compare(prior_incumbent, prior_candidate, direction, policy)
    return Continuation(policy, None if verdict.outcome == "continue" else verdict)
