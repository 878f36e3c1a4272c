"""The brief a proposer gets: objective, rules, a compact history, ideas, the last failure."""

from __future__ import annotations

from pathlib import Path

from autoresearch import config as cfg
from autoresearch.model import NO_CHANGE, RunRecord, Status, Verdict
from autoresearch.proposers.base import Brief
from autoresearch.session import Session
from autoresearch.status import combine_suggestion

MAX_CHARS = 12_000
RESEARCH_CHARS = 4_000
IDEAS_CHARS = 2_000
FAILURE_CHARS = 1_500
HISTORY_ROWS = 15
STOP_AFTER_EDIT = ("Make ONE focused change that you expect to improve the metric, then stop; "
                   "the harness runs the experiment (do not call `autoresearch run`).")
CALL_RUN_EXPERIMENT = ("Make ONE focused change that you expect to improve the metric, then call "
                       "the tool `run_experiment` with a description and a hypothesis (while it "
                       "answers \"running\", call `result` until the verdict comes), read the "
                       "verdict, and decide the next change.")


def build_brief(session: Session, proposal_file: str | None = None, driver: str = "loop") -> Brief:
    """Render the brief for the next proposal; deterministic and bounded in size.

    `driver` is who runs the experiment after the edit: the loop (the proposer just stops) or
    the agent itself over MCP (it calls `run_experiment`).

    >>> build_brief(session).text.splitlines()[0]  # doctest: +SKIP
    '# Optimization task: make combined_us lower'
    """
    c = session.config
    book = session.ledger()
    runs = book.segment_runs()
    root = session.root
    better = "lower" if c.metric.direction == "lower" else "higher"
    parts = [
        f"# Optimization task: make {c.metric.name} {better}",
        "",
        f"You are improving the repository in the current directory. The primary metric is "
        f"`{c.metric.name}`{f' ({c.metric.unit})' if c.metric.unit else ''}, {better} is better, "
        f"measured by `{c.commands.benchmark}`."
        + (f" Correctness checks: `{c.commands.checks}` must pass." if c.commands.checks else ""),
        (STOP_AFTER_EDIT if driver == "loop" else CALL_RUN_EXPERIMENT)
        + " Never commit, revert or run the benchmark to judge yourself: the harness measures "
        "each change against the current best and keeps it only if it is measurably better "
        f"(at least {c.stats.min_effect:.0%}) and the checks pass.",
        "",
        "## Rules",
        "- Files you may change: " + (", ".join(f"`{g}`" for g in c.scope.include) or "any file"),
        "- Never change: " + ", ".join(f"`{g}`" for g in c.protected_paths()),
    ]
    if proposal_file:
        parts.append(
            f"- When done, write a short description of your change on the first line of "
            f"`{proposal_file}` and, on a line starting `Hypothesis:`, why it should help."
        )
    from autoresearch.calibrate import last_calibration, small_gains_hint

    calibration = last_calibration(session)
    if calibration is not None and calibration.detectable_effect > 0:
        parts.append(f"- On this machine the harness confirms gains of about "
                     f"{calibration.detectable_effect:.0%} or more; smaller ones are usually "
                     "discarded as noise, so aim for changes with a clearly larger effect.")
    hint = small_gains_hint(session, runs)
    if hint:
        parts.append(f"- {hint} (the measure is the user's choice: mention it in your description).")
    research = _read(root / cfg.BRIEF_FILE, RESEARCH_CHARS)
    if research:
        parts += ["", "## Research brief (autoresearch.md)", research]
    parts += ["", "## History (most recent last)", *_history(runs, c.metric.unit)]
    kept = [r for r in runs if r.is_keep]
    if kept:
        parts += ["", "## Kept so far", *[f"- run {r.run}: {r.description}" for r in kept[-10:]]]
    dead: dict[str, str] = {}  # one line per idea, its latest verdict, in every segment
    for r in book.runs:
        if r.verdict not in (Verdict.KEEP, Verdict.BASELINE) and r.reason != NO_CHANGE:
            dead.pop(r.description, None)
            dead[r.description] = r.reason
    if dead:
        parts += ["", "## Dead ends (do not repeat)",
                  *[f"- {d} → {reason}" for d, reason in list(dead.items())[-10:]]]
    combining = combine_suggestion(runs)
    if combining:
        parts += ["", "## Near-misses", f"- {combining}"]
    ideas = _read(root / cfg.IDEAS_FILE, IDEAS_CHARS)
    if ideas:
        parts += ["", "## Ideas backlog (autoresearch.ideas.md; you may append to it)", ideas]
    failure = next((r for r in reversed(runs) if r.status in (Status.CRASH, Status.CHECKS_FAILED)), None)
    if failure is not None and getattr(failure, "tail", None):
        parts += ["", f"## Output of the last failure (run {failure.run}: {failure.reason})",
                  "```", str(failure.tail)[-FAILURE_CHARS:], "```"]
    text = "\n".join(parts)
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 40] + "\n… (brief truncated)\n"
    return Brief(text=text, metric=c.metric.name, direction=c.metric.direction,
                 scope=list(c.scope.include), protected=c.protected_paths(), run=book.next_run())


def _history(runs: list[RunRecord], unit: str) -> list[str]:
    if not runs:
        return ["(none yet)"]
    rows = []
    for r in runs[-HISTORY_ROWS:]:
        value = f"{r.metric:g}{unit}" if r.metric is not None else "-"
        change = ""
        if r.improvement is not None:
            change = (f" ({r.improvement:.1%} better)" if r.improvement >= 0
                      else f" ({-r.improvement:.1%} worse)")
        rows.append(f"- run {r.run} {r.verdict}: {r.description} → {value}{change}; {r.reason}")
    return rows


def _read(path: Path, limit: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return ""
    return text if len(text) <= limit else text[:limit] + "\n… (truncated)"
