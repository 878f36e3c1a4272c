"""The exact sequential sign-flip test: valid whatever the machine's load does.

Why it is exact. The harness runs the two arms of every round in random order. When the
candidate is no better (the same code, or any change with no effect), which of a round's two
runs carries the candidate's label is a fair coin independent of everything the machine does, so
the sign of each round's log-ratio is a fair coin given the magnitudes of all rounds, however
they drift, burst or tie. The test works conditionally on those magnitudes:

* each round gets an integer score `a_i` from its magnitude alone (`scores`: |d_i| in quarters
  of a noise scale, clipped at 1.5 scales — a Huber-like weight that keeps heavy tails from
  dominating; ties and zero log-ratios score 0 and count for nothing);
* the statistic is the signed score sum `S_k = sum(sign(d_i) * a_i)`;
* at every look `k >= first` the boundary `c_k` is the smallest integer whose probability of a
  first crossing, given the scores so far and the earlier boundaries, fits the alpha left to
  spend at look k (a Pocock-type spending function, unspent alpha carried forward). That
  probability is computed exactly by a dynamic program over the sign patterns.

So P(ever crossing | all magnitudes) <= alpha for every sequence of magnitudes, hence also
unconditionally: the false-keep rate is at most alpha for any noise, any number of looks, and
any stopping for other reasons (futility, worse, a gain below min_effect only remove keeps).

`run` is the single-trial version used by every decision (pure Python, ~1 ms per look);
`run_batch` is the same arithmetic vectorized over trials with numpy, for simulations, and is
tested to agree with `run` exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported only by the batch version
    import numpy as np

QUANTA = 4  # score units per noise scale
CLIP = 6  # the largest score: 1.5 noise scales
MAD_TO_SD = 1.4826
_EPS = 1e-12  # slack for float sums when comparing a tail with the alpha left


def spent(alpha: float, look: int, first: int, horizon: int) -> float:
    """Alpha spent by look `look` (cumulative): Pocock-type, all of it by `horizon`.

    >>> round(spent(0.01, 4, 4, 24), 5), spent(0.01, 24, 4, 24)
    (0.00079, 0.01)
    """
    if look < first:
        return 0.0
    t = min(1.0, (look - first + 1) / max(horizon - first + 1, 1))
    return alpha * math.log(1.0 + (math.e - 1.0) * t)


def scores(d: Sequence[float], noise: float | None = None) -> list[int]:
    """Integer score of each round from its magnitude (and earlier magnitudes) only.

    The scale is the calibrated `noise` when known, else a running robust scale of the
    magnitudes so far (1.4826 x their median). Each score is fixed when its round arrives.

    >>> scores([0.1, -0.1, 0.0, 0.5], noise=0.1)
    [4, 4, 0, 6]
    """
    out: list[int] = []
    mags: list[float] = []
    for x in d:
        m = abs(x)
        if noise is not None and noise > 0:
            scale = noise
        else:
            mags.append(m)
            mags.sort()
            mid = len(mags) // 2
            med = mags[mid] if len(mags) % 2 else (mags[mid - 1] + mags[mid]) / 2
            scale = MAD_TO_SD * med
        if m == 0.0:
            out.append(0)
        elif scale <= 0.0:
            out.append(CLIP)
        else:
            out.append(min(CLIP, math.floor(QUANTA * m / scale + 0.5)))
    return out


@dataclass(frozen=True)
class Path:
    """The test's state after the rounds so far."""

    sums: tuple[int, ...]  # S_k after each round
    bounds: tuple[int | None, ...]  # c_k at each look (None before the first look)
    allowed: tuple[float | None, ...]  # the stage-wise p-value a crossing at each look needs
    spent: float  # exact probability of a first crossing by the last round
    first_cross: int  # first look (rounds) with S_k >= c_k; 0 = never
    p_value: float  # stage-wise exact p-value of "no gain" at the first crossing or now


def run(
    d: Sequence[float], alpha: float, first: int, horizon: int, noise: float | None = None
) -> Path:
    """The exact sequential test on the log-ratios `d` (positive = candidate better).

    A crossing at look k is exactly "stage-wise p-value <= allowed[k]".

    >>> p = run([0.2] * 12, 0.01, 4, 24)
    >>> p.first_cross, p.p_value < 0.01
    (9, True)
    """
    a = scores(d, noise)
    top = 0  # dist[i] = P(S = i - top, no crossing yet); the support is -top..top
    dist = [1.0]
    total, used = 0, 0.0
    sums: list[int] = []
    bounds: list[int | None] = []
    allowed: list[float | None] = []
    first_cross, p_value = 0, 1.0
    for k, (x, ak) in enumerate(zip(d, a, strict=False), start=1):
        if ak:
            pad = [0.0] * (2 * ak)
            padded = pad + dist + pad
            size = len(dist) + 2 * ak
            dist = [0.5 * (u + v) for u, v in zip(padded[:size], padded[2 * ak :], strict=False)]
            top += ak
            total += ak if x > 0 else -ak
        sums.append(total)
        if k < first:
            bounds.append(None)
            allowed.append(None)
            continue
        budget = spent(alpha, k, first, horizon) - used + _EPS
        tail, c = 0.0, top + 1  # smallest c >= 1 whose first-crossing tail fits the budget
        for s in range(top, 0, -1):
            if tail + dist[s + top] > budget:
                break
            tail += dist[s + top]
            c = s
        if first_cross == 0:
            # stage-wise ordering: any earlier crossing, then larger sums at this look
            p_value = min(1.0, used + sum(dist[total + top :]))
            if total >= c:
                first_cross = k
        allowed.append(used + tail)
        used += tail
        if c <= top:
            dist[c + top :] = [0.0] * (top - c + 1)
        bounds.append(c)
    return Path(tuple(sums), tuple(bounds), tuple(allowed), used, first_cross, p_value)


# --- the same arithmetic over many trials at once (simulation only) --------------------------


def scores_batch(d: np.ndarray, noise: float | None = None) -> np.ndarray:
    """`scores` for each row of `d` (trials x rounds)."""
    import numpy as np

    m = np.abs(d)
    if noise is not None and noise > 0:
        scale = np.full_like(m, noise)
    else:
        n = m.shape[1]
        scale = np.empty_like(m)
        for k in range(n):  # running median of the magnitudes so far
            scale[:, k] = MAD_TO_SD * np.median(m[:, : k + 1], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.floor(QUANTA * m / scale + 0.5)
    raw = np.where(scale > 0, np.minimum(raw, CLIP), CLIP)
    return np.where(m == 0.0, 0, raw).astype(np.int64)


@dataclass(frozen=True)
class BatchPath:
    sums: np.ndarray  # trials x rounds
    bounds: np.ndarray  # trials x rounds, a huge value before the first look
    first_cross: np.ndarray  # trials, 0 = never


def run_batch(
    d: np.ndarray, alpha: float, first: int, horizon: int, noise: float | None = None
) -> BatchPath:
    """`run` for every row of `d` (trials x rounds), vectorized over trials."""
    import numpy as np

    trials, n = d.shape
    a = scores_batch(d, noise)
    top = CLIP * n
    width = 2 * top + 1
    dist = np.zeros((trials, width))
    dist[:, top] = 1.0
    signs = np.where(d > 0, 1, -1)
    sums = np.cumsum(signs * a, axis=1)
    bounds = np.full((trials, n), np.iinfo(np.int64).max // 4, dtype=np.int64)
    used = np.zeros(trials)
    first_cross = np.zeros(trials, dtype=np.int64)
    levels = np.arange(-top, top + 1)[None, :]
    for k in range(1, n + 1):
        reach = CLIP * k  # the support after k rounds: -reach..reach
        lo, hi = top - reach, top + reach + 1
        ak = a[:, k - 1]
        for v in range(1, CLIP + 1):  # rows by score value: plain slices, no gathers
            rows = np.nonzero(ak == v)[0]
            if rows.size == 0:
                continue
            block = dist[rows, lo - v : hi + v] if lo - v >= 0 else None
            if block is None:  # at the edge of the array: pad
                block = np.pad(dist[rows, lo:hi], ((0, 0), (v, v)))
            dist[rows, lo:hi] = 0.5 * (block[:, : hi - lo] + block[:, 2 * v :])
        if k < first:
            continue
        budget = spent(alpha, k, first, horizon) - used + _EPS
        # tails[:, j] = P(S >= reach - j), j = 0..reach-1 (S from the top down to 1)
        upper = dist[:, top + 1 : hi][:, ::-1]
        tails = np.cumsum(upper, axis=1)
        fits = tails <= budget[:, None]
        count = np.where(fits.all(axis=1), reach, np.argmin(fits, axis=1))
        c = reach + 1 - count  # smallest fitting boundary (reach + 1 = none)
        tail = np.where(count > 0, np.take_along_axis(tails, np.maximum(count - 1, 0)[:, None], 1)[:, 0], 0.0)
        crossed = (sums[:, k - 1] >= c) & (first_cross == 0)
        first_cross[crossed] = k
        used += tail
        dist[:, lo:hi] = np.where(levels[:, lo:hi] >= c[:, None], 0.0, dist[:, lo:hi])
        bounds[:, k - 1] = c
    return BatchPath(sums, bounds, first_cross)
