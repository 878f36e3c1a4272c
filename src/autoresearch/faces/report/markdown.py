"""`report.md`: the session written as a pull-request description."""

from __future__ import annotations

from typing import Any

from autoresearch.faces.render import confirm_numbers, inputs_words
from autoresearch.faces.report import fmt
from autoresearch.faces.report.data import Group, ReportData
from autoresearch.stats import improvement_of
from autoresearch.status import finishing_steps

FOOTER = ("<sub>Measured, judged and recorded by autoresearch: every keep was measured in "
          "interleaved rounds against the incumbent of its moment; the ledger "
          "`autoresearch.jsonl` holds every run.</sub>")


def render_markdown(data: ReportData, chart: str | None = "progress.png") -> str:
    """Headline, keeps, what did not work (grouped), secondary metrics, effort."""
    lines = [f"## {data.session}: {_headline(data)}", ""]
    lines += _summary(data)
    if chart:
        lines += ["", f"![progress of {data.metric}]({chart})"]
    lines += ["", *_keeps(data), "", *_discards(data)]
    if data.secondary:
        lines += ["", *_secondary(data)]
    if data.ablations:
        lines += ["", *_ablations(data)]
    lines += ["", *_effort(data)]
    if data.warnings:
        lines += ["", "### Warnings", "", *[f"- {w}" for w in data.warnings]]
    if data.keeps:
        lines += ["", "### Finishing", "", *[f"- `{step.split(':')[0]}`:{step.split(':', 1)[1]}"
                                              for step in finishing_steps(len(data.keeps))]]
    lines += ["", FOOTER, ""]
    return "\n".join(lines)


def _headline(data: ReportData) -> str:
    if data.total is None:
        return f"no improvement kept yet on {data.metric}"
    return f"{data.metric} {fmt.pct(data.total.gain)} ({len(data.keeps)} kept of {len(data.judged)})"


def _summary(data: ReportData) -> list[str]:
    better = f"{data.direction} is better"
    measure = f", measure: {data.measure}" if data.measure else ""
    lines = [(f"**{data.metric}** ({better}{measure}): baseline "
              f"{fmt.number(data.baseline, data.unit)} → {fmt.number(data.incumbent, data.unit)}.")]
    t = data.total
    if t is not None:
        lines += ["", (f"**Total gain {fmt.gain(t.gain, t.gain_ci)}** (ratio {t.ratio:.3f}, 95% "
                       f"interval) — the product of the paired ratios of {fmt.count(t.keeps, 'keep')}, each "
                       "measured against the incumbent of its moment in interleaved rounds.")]
    if data.confirm is not None:
        lines += ["", _confirm(data.confirm)]
    segment = f"segment {data.segment} of {data.segments - 1}" if data.segments > 1 else ""
    lines += ["", f"Branch `{data.branch}`" + (f", {segment}" if segment else "") + "."]
    return lines


def _confirm(c: dict[str, Any]) -> str:
    """The latest `confirm`: the baseline and the incumbent measured together, at the end."""
    when = "the incumbent as it is now" if c["current"] else "an earlier incumbent"
    line = (f"**Confirm {'passed' if c['passed'] else 'FAILED'}** on {inputs_words(c['inputs'])} (the "
            f"baseline against {when}, {c['rounds']} interleaved rounds)")
    return line + confirm_numbers(c, " (its numbers: `autoresearch status --show-heldout`)") + "."


def _keeps(data: ReportData) -> list[str]:
    keeps = data.keeps
    lines = [f"### Kept ({len(keeps)})", ""]
    if not keeps:
        return [*lines, "Nothing was kept: no candidate was significantly better by at least "
                        f"{data.min_effect:.0%}."]
    lines += ["| run | change | gain [95% interval] | rounds | commit |",
              "|---:|---|---|---:|---|"]
    for e in keeps:
        lines.append(f"| {e.run} | {_cell(e.description)} | {fmt.gain(e.gain, e.gain_ci)} | "
                     f"{e.rounds} | `{(e.commit or '')[:10]}` |")
    return lines


def _discards(data: ReportData) -> list[str]:
    groups = data.discarded()
    total = sum(len(es) for _, es in groups)
    lines = [f"### Not kept ({total})"]
    if not groups:
        return [*lines, "", "Every candidate was kept."]
    for group, experiments in groups:
        lines += ["", f"**{group.value.capitalize()}** ({len(experiments)})", ""]
        for e in experiments:
            measured = (f" ({fmt.gain(e.gain, e.gain_ci)})"
                        if e.gain is not None and group is Group.WORSE and ':' not in e.reason else "")
            lines.append(f"- run {e.run}: {_cell(e.description)} — {_cell(e.reason)}{measured}")
    return lines


def _secondary(data: ReportData) -> list[str]:
    lines = ["### Secondary metrics and guards", "",
             "| metric | baseline | now | change | guard |", "|---|---:|---:|---:|---|"]
    for s in data.secondary:
        lines.append(f"| {s.name} | {fmt.number(s.baseline)} | {fmt.number(s.final)} | "
                     f"{fmt.pct(s.change)} | {s.guard or ''} |")
    return lines


def _ablations(data: ReportData) -> list[str]:
    """`autoresearch ablate`: each keep removed from the incumbent, measured against it."""
    rows = ["### What each keep is worth now", "",
            "Each keep reverted on the incumbent and measured against it (`autoresearch ablate`).", "",
            "| run | change | worth now | |", "|---|---|---|---|"]
    for a in data.ablations:
        worth = (f"{fmt.gain(a.improvement, _gain_interval(a.ci, data.direction))}"
                 if a.improvement is not None else "")
        rows.append(f"| {a.keep_run} | {fmt.shorten(a.description, 70)} | {worth} | {a.outcome} |")
    return rows


def _gain_interval(ci: tuple[float, float] | None, direction: str) -> tuple[float, float] | None:
    if ci is None:
        return None
    low, high = sorted(improvement_of(r, direction) for r in ci)  # type: ignore[arg-type]
    return low, high


def _effort(data: ReportData) -> list[str]:
    counts = ", ".join(f"{n} {g}" for g, n in data.counts().items()) or "none"
    lines = ["### Effort", "",
             f"- {len(data.judged)} experiments ({counts}), {data.rounds} measured rounds",
             (f"- {fmt.duration(data.seconds)} of experiments, {fmt.duration(data.span_seconds)} "
              "from the baseline to the last verdict")]
    if data.tokens or data.cost_usd:
        known = [fmt.tokens(data.tokens) + " tokens" if data.tokens else "",
                 f"${data.cost_usd:.2f}" if data.cost_usd else ""]
        lines.append(f"- proposals: {', '.join(k for k in known if k)} (where the proposer reported them)")
    lines.append(f"- a keep needs a significant gain of at least {data.min_effect:.0%} "
                 f"(min_effect), within at most {data.max_rounds} rounds")
    return lines


def _cell(text: str) -> str:
    """One line, safe inside a markdown table."""
    return " ".join(text.split()).replace("|", "\\|")
