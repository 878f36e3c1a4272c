"""The decision: paired, interleaved rounds judged by the exact sequential sign-flip test.

`compare` is a pure function of the rounds measured so far and the `Policy`, so any verdict in
the ledger can be recomputed from its raw samples. At each look (`min_rounds` onwards):

* keep (`better`): the signed-score sum crosses the exact boundary (`signflip`), so the
  stage-wise p-value of "no gain" is within the alpha spent by this look, AND the estimated gain
  is at least `min_effect`. With `confirm_rounds` > 0 the keep waits that many more rounds and
  stands only if the test, on all rounds, is still beyond its boundary then (a second crossing;
  it can only remove keeps, so the false-keep bound stays alpha);
* `worse`: the mirror boundary is crossed;
* `not_better`: the useful gain (2 x `min_effect`) lies above a one-sided `futility` upper bound
  (non-binding: it only removes keeps), or `max_rounds` is reached.

Deterministic measures (`Policy.deterministic`, instruction counts) are decided exactly in one
round. Observed ties are never taken for determinism: identical rounds are just rounds whose
signs the test weighs (seven identical wins are needed before 2^-n reaches alpha = 1%).

A keep's `ratio`, `ci` and `improvement` come from every round, adjusted for stopping at a
crossing (`estimate.stagewise`), with the interval at the decision's own level (one-sided
alpha each side), so a keep's interval lies on the better side. Reasons quote the decision's
terms: rounds, estimate, the bar, and the p-value a crossing needed at that look.

>>> policy = Policy(alpha=0.01, min_effect=0.05, min_rounds=4, max_rounds=20)
>>> compare([100.0] * 9, [50.0] * 9, "lower", policy).outcome
'better'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from autoresearch.stats import signflip
from autoresearch.stats.robust import (
    Direction,
    Trimmed,
    gain_threshold,
    improvement_log_ratios,
    improvement_of,
    ratio_of,
    t_quantile,
    trimmed,
)

Outcome = Literal["continue", "better", "not_better", "worse"]

# Instruction counts of an interpreter repeat to ~0.03%, not always exactly: a change smaller
# than this is reported as no difference rather than as worse.
DETERMINISTIC_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Policy:
    """How sure the harness must be, and how hard it may look.

    `alpha` bounds the chance that a change with no real gain is kept, over all looks, for any
    noise (the arms' order is random in each round); `min_effect` is the smallest relative gain
    worth keeping (0.05 = 5%); `min_rounds` is the first look; `max_rounds` the last, including
    `confirm_rounds`; `trim` the fraction trimmed from each tail of the reported estimate;
    `futility` the one-sided level of the early "a useful gain is unlikely" stop (0 disables
    it). `deterministic` says the measure repeats exactly (instruction counts): one round
    decides. `noise`, when calibrated, is the sd-equivalent of one round's log-ratio; it fixes
    the test's score scale (any value keeps the test exact). `horizon` is the number of rounds
    alpha is spent over (default `max_rounds`): extending a measurement past `max_rounds`
    keeps the horizon, so extra rounds only use alpha the earlier looks left unspent.

    >>> Policy().max_rounds
    24
    """

    alpha: float = 0.01
    min_effect: float = 0.05
    min_rounds: int = 4
    max_rounds: int = 24
    confirm_rounds: int = 0
    trim: float = 0.2
    futility: float = 0.05
    deterministic: bool = False
    noise: float | None = None
    horizon: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), not {self.alpha}")
        if not 0.0 <= self.min_effect < 1.0:
            raise ValueError(f"min_effect must be in [0, 1), not {self.min_effect}")
        if self.min_rounds < 1 or self.max_rounds < 1 or self.confirm_rounds < 0:
            raise ValueError("min_rounds and max_rounds must be >= 1, confirm_rounds >= 0")
        if not 0.0 <= self.trim < 0.5:
            raise ValueError(f"trim must be in [0, 0.5), not {self.trim}")

    @property
    def first_look(self) -> int:
        return max(1, min(self.min_rounds, self.max_rounds))

    @property
    def spend_rounds(self) -> int:
        return max(self.horizon or self.max_rounds, self.first_look)


@dataclass(frozen=True)
class Comparison:
    """Where a comparison stands after the rounds so far.

    For a keep, `ratio`, `ci` and `improvement` are adjusted for stopping at the crossing
    (median-unbiased; `ci` at one-sided `alpha` each side); otherwise they are the trimmed mean
    of all rounds with an interval at the last look's level. `screen_ratio` is the unadjusted
    estimate at the deciding look, for transparency.
    """

    outcome: Outcome
    rounds: int
    ratio: float  # candidate / incumbent of the metric
    ci: tuple[float, float]  # interval of `ratio`
    improvement: float  # direction-adjusted relative gain: +0.2 = 20% better
    p_value: float  # one-sided stage-wise p-value of "no improvement"; valid across looks
    reason: str
    decided_at: int = 0  # the look (rounds) at which the test decided; 0 = not yet
    screen_ratio: float = 1.0  # unadjusted estimate at the deciding look
    level: float = 0.0  # the p-value a crossing needed at the deciding (or last) look
    ci_level: float = 0.0  # the two-sided coverage `ci` was made at (1 - 2 alpha for a keep)


def compare(
    incumbent: Sequence[float],
    candidate: Sequence[float],
    direction: Direction,
    policy: Policy,
) -> Comparison:
    """Judge the rounds so far: `continue` to measure more, or a final outcome.

    >>> compare([1000.0], [900.0], "lower", Policy(min_rounds=1, max_rounds=1, deterministic=True)).outcome
    'better'
    >>> compare([100.0, 101.0], [90.0, 91.0], "lower", Policy()).outcome
    'continue'
    """
    d = improvement_log_ratios(incumbent, candidate, direction)
    n = len(d)
    if n == 0:
        return Comparison("continue", 0, 1.0, (0.0, math.inf), 0.0, 1.0, "no rounds yet")
    if policy.deterministic:
        return _deterministic(d, direction, gain_threshold(policy.min_effect, direction))
    return _Judge(d, direction, policy).verdict()


class _Judge:
    """One pass over the looks of one comparison."""

    def __init__(self, d: list[float], direction: Direction, policy: Policy):
        self.d, self.direction, self.policy = d, direction, policy
        self.threshold = gain_threshold(policy.min_effect, direction)
        self.useful = gain_threshold(min(2 * policy.min_effect, 0.99), direction)
        confirm = policy.confirm_rounds
        self.last_start = max(policy.first_look, policy.max_rounds - confirm)
        self.path = signflip.run(d, policy.alpha, policy.first_look, policy.spend_rounds, policy.noise)

    def verdict(self) -> Comparison:
        p, d, path = self.policy, self.d, self.path
        pending = 0
        for k in range(p.first_look, len(d) + 1):
            bound = path.bounds[k - 1]
            assert bound is not None
            s = path.sums[k - 1]
            t = trimmed(d[:k], p.trim)
            if pending:
                if k < pending + p.confirm_rounds:
                    continue
                if s >= bound:
                    return self._keep(pending, k)
                return self._stop("not_better", k, t, (
                    f"crossed the boundary after {pending} rounds but not again after "
                    f"{p.confirm_rounds} confirmation round(s): estimate {self._gain(t.est):+.1%}"))
            if s >= bound and k <= self.last_start and t.est >= self.threshold:
                if p.confirm_rounds == 0:
                    return self._keep(k, k)
                pending = k
                continue
            if -s >= bound:
                return self._stop("worse", k, t, (
                    f"significantly worse after {k} rounds: estimate {self._gain(t.est):+.1%}"))
            if p.futility > 0 and math.isfinite(t.se):
                upper = t.est + (t_quantile(t.df, 1.0 - p.futility) * t.se if t.se > 0 else 0.0)
                if t.se == 0:  # every round the same: the rounds bound the gain by their own value
                    if t.est <= 0:
                        return self._stop("not_better", k, t, "no difference" if t.est == 0 else "worse")
                    if t.est < self.threshold:
                        return self._stop("not_better", k, t, (
                            f"all {k} rounds measured {self._gain(t.est):+.1%}, below min_effect "
                            f"{p.min_effect:.1%}"))
                    # a gain of at least min_effect in every round: measure on to the boundary
                elif upper < 0:  # even the optimistic bound is a loss
                    return self._stop("not_better", k, t, "worse")
                elif upper < self.useful:
                    return self._stop("not_better", k, t, (
                        f"a useful gain is unlikely after {k} rounds: estimate "
                        f"{self._gain(t.est):+.1%}, at most {self._gain(upper):+.1%} at "
                        f"{1 - p.futility:.0%} confidence, useful ≥ {min(2 * p.min_effect, 0.99):.0%} "
                        f"(twice min_effect)"))
            if k >= p.max_rounds:
                return self._stop("not_better", k, t, self._final_reason(k, t, s >= bound))
        t = trimmed(d, p.trim)
        if pending:
            reason = f"crossed after {pending} rounds; confirming"
            return self._result("continue", len(d), t, t, reason, pending, self._level(pending))
        # while measuring, the interval is at the alpha spent by the latest look
        latest = signflip.spent(p.alpha, len(d), p.first_look, p.spend_rounds)
        return self._result("continue", len(d), t, t, "measuring", 0, latest)

    def _gain(self, log_gain: float) -> float:
        return improvement_of(ratio_of(log_gain, self.direction), self.direction)

    def _level(self, k: int) -> float:
        allowed = self.path.allowed[k - 1] if k >= 1 else None
        return allowed if allowed is not None else 0.0

    def _final_reason(self, k: int, t: Trimmed, significant: bool) -> str:
        p = self.policy
        if significant:
            return (f"significant after {k} rounds (p = {self.path.p_value:.2g}), but the estimate "
                    f"{self._gain(t.est):+.1%} is below min_effect {p.min_effect:.1%}")
        return (f"not significant at the boundary after {k} rounds: estimate "
                f"{self._gain(t.est):+.1%}, needs ≥ {p.min_effect:.1%} with p ≤ "
                f"{self._level(k):.2g} at this look (p = {self.path.p_value:.2g})")

    def _stop(self, outcome: Outcome, k: int, t: Trimmed, reason: str) -> Comparison:
        return self._result(outcome, k, t, t, reason, k, self._level(k))

    def _result(self, outcome: Outcome, k: int, t: Trimmed, screen: Trimmed, reason: str,
                decided_at: int, level: float) -> Comparison:
        if math.isfinite(t.se) and t.se > 0 and 0 < level < 0.5:
            half = t_quantile(t.df, 1.0 - level) * t.se
        else:
            half = math.inf if not (math.isfinite(t.se) and t.se == 0) else 0.0
        low, high = t.est - half, t.est + half
        if outcome in ("not_better", "continue"):
            low = min(low, 0.0)  # the test did not reject "no gain": 0 stays in the interval
            high = max(high, 0.0) if outcome == "continue" else high
        if outcome == "worse":
            high = min(high, 0.0)  # it rejected "no loss"
        return self._pack(outcome, k, t.est, (low, high), reason, decided_at, screen.est, level,
                          1.0 - 2.0 * level)

    def _pack(self, outcome: Outcome, k: int, est: float, interval: tuple[float, float],
              reason: str, decided_at: int, screen: float, level: float, ci_level: float) -> Comparison:
        ratio = ratio_of(est, self.direction)
        bounds = sorted(ratio_of(x, self.direction) for x in interval)
        return Comparison(
            outcome=outcome, rounds=k, ratio=ratio, ci=(bounds[0], bounds[1]),
            improvement=improvement_of(ratio, self.direction), p_value=self.path.p_value,
            reason=reason, decided_at=decided_at,
            screen_ratio=ratio_of(screen, self.direction), level=level, ci_level=ci_level,
        )

    def _keep(self, k: int, final: int) -> Comparison:
        """A crossing at look k (confirmed at `final`): estimate and interval from all rounds."""
        p, path = self.policy, self.path
        d = self.d[:final]
        low, est, high = invert(d, p)
        screen = trimmed(self.d[:k], p.trim).est
        reason = (f"crossed the keep boundary after {k} rounds (p = {path.p_value:.2g} ≤ "
                  f"{self._level(k):.2g}) with an estimate of {self._gain(screen):+.1%} ≥ "
                  f"{p.min_effect:.1%}")
        if final > k:
            reason += f", still beyond it after {final - k} confirmation round(s)"
        reason += (f"; adjusted for stopping: {self._gain(est):+.1%} "
                   f"[{self._gain(low):+.1%}, {self._gain(high):+.1%}]")
        return self._pack("better", final, est, (low, high), reason, k, screen, self._level(k),
                          1.0 - 2.0 * p.alpha)


_BISECTIONS = 24


def invert(d: Sequence[float], policy: Policy) -> tuple[float, float, float]:
    """Interval and median estimate of the gain from the sequential test itself, by shifting.

    If the candidate is faster by exactly theta (as a log-ratio), the rounds `d - theta` have
    fair signs given their magnitudes, so the same exact test run on them is a valid test of
    "gain <= theta", whatever the looks and the stopping. Hence, with every round:

    * `low`: the largest theta the test still rejects (its boundary crossed at some look): a
      lower bound at one-sided level alpha, valid across looks, so a keep's is at least 0;
    * `high`: the smallest theta the mirror test (`theta - d`) rejects, the upper bound;
    * `est`: the theta at which the test's stage-wise p-value reaches 1/2 — never above the
      truth more than half the time, so the winner's curse of stopping at a crossing is gone.

    Bisection on theta; each step is one run of the test (about a millisecond).

    >>> low, est, high = invert([0.2] * 12, Policy())
    >>> round(low, 6), round(est, 6), round(high, 6)
    (0.2, 0.2, 0.2)
    """
    first, horizon, alpha, noise = policy.first_look, policy.spend_rounds, policy.alpha, policy.noise
    lo_d, hi_d = min(d), max(d)
    span = hi_d - lo_d + 1e-9

    def rejects_below(theta: float) -> bool:  # "gain <= theta" rejected
        return signflip.run([x - theta for x in d], alpha, first, horizon, noise).first_cross > 0

    def rejects_above(theta: float) -> bool:  # "gain >= theta" rejected
        return signflip.run([theta - x for x in d], alpha, first, horizon, noise).first_cross > 0

    def p_below(theta: float) -> float:
        return signflip.run([x - theta for x in d], alpha, first, horizon, noise).p_value

    def boundary(pred, a: float, b: float) -> float:  # type: ignore[no-untyped-def]
        # pred(a) is True, pred(b) is False: the switch point
        for _ in range(_BISECTIONS):
            mid = 0.5 * (a + b)
            if pred(mid):
                a = mid
            else:
                b = mid
        return 0.5 * (a + b)

    low = boundary(rejects_below, lo_d - span, hi_d) if rejects_below(lo_d - span) else -math.inf
    top = hi_d + span
    high = boundary(lambda th: not rejects_above(th), lo_d, top) if rejects_above(top) else math.inf
    est = boundary(lambda th: p_below(th) < 0.5, lo_d - span, top)
    if low > high:  # a discrete test can leave the ends out of order by a hair
        low = high = 0.5 * (low + high)
    return low, min(max(est, low), high), high


def _deterministic(d: Sequence[float], direction: Direction, threshold: float) -> Comparison:
    est = sorted(d)[len(d) // 2]
    ratio = ratio_of(est, direction)
    if est >= threshold and est > DETERMINISTIC_TOLERANCE:
        outcome: Outcome = "better"
        reason, p = "deterministic measure: better", 0.0
    elif est < -DETERMINISTIC_TOLERANCE:
        outcome, reason, p = "worse", "worse", 1.0
    else:
        outcome = "not_better"
        reason = ("no difference" if abs(est) <= DETERMINISTIC_TOLERANCE
                  else "improvement below min_effect")
        p = 1.0
    return Comparison(outcome, len(d), ratio, (ratio, ratio), improvement_of(ratio, direction), p,
                      reason, len(d), ratio, 0.0, 1.0)


def with_noise(policy: Policy, noise: float | None) -> Policy:
    """The policy with a calibrated noise scale (None or 0 keeps the running scale)."""
    return replace(policy, noise=noise if noise and noise > 0 else None)

