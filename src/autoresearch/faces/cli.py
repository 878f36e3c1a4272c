"""The `autoresearch` command line: parse, call the library, render."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from autoresearch.config import Config
    from autoresearch.demo import DemoResult
    from autoresearch.experiment import ExperimentResult
    from autoresearch.infra.ledger import Ledger
    from autoresearch.loop import LoopState
    from autoresearch.model import RunRecord
    from autoresearch.progress import Progress, ProgressEvent
    from autoresearch.proposers.base import Proposer
    from autoresearch.session import Session
    from autoresearch.status import SessionStatus

app = typer.Typer(
    name="autoresearch",
    help=(
        "Run optimization experiments on a git repository; the harness, never the agent, "
        "measures, judges, commits and records.\n\n"
        "Typical session: `autoresearch init --name NAME --metric METRIC`, then edit code and "
        "`autoresearch run -m \"what changed\"` for each idea; `autoresearch status` and "
        "`autoresearch log` show the history."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
ExecutorOpt = Annotated[str | None, typer.Option("--executor", metavar="ADDRESS", help="Where each measurement runs: tcp://HOST:PORT sends it to a worker of that Dask scheduler (both arms measured there, interleaved), 'local' measures here; default: [executor] address in autoresearch.toml, else here.")]


def main() -> None:
    """Console entry point."""
    from autoresearch.infra.interrupts import stop_now_on_sigterm

    stop_now_on_sigterm()
    app()


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by scripts and grep: no wrapping at 80 columns.
    tty = stream.isatty()
    # No markup by default: descriptions, reasons and paths are data ("[/]" is a valid
    # description). The few styled lines opt in and escape what they interpolate.
    return Console(stderr=stderr, highlight=False, markup=False, width=None if tty else 160,
                   soft_wrap=not tty)


def _esc(value: object) -> str:
    from rich.markup import escape

    return escape(str(value))


def _guarded(action: Callable[[], Any], json_out: bool = False) -> Any:
    """Turn library errors into a message and the right exit code (2 usage, 1 internal).

    With `json_out`, stdout also gets `{"error": ..., "exit_code": ...}` for scripts.
    """
    from autoresearch.errors import AutoresearchError

    try:
        return action()
    except AutoresearchError as exc:
        _console(stderr=True).print(f"[bold red]error:[/] {_esc(exc)}", markup=True, soft_wrap=True)
        if json_out:
            _print_json({"error": str(exc), "exit_code": exc.exit_code})
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _console(stderr=True).print("interrupted")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        import os
        import traceback

        if os.environ.get("AUTORESEARCH_DEBUG"):
            traceback.print_exc()
        _console(stderr=True).print(
            f"internal error: {type(exc).__name__}: {exc}\n(set AUTORESEARCH_DEBUG=1 for the "
            "traceback; the ledger and your working tree are left as they were)", markup=False)
        if json_out:
            _print_json({"error": f"internal error: {type(exc).__name__}: {exc}", "exit_code": 1})
        raise typer.Exit(1) from None


def _progress(enabled: bool) -> Progress:
    """One line per step on stderr, and one per measured round (with the estimate after it)."""
    if not enabled:
        return lambda _: None
    from autoresearch.progress import MEASURING

    err = _console(stderr=True)

    def show(event: ProgressEvent) -> None:
        if event.phase != MEASURING or event.finished:
            err.print(f"… {event}", style="dim", markup=False)

    return show


@app.command()
def init(
    name: Annotated[str | None, typer.Option(help="Session name; the branch is autoresearch/NAME.")] = None,
    metric: Annotated[str | None, typer.Option(help="Primary metric (a METRIC line of the benchmark). With --measure cpu or instructions the harness measures the primary itself (cpu_s, instructions) and this metric is recorded beside it as a secondary one.")] = None,
    direction: Annotated[str | None, typer.Option(help="lower or higher is better (default lower).")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit of the metric, for display (e.g. µs).")] = None,
    measure: Annotated[str | None, typer.Option(help="wall (the benchmark's METRIC; default), cpu (CPU seconds the harness measures), instructions (valgrind; exact, 1 round), instructions+cpu (instructions decide; CPU time vetoes a keep that is slower in time) or single (one run against recorded runs, for expensive benchmarks; needs calibrate). With --new-segment: switch the session to this measure.")] = None,
    benchmark: Annotated[str, typer.Option(help="Benchmark command, run from the repository root.")] = "./autoresearch.sh",
    checks: Annotated[str | None, typer.Option(help="Correctness checks (exit 0 = pass); default ./autoresearch.checks.sh when present.")] = None,
    build: Annotated[str | None, typer.Option(help="Optional build command run in each checkout before checks and measurement; it may make the benchmark (--benchmark ./bench --build \"cc -O2 -o bench bench.c\").")] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Glob a candidate may change (repeatable); default anything.")] = None,
    protect: Annotated[list[str] | None, typer.Option("--protect", help="Glob a candidate may not change (repeatable); the benchmark, checks and config always are.")] = None,
    link: Annotated[list[str] | None, typer.Option("--link", help="Untracked path the benchmark or checks need (a venv, node_modules, a data set, a compiled extension), symlinked into both measured checkouts (repeatable).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per benchmark run; default derived from the incumbent's own runs.")] = None,
    checks_timeout: Annotated[float, typer.Option(help="Seconds for the checks.")] = 300,
    new_segment: Annotated[bool, typer.Option("--new-segment", help="On an existing session: measure a new baseline and start a new segment; with --measure/--metric/--unit/--direction, switch what is measured first (committed in autoresearch.toml).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Start a session: scaffold missing files, create branch autoresearch/NAME, measure the baseline.

    Refuses a working tree with uncommitted changes to tracked files. If autoresearch.sh does not
    exist, a template is written and init stops so you can fill it in; run init again after.
    A failed init leaves the repository as it was: no branch, no commit, no files of its own.
    Exit code 2 when the build, checks or benchmark fail on the unchanged tree (the baseline).
    An existing autoresearch.toml wins over the flags (a checks script added since the first
    init is switched on in it).
    """

    def action() -> None:
        from autoresearch.config import CONFIG_FILE, HARNESS_METRICS
        from autoresearch.errors import UsageError
        from autoresearch.scaffold import InitOptions, init_session

        cwd = Path.cwd()
        needs_metric = metric is None and (measure or "wall") not in HARNESS_METRICS
        if (name is None or needs_metric) and not _has_config(cwd, CONFIG_FILE) and not _pi_session(cwd):
            raise UsageError("--name and --metric are required to start a session")
        opts = InitOptions(
            name=name or "", metric=metric or "", direction=direction, unit=unit, measure=measure,
            benchmark=benchmark, checks=checks, build=build, scope=tuple(scope or ()),
            protect=tuple(protect or ()), link=tuple(link or ()), timeout=timeout, checks_timeout=checks_timeout,
            new_segment=new_segment,
        )
        result = init_session(cwd, opts, _progress(not json_out))
        if json_out:
            base = result.baseline
            _print_json({"branch": result.branch, "created": result.created, "notes": result.notes,
                         "needs_benchmark": result.needs_benchmark,
                         "baseline": base.metric if base else None,
                         "baseline_samples": base.samples.get("incumbent") if base else None,
                         "imported": result.imported})
            return
        out = _console()
        for path in result.created:
            out.print(f"created {path}")
        for note in result.notes:
            out.print(f"note: {note}")
        if result.needs_benchmark:
            out.print("\nNext: edit autoresearch.sh so it runs your benchmark and prints "
                      "`METRIC <name>=<value>`, review autoresearch.toml and autoresearch.md, "
                      "then run `autoresearch init` again.")
            return
        base = result.baseline
        from autoresearch.session import open_session

        config = open_session(cwd).config
        out.print(f"session on branch [bold]{_esc(result.branch)}[/]", markup=True)
        if result.imported is not None or base is None:
            out.print("\nNext: `autoresearch status` and `autoresearch log` show the imported history; "
                      "make a change, then `autoresearch run -m \"what you changed\"`.")
            return
        out.print(f"baseline {_value(base.metric, config.metric.unit)} (median of {base.rounds} runs, "
                  f"measure {config.metric.measure})")
        for other in config.metric.secondary:
            if other in base.metrics:
                out.print(f"         {other} {base.metrics[other]:g} (secondary)")
        if config.commands.checks:
            out.print(f"checks   {config.commands.checks} passed on the baseline")
        else:
            out.print("[yellow]warning:[/] no checks configured: candidates are judged on the "
                      "metric alone, so a faster but wrong change would be kept", markup=True)
        out.print("\nNext: make a change, then `autoresearch run -m \"what you changed\"`.")

    _guarded(action, json_out)


def _pi_session(cwd: Path) -> bool:
    from autoresearch.infra.git import Git
    from autoresearch.pi_import import detect

    try:
        return detect(Git.discover(cwd).root) is not None
    except Exception:
        return False


def _has_config(cwd: Path, name: str) -> bool:
    from autoresearch.infra.git import Git

    try:
        return (Git.discover(cwd).root / name).exists()
    except Exception:
        return False


@app.command()
def run(
    message: Annotated[str, typer.Option("-m", "--message", help="What the candidate changes (becomes the commit message).")],
    hypothesis: Annotated[str | None, typer.Option(help="Why it should help; recorded in the ledger.")] = None,
    executor: ExecutorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Judge the working tree's change against the incumbent: keep (commit) or restore.

    Exit code 0 whenever an experiment completed, whatever its verdict; 2 for usage or
    configuration errors; 1 for an internal failure.
    """

    def action() -> None:
        from autoresearch.experiment import run_experiment

        result = run_experiment(Path.cwd(), message, hypothesis, progress=_progress(not json_out),
                                executor=executor)
        if json_out:
            _print_json(result.as_dict())
        else:
            from autoresearch.session import open_session

            _render_experiment(result)
            _render_session_line(_console(), open_session(Path.cwd()))

    _guarded(action, json_out)


@app.command()
def extend(
    run_number: Annotated[int, typer.Argument(metavar="RUN", help="The run to measure further (a discard).")],
    json_out: JsonOpt = False,
) -> None:
    """Measure more rounds of an undecided discard, continuing its sequential test.

    The run's candidate is put back in the working tree and judged again from the rounds it
    already has, within the same error budget: it may still be kept, or discarded with more
    evidence. A run that reached max_rounds, or crossed a boundary, is settled and refused.
    The incumbent must be the one the run was measured against. (The same happens whenever a
    change is submitted again: retrying continues the test instead of starting a fresh one.)
    """

    def action() -> None:
        from autoresearch.experiment import extend_experiment

        result = extend_experiment(Path.cwd(), run_number, progress=_progress(not json_out))
        if json_out:
            _print_json(result.as_dict())
        else:
            _render_experiment(result)

    _guarded(action, json_out)


@app.command()
def combine(
    runs: Annotated[list[int], typer.Argument(metavar="RUN...", help="Discarded runs whose estimates were gains too small to keep alone.")],
    message: Annotated[str | None, typer.Option("-m", "--message", help="Description of the combined change (default: the parts' descriptions).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Judge near-misses together: stack the candidates of discarded runs that each measured a
    small gain (they must apply together without conflict) and run them as one experiment, with
    the usual checks and statistics. The record names its parts (`split RUN` on a keep then
    shows which files carry the gain). `status` suggests this when near-misses pile up."""

    def action() -> None:
        from autoresearch.combine import combine_runs

        result = combine_runs(Path.cwd(), runs, message, progress=_progress(not json_out))
        if json_out:
            _print_json(result.as_dict())
        else:
            _render_experiment(result)

    _guarded(action, json_out)


def _change(improvement: float | None) -> str:
    """`+0.2` → "20.0% better", `-0.1` → "10.0% worse"."""
    if improvement is None:
        return "no estimate"
    return f"{improvement:.1%} better" if improvement >= 0 else f"{-improvement:.1%} worse"


def _render_experiment(result: ExperimentResult) -> None:
    from autoresearch.faces.render import ratio_with_interval
    from autoresearch.session import open_session

    out = _console()
    r = result.record
    for note in result.notes:
        out.print(f"[yellow]note:[/] {_esc(note)}", markup=True)
    unit = open_session(Path.cwd()).config.metric.unit
    color = {"keep": "green", "discard": "yellow"}.get(r.verdict, "red")
    out.print(f"run {r.run}: [bold {color}]{r.verdict.upper()}[/] — {_esc(r.reason)}", markup=True)
    if r.ratio is not None and r.ci is not None:
        out.print(f"  estimate ratio {ratio_with_interval(r)} "
                  f"({_change(r.improvement)}; paired rounds, interval at the test's level)")
        out.print(f"  medians  candidate {_value(r.metric, unit)}, incumbent {_value(r.incumbent_metric, unit)}")
        out.print(f"  rounds   {r.rounds}   p = {r.p_value:.2g}")
        secondary = {k: v for k, v in r.metrics.items()}
        if secondary:
            out.print("  secondary " + ", ".join(f"{k}={v:g}" for k, v in sorted(secondary.items())))
    times = ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in r.durations.items())
    out.print(f"  time     {times}")
    if r.is_keep:
        out.print(f"  committed {(r.commit or '')[:12]} on the session branch")
    else:
        saved = r.candidate_ref
        out.print("  working tree restored" + (f"; the candidate is kept in {saved} and "
                                               f"{r.logs}/candidate.patch" if saved else ""))
    tail = result.tail.strip()
    if tail:
        out.print("  output tail:")
        out.print("\n".join("    " + line for line in tail.splitlines()[-10:]), markup=False)
    out.print(f"  logs     {r.logs}")


@app.command()
def calibrate(
    rounds: Annotated[int, typer.Option(help="A/A rounds to run (each = one run of each of two identical checkouts).")] = 12,
    write: Annotated[bool, typer.Option("--write", help="Store the recommended min_effect and max_rounds in autoresearch.toml (committed on the session branch).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Measure the noise: the incumbent against itself, interleaved, as a real experiment would.

    Prints the spread of the per-round log-ratio, the smallest gain the current settings
    detect with 80% power, and recommended min_effect / max_rounds.
    """

    def action() -> None:
        from autoresearch.calibrate import calibrate as run_calibration

        c = run_calibration(Path.cwd(), rounds, write, _progress(not json_out))
        if json_out:
            _print_json(c.as_dict())
            return
        out = _console()
        out.print(f"A/A rounds: {c.rounds} on commit {c.commit[:10]}")
        out.print(f"noise (sd-equivalent of the per-round log-ratio): {c.noise:.2%}"
                  + (f" (90% interval {c.noise_low:.1%} to {c.noise_high:.1%} from {c.rounds} rounds)"
                     if c.noise > 0 and c.noise_high > 0 else ""))
        smallest = max(c.detectable_effect, c.current_min_effect)
        out.print(f"smallest gain kept with 80% power at the current settings "
                  f"(min_effect {c.current_min_effect:g}, max_rounds {c.current_max_rounds}): "
                  f"{smallest:.1%}" + (" (the noise alone would allow "
                                       f"{c.detectable_effect:.1%}; min_effect is the floor)"
                                       if c.detectable_effect < c.current_min_effect else ""))
        out.print(f"recommended: min_effect = {c.recommended_min_effect:g}, "
                  f"max_rounds = {c.recommended_max_rounds}")
        if c.detectable_effect > 0.1:
            out.print("[yellow]note:[/] gains below this size will mostly be discarded as "
                      "'no significant difference'. Consider --measure cpu or instructions, a "
                      "longer-running benchmark, or a quieter machine.", markup=True)
        for warning in c.warnings:
            out.print(f"[yellow]warning:[/] {_esc(warning)}", markup=True)
        out.print("written to autoresearch.toml and committed" if c.written else
                  "(--write stores the recommendation in autoresearch.toml)")

    _guarded(action, json_out)


@app.command()
def status(
    show_heldout: Annotated[bool, typer.Option("--show-heldout", help="Show the numbers of a held-out confirm (otherwise only pass or fail, so an agent reading status cannot tune on them).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Where the session stands: the gain from paired evidence, counts, confirms, pending candidate."""

    def action() -> None:
        from autoresearch.faces.report.data import running_best
        from autoresearch.faces.report.fmt import count, sparkline
        from autoresearch.session import open_session
        from autoresearch.status import status as get_status

        session = open_session(Path.cwd())
        st = get_status(session)
        if json_out:
            _print_json(st.as_dict(numbers=show_heldout))
            return
        out = _console()
        u = st.unit
        out.print(f"session [bold]{_esc(st.session)}[/] on {_esc(st.branch)} (segment {st.segment})", markup=True)
        out.print(f"metric  {st.metric} ({st.direction} is better, measure: {st.measure})")
        if st.baseline is not None:
            out.print(f"baseline {_value(st.baseline, u)} (median of its own runs)")
        out.print(_gain_line(st))
        if st.startup and st.baseline:
            out.print(f"start-up {st.startup:,} of the baseline's {st.baseline:,.0f} instructions "
                      f"({st.startup / st.baseline:.1%}) are start-up (a trivial run of its "
                      "interpreter, the same in every run): a gain in the work itself is larger "
                      "than the ratio shows")
        confirm = st.confirm_summary(show_heldout)
        if confirm is not None:
            out.print(_confirm_line(confirm, st.heldout_left))
        best = [b for b in running_best(st.runs) if b is not None]
        judged = sum(st.counts.values())  # the baseline is no experiment, here as everywhere
        if len(best) > 1:
            first = "the baseline" if st.runs[0].is_baseline else "the first"
            out.print(f"running best  {sparkline(best, st.direction == 'higher')}  "
                      f"({first}, then after each of {count(len(best) - 1, 'experiment')}; "
                      "taller is better)", markup=False)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(st.counts.items()))
        out.print(f"experiments: {judged} ({counts})" if judged else "experiments: none yet")
        keeps = st.counts.get("keep", 0)
        if keeps:
            marginal = (f"; marginal: run {', '.join(map(str, st.marginal_keeps))}"
                        if st.marginal_keeps else "; none marginal")
            out.print(f"keeps: {keeps}; expected number of them that are noise ≤ "
                      f"{st.expected_false_keeps:.2f}{marginal}")
            if st.marginal_keeps:
                out.print("  (marginal = the keep's interval reaches below min_effect: "
                          "worth measuring again)")
        if st.pending:
            out.print("[yellow]pending:[/] the working tree holds an unmeasured candidate "
                      "(`autoresearch run -m ...` measures it)", markup=True)
        else:
            out.print("working tree: clean (equal to the incumbent)")
        if st.interrupted:
            out.print(f"[yellow]interrupted:[/] run {st.interrupted.get('run')} did not finish; "
                      "the next command recovers it", markup=True)
        for warning in st.warnings:
            out.print(f"[yellow]warning:[/] {_esc(warning)}", markup=True)
        if st.next_steps:
            out.print("when the experiments are over:\n" + "\n".join(f"  {step}" for step in st.next_steps))
        if st.runs:
            out.print("\nrecent experiments (`autoresearch log` shows all):")
            out.print(_runs_table(st.runs[-10:], session.ledger(), session.config))

    _guarded(action, json_out)


def _gain_line(st: SessionStatus) -> str:
    """The headline: the keeps' paired ratios chained, with the interval their errors give."""
    g = st.gain
    if g is None:
        return "gain     none yet (no keeps in this segment)"
    import math

    low, high = sorted(1.0 - x if st.direction == "lower" else x - 1.0 for x in g.ci)
    interval = ("exact" if g.exact else f"95% interval {low:+.1%} … {high:+.1%}"
                if math.isfinite(low) and math.isfinite(high) else "interval unbounded: too few rounds")
    return (f"gain     {_change(g.improvement)} (ratio {g.ratio:.3f}; {interval}) — "
            f"{g.steps} keep(s)' paired ratios chained")


def _confirm_line(c: dict[str, Any], heldout_left: int) -> str:
    when = "the incumbent as it is now" if c["current"] else "an earlier incumbent"
    verdict = "PASSED" if c["passed"] else "FAILED"
    from autoresearch.faces.render import confirm_numbers, inputs_words

    line = f"confirm  {verdict} on {inputs_words(c['inputs'])} ({c['rounds']} rounds, baseline vs {when})"
    line += confirm_numbers(c, " (numbers: --show-heldout)")
    return line + f"; held-out confirms left: {heldout_left}"


@app.command()
def confirm(
    rounds: Annotated[int | None, typer.Option(help="Interleaved rounds (default [confirm] rounds; instructions: 1).")] = None,
    inputs: Annotated[str, typer.Option(help="heldout: the benchmark runs with [confirm] env (default AUTORESEARCH_ITEMS=heldout) and the segment's cap applies; dev: the usual inputs, no cap.")] = "heldout",
    measure: Annotated[str | None, typer.Option(help="Time a segment judged otherwise: cpu (CPU time of the benchmark's processes) or wall (its process's wall time; with measure = wall, its own METRIC). Checks that a gain in instruction counts is a gain in time.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure the segment's baseline commit against the incumbent now, interleaved, on fresh rounds.

    The truth check for the headline gain: both versions measured side by side, now, in
    random order each round. With held-out inputs (a benchmark that reads AUTORESEARCH_ITEMS
    and then prints `METRIC heldout=1`), it also tells whether the gains hold beyond the inputs
    the session tuned on; those are capped per segment ([confirm] max_heldout) so they never
    become a development set. Recorded in the ledger as a "confirm" record. A segment without
    keeps has nothing to confirm (exit 2).
    """

    def action() -> None:
        from autoresearch.confirm import confirm_session
        from autoresearch.errors import UsageError
        from autoresearch.faces.render import inputs_words, ratio_interval
        from autoresearch.model import Measure

        if inputs not in ("heldout", "dev"):
            raise UsageError("--inputs is heldout or dev")
        if measure not in (None, "cpu", "wall"):
            raise UsageError("--measure is cpu or wall")
        result = confirm_session(Path.cwd(), rounds, inputs == "heldout", _progress(not json_out),
                                 Measure(measure) if measure else None)
        if json_out:
            _print_json(result.as_dict())
            return
        r = result.record
        out = _console()
        for note in result.notes:
            out.print(f"[yellow]note:[/] {_esc(note)}", markup=True)
        verdict = "[bold green]PASSED[/]" if r.passed else "[bold red]FAILED[/]"
        out.print(f"confirm {verdict} on {inputs_words(r.inputs)}: baseline {r.baseline_commit[:10]} "
                  f"vs incumbent {r.incumbent_commit[:10]}, {r.rounds} interleaved rounds", markup=True)
        out.print(f"  measured  {_change(r.improvement)}{f' in {r.metric}' if measure else ''}, ratio {r.ratio:.3f} "
                  f"{ratio_interval(r.ci)} (95% interval)")
        if r.headline_ratio is not None and r.headline_ci is not None:
            out.print(f"  headline  ratio {r.headline_ratio:.3f} {ratio_interval(r.headline_ci)} from the keeps: "
                      + ("the intervals agree" if r.agrees else "the intervals DISAGREE"))
        if r.inputs == "heldout":
            out.print(f"  held-out confirms left in this segment: {result.remaining_heldout}")
        out.print(f"  logs      {r.logs}")

    _guarded(action, json_out)


@app.command()
def log(
    limit: Annotated[int, typer.Option(help="Show the last N experiments (0 = all).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """A table of the experiments in the ledger, newest last."""

    def action() -> None:
        from autoresearch.session import open_session
        from autoresearch.status import summarize

        session = open_session(Path.cwd())
        book = session.ledger()
        runs = book.runs[-limit:] if limit else book.runs
        if json_out:
            rows = []
            for r in runs:
                name, unit, measure = _segment_metric(book, session.config, r.segment)
                rows.append({**summarize(r), "segment": r.segment, "metric_name": name,
                             "unit": unit, "measure": measure})
            _print_json({"runs": rows, "warnings": book.warnings})
            return
        for warning in book.warnings:
            _console(stderr=True).print(f"warning: {warning}")
        _console().print(_runs_table(runs, book, session.config))

    _guarded(action, json_out)


@app.command()
def loop(
    patches: Annotated[Path | None, typer.Option(help="Folder of *.patch/*.diff files, one candidate each, in name order.")] = None,
    agent: Annotated[str | None, typer.Option(help="Agent preset: claude, codex, gemini, aider, opencode, pi.")] = None,
    agent_cmd: Annotated[str | None, typer.Option(help="Any agent command; placeholders {prompt}, {prompt_file}, {workspace}, {files}.")] = None,
    agent_timeout: Annotated[float, typer.Option(help="Seconds one proposal may take before the agent is killed.")] = 1800,
    llm: Annotated[str | None, typer.Option(help="Model name for an OpenAI-compatible endpoint.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint for --llm (OpenRouter, Ollama, vLLM, ...).")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key for --llm.")] = "OPENAI_API_KEY",
    llm_timeout: Annotated[float, typer.Option(help="Seconds --llm waits for the model: for the first streamed token and between two (for the whole answer with --no-llm-stream).", min=0.1)] = 300,
    llm_stream: Annotated[bool, typer.Option("--llm-stream/--no-llm-stream", help="Stream the answer (on by default; turn off for servers that cannot stream).")] = True,
    price_in: Annotated[float, typer.Option(help="USD per million input tokens, for cost accounting.")] = 0.0,
    price_out: Annotated[float, typer.Option(help="USD per million output tokens.")] = 0.0,
    max_experiments: Annotated[int | None, typer.Option(help="Stop after this many experiments.")] = None,
    max_hours: Annotated[float | None, typer.Option(help="Stop after this many hours.")] = None,
    max_usd: Annotated[float | None, typer.Option(help="Stop once proposals cost this much.")] = None,
    patience: Annotated[int | None, typer.Option(help="Stop after this many experiments in a row without a keep.")] = None,
    max_failures: Annotated[int, typer.Option(help="Stop after this many crashes or proposer failures in a row.")] = 5,
    parallel: Annotated[int, typer.Option(help="Proposers at work at once, each in its own worktree; their candidates are measured one at a time.", min=1)] = 1,
    executor: ExecutorOpt = None,
    checks_ahead: Annotated[bool, typer.Option("--checks-ahead/--no-checks-ahead", help="With --parallel: run each candidate's checks in its proposer's slot while another candidate is measured.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Run experiments unattended: a proposer makes each candidate, the harness judges it.

    Exactly one proposer: --patches, --agent, --agent-cmd or --llm. With --parallel N, N
    proposals are made at once while the harness measures one candidate after another; a
    candidate made on an older incumbent is merged onto the current one first, or recorded as a
    conflict. Ctrl-C once finishes the experiment in flight and stops (proposers at work are
    stopped); twice stops at once. Running loop again resumes.
    Exit code 0 when a budget or stop rule ended the loop, 1 when it gave up after repeated
    crashes or proposer failures, 2 for usage errors.
    """

    def action() -> None:
        from autoresearch.errors import UsageError
        from autoresearch.faces.view import make_view
        from autoresearch.loop import Budget, run_loop
        from autoresearch.session import open_session

        chosen = [x for x in (patches, agent, agent_cmd, llm) if x]
        if len(chosen) != 1:
            raise UsageError("choose exactly one proposer: --patches DIR, --agent NAME, "
                             "--agent-cmd CMD or --llm MODEL")
        session = open_session(Path.cwd())
        proposer = _make_proposer(session, patches, agent, agent_cmd, agent_timeout, llm,
                                  base_url, api_key_env, price_in, price_out, llm_timeout, llm_stream)
        budget = Budget(max_experiments, max_hours, max_usd, patience, max_failures)
        view = make_view(session, budget, json_out)
        try:
            if parallel > 1:
                from autoresearch.parallel import run_parallel_loop

                state = run_parallel_loop(Path.cwd(), proposer, budget, view, parallel, executor,
                                          checks_ahead)
            else:
                state = run_loop(Path.cwd(), proposer, budget, view, executor=executor)
        finally:
            view.close()
        _print_loop_summary(session, state, json_out)
        if state.stop is not None and state.stop.gave_up:
            raise typer.Exit(1)  # scripts must see that the loop gave up, not finished

    _guarded(action, json_out)


def _make_proposer(session: Session, patches: Path | None, agent: str | None, agent_cmd: str | None,
                   agent_timeout: float, llm: str | None, base_url: str | None, api_key_env: str,
                   price_in: float, price_out: float, llm_timeout: float = 300.0,
                   llm_stream: bool = True) -> Proposer:
    if patches:
        from autoresearch.proposers.patches import PatchFolder

        tried = {r.proposer for r in session.ledger().runs if r.proposer}
        return PatchFolder(patches if patches.is_absolute() else Path.cwd() / patches, tried)
    if agent or agent_cmd:
        from autoresearch.proposers.agent_cli import AgentCommand

        return AgentCommand.preset(agent, agent_timeout) if agent else AgentCommand(agent_cmd or "", agent_timeout)
    from autoresearch.proposers.llm import LLMProposer

    return LLMProposer(llm or "", base_url=base_url, api_key_env=api_key_env,
                       price_in_per_mtok=price_in, price_out_per_mtok=price_out,
                       timeout_s=llm_timeout, stream=llm_stream)


def _print_loop_summary(session: Session, state: LoopState, json_out: bool) -> None:
    from autoresearch.faces.report.fmt import count
    from autoresearch.model import StopReason
    from autoresearch.status import summarize

    runs = [r.record for r in state.results]
    if json_out:
        _print_json({"stop": state.stop, "stop_reason": state.stop_reason, "experiments": state.experiments,
                     "keeps": state.keeps, "spent_usd": state.spent_usd, "tokens": state.tokens,
                     "runs": [summarize(r) for r in runs]})
        return
    out = _console()
    out.print(f"\nstopped: {state.stop_reason}")
    if not runs and state.stop is StopReason.NO_PROPOSALS:
        out.print("nothing left to judge: every candidate the proposer has was judged before "
                  "(`autoresearch log` lists them)")
    else:
        out.print(f"{count(state.experiments, 'experiment')}, {state.keeps} kept"
                  + (f", ${state.spent_usd:.2f} spent" if state.spent_usd else ""))
        _render_outcomes(out, runs)
    _render_session_line(out, session)
    out.print("`autoresearch report` writes report.md, the progress chart and a page; "
              "`autoresearch loop ...` again resumes.")


def _render_outcomes(out: Console, runs: list[RunRecord]) -> None:
    """The keeps with their gains, then what was not kept and why."""
    from autoresearch.faces.render import ratio_with_interval

    kept = [r for r in runs if r.verdict == "keep"]
    others = [r for r in runs if r.verdict not in ("keep", "baseline")]
    if kept:
        out.print("\n[green]Kept[/] (each measured against the incumbent of its moment; ratio = "
                  "candidate/incumbent, 95% interval):", markup=True)
    for r in kept:
        out.print(f"  run {r.run}: {r.description} — {_change(r.improvement or 0)}, ratio "
                  f"{ratio_with_interval(r)}, {r.rounds} rounds", markup=False)
    if others:
        out.print("\n[yellow]Not kept[/]:", markup=True)
    for r in others:
        out.print(f"  run {r.run}: {r.description} — {r.verdict}: {r.reason}", markup=False)


def _render_session_line(out: Console, session: Session) -> None:
    """Where the whole session stands: the total gain from the keeps' paired ratios."""
    from autoresearch.faces.report import build_report, fmt

    d = build_report(session)
    total = (f"total {fmt.gain(d.total.gain, d.total.gain_ci)} from "
             f"{fmt.count(d.total.keeps, 'keep')} (paired ratios combined)" if d.total
             else "nothing kept yet")
    out.print(f"\nsession {d.session}: {d.metric} {fmt.number(d.baseline, d.unit)} → "
              f"{fmt.number(d.incumbent, d.unit)}, {total}; {fmt.count(len(d.judged), 'experiment')}",
              markup=False)


@app.command()
def report(
    segment: Annotated[int | None, typer.Option(help="Which segment (default: the current one; `init --new-segment` starts a new one).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the files (default: .autoresearch/report, which git ignores).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the session's report: report.md (a pull-request description), progress.png and
    progress.svg (every experiment a dot, the keeps on the running-best line, per-keep gains with
    intervals) and report.html (interactive, self-contained: opens with no network)."""

    def action() -> None:
        from autoresearch.faces.report import fmt, write_report
        from autoresearch.session import open_session

        session = open_session(Path.cwd())
        folder = out if out is not None else session.paths.state / "report"
        files = write_report(session, folder.absolute(), segment)
        if json_out:
            _print_json(files.as_dict())
            return
        d, console = files.data, _console()
        total = (f"total {fmt.gain(d.total.gain, d.total.gain_ci)} from {fmt.count(d.total.keeps, 'keep')}"
                 if d.total else "nothing kept yet")
        console.print(f"{d.session}: {len(d.judged)} experiments, {total}", markup=False)
        for label, path in (("markdown", files.markdown), ("chart", files.png),
                            ("chart", files.svg), ("page", files.html)):
            console.print(f"  {label:8s} {path}", markup=False)
        console.print("report.md reads as a pull-request description; report.html opens offline.")

    _guarded(action, json_out)


@app.command()
def ablate(
    max_minutes: Annotated[float | None, typer.Option(help="Stop starting new measurements after this many minutes; run again to continue.")] = None,
    rounds: Annotated[int | None, typer.Option(help="Interleaved rounds per measurement (default: [confirm] rounds; 1 for instruction counts).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """What each keep is worth now: the incumbent without it (reverted in a scratch tree)
    measured against the incumbent. Keeps that no longer matter and keeps that no longer revert
    cleanly are named. Recorded in the ledger; a second call continues where the first stopped."""

    def action() -> None:
        from autoresearch.faces.render import ratio_interval
        from autoresearch.finish import ablate as run_ablate

        table = run_ablate(Path.cwd(), max_minutes, rounds, progress=_progress(not json_out))
        if json_out:
            _print_json(table.as_dict())
            return
        out = _console()
        out.print("keep  worth now (incumbent / without it, 95% interval)   description", markup=False)
        for row in table.rows:
            worth = (f"{row.improvement:+.1%}  {row.ratio:.3f} {ratio_interval(row.ci)}"
                     if row.ratio is not None and row.ci is not None and row.improvement is not None
                     else row.outcome)
            note = f"  ({row.outcome}: {row.reason})" if row.reason else ""
            out.print(f"run {row.keep_run:<4d} {worth:<40s} {row.description}{note}", markup=False)
        if table.pending:
            out.print(f"not measured within the time: runs {', '.join(map(str, table.pending))} "
                      "(run `autoresearch ablate` again to continue)", markup=False)
        if table.total is not None:
            t = table.total
            parts = 1.0
            for row in table.rows:
                parts *= row.ratio if row.ratio is not None else 1.0
            out.print(f"total (session base → incumbent): {t.improvement:+.1%}, ratio {t.ratio:.3f} "
                      f"{ratio_interval(t.ci)}; product of the parts {parts:.3f}", markup=False)

    _guarded(action, json_out)


@app.command()
def split(
    run: Annotated[int, typer.Argument(help="The kept run whose files to measure one by one.")],
    rounds: Annotated[int | None, typer.Option(help="Interleaved rounds per measurement (default: [confirm] rounds; 1 for instruction counts).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Which parts of a kept bundle carry its gain: each file of the keep applied alone to the
    keep's parent and measured against it (instruction counts decide in one round where the
    session measures them)."""

    def action() -> None:
        from autoresearch.faces.render import ratio_interval
        from autoresearch.finish import split as run_split

        parts = run_split(Path.cwd(), run, rounds, progress=_progress(not json_out))
        if json_out:
            _print_json({"run": run, "parts": [p.as_dict() for p in parts]})
            return
        out = _console()
        for part in parts:
            if part.ratio is None or part.ci is None or part.improvement is None:
                out.print(f"  {part.file}: {part.note}", markup=False)
                continue
            share = f", {part.share:.0%} of the bundle's gain" if part.share is not None else ""
            verdict = "carries gain" if part.carries else "no significant gain alone"
            out.print(f"  {part.file}: {part.improvement:+.1%}, ratio {part.ratio:.3f} {ratio_interval(part.ci)}"
                      f"{share} — {verdict}", markup=False)

    _guarded(action, json_out)


@app.command()
def finalize(
    branch: Annotated[str | None, typer.Option(help="Name of the clean branch (default: the session branch + '-final').")] = None,
    split_groups: Annotated[bool, typer.Option("--split", help="Also one review branch per group of keeps that touch disjoint files, each checked.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Make a clean branch for review: off the commit the session started from, one commit per
    keep (its measured gain in the message), no harness files, no configuration commits. Never
    moves an existing branch or touches the session branch or your working tree."""

    def action() -> None:
        from autoresearch.finish import finalize as run_finalize

        made = run_finalize(Path.cwd(), branch, split_groups, progress=_progress(not json_out))
        if json_out:
            _print_json(made.as_dict())
            return
        out = _console()
        for note in made.notes:
            out.print(f"note: {note}", markup=False)
        out.print(f"{made.branch}: {len(made.commits)} commits", markup=False)
        for c in made.commits:
            out.print(f"  {c['commit'][:10]} run {c['run']}: {c['description']}", markup=False)
        for g in made.groups:
            out.print(f"{g['branch']}: runs {', '.join(map(str, g['runs']))} — "
                      f"{', '.join(g['files'])} (checks: {g['checks']})", markup=False)

    _guarded(action, json_out)


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="Port to serve on (0 = any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to serve on; only this machine's own (127.0.0.1, localhost, ::1) unless --allow-remote.")] = "127.0.0.1",
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow an interface other machines can reach: anyone who can reach it sees the session.")] = False,
    segment: Annotated[int | None, typer.Option(help="Which segment (default: the current one).")] = None,
) -> None:
    """A live page of the session in your browser: the progress chart, the experiment running
    now (phase, round, running estimate) and the ledger, refreshed as experiments land. Read-only;
    run it beside `loop` or `run`. Ctrl-C stops it."""

    def action() -> None:
        from autoresearch.faces.dashboard import serve
        from autoresearch.session import open_session

        session = open_session(Path.cwd())
        out = _console()
        serve(session, host, port, allow_remote, segment,
              ready=lambda url: out.print(f"dashboard of {session.config.session.name} on {url}  "
                                          "(Ctrl-C stops it)", markup=False))

    _guarded(action)


@app.command()
def brief(
    driver: Annotated[str, typer.Option("--for", help="loop: what `autoresearch loop` hands an agent CLI or LLM (the agent edits, then stops); mcp: what the MCP tool `brief` returns (the agent calls run_experiment itself).")] = "loop",
    json_out: JsonOpt = False,
) -> None:
    """Print the brief a proposer is given: objective, rules, history, dead ends, ideas, last failure."""

    def action() -> None:
        from autoresearch.brief import build_brief
        from autoresearch.errors import UsageError
        from autoresearch.proposers.agent_cli import PROPOSAL_FILE
        from autoresearch.session import open_session

        if driver not in ("loop", "mcp"):
            raise UsageError(f"--for must be loop or mcp, not {driver!r}")
        b = build_brief(open_session(Path.cwd()), proposal_file=PROPOSAL_FILE if driver == "loop" else None,
                        driver=driver)
        if json_out:
            _print_json({"driver": driver, "run": b.run, "metric": b.metric, "direction": b.direction,
                         "scope": b.scope, "protected": b.protected,
                         "proposal_file": PROPOSAL_FILE if driver == "loop" else None, "text": b.text})
        else:
            sys.stdout.write(b.text.rstrip("\n") + "\n")

    _guarded(action, json_out)


@app.command()
def setup(
    agent: Annotated[str, typer.Option(help="claude (skill + `claude mcp add`), codex (AGENTS.md + ~/.codex/config.toml), gemini (GEMINI.md + .gemini/settings.json), cursor (.cursor/rules + .cursor/mcp.json), opencode (AGENTS.md + opencode.json) or pi (AGENTS.md).")],
    remove: Annotated[bool, typer.Option("--remove", help="Undo what setup did: files back exactly as they were (your later edits kept), the MCP server unregistered.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Teach an agent to drive this repository's session: install its instructions and register
    the MCP server (`autoresearch mcp`) where the agent has a place for it.

    Idempotent: running it again changes nothing. Every file it changes is backed up under
    .autoresearch/setup/ first.
    """

    def action() -> None:
        from autoresearch.agent_setup import setup_agent
        from autoresearch.infra.git import Git

        result = setup_agent(Git.discover(Path.cwd()).root, agent, remove)
        if json_out:
            _print_json(result.as_dict())
            return
        out = _console()
        for change in result.changes:
            out.print(f"{change.action:>10}  {change.path}" + (f"  ({change.detail})" if change.detail else ""),
                      markup=False)
        if not result.changed:
            out.print("nothing to do: " + ("nothing of autoresearch's is installed" if remove
                                           else "already set up"))

    _guarded(action, json_out)


@app.command()
def idea(text: Annotated[str, typer.Argument(help="The idea, one line.")]) -> None:
    """Append an idea to the backlog (autoresearch.ideas.md) that proposers read."""

    def action() -> None:
        from autoresearch.ideas import add_idea

        path = add_idea(Path.cwd(), text)
        _console().print(f"added to {path.name}")

    _guarded(action)


@app.command()
def ideas(json_out: JsonOpt = False) -> None:
    """List the ideas backlog."""

    def action() -> None:
        from autoresearch.ideas import list_ideas

        items = list_ideas(Path.cwd())
        if json_out:
            _print_json({"ideas": items})
            return
        out = _console()
        for i, item in enumerate(items, 1):
            out.print(f"{i:3d}. {item}", markup=False)
        if not items:
            out.print("no ideas yet: `autoresearch idea \"...\"` adds one")

    _guarded(action, json_out)


@app.command()
def demo(
    example: Annotated[str, typer.Option(help="Which bundled example: template-engine, expert-streaming or word-count.")] = "template-engine",
    directory: Annotated[Path | None, typer.Option("--dir", help="Where to create the example repository (default: a new temporary folder, kept).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """See the whole thing work: copy an example project into a fresh git repository, start a
    session and judge a dozen candidate patches (real speedups, a slowdown, a no-op, one that
    breaks a test, one that edits the benchmark, one that hangs). Offline, no API key."""

    def action() -> None:
        from autoresearch.demo import run_demo
        from autoresearch.faces.view import make_view
        from autoresearch.status import summarize

        progress = _progress(not json_out)
        result = run_demo(example, directory, lambda s, b: make_view(s, b, json_out), progress)
        if json_out:
            _print_json({"repo": str(result.repo), "example": result.example,
                         "stop_reason": result.stop_reason,
                         "runs": [summarize(r) for r in result.runs]})
            return
        _render_demo(result)

    _guarded(action, json_out)


def _render_demo(result: DemoResult) -> None:
    out = _console()
    runs = [r for r in result.runs if not r.is_baseline]
    kept = [r for r in runs if r.is_keep]
    out.print()
    out.print(f"[bold]Demo finished[/] ({result.stop_reason}) — {len(runs)} candidates judged, "
              f"{len(kept)} kept", markup=True)
    from autoresearch.session import open_session
    _render_outcomes(out, runs)
    _render_session_line(out, open_session(result.repo))
    out.print(f"\nrepository: {result.repo}")
    out.print(f"ledger:     {result.repo / 'autoresearch.jsonl'}")
    out.print(f"logs:       {result.repo / '.autoresearch' / 'runs'}")
    out.print("\nContinue by hand:   cd " + str(result.repo) + " && autoresearch status")
    out.print("                    edit a file in scope, then autoresearch run -m \"what you changed\"")
    out.print("With an agent:      autoresearch loop --agent claude --max-experiments 20")


@app.command()
def cleanup(json_out: JsonOpt = False) -> None:
    """Remove the two measured checkouts (git worktrees under .autoresearch/); the ledger, the
    logs and the saved candidates stay. The next run makes the checkouts again."""

    def action() -> None:
        from autoresearch.infra.state import session_lock
        from autoresearch.infra.workspace import remove_worktrees
        from autoresearch.session import open_session

        session = open_session(Path.cwd())
        with session_lock(session.paths, "cleanup"):
            removed = remove_worktrees(session.git, session.paths)
        if json_out:
            _print_json({"removed": [str(p) for p in removed]})
        else:
            _console().print("removed " + (", ".join(str(p) for p in removed) or "nothing"))

    _guarded(action, json_out)


@app.command()
def doctor(json_out: JsonOpt = False) -> None:
    """Say what this machine supports: the bubblewrap sandbox (build, checks and benchmark runs
    sealed), user namespaces, valgrind (`--measure instructions`), and, in a repository, whether
    its code is pip-installed in editable mode (which makes every comparison A/A). Exit 0 when all
    is well, 1 when something is missing; each finding says how to fix it."""

    def action() -> None:
        from autoresearch.doctor import diagnose
        from autoresearch.errors import UsageError
        from autoresearch.infra.git import Git

        try:
            repo: Path | None = Git.discover(Path.cwd()).root
        except UsageError:  # outside a repository there is no install to look for
            repo = None
        report = diagnose(repo)
        if json_out:
            _print_json(report.as_dict())
        else:
            out = _console()
            for check in report.checks:
                mark = "[green]ok[/]  " if check.ok else "[red]no[/]  "
                out.print(f"{mark} [bold]{check.name}[/]: {check.detail}", markup=True)
                if check.fix:
                    out.print(f"      fix: {check.fix}", markup=False)
        if not report.ok:
            raise typer.Exit(1)

    _guarded(action, json_out)


@app.command()
def mcp() -> None:
    """Serve the session to an agent over MCP (stdio): tools init, brief, run_experiment, result,
    status, log, add_idea (and pi-autoresearch's init_experiment, log_experiment). Experiments run
    in worker processes that outlive a timed-out call. `autoresearch setup --agent NAME` registers
    it with an agent (for Claude Code: `claude mcp add autoresearch -- autoresearch mcp`)."""

    def action() -> None:
        from autoresearch.faces.mcp_server import build_server
        from autoresearch.infra.git import Git

        build_server(Git.discover(Path.cwd()).root).run("stdio")

    _guarded(action)


def _value(value: float | None, unit: str) -> str:
    """A metric with its unit: `12.5 µs`, `0.77 s`, `1.2e+09 instr`."""
    from autoresearch.faces.report.fmt import number

    return number(value, unit)


def _runs_table(runs: list[RunRecord], book: Ledger, config: Config) -> Table:
    """Every row with its own segment's metric, measure and unit (they change between segments)."""
    from rich.table import Table

    from autoresearch.faces.render import ratio_with_interval

    table = Table(show_edge=False, pad_edge=False)
    columns = ("run", "seg", "verdict", "metric", "ratio [interval]", "rounds", "reason", "description")
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in runs:
        name, unit, measure = _segment_metric(book, config, r.segment)
        ratio = ratio_with_interval(r)
        metric = f"{name} {_value(r.metric, unit)} ({measure})" if r.metric is not None else ""
        table.add_row(str(r.run), str(r.segment), r.verdict, metric, ratio, str(r.rounds or ""),
                      r.reason, r.description)
    return table


def _segment_metric(book: Ledger, config: Config, segment: int) -> tuple[str, str, str]:
    """Metric name, unit and measure of a segment, from its own header in the ledger."""
    if 0 <= segment < len(book.headers):
        header = book.headers[segment]
        current = segment == book.segment
        measure = header.measure or (config.metric.measure if current else "?")
        return header.metricName, header.metricUnit, measure
    return config.metric.name, config.metric.unit, config.metric.measure


def _print_json(data: Any) -> None:
    from autoresearch.faces.render import json_ready

    sys.stdout.write(json.dumps(json_ready(data), indent=2, ensure_ascii=False, default=str,
                                allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
