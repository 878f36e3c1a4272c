"""`autoresearch init`: scaffold the session files, create the branch, measure the baseline."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoresearch import config as cfg
from autoresearch import pi_import
from autoresearch.errors import ArmFailure, AutoresearchError, BaselineError, UsageError
from autoresearch.infra import ledger
from autoresearch.infra.git import Git
from autoresearch.infra.state import Paths, claim_run, next_run_number, now_ms, remember_commit, session_lock
from autoresearch.infra.workspace import (
    exclude_harness_files,
    outside_checkouts,
    remember_untracked,
    remove_worktrees,
)
from autoresearch.measure.arms import build, checkout, run_checks, sandbox
from autoresearch.measure.bench import Arm, Bench, short_run_warning
from autoresearch.model import (
    SCHEMA_VERSION,
    ConfigHeader,
    Measure,
    RunRecord,
    Status,
    Verdict,
)
from autoresearch.progress import Progress, ProgressEvent
from autoresearch.record import recover
from autoresearch.session import Session
from autoresearch.stats import median

log = logging.getLogger(__name__)

BRIEF_TEMPLATE = """\
# Research brief: {name}

## Objective
Make {metric} {better} ({direction} is better) without changing behaviour.

## Metrics
{metrics}

## How to run
- Benchmark: {how}
- Checks: the `checks` command in `autoresearch.toml` must exit 0 (usually the test suite).
- The harness measures every change against the current best and commits or restores it; never
  commit or revert yourself, and never judge a change by your own run of the benchmark.

## Files in scope
{scope}

## Off limits
- The benchmark, the checks script and `autoresearch.toml` (a change to them is discarded as tampered).
{protect}

## Constraints
- All checks pass; output stays identical.
- No new dependencies.

## What has been tried
(see `autoresearch status` and `autoresearch log`)
"""

# What the primary metric is, per measure: the benchmark prints it, or the harness makes it.
_PRIMARY = {
    "wall": "- Primary: `{metric}`{unit_note}, printed by `{benchmark}` as `METRIC {metric}=<number>`.",
    "single": ("- Primary: `{metric}`{unit_note}, printed by `{benchmark}` as `METRIC {metric}=<number>`;"
               " one run per candidate, judged against the incumbent's recorded runs."),
    "cpu": ("- Primary: `cpu_s` (s): CPU seconds (user + system) of the benchmark's whole process "
            "tree, measured by the harness while `{benchmark}` runs. The benchmark prints nothing for "
            "it; sleeping and waiting do not count."),
    "instructions": ("- Primary: `instructions`: instructions executed by the benchmark's "
                     "processes, counted by the harness under valgrind while `{benchmark}` runs "
                     "(exact, so one round decides). The benchmark prints nothing for it; sleep, "
                     "I/O and cache misses are invisible to it."),
    "instructions+cpu": ("- Primary: `instructions`: instructions executed by the benchmark's "
                         "processes, counted by the harness under valgrind while `{benchmark}` "
                         "runs (exact, so one round decides). A change it would keep is then timed "
                         "(CPU seconds, interleaved rounds) and vetoed if it is slower in time "
                         "beyond the noise. The benchmark prints nothing for either."),
}
_HOW = {
    "wall": "`{benchmark}` prints `METRIC {metric}=<number>`.",
    "single": "`{benchmark}` prints `METRIC {metric}=<number>`.",
    "cpu": "`{benchmark}` runs the workload; the harness measures its CPU time.",
    "instructions": "`{benchmark}` runs the workload; the harness counts its instructions.",
    "instructions+cpu": ("`{benchmark}` runs the workload; the harness counts its instructions "
                         "and times the changes it would keep."),
}

BENCHMARK_TEMPLATE = """\
#!/usr/bin/env bash
# Benchmark for autoresearch. {what}
# Other METRIC lines become secondary metrics. Run your workload from this checkout
# (not from an installed copy), with a fixed input, long enough to be measurable (>= 0.1 s).
set -euo pipefail
cd "$(dirname "$0")"

echo "Edit autoresearch.sh to run your benchmark, then run 'autoresearch init' again." >&2
exit 1
# Example:
# python3 bench.py            # {example}
"""


def brief_text(config: cfg.Config) -> str:
    """The scaffolded research brief, right for the session's measure."""
    c, m = config, config.metric
    fields = {"metric": m.name, "benchmark": c.commands.benchmark,
              "unit_note": f" ({m.unit})" if m.unit else ""}
    metrics = [_PRIMARY[m.measure].format(**fields)]
    metrics += [f"- Also reported: `{name}` (the benchmark prints `METRIC {name}=<number>`)."
                for name in m.secondary]
    metrics.append("- Secondary: any other `METRIC name=value` line the benchmark prints.")
    scope = "\n".join(f"- `{g}`" for g in c.scope.include) or "- (anything in the repository)"
    protect = "\n".join(f"- `{g}`" for g in c.scope.protect)
    return BRIEF_TEMPLATE.format(
        name=c.session.name, metric=m.name, direction=m.direction,
        better="smaller" if m.direction == "lower" else "larger", metrics="\n".join(metrics),
        how=_HOW[m.measure].format(**fields), scope=scope, protect=protect)


def benchmark_template(config: cfg.Config) -> str:
    """The benchmark script `init` scaffolds; a harness-measured primary needs no METRIC line."""
    m = config.metric
    if m.measure in cfg.HARNESS_METRICS:
        what = (f"The harness measures the primary metric ({m.name}) itself: just run the "
                "workload; METRIC lines you print are optional.")
        example = "which runs the workload once"
    else:
        what = f"Print the primary metric as one line: METRIC {m.name}=<number>"
        example = f"which prints: METRIC {m.name}=1234.5"
    return BENCHMARK_TEMPLATE.format(what=what, example=example)


@dataclass(frozen=True)
class InitOptions:
    """What `autoresearch init` was asked for; None (or "") = not given."""

    name: str
    metric: str
    direction: str | None = None
    unit: str | None = None
    measure: str | None = None
    benchmark: str = f"./{cfg.BENCHMARK_FILE}"
    checks: str | None = None
    build: str | None = None
    scope: tuple[str, ...] = ()
    protect: tuple[str, ...] = ()
    link: tuple[str, ...] = ()
    timeout: float | None = None
    checks_timeout: float = 300
    new_segment: bool = False


@dataclass(frozen=True)
class InitResult:
    """What `init` did."""

    created: list[str]
    branch: str
    baseline: RunRecord | None
    needs_benchmark: bool = False
    notes: list[str] = field(default_factory=list)
    imported: dict[str, Any] | None = None  # the pi-autoresearch session continued, if any


def unit_of_name(metric: str) -> str:
    """The time unit a metric's name ends in (`render_ms` → "ms"), or "": a time unit switches
    on the harness's check of a claimed time against the process's own.

    >>> (unit_of_name("render_ms"), unit_of_name("parse_us"),
    ...  unit_of_name("tokens_per_s"), unit_of_name("score"))
    ('ms', 'µs', '', '')
    """
    suffix = metric.rsplit("_", 1)[-1] if "_" in metric else ""
    if metric.endswith("_per_s"):
        return ""
    return {"s": "s", "ms": "ms", "us": "µs", "µs": "µs", "ns": "ns"}.get(suffix, "")


def metric_section(opts: InitOptions, current: cfg.MetricConfig | None = None) -> dict[str, Any]:
    """The `[metric]` table for `opts`, on top of `current` when a session switches measure.

    A harness-measured primary (cpu, instructions) carries its fixed name and unit; a metric
    named beside it, or the benchmark metric it replaces, becomes a secondary one.

    >>> metric_section(InitOptions("s", "render_ms", measure="cpu"))["secondary"]
    ['render_ms']
    >>> wall = cfg.MetricConfig(name="render_ms", unit="ms")
    >>> section = metric_section(InitOptions("", "", measure="instructions"), wall)
    >>> section["name"], section["unit"], section["secondary"]
    ('instructions', 'instr', ['render_ms'])
    """
    measure = opts.measure or (current.measure if current else "wall")
    secondary = list(current.secondary) if current else []
    harness = cfg.HARNESS_METRICS.get(Measure(measure))
    if harness:
        name, unit = harness
        named = opts.metric or (current.name if current and current.measure not in cfg.HARNESS_METRICS
                                else "")
        if named and named != name and named not in secondary:
            secondary.insert(0, named)
        direction = opts.direction or "lower"
    else:
        name = opts.metric or (current.name if current and current.measure == measure else "")
        if not name and current:
            # back from a harness measure: the benchmark's own metric it reported beside it
            name = next(iter(current.secondary), "")
        if not name:
            raise UsageError(f"--measure {measure} needs --metric: the METRIC line of the benchmark "
                             "that is the primary metric")
        same = current is not None and current.name == name
        unit = opts.unit if opts.unit is not None else (current.unit if same and current else
                                                        unit_of_name(name))
        direction = opts.direction or (current.direction if same and current else "lower")
        secondary = [m for m in secondary if m != name]
    return {"name": name, "direction": direction, "unit": unit, "measure": measure,
            "secondary": [m for m in secondary if m not in cfg.HARNESS_METRICS_NAMES]}


INSTRUCTIONS_MIN_EFFECT = 0.005


def build_config(opts: InitOptions, root: Path) -> cfg.Config:
    """The configuration `init` writes; a harness-measured primary gets its fixed name."""
    checks = opts.checks
    if checks is None and (root / cfg.CHECKS_FILE).exists():
        checks = f"./{cfg.CHECKS_FILE}"
    try:
        return cfg.Config.model_validate(
            {
                "session": {"name": opts.name},
                "metric": metric_section(opts),
                "commands": {"benchmark": opts.benchmark, "checks": checks or None,
                             "build": opts.build, "timeout": opts.timeout,
                             "checks_timeout": opts.checks_timeout},
                "scope": {"include": list(opts.scope), "protect": list(opts.protect),
                          "link": list(opts.link)},
                # exact counts see small gains: keep anything of at least 0.5%
                "stats": ({"min_effect": INSTRUCTIONS_MIN_EFFECT}
                          if opts.measure in {m.value for m in Measure if m.deterministic} else {}),
            }
        )
    except ValidationError as exc:
        raise UsageError(f"invalid init options: {option_errors(exc)}") from None


def option_errors(exc: ValidationError) -> str:
    """Validation errors named by the `init` option that set the field."""
    return "; ".join(f"--{str(e['loc'][-1]).replace('_', '-')}: {e['msg']}" for e in exc.errors())


def check_benchmark(root: Path, command: str, build: str | None = None) -> None:
    """A benchmark that is a repository script must exist and be executable.

    Where a build command is set, a missing one may be what it makes (`cc -o bench bench.c`):
    the baseline's build shows whether it does.
    """
    script = cfg.script_of(command)
    if script is None:
        return
    path = root / script
    if not path.exists():
        if build:
            return
        raise UsageError(f"the benchmark {script} does not exist (if a build makes it, give the "
                         "build with --build)")
    if not os.access(path, os.X_OK):
        raise UsageError(f"the benchmark {script} is not executable: chmod +x {script}")


def init_session(start: Path, opts: InitOptions, progress: Progress = lambda _: None) -> InitResult:
    """Start a session (or a new segment of one) in the repository containing `start`."""
    git = Git.discover(start)
    root, paths = git.root, Paths.of(git)
    if git.branch() is None:
        raise UsageError("HEAD is detached: switch to a branch first (git switch <branch>)")
    if git.head() is None:
        raise UsageError("the repository has no commits yet: commit your project first")
    exclude_harness_files(git)
    with session_lock(paths, "init"):
        existing = (root / cfg.CONFIG_FILE).exists() and git.branch() == _branch_in(root)
        if existing:
            return _continue_session(git, opts, progress)
        return _new_session(git, opts, progress)


def _branch_in(root: Path) -> str | None:
    try:
        return cfg.load(root).session.branch
    except UsageError:
        return None


def _new_session(git: Git, opts: InitOptions, progress: Progress) -> InitResult:
    undo = _Undo(git)
    try:
        return _start_session(git, opts, progress, undo)
    except BaseException:
        undo.roll_back()
        raise


class _Undo:
    """What a new session's `init` changed so far, put back exactly when it fails.

    `init` is all or nothing: the branch it made, its commit and the files it wrote go; the
    user's files, index and other branches are never touched.
    """

    def __init__(self, git: Git):
        self.git = git
        self.start_branch = git.branch()
        self.start_head = git.rev("HEAD")
        self.new_branch: str | None = None
        self.written: dict[str, bytes] = {}  # files init created, with the bytes it wrote
        self.replaced: dict[str, bytes] = {}  # files init changed, with their bytes before

    def remember_written(self, names: list[str]) -> None:
        for rel in names:
            self.written[rel] = (self.git.root / rel).read_bytes()

    def remember_before(self, rel: str) -> None:
        path = self.git.root / rel
        if path.exists() and rel not in self.replaced:
            self.replaced[rel] = path.read_bytes()

    def roll_back(self) -> None:
        git, root = self.git, self.git.root
        if self.new_branch is not None:
            # Back on the starting branch with its index; the working tree is left as it is, so
            # files the session commit held stay where they were (untracked) and nothing the
            # user changed meanwhile is lost.
            git.run("symbolic-ref", "HEAD", f"refs/heads/{self.start_branch}")
            git.run("reset", "--quiet", "--mixed", self.start_head)
            if git.branch_exists(self.new_branch):
                git.run("branch", "-D", "--quiet", self.new_branch)
        for rel, data in self.written.items():
            path = root / rel
            if path.exists() and path.read_bytes() == data:  # unless edited meanwhile
                path.unlink()
        for rel, data in self.replaced.items():
            (root / rel).write_bytes(data)
        if self.new_branch is not None:
            try:  # last: a checkout that will not go must not keep the rest from being undone
                remove_worktrees(git, Paths.of(git))
            except AutoresearchError as exc:
                log.warning("the measured checkouts were left in place: %s", exc)


def _start_session(git: Git, opts: InitOptions, progress: Progress, undo: _Undo) -> InitResult:
    root, paths = git.root, Paths.of(git)
    book = ledger.read(paths.ledger, ledger.signing_key(paths.private))
    pi = pi_import.detect(root)
    if pi is not None:
        opts = pi_import.adopt(opts, pi)
    elif book.headers and not (root / cfg.CONFIG_FILE).exists():
        other = book.headers[-1].name
        raise UsageError(f"{cfg.LEDGER_FILE} holds the ledger of session {other!r}; move it away "
                         f"first (mv {cfg.LEDGER_FILE} autoresearch-{other}.jsonl) so the two "
                         "sessions' histories stay apart")
    dirty = git.dirty_tracked()
    if dirty:
        listing = "\n".join(f"  {p}" for p in dirty[:20]) + ("\n  ..." if len(dirty) > 20 else "")
        raise UsageError(f"the working tree has uncommitted changes; commit or stash them first:\n{listing}")
    # An autoresearch.toml already in the repository (written by a first `init`, then edited)
    # wins over the flags, which only create it.
    if (root / cfg.CONFIG_FILE).exists():
        undo.remember_before(cfg.CONFIG_FILE)
        _adopt_checks_script(git)
        config = cfg.load(root)
    else:
        config = build_config(opts, root)
    branch = config.session.branch
    if git.branch_exists(branch):
        raise UsageError(f"branch {branch} already exists: git switch {branch} to continue that "
                         "session, or choose another --name")
    template_wanted = config.commands.benchmark == f"./{cfg.BENCHMARK_FILE}" and not (
        root / cfg.BENCHMARK_FILE).exists()
    if not template_wanted:
        check_benchmark(root, config.commands.benchmark, config.commands.build)
    created = (pi_import.import_files(root, pi) if pi else []) + _scaffold(root, config, opts)
    if template_wanted:
        return InitResult(created, branch, None, needs_benchmark=True)
    undo.remember_written(created)
    undo.new_branch = branch
    git.run("switch", "--quiet", "-c", branch)
    session_files = [f for f in (cfg.BRIEF_FILE, cfg.BENCHMARK_FILE, cfg.CONFIG_FILE, cfg.CHECKS_FILE)
                     if (root / f).exists()]
    git.run("add", "--", *session_files)
    # The measured checkouts must hold the benchmark and checks wherever they live (pi's `.auto/`
    # is often git-ignored): they are committed, and protected from then on.
    scripts = [p for p in (cfg.script_of(config.commands.benchmark), cfg.script_of(config.commands.checks))
               if p and p not in session_files and (root / p).exists()]
    if scripts:
        git.run("add", "--force", "--", *scripts)
    for own in (cfg.LEDGER_FILE, cfg.IDEAS_FILE):  # written during the session, never by a candidate
        if git.ok("ls-files", "--error-unmatch", own):
            git.run("rm", "--cached", "--quiet", own)
    if git.dirty_tracked():
        git.run("commit", "--quiet", "--no-verify", "-F", "-",
                input=f"autoresearch: start session {config.session.name}\n", env=git.identity())
    remember_untracked(git, paths)
    if pi is not None:
        # Its history, its baseline and best as the reference: nothing to measure before the
        # first candidate, which is measured against the incumbent itself.
        notes = pi_import.import_ledger(paths.ledger, pi)
        segment = ledger.read(paths.ledger).segment_runs()
        base = next((r for r in segment if r.is_baseline), None)
        return InitResult(created, branch, base, notes=notes, imported=pi_import.describe(pi))
    session = Session(git, config, paths)
    notes = _unlinked_note(session)
    baseline = _measure_baseline(session, progress, notes)
    return InitResult(created, branch, baseline, notes=notes)


def _adopt_checks_script(git: Git) -> None:
    """A checks script written after the first `init` scaffolded the config is switched on.

    Only while the config is still uncommitted (between the two `init` calls): after that,
    the config is the user's and changes only by their own commit.
    """
    root = git.root
    if not (root / cfg.CHECKS_FILE).exists() or git.ok("ls-files", "--error-unmatch", cfg.CONFIG_FILE):
        return
    path = root / cfg.CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    commented = f'# checks = "./{cfg.CHECKS_FILE}"'
    if commented in text:
        path.write_text(text.replace(commented, f'checks = "./{cfg.CHECKS_FILE}"'), encoding="utf-8")


def _continue_session(git: Git, opts: InitOptions, progress: Progress) -> InitResult:
    session = Session(git, cfg.load(git.root), Paths.of(git))
    recover(session)
    book = session.ledger()
    if book.headers and not opts.new_segment:
        raise UsageError(
            f"session {session.config.session.name!r} already exists on {session.config.session.branch} "
            f"({len(book.runs)} records). Continue with `autoresearch run` or `autoresearch status`; "
            "start a new baseline with `autoresearch init --new-segment`."
        )
    if git.dirty_tracked():
        raise UsageError("the working tree has uncommitted changes; run or discard the candidate first")
    session, notes = _switch_metric(session, opts)
    baseline = _measure_baseline(session, progress, notes)
    return InitResult([], session.config.session.branch, baseline, notes=notes)


def _switch_metric(session: Session, opts: InitOptions) -> tuple[Session, list[str]]:
    """A new segment may measure something else: rewrite `[metric]`, commit, say what changed.

    Settings calibrated for the old measure are dropped (a min_effect tuned on wall-time noise
    means nothing for instruction counts), and a brief still as scaffolded is rewritten.
    """
    old = session.config
    if not (opts.metric or opts.measure or opts.direction or opts.unit is not None):
        return session, []
    section = metric_section(opts, old.metric)
    try:
        new_metric = cfg.MetricConfig.model_validate(section)
    except ValidationError as exc:
        raise UsageError(f"invalid init options: {option_errors(exc)}") from None
    if new_metric == old.metric:
        return session, []
    path = session.root / cfg.CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    text = cfg.set_section(text, "metric", section)
    notes = [f"primary metric: {old.metric.name} ({old.metric.measure}) → "
             f"{new_metric.name} ({new_metric.measure})"]
    notes += [f"{name} is reported as a secondary metric" for name in new_metric.secondary
              if name not in old.metric.secondary]
    s = old.stats
    if s.calibrated_for and s.calibrated_for != new_metric.measure:
        for key in ("min_effect", "max_rounds", "calibrated_for"):
            text = cfg.set_key(text, "stats", key, None)
        notes.append(f"min_effect and max_rounds were calibrated for {s.calibrated_for}: back to "
                     f"the defaults; `autoresearch calibrate --write` tunes them for {new_metric.measure}")
    path.write_text(text, encoding="utf-8")
    try:
        config = cfg.load(session.root)
    except AutoresearchError:
        session.git.run("checkout", "--quiet", "--", cfg.CONFIG_FILE)  # ours: leave it as it was
        raise
    changed = [cfg.CONFIG_FILE]
    brief = session.root / cfg.BRIEF_FILE
    if brief.exists() and session.git.ok("ls-files", "--error-unmatch", cfg.BRIEF_FILE):
        if brief.read_text(encoding="utf-8") == brief_text(old):
            brief.write_text(brief_text(config), encoding="utf-8")
            changed.append(cfg.BRIEF_FILE)
            notes.append(f"{cfg.BRIEF_FILE} rewritten for measure {new_metric.measure}")
        else:
            notes.append(f"{cfg.BRIEF_FILE} is your own: check what it says about the metric")
    session.git.run("commit", "--quiet", "--no-verify", "-F", "-", "--", *changed,
                    input=f"autoresearch: measure {new_metric.name} ({new_metric.measure})\n",
                    env=session.git.identity())
    remember_commit(session.paths, session.git.rev("HEAD"))
    return Session(session.git, config, session.paths), notes


def _missing_files(session: Session, output: str) -> str:
    """Name the files of the working tree that the measured checkout lacks, and the ways out.

    The checkouts hold only what git tracks. A benchmark or checks that read an untracked or
    ignored file (a script, a data set, a venv, a compiled extension) fail there while they
    work in the working tree. Entries the scripts or the failure mention come first; when none
    is mentioned, every such entry is a suspect.
    """
    named = _untracked_mentions(session, output)
    suspects = [(e, who) for e, who in named if who] or named
    if not suspects:
        return ""
    shown = ", ".join(f"{e} (in {', '.join(who)})" if who else e for e, who in suspects[:8])
    more = f" and {len(suspects) - 8} more" if len(suspects) > 8 else ""
    links = " ".join(f"--link {e.rstrip('/')}" for e, _ in suspects[:3])
    toml = ", ".join(f'"{e.rstrip("/")}"' for e, _ in suspects[:3])
    return (f"\n\nThe measured checkouts hold only the files git tracks; these files of your "
            f"working tree are not in them: {shown}{more}. If the benchmark or the checks need "
            "them, either commit them, or link them into both checkouts: "
            f"`autoresearch init ... {links}`, or `link = [{toml}]` under [scope] in "
            f"{cfg.CONFIG_FILE}.")


def _unlinked_note(session: Session) -> list[str]:
    """Before measuring: untracked files the scripts mention, which the checkouts will lack.

    A benchmark that finds its input missing may fall back to another one and still succeed;
    the note says what it could not see.
    """
    named = [(e, who) for e, who in _untracked_mentions(session, "") if who]
    if not named:
        return []
    shown = ", ".join(f"{e} (in {', '.join(who)})" for e, who in named[:8])
    note = (f"not in the measured checkouts, because git does not track them: {shown}. If the "
            "benchmark or the checks read them, commit them or list them under [scope] link in "
            f"{cfg.CONFIG_FILE}.")
    return [note]


def _untracked_mentions(session: Session, output: str) -> list[tuple[str, list[str]]]:
    """Each untracked or ignored entry the checkouts lack, with the scripts (or output) naming it."""
    entries = outside_checkouts(session.git, list(session.config.scope.link))
    texts = {name: _read_text(session.root / name) for name in _scripts(session.config)}
    if output:
        texts["the output"] = output

    def mentioned_by(entry: str) -> list[str]:
        bare = entry.rstrip("/")
        # a path, a file name, or a module name (`import helper` for helper.py)
        needles = {bare} | {n for n in (Path(bare).name, Path(bare).stem) if len(n) >= 3}
        return [who for who, text in texts.items() if any(n in text for n in needles)]

    return [(e, mentioned_by(e)) for e in entries]


def _scripts(config: cfg.Config) -> list[str]:
    """The repository files the benchmark, checks and build commands run."""
    c = config.commands
    return [s for s in (cfg.script_of(c.benchmark), cfg.script_of(c.checks), cfg.script_of(c.build)) if s]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _scaffold(root: Path, config: cfg.Config, opts: InitOptions) -> list[str]:
    created = []
    c = config
    if not (root / cfg.BRIEF_FILE).exists():
        (root / cfg.BRIEF_FILE).write_text(brief_text(c), encoding="utf-8")
        created.append(cfg.BRIEF_FILE)
    if opts.benchmark == f"./{cfg.BENCHMARK_FILE}" and not (root / cfg.BENCHMARK_FILE).exists():
        path = root / cfg.BENCHMARK_FILE
        path.write_text(benchmark_template(c), encoding="utf-8")
        path.chmod(0o755)
        created.append(cfg.BENCHMARK_FILE)
    if not (root / cfg.CONFIG_FILE).exists():
        (root / cfg.CONFIG_FILE).write_text(cfg.dump(config), encoding="utf-8")
        created.append(cfg.CONFIG_FILE)
    return created


def _measure_baseline(session: Session, progress: Progress, notes: list[str]) -> RunRecord:
    """Check and measure the incumbent alone; the first record of a segment. What the user
    should know about the runs (too short to time) is added to `notes`."""
    git, paths, config = session.git, session.paths, session.config
    head = git.rev("HEAD")
    book = session.ledger()
    run = claim_run(paths, next_run_number(paths, book.next_run()))
    run_dir = paths.run_dir(run)
    seal = sandbox(session)
    arm = Arm("incumbent", paths.incumbent, tuple(config.scope.link))
    checkout(session, arm, head)
    started = time.monotonic()
    if config.commands.build:
        progress(ProgressEvent("build of the baseline"))
        failure = build(session, arm, run_dir)
        if failure:
            raise BaselineError(f"the build fails on the baseline ({failure[0]}); fix it, then "
                                f"run `autoresearch init` again.\n{failure[1]}"
                                + _missing_files(session, failure[1]))
        made = cfg.script_of(config.commands.benchmark)
        if made and not (arm.path / made).exists():
            raise BaselineError(f"the benchmark {made} does not exist, and the build "
                                f"({config.commands.build}) does not make it; fix the build or "
                                "--benchmark, then run `autoresearch init` again")
    if config.commands.checks:
        progress(ProgressEvent("checks on the baseline"))
        failure = run_checks(session, arm, run_dir / "checks")
        if failure:
            raise BaselineError(f"the checks fail on the baseline itself ({failure[0]}); "
                                f"fix them, then run `autoresearch init` again.\n{failure[1]}"
                                + _missing_files(session, failure[1]))
    bench = Bench(config, run_dir, seal)
    rounds = max(session.config.policy().min_rounds, 1)
    samples = []
    try:
        if session.config.wants_warmup() and rounds > 1:
            progress(ProgressEvent("warm-up"))
            bench.run(arm, "warmup")
        for i in range(rounds):
            progress(ProgressEvent("baseline run", i + 1, rounds))
            samples.append(bench.run(arm, f"b{i + 1:02d}"))
    except ArmFailure as failure:
        raise BaselineError(f"the benchmark fails on the baseline: {failure.message}. "
                            f"Log: {failure.log}\n{failure.tail}"
                            + _missing_files(session, failure.tail)) from None
    missing = [name for name in config.metric.secondary if name not in samples[0].metrics]
    if missing:
        raise BaselineError(f"the benchmark prints no METRIC {missing[0]}=<number> line, but "
                            f"{cfg.CONFIG_FILE} names it in [metric] secondary; print it or "
                            "remove it there")
    too_short = short_run_warning([s.wall_s for s in samples], config.metric.measure)
    if too_short:
        notes.append(too_short)
    values = [s.value for s in samples]
    secondary = {name: median([s.metrics[name] for s in samples if name in s.metrics])
                 for name in samples[0].metrics}
    startup = bench.startup_instructions(arm)
    header = ConfigHeader(name=config.session.name, metricName=config.metric.name,
                          metricUnit=config.metric.unit, bestDirection=config.metric.direction,
                          schema_version=SCHEMA_VERSION, measure=config.metric.measure)
    segment = len(book.headers)
    record = RunRecord(
        run=run, commit=head, metric=median(values), metrics=secondary, status=Status.KEEP,
        description="baseline", timestamp=now_ms(), segment=segment, verdict=Verdict.BASELINE,
        reason="baseline", incumbent_commit=head, incumbent_metric=median(values),
        rounds=len(values), logs=str(run_dir), sandbox=seal.label,
        samples={"incumbent": values, "wall_s": [[round(s.wall_s, 4)] for s in samples]},
        durations={"total_s": round(time.monotonic() - started, 3)}, startup_instructions=startup,
    )
    session.append(header)
    session.append(record)
    return record
