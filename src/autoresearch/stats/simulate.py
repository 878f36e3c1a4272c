"""`compare`, vectorized over many simulated comparisons at once (numpy), for error-rate checks.

`decide_batch` applies exactly the rules of `sequential.compare` to every row of a trials x rounds
array of log-ratios, fed round by round; tests check that the two agree on every row. Planning,
the CI error-rate test and bench/decisions.py use it: a pure-Python decision per look is cheap,
but tens of thousands of simulated comparisons are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autoresearch.stats import signflip
from autoresearch.stats.robust import gain_threshold, t_quantile
from autoresearch.stats.sequential import Policy

if TYPE_CHECKING:
    import numpy as np

CONTINUE, BETTER, NOT_BETTER, WORSE = 0, 1, 2, 3
OUTCOMES = ("continue", "better", "not_better", "worse")


@dataclass(frozen=True)
class Batch:
    outcome: np.ndarray  # codes above, per trial
    rounds: np.ndarray  # rounds used, per trial


def trimmed_batch(d: np.ndarray, trim: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Trimmed mean and Yuen's standard error of each row, as `robust.trimmed`."""
    import numpy as np

    n = d.shape[1]
    xs = np.sort(d, axis=1)
    g = math.floor(trim * n)
    h = n - 2 * g
    if h < 2:
        g, h = 0, n
    est = xs[:, g : n - g].mean(axis=1)
    if n < 2:
        return est, np.full(len(d), np.inf), 1
    wins = np.clip(xs, xs[:, [g]], xs[:, [n - g - 1]])
    var_w = wins.var(axis=1, ddof=1)
    se = np.sqrt(np.maximum(var_w, 0.0) * (n - 1) / (h * (h - 1)))
    return est, se, h - 1


def decide_batch(d: np.ndarray, policy: Policy) -> Batch:
    """The verdict `compare` reaches on each row of `d` (improvement log-ratios), round by round."""
    import numpy as np

    if policy.deterministic:
        raise ValueError("deterministic measures need no simulation: one round decides")
    trials, n = d.shape
    path = signflip.run_batch(d, policy.alpha, policy.first_look, policy.spend_rounds, policy.noise)
    threshold = gain_threshold(policy.min_effect, "lower")
    useful = gain_threshold(min(2 * policy.min_effect, 0.99), "lower")
    last_start = max(policy.first_look, policy.max_rounds - policy.confirm_rounds)
    outcome = np.zeros(trials, dtype=np.int64)
    rounds = np.full(trials, n, dtype=np.int64)
    pending = np.zeros(trials, dtype=np.int64)
    for k in range(policy.first_look, n + 1):
        open_ = outcome == CONTINUE
        if not open_.any():
            break
        s = path.sums[:, k - 1]
        c = path.bounds[:, k - 1]
        est, se, df = trimmed_batch(d[:, :k], policy.trim)
        up = s >= c

        def settle(mask: np.ndarray, code: int, k: int = k) -> None:
            outcome[mask] = code
            rounds[mask] = k

        waiting = open_ & (pending > 0)
        due = waiting & (k >= pending + policy.confirm_rounds)
        settle(due & up, BETTER)
        settle(due & ~up, NOT_BETTER)
        free = open_ & (pending == 0)
        start = free & up & (k <= last_start) & (est >= threshold)
        if policy.confirm_rounds == 0:
            settle(start, BETTER)
        else:
            pending[start] = k
        free &= ~start
        worse = free & (-s >= c)
        settle(worse, WORSE)
        free &= ~worse
        if policy.futility > 0:
            q = t_quantile(df, 1.0 - policy.futility)
            finite = np.isfinite(se)
            with np.errstate(invalid="ignore"):
                futile = free & finite & (est + q * np.where(finite, se, 0.0) < useful)
                # identical rounds of at least min_effect measure on to the boundary, as in compare
                futile &= ~((se == 0) & (est >= threshold))
            settle(futile, NOT_BETTER)
            free &= ~futile
        if k >= policy.max_rounds:
            settle(free, NOT_BETTER)
    rounds = np.where(outcome == CONTINUE, n, rounds)
    return Batch(outcome, rounds)


# --- noise of the kinds a shared machine makes, with the arms in random order ---------------

NOISE_KINDS = ("gaussian", "heavy", "quantized", "drift", "bursts")


def null_rounds(kind: str, trials: int, rounds: int, rng: np.random.Generator,
                effect: float = 0.0) -> np.ndarray:
    """Improvement log-ratios of `trials` x `rounds` simulated rounds (positive = candidate better):
    log(incumbent) - log(candidate) of `simulated_arms`."""
    inc, cand = simulated_arms(kind, trials, rounds, rng, effect)
    diff: np.ndarray = inc - cand
    return diff


def simulated_arms(kind: str, trials: int, rounds: int, rng: np.random.Generator,
                   effect: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Log run times of incumbent and candidate, `trials` x `rounds` each.

    Each round runs two processes back to back; which one is the candidate is a fair coin, as
    in the harness. The candidate's true time is the incumbent's times (1 - effect).

    * gaussian: log-normal run times, sd 0.15 per run
    * heavy: Student t with 2 degrees of freedom (infinite variance), scale 0.1
    * quantized: ~10 ms printed in whole milliseconds, 6% jitter: ties and zero log-ratios
    * drift: a machine load that wanders (random walk) and swings within the round, and a run
      order effect (the second run of a round is 8% slower)
    * bursts: 10% of runs hit by a burst of load that makes them 1.5-4x slower
    """
    import numpy as np

    shape = (trials, rounds)
    if kind == "gaussian":
        first, second = rng.normal(0, 0.15, shape), rng.normal(0, 0.15, shape)
    elif kind == "heavy":
        first, second = 0.1 * rng.standard_t(2, shape), 0.1 * rng.standard_t(2, shape)
    elif kind == "quantized":
        first, second = rng.normal(0, 0.06, shape), rng.normal(0, 0.06, shape)
    elif kind == "drift":
        load = np.cumsum(rng.normal(0, 0.1, shape), axis=1)
        swing = rng.normal(0, 0.2, shape)
        first = load + rng.normal(0, 0.05, shape)
        second = load + swing + np.log(1.08) + rng.normal(0, 0.05, shape)
    elif kind == "bursts":
        def run_times() -> np.ndarray:
            hit = rng.random(shape) < 0.1
            return rng.normal(0, 0.05, shape) + np.where(hit, np.log(rng.uniform(1.5, 4.0, shape)), 0.0)
        first, second = run_times(), run_times()
    else:
        raise ValueError(f"unknown noise kind {kind!r}; one of {', '.join(NOISE_KINDS)}")
    candidate_first = rng.random(shape) < 0.5
    inc = np.where(candidate_first, second, first)
    cand = np.where(candidate_first, first, second) + np.log(1.0 - effect)
    if kind == "quantized":  # whole milliseconds of a ~10 ms metric
        inc = np.log(np.maximum(np.round(10.0 * np.exp(inc)), 1.0))
        cand = np.log(np.maximum(np.round(10.0 * np.exp(cand)), 1.0))
    return inc, cand
