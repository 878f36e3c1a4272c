"""Robust summaries of per-round log-ratios, and the few distribution functions the decision needs.

Everything here is pure Python (the standard library's `NormalDist` for normal quantiles), so a
decision never imports numpy or scipy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal, Union

if TYPE_CHECKING:  # model imports pydantic; the statistics need only the two values
    from autoresearch import model

# which way is better: the model's enum, or its plain value
Direction = Union[Literal["lower", "higher"], "model.Direction"]
_NORMAL = NormalDist()


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
    return [sign * (math.log(a) - math.log(b)) for a, b in zip(incumbent, candidate, strict=False)]


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


def ratio_of(log_gain: float, direction: Direction) -> float:
    """The candidate/incumbent ratio of an improvement log-ratio (inverse of the log-ratio).

    >>> round(ratio_of(math.log(2.0), "lower"), 3)
    0.5
    """
    sign = -1.0 if direction == "lower" else 1.0
    if not math.isfinite(log_gain):
        return math.inf if sign * log_gain > 0 else 0.0
    return math.exp(max(min(sign * log_gain, 700.0), -700.0))


def median(values: Sequence[float]) -> float:
    """The median (mean of the middle two for an even count).

    >>> median([3.0, 1.0, 2.0, 10.0])
    2.5
    """
    s = sorted(values)
    if not s:
        raise ValueError("median of no values")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def robust_spread(values: Sequence[float]) -> float:
    """Sd-equivalent spread that outliers cannot blow up: 1.4826 x median absolute deviation.

    >>> robust_spread([0.0, 0.0, 0.0])
    0.0
    """
    if not values:
        return 0.0
    med = median(values)
    return 1.4826 * median([abs(x - med) for x in values])


@dataclass(frozen=True)
class Trimmed:
    """A trimmed mean with Yuen's standard error (winsorized variance)."""

    est: float
    se: float
    df: int


def trimmed(d: Sequence[float], trim: float) -> Trimmed:
    """Trimmed mean of `d` (fraction `trim` cut from each tail) and Yuen's standard error.

    >>> t = trimmed([1.0, 2.0, 3.0, 4.0, 100.0], 0.2)
    >>> t.est, t.df
    (3.0, 2)
    """
    n = len(d)
    xs = sorted(d)
    g = math.floor(trim * n)
    h = n - 2 * g
    if h < 2:  # too few rounds left after trimming to see any spread
        g, h = 0, n
    core = xs[g : n - g]
    est = sum(core) / h
    if n < 2:
        return Trimmed(est, math.inf, 1)
    wins = [xs[g]] * g + core + [xs[n - g - 1]] * g
    mean_w = sum(wins) / n
    var_w = sum((x - mean_w) ** 2 for x in wins) / (n - 1)
    se = math.sqrt(max(var_w, 0.0) * (n - 1) / (h * (h - 1)))
    return Trimmed(est, se, h - 1)


def normal_cdf(x: float) -> float:
    return _NORMAL.cdf(x)


def normal_quantile(p: float) -> float:
    """Standard normal quantile; +-inf at the ends."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return _NORMAL.inv_cdf(p)


def t_cdf(t: float, df: int) -> float:
    """Student t distribution function for an integer `df`, exact (Abramowitz & Stegun 26.7.3-4).

    >>> round(t_cdf(2.228, 10), 4), round(t_cdf(-1.0, 1), 4)
    (0.975, 0.25)
    """
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    df = max(int(df), 1)
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    s = math.sin(theta)
    if df % 2:  # odd
        term, acc = 1.0, 0.0
        if df > 1:
            acc = term = math.cos(theta)
            for j in range(3, df - 1, 2):
                term *= c2 * (j - 1) / j
                acc += term
        a = 2.0 / math.pi * (theta + s * acc)
    else:
        term = acc = 1.0
        for j in range(2, df - 1, 2):
            term *= c2 * (j - 1) / j
            acc += term
        a = s * acc
    a = min(max(a, 0.0), 1.0)
    return 0.5 + 0.5 * a if t >= 0 else 0.5 - 0.5 * a


@functools.lru_cache(maxsize=512)
def t_quantile(df: int, p: float) -> float:
    """Student t quantile for an integer `df` (bisection on `t_cdf`).

    >>> round(t_quantile(10, 0.975), 3), round(t_quantile(2, 0.9), 3)
    (2.228, 1.886)
    """
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    if p < 0.5:
        return -t_quantile(df, 1.0 - p)
    lo, hi = 0.0, max(1.0, normal_quantile(p))
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
