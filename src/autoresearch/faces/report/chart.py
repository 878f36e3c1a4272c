"""The progress chart (PNG and SVG): every experiment a dot, the keeps on the running-best line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.faces.report import fmt
from autoresearch.faces.report.data import Experiment, Group, ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KEEP = "#1a9850"
DISCARD = "#7f7f7f"
FAILED = "#d73027"
BASELINE = "#4575b4"
LABEL_WIDTH = 42


def write_chart(data: ReportData, png: Path, svg: Path | None = None, dpi: int = 110) -> None:
    """Draw the chart once and save it in each format asked for."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never a window, works without a display
    import matplotlib.pyplot as plt

    fig = figure(data)
    try:
        fig.savefig(png, dpi=dpi)
        if svg is not None:
            fig.savefig(svg)
    finally:
        plt.close(fig)


def figure(data: ReportData) -> Figure:
    """A matplotlib figure: progress on top, per-keep gains with intervals below."""
    import matplotlib.pyplot as plt

    keeps = data.keeps
    gain_rows = len(keeps) + (data.total is not None)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 5.2 + 0.32 * max(gain_rows, 2)),
        gridspec_kw={"height_ratios": [4.2, 0.9 + 0.32 * max(gain_rows, 2)]},
        layout="constrained")
    _progress(top, data)
    _gains(bottom, data)
    return fig


def _progress(ax: Axes, data: ReportData) -> None:
    from matplotlib.ticker import MaxNLocator

    measured = [e for e in data.experiments if e.metric is not None]
    # Each list below holds experiments with the value it plots; `or 0.0` only satisfies the type.
    low, high = _limits(data, measured)
    discards = [e for e in measured if e.group.discarded]
    if discards:
        ax.scatter([e.n for e in discards], [_clip(e.metric or 0.0, low, high) for e in discards],
                   s=18, color=DISCARD, alpha=0.35, linewidths=0, label="discarded", zorder=2)
    failed = [e for e in data.experiments if e.metric is None and e.group.discarded]
    if failed:
        ax.scatter([e.n for e in failed], [0.02] * len(failed), marker="x", s=18, color=FAILED,
                   alpha=0.6, transform=ax.get_xaxis_transform(), zorder=2,
                   label="no measurement (checks failed, crashed, tampered, ...)")
    steps = [e for e in data.experiments if e.best is not None]
    if steps:
        last = max(e.n for e in data.experiments)
        xs = [e.n for e in steps] + [last]
        ax.step(xs, [e.best or 0.0 for e in steps] + [steps[-1].best or 0.0], where="post", color=KEEP,
                linewidth=2, label="running best (incumbent)", zorder=3)
    base = [e for e in data.experiments if e.group is Group.BASELINE and e.metric is not None]
    if base:
        ax.scatter([0], [base[0].metric or 0.0], s=50, color=BASELINE, edgecolors="black",
                   linewidths=0.6, label="baseline", zorder=4)
    keeps = [e for e in data.keeps if e.metric is not None]
    if keeps:
        ax.scatter([e.n for e in keeps], [e.metric or 0.0 for e in keeps], s=46, color=KEEP,
                   edgecolors="black", linewidths=0.6, label="kept", zorder=4)
    for i, e in enumerate(keeps):
        _label(ax, e, up=(data.direction == "higher") == (i % 2 == 0))
    if low is not None and high is not None:
        ax.set_ylim(low, high)
    ax.set_xlim(-0.5, max([e.n for e in data.experiments] + [1]) + 0.8)
    unit = f" ({data.unit})" if data.unit else ""
    ax.set_ylabel(f"{data.metric}{unit}, {data.direction} is better")
    ax.set_xlabel("experiment")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.25)
    total = f", total {fmt.gain(data.total.gain, data.total.gain_ci)}" if data.total else ""
    ax.set_title(f"{data.session}: {len(data.judged)} experiments, {len(data.keeps)} kept{total}",
                 loc="left", fontsize=12)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)


def _label(ax: Axes, e: Experiment, up: bool) -> None:
    ax.annotate(fmt.shorten(e.description, LABEL_WIDTH), (e.n, e.metric),
                xytext=(6, 10 if up else -12), textcoords="offset points", fontsize=8,
                rotation=12 if up else -12, color="#0b4f26", va="bottom" if up else "top",
                zorder=5)


def _limits(data: ReportData, measured: list[Experiment]) -> tuple[float | None, float | None]:
    """Y range that shows the running best well; far-off discards sit on the edge."""
    if not measured:
        return None, None
    values = [e.metric for e in measured if e.metric is not None]
    anchors = [e.best for e in data.experiments if e.best is not None] or values
    lo, hi = min(anchors), max(anchors)
    span = hi - lo or abs(hi) * 0.1 or 1.0
    lo = min(lo - 0.35 * span, max(min(values), lo - 1.5 * span))
    hi = max(hi + 0.35 * span, min(max(values), hi + 1.5 * span))
    pad = 0.04 * (hi - lo)
    floor = 0.0 if min(values) >= 0 else -float("inf")  # a time or a count stays above zero
    return max(lo - pad, floor), hi + pad


def _clip(value: float, low: float | None, high: float | None) -> float:
    if low is None or high is None:
        return value
    pad = 0.01 * (high - low)
    return min(max(value, low + pad), high - pad)


def _gains(ax: Axes, data: ReportData) -> None:
    rows: list[tuple[str, float, tuple[float, float] | None, str]] = [
        (f"run {e.run}: {fmt.shorten(e.description, LABEL_WIDTH)}", e.gain or 0.0, e.gain_ci, KEEP)
        for e in data.keeps]
    if data.total is not None:
        rows.append(("total (paired ratios combined)", data.total.gain, data.total.gain_ci, "black"))
    if not rows:
        ax.text(0.5, 0.5, "no keeps yet", ha="center", va="center", transform=ax.transAxes,
                color=DISCARD)
        ax.set_axis_off()
        return
    ys = list(range(len(rows)))[::-1]
    for y, (_, value, ci, color) in zip(ys, rows, strict=False):
        bounded = ci is not None and ci[0] != ci[1] and all(map(math.isfinite, ci))
        err = [[value - ci[0]], [ci[1] - value]] if bounded and ci else None
        ax.errorbar([100 * value], [y], xerr=None if err is None else [[100 * err[0][0]], [100 * err[1][0]]],
                    fmt="o", color=color, ecolor=color, capsize=3, markersize=5)
    ax.set_yticks(ys, [label for label, *_ in rows], fontsize=8)
    ax.axvline(0, color=DISCARD, linewidth=0.8)
    ax.axvline(100 * data.min_effect, color=DISCARD, linewidth=0.8, linestyle="--")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"gain in % (95% interval); dashed: min_effect {data.min_effect:.0%}")
    ax.grid(True, axis="x", alpha=0.25)
