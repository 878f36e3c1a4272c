"""Paired, interleaved comparison of incumbent and candidate: when to stop and what to conclude.

The statistic is the per-round log-ratio of the primary metric, oriented so that a positive
value means the candidate is better. `compare` is a pure function of the rounds measured so far,
so any verdict in the ledger can be recomputed from its raw samples.

Method (the measurements behind it are in bench/README.md):

* Screening: a group-sequential test with a look after every round from `min_rounds` to
  `max_rounds - confirm_rounds`. Each look computes Yuen's one-sample trimmed-mean t statistic
  (20% trimming: round-to-round noise on a shared machine has heavy tails, which ruin a plain
  t-test's power) and compares its nominal p-value with one constant level chosen so that the
  chance of ever crossing over all looks is `alpha` (Pocock's boundary, computed numerically for
  a Gaussian random walk). Repeated looks therefore do not inflate the error.
* Two gates to keep: the screening crossed the boundary AND the trimmed-mean gain is at least
  `min_effect`.
* Confirmation: a screened keep then runs `confirm_rounds` fresh rounds. The keep stands unless
  those rounds say the candidate is worse by `min_effect` or more, and the gain reported (`ratio`, `ci`, `improvement`) comes
  from the confirmation rounds only, so it carries no winner's curse (the screening estimate,
  biased upward by early stopping, is kept in `screen_ratio` for transparency).
* Early "no": `worse` when the screening crosses the mirror boundary; `not_better` when the
  one-sided upper bound (level `futility`) lies below the useful effect (2 x `min_effect`): a
  non-binding futility stop, which costs a little power for gains near `min_effect` and never
  raises the false-keep rate.
* Deterministic metrics (all log-ratios identical) are decided exactly, in one round.

>>> policy = Policy(alpha=0.01, min_effect=0.05, min_rounds=5, max_rounds=20)
>>> compare([100.0] * 5, [50.0] * 5, "lower", policy).outcome
'better'
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, Sequence

Outcome = Literal["continue", "better", "not_better", "worse"]
Direction = Literal["lower", "higher"]


@dataclass(frozen=True)
class Policy:
    """How sure the harness must be, and how hard it may look.

    `alpha` bounds the chance that a change with no real gain is kept (over all looks);
    `min_effect` is the smallest relative gain worth keeping (0.05 = 5%); `max_rounds` includes
    the `confirm_rounds` a keep spends on an unbiased estimate of its gain; `trim` is the
    fraction trimmed from each tail by the test; `futility` is the one-sided level of the early
    "not better" stop (0 disables it).

    >>> Policy().max_rounds
    24
    """

    alpha: float = 0.01
    min_effect: float = 0.05
    min_rounds: int = 4
    max_rounds: int = 24
    confirm_rounds: int = 3
    trim: float = 0.2
    futility: float = 0.1


@dataclass(frozen=True)
class Comparison:
    """Where a comparison stands after the rounds so far.

    For a keep, `ratio`, `ci` and `improvement` come from the confirmation rounds only;
    `screen_ratio` is the (optimistic) estimate from the rounds that decided.
    """

    outcome: Outcome
    rounds: int
    ratio: float  # candidate / incumbent of the metric, a geometric-mean estimate
    ci: tuple[float, float]  # 95% interval of `ratio`
    improvement: float  # direction-adjusted relative gain: +0.2 = 20% better
    p_value: float  # one-sided, against "no improvement"; valid across all looks
    reason: str
    decided_at: int = 0  # the look (rounds) at which the screening decided; 0 = not yet
    screen_ratio: float = 1.0  # estimate from the screening rounds (biased when it kept)


def improvement_log_ratios(
    incumbent: Sequence[float], candidate: Sequence[float], direction: Direction
) -> list[float]:
    """Per-round log-ratios, positive when the candidate is better.

    >>> [round(x, 3) for x in improvement_log_ratios([2.0], [1.0], "lower")]
    [0.693]
    """
    if len(incumbent) != len(candidate):
        raise ValueError("incumbent and candidate need the same number of rounds")
    sign = 1.0 if direction == "lower" else -1.0
    return [sign * (math.log(a) - math.log(b)) for a, b in zip(incumbent, candidate)]


def improvement_of(ratio: float, direction: Direction) -> float:
    """Relative gain of a candidate/incumbent ratio: 0.8 for `lower` is +20%.

    >>> round(improvement_of(0.8, "lower"), 3)
    0.2
    """
    return 1.0 - ratio if direction == "lower" else ratio - 1.0


def gain_threshold(min_effect: float, direction: Direction) -> float:
    """The improvement log-ratio that corresponds to a relative gain of `min_effect`.

    >>> round(gain_threshold(0.2, "lower"), 3)
    0.223
    """
    if direction == "lower":
        return -math.log(1.0 - min_effect)
    return math.log(1.0 + min_effect)


# --- the trimmed-mean t statistic -------------------------------------------------------


@dataclass(frozen=True)
class _Trimmed:
    est: float  # trimmed mean of the log-ratios
    se: float  # Yuen's standard error
    df: int


def _trimmed(d: Sequence[float], trim: float) -> _Trimmed:
    n = len(d)
    xs = sorted(d)
    g = int(math.floor(trim * n))
    h = n - 2 * g
    if h < 2:  # too few rounds left after trimming to see any spread
        g, h = 0, n
    core = xs[g : n - g]
    est = sum(core) / h
    if n < 2:
        return _Trimmed(est, math.inf, 1)
    wins = [xs[g]] * g + core + [xs[n - g - 1]] * g
    mean_w = sum(wins) / n
    var_w = sum((x - mean_w) ** 2 for x in wins) / (n - 1)
    se = math.sqrt(max(var_w, 0.0) * (n - 1) / (h * (h - 1)))
    return _Trimmed(est, se, h - 1)


def _p_greater(t: _Trimmed, shift: float = 0.0) -> float:
    """One-sided nominal p-value of 'true gain > shift'."""
    from scipy import special  # lazy: keep `import autoresearch.stats` cheap

    diff = t.est - shift
    if t.se == 0.0 or not math.isfinite(t.se):
        if t.se == 0.0:
            return 0.0 if diff > 0 else (1.0 if diff < 0 else 0.5)
        return 1.0 if diff <= 0 else 0.5
    return float(special.stdtr(t.df, -diff / t.se))


def _t_quantile(df: int, q: float) -> float:
    from scipy import special

    return float(special.stdtrit(df, q))


def _interval(t: _Trimmed, level: float = 0.95) -> tuple[float, float]:
    if not math.isfinite(t.se):
        return (-math.inf, math.inf)
    half = _t_quantile(t.df, 0.5 + level / 2) * t.se
    return (t.est - half, t.est + half)


# --- the group-sequential boundary -------------------------------------------------------


def _crossing(zs: Sequence[float], first: int, last: int, dx: float = 0.04) -> list[float]:
    """P(a Gaussian random walk ever has S_n / sqrt(n) >= z at some n in first..last), per z.

    Computed by propagating the walk's density on a grid, deterministically, so a verdict
    recomputed from the ledger later gives the same answer.
    """
    import numpy as np
    from scipy.signal import fftconvolve
    from scipy.special import ndtr

    z = np.asarray(zs, dtype=float)
    single = ndtr(-z)
    if last <= first:
        return single.tolist()
    top = 7.5 * math.sqrt(last) + 1.0  # one grid for every z keeps the result monotone in z
    bottom = -8.0 * math.sqrt(last) - 1.0
    x = np.arange(bottom, top + dx, dx)
    k = np.arange(-8.0, 8.0 + dx / 2, dx)
    kernel = np.exp(-0.5 * k**2) / math.sqrt(2 * math.pi) * dx
    dens = np.exp(-0.5 * x**2 / first) / math.sqrt(2 * math.pi * first)
    dens = np.tile(dens, (len(z), 1))
    crossed = np.zeros(len(z))
    for n in range(first, last + 1):
        if n > first:
            dens = fftconvolve(dens, kernel[None, :], mode="same", axes=1)
            np.maximum(dens, 0.0, out=dens)
        above = x[None, :] >= z[:, None] * math.sqrt(n)
        crossed += np.where(above, dens, 0.0).sum(axis=1) * dx
        dens[above] = 0.0
    # the grid is exact enough in the middle; in the far tail the Bonferroni sum is tight
    bonf = np.minimum((last - first + 1) * single, 1.0)
    return np.clip(crossed, single, bonf).tolist()


@functools.lru_cache(maxsize=64)
def _crossing_table(first: int, last: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    zs = [round(0.05 * i, 4) for i in range(141)]
    return tuple(zs), tuple(math.log(max(p, 1e-300)) for p in _crossing(zs, first, last))


def _overall_p(z: float, first: int, last: int) -> float:
    """Chance under no effect that some look crosses a constant boundary at nominal z."""
    from scipy.special import ndtr

    zs, logp = _crossing_table(first, last)
    if z <= zs[0]:
        return 1.0
    if z >= zs[-1]:
        return min(1.0, (last - first + 1) * float(ndtr(-z)))
    i = min(int((z - zs[0]) / (zs[1] - zs[0])), len(zs) - 2)
    w = (z - zs[i]) / (zs[i + 1] - zs[i])
    return min(1.0, math.exp(logp[i] * (1 - w) + logp[i + 1] * w))


@functools.lru_cache(maxsize=256)
def nominal_level(alpha: float, first: int, last: int) -> float:
    """Per-look nominal one-sided level that spends `alpha` over looks `first..last`.

    >>> round(nominal_level(0.01, 4, 17), 4)
    0.0021
    """
    from scipy.special import ndtr

    lo, hi = 0.0, 7.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if _crossing([mid], first, last)[0] > alpha:
            lo = mid
        else:
            hi = mid
    return float(ndtr(-hi))


def _repeated_p(nominal: float, first: int, last: int) -> float:
    """The overall alpha at which this look's nominal p-value would just cross: valid anytime."""
    from scipy.special import ndtri

    if nominal >= 0.5:
        return 1.0
    if nominal <= 0.0:
        return 0.0
    return _overall_p(float(-ndtri(nominal)), first, last)


@dataclass(frozen=True)
class _Design:
    first: int
    last: int
    confirm: int
    level: float  # nominal per-look level


def _design(policy: Policy) -> _Design:
    first = max(policy.min_rounds, 2)
    confirm = max(0, min(policy.confirm_rounds, policy.max_rounds - first))
    last = max(first, policy.max_rounds - confirm)
    return _Design(first, last, confirm, nominal_level(policy.alpha, first, last))


# --- the decision ------------------------------------------------------------------------


def compare(
    incumbent: Sequence[float],
    candidate: Sequence[float],
    direction: Direction,
    policy: Policy,
) -> Comparison:
    """Judge the rounds so far: `continue` to measure more, or a final outcome.

    >>> p = Policy(min_rounds=1, max_rounds=1)
    >>> compare([1000.0], [980.0], "lower", p).outcome  # deterministic: one round decides
    'not_better'
    >>> compare([1000.0], [900.0], "lower", p).outcome
    'better'
    """
    d = improvement_log_ratios(incumbent, candidate, direction)
    n = len(d)
    threshold = gain_threshold(policy.min_effect, direction)
    if n == 0:
        return Comparison("continue", 0, 1.0, (0.0, math.inf), 0.0, 1.0, "no rounds yet")
    if (n >= 2 and _constant(d)) or (n == 1 and policy.max_rounds <= 1):
        return _deterministic(d, direction, threshold)
    design = _design(policy)
    useful = gain_threshold(min(2 * policy.min_effect, 0.99), direction)
    for k in range(design.first, min(n, design.last) + 1):
        verdict = _look(d[:k], k, design, policy, threshold, useful, direction)
        if verdict is None:
            continue
        if verdict.outcome != "better":
            return verdict
        return _confirm(d, k, verdict, design, policy, direction)
    t = _trimmed(d, policy.trim)
    p = _p_greater(t)
    if n >= policy.max_rounds:
        # reached only when max_rounds is below the first look: decide on what there is
        reason = "estimated gain below min_effect" if t.est < threshold else "too few rounds"
        return _result("not_better", d, t, _interval(t), p, direction, reason, n)
    return _result("continue", d, t, _interval(t), p, direction, "measuring", 0)


def _look(
    d: Sequence[float],
    k: int,
    design: _Design,
    policy: Policy,
    threshold: float,
    useful: float,
    direction: Direction,
) -> Comparison | None:
    t = _trimmed(d, policy.trim)
    p_better = _p_greater(t)
    p_worse = 1.0 - p_better if t.se > 0 else (1.0 if t.est >= 0 else 0.0)
    ci = _interval(t)
    p_rep = _repeated_p(p_better, design.first, design.last)
    if p_better <= design.level and t.est >= threshold:
        return _result("better", d, t, ci, p_rep, direction, "significantly better", k)
    if p_worse <= design.level:
        return _result("worse", d, t, ci, p_rep, direction, "significantly worse", k)
    if policy.futility > 0 and math.isfinite(t.se):
        upper = t.est + _t_quantile(t.df, 1.0 - policy.futility) * t.se
        if upper < useful:
            # Stopped for futility; when even the 97.5% upper bound is a loss, say so plainly.
            clearly_worse = t.est + _t_quantile(t.df, 0.975) * t.se < 0
            reason = ("worse" if clearly_worse else
                      f"a useful gain ({2 * policy.min_effect:.0%}, twice min_effect) is unlikely")
            return _result("not_better", d, t, ci, p_rep, direction, reason, k)
    if k >= design.last:
        reason = "no significant gain within max_rounds"
        if p_better <= design.level:
            reason = "significant, but gain below min_effect"
        elif t.est < threshold:
            reason = "estimated gain below min_effect"
        return _result("not_better", d, t, ci, p_rep, direction, reason, k)
    return None


def _confirm(
    d: Sequence[float],
    k: int,
    screened: Comparison,
    design: _Design,
    policy: Policy,
    direction: Direction,
) -> Comparison:
    if design.confirm == 0:
        return screened  # nothing left to confirm with; the estimate is the screening one
    fresh = d[k : k + design.confirm]
    if len(fresh) < design.confirm:
        return Comparison(
            "continue", len(d), screened.ratio, screened.ci, screened.improvement,
            screened.p_value, "confirming", k, screened.ratio,
        )
    t = _trimmed(fresh, 0.0)  # too few rounds to trim; the mean is the unbiased estimate
    ci = _interval(t)
    # Only a clear contradiction vetoes: 2-3 heavy-tailed rounds are too few for a second test,
    # and a stricter gate cost ~15 points of power at a 20% gain for little protection.
    if t.est < -gain_threshold(policy.min_effect, "lower"):
        outcome: Outcome = "not_better"
        reason = "screening said better, the confirmation rounds said worse"
    else:
        outcome, reason = "better", "significantly better, confirmed on fresh rounds"
    out = _result(outcome, fresh, t, ci, screened.p_value, direction, reason, k)
    return Comparison(
        out.outcome, k + design.confirm, out.ratio, out.ci, out.improvement, out.p_value,
        out.reason, k, screened.ratio,
    )


def _constant(d: Sequence[float]) -> bool:
    return len(d) >= 1 and max(d) - min(d) <= 1e-12 * max(1.0, abs(d[0]))


# Instruction counts of an interpreter repeat to ~0.03%, not always exactly: a change smaller
# than this is reported as no difference rather than as worse.
DETERMINISTIC_TOLERANCE = 1e-3


def _deterministic(d: Sequence[float], direction: Direction, threshold: float) -> Comparison:
    est = d[0]
    t = _Trimmed(est, 0.0, max(len(d) - 1, 1))
    if est >= threshold and est > 0:
        outcome: Outcome = "better"
        reason, p = "deterministic metric: better", 0.0
    elif est < -DETERMINISTIC_TOLERANCE:
        outcome, reason, p = "worse", "deterministic metric: worse", 1.0
    else:
        outcome = "not_better"
        reason = ("no difference" if abs(est) <= DETERMINISTIC_TOLERANCE
                  else "improvement below min_effect")
        p = 1.0
    return _result(outcome, d, t, (est, est), p, direction, reason, len(d))


def _ratio_of(x: float, direction: Direction) -> float:
    sign = -1.0 if direction == "lower" else 1.0
    if not math.isfinite(x):
        return math.inf if sign * x > 0 else 0.0
    return math.exp(max(min(sign * x, 700.0), -700.0))


def _result(
    outcome: Outcome,
    d: Sequence[float],
    t: _Trimmed,
    interval: tuple[float, float],
    p: float,
    direction: Direction,
    reason: str,
    decided_at: int,
) -> Comparison:
    ratio = _ratio_of(t.est, direction)
    bounds = sorted(_ratio_of(x, direction) for x in interval)
    return Comparison(
        outcome=outcome,
        rounds=len(d),
        ratio=ratio,
        ci=(bounds[0], bounds[1]),
        improvement=improvement_of(ratio, direction),
        p_value=p,
        reason=reason,
        decided_at=decided_at,
        screen_ratio=ratio,
    )


# --- guards ------------------------------------------------------------------------------


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

    The same trimmed-mean t statistic as `compare`, one look on all rounds, shifted by the
    tolerance: a guard is violated only if the loss exceeds `tolerance` at level `alpha`.
    Deterministic metrics (identical log-ratios) are judged exactly.

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
    allowed = -gain_threshold(tolerance, "higher" if direction == "lower" else "lower")
    allowed = -abs(allowed)
    t = _trimmed(d, Policy.trim if len(d) >= 5 else 0.0)
    ratio = _ratio_of(t.est, direction)
    worsening = -improvement_of(ratio, direction)
    if _constant(d):
        bad = d[0] < allowed - 1e-12
        return GuardCheck(bad, ratio, worsening, 0.0 if bad else 1.0)
    if t.est >= allowed:
        return GuardCheck(False, ratio, worsening, 1.0 - _p_greater(t, allowed))
    p = 1.0 - _p_greater(t, allowed)  # p-value of "loss within tolerance"
    return GuardCheck(p <= alpha, ratio, worsening, p)


def _guard_on_medians(incumbent: Sequence[float], candidate: Sequence[float],
                      direction: Direction, tolerance: float) -> GuardCheck:
    """A guarded metric that reaches 0 (an error count) has no log-ratio: compare medians.

    >>> _guard_on_medians([0.0, 0.0], [1.0, 1.0], "lower", 0.05).violated
    True
    >>> _guard_on_medians([0.0], [0.0], "lower", 0.0).violated
    False
    """
    before, after = _median(incumbent), _median(candidate)
    loss = (after - before) if direction == "lower" else (before - after)
    if before:
        worsening = loss / abs(before)
    else:
        worsening = math.inf if loss > 0 else 0.0
    ratio = after / before if before else (1.0 if after == before else math.inf)
    bad = worsening > tolerance + 1e-12
    return GuardCheck(bad, ratio, worsening, 0.0 if bad else 1.0)


# --- calibration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NoisePlan:
    """What A/A rounds say about the noise, and the settings they suggest."""

    noise: float  # robust spread (sd-equivalent) of A/A log-ratios; 0 for deterministic metrics
    rounds: int  # A/A rounds it was computed from
    detectable_effect: float  # gain found with probability `power` within `max_rounds`
    min_effect: float  # recommended
    max_rounds: int  # recommended
    alpha: float
    power: float


def robust_spread(values: Sequence[float]) -> float:
    """Sd-equivalent spread that outliers cannot blow up: 1.4826 x median absolute deviation.

    >>> robust_spread([0.0, 0.0, 0.0])
    0.0
    """
    if not values:
        return 0.0
    s = sorted(values)
    med = _median(s)
    return 1.4826 * _median(sorted(abs(x - med) for x in s))


def _trimmed_sd(values: Sequence[float], trim: float) -> float:
    """Sd-equivalent of the trimmed-mean t statistic's noise: se x sqrt(n)."""
    t = _trimmed(values, trim)
    return t.se * math.sqrt(len(values)) if math.isfinite(t.se) else 0.0


def detectable_effect(
    noise: float, alpha: float, power: float, policy: Policy | None = None, rounds: int | None = None
) -> float:
    """Relative gain the screening detects with probability `power` by its last look.

    A normal approximation of the design in `compare` (checked against simulation in
    bench/decisions.py); `noise` is the sd-equivalent of the trimmed-mean statistic.

    >>> round(detectable_effect(0.0, 0.01, 0.8), 3)
    0.0
    """
    from scipy.special import ndtri

    base = policy or Policy(alpha=alpha)
    if rounds is not None:
        base = Policy(**{**base.__dict__, "max_rounds": rounds, "alpha": alpha})
    else:
        base = Policy(**{**base.__dict__, "alpha": alpha})
    if noise <= 0:
        return 0.0
    design = _design(base)
    n = design.last
    g = int(math.floor(base.trim * n))
    df = max(n - 2 * g - 1, 1)
    crit = _t_quantile(df, 1.0 - design.level)
    # a gain near the boundary may also be stopped early for futility or fail confirmation;
    # both cost little power at the detectable size, so they are left out of this estimate
    log_gain = (crit + float(ndtri(power))) * noise / math.sqrt(n)
    return 1.0 - math.exp(-log_gain)


def plan_from_aa(
    aa_log_ratios: Sequence[float],
    alpha: float = 0.01,
    power: float = 0.8,
    max_rounds: int = 24,
    target_effect: float | None = None,
    policy: Policy | None = None,
) -> NoisePlan:
    """Noise floor and recommended settings from A/A rounds (both arms the same code).

    `min_effect` is set to half the detectable effect (the screening then has `power` for
    gains of 2 x `min_effect`, the "useful effect" its futility stop aims at). With
    `target_effect`, `max_rounds` is the fewest rounds (up to 50) that detect it instead.

    >>> plan = plan_from_aa([0.0] * 5, alpha=0.01)
    >>> plan.noise, plan.max_rounds
    (0.0, 1)
    >>> plan_from_aa([0.1, -0.1, 0.05, -0.05, 0.2, -0.2, 0.0, 0.02], 0.01).noise > 0
    True
    """
    values = [float(x) for x in aa_log_ratios]
    base = policy or Policy()
    if not values or max(values) - min(values) <= 1e-12:
        return NoisePlan(0.0, len(values), 0.0, 0.005, 1, alpha, power)
    # the statistic's own spread estimate; MAD alone understates heavy-tailed noise
    noise = max(_trimmed_sd(values, base.trim), robust_spread(values))
    if target_effect is not None:
        rounds = max_rounds
        for n in range(base.min_rounds + base.confirm_rounds + 1, 51):
            if detectable_effect(noise, alpha, power, base, n) <= target_effect:
                rounds = n
                break
        else:
            rounds = 50
        eff = detectable_effect(noise, alpha, power, base, rounds)
        min_effect = max(target_effect / 2, 0.005)
    else:
        rounds = max_rounds
        eff = detectable_effect(noise, alpha, power, base, rounds)
        min_effect = max(math.ceil(eff / 2 * 200) / 200, 0.005)
    return NoisePlan(noise, len(values), eff, min(min_effect, 0.5), rounds, alpha, power)


# --- the record of past keeps --------------------------------------------------------------


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
    A keep is marginal when its anytime-valid p-value used more than a tenth of `alpha`, or
    when its confirmed gain is below `min_effect`.

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


def median(values: Sequence[float]) -> float:
    """The middle value (mean of the two middle ones for an even count).

    >>> median([3.0, 1.0, 2.0, 10.0])
    2.5
    """
    return _median(values)


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


# --- single mode: one expensive run against the incumbent's recorded runs -----------------


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
    cancelled: that is the price of a single run.

    >>> judge_single([100.0, 102.0, 98.0], 70.0, "lower", 0.05, 0.01, 0.05).outcome
    'better'
    >>> judge_single([100.0, 102.0, 98.0], 97.0, "lower", 0.05, 0.01, 0.05).outcome
    'not_better'
    """
    from scipy.special import ndtr, ndtri

    if not reference:
        raise ValueError("single mode needs recorded runs of the incumbent")
    logs = [math.log(x) for x in reference]
    center = sum(logs) / len(logs)
    sign = 1.0 if direction == "lower" else -1.0
    d = sign * (center - math.log(candidate))
    sd = noise / math.sqrt(2.0) * math.sqrt(1.0 + 1.0 / len(logs))
    threshold = gain_threshold(min_effect, direction)
    ratio = _ratio_of(d, direction)
    if sd <= 0:
        p = 0.0 if d > 0 else 1.0
        bounds = (ratio, ratio)
    else:
        p = float(1.0 - ndtr(d / sd))
        half = float(ndtri(0.975)) * sd
        bounds = tuple(sorted((_ratio_of(d - half, direction), _ratio_of(d + half, direction))))
    z = float(ndtri(1.0 - alpha)) * sd
    if d > z and d >= threshold:
        outcome, reason = "better", "better than the recorded runs beyond the noise floor"
    elif d < -z:
        outcome, reason = "worse", "worse"
    elif d > z:
        outcome, reason = "not_better", "estimated gain below min_effect"
    else:
        outcome, reason = "not_better", "within the calibrated noise floor"
    return Comparison(outcome, 1, ratio, bounds, improvement_of(ratio, direction), p, reason,
                      decided_at=1, screen_ratio=ratio)
