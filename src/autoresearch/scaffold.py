"""`autoresearch init`: scaffold the session files, create the branch, measure the baseline."""

from __future__ import annotations

import time
from pathlib import Path

from autoresearch import config as cfg
from autoresearch import ledger
from autoresearch.errors import AutoresearchError, UsageError
from autoresearch.checkouts import build, checkout, policy, run_checks, wants_warmup
from autoresearch.experiment import Progress
from autoresearch.record import recover
from autoresearch.git import Git
from autoresearch.ledger import ConfigHeader, RunRecord
from autoresearch.measure import Arm, ArmFailure, Bench
from autoresearch.session import InitOptions, InitResult, Session, build_config, check_benchmark, median
from autoresearch.state import Paths, now_ms, session_lock
from autoresearch.workspace import exclude_harness_files, remember_untracked

BRIEF_TEMPLATE = """\
# Research brief: {name}

## Objective
Make {metric} {better} ({direction} is better) without changing behaviour.

## Metrics
- Primary: `{metric}`{unit_note}, measured by `{benchmark}`.
- Secondary: any other `METRIC name=value` line the benchmark prints.

## How to run
- Benchmark: `{benchmark}` prints `METRIC {metric}=<number>`.
- Checks: the `checks` command in `autoresearch.toml` must exit 0 (usually the test suite).
- The harness measures every change against the current best and commits or restores it; never
  commit or revert yourself. By hand: `autoresearch run -m "what you changed"`; unattended:
  `autoresearch loop` runs the proposers.

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

BENCHMARK_TEMPLATE = """\
#!/usr/bin/env bash
# Benchmark for autoresearch. Print the primary metric as one line: METRIC {metric}=<number>
# Other METRIC lines become secondary metrics. Run your workload from this checkout
# (not from an installed copy), with a fixed input, long enough to be measurable (>= 0.1 s).
set -euo pipefail
cd "$(dirname "$0")"

echo "Edit autoresearch.sh to run your benchmark, then run 'autoresearch init' again." >&2
exit 1
# Example:
# python3 bench.py            # which prints: METRIC {metric}=1234.5
"""


def init_session(start: Path, opts: InitOptions, progress: Progress = lambda _: None) -> InitResult:
    """Start a session (or a new segment of one) in the repository containing `start`."""
    git = Git.discover(start)
    root, paths = git.root, Paths(git.root)
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
    root, paths = git.root, Paths(git.root)
    book = ledger.read(paths.ledger)
    if book.headers and not (root / cfg.CONFIG_FILE).exists():
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
        check_benchmark(root, config.commands.benchmark)
    created = _scaffold(root, config, opts)
    if template_wanted:
        return InitResult(created, branch, None, needs_benchmark=True)
    git.run("switch", "--quiet", "-c", branch)
    session_files = [f for f in (cfg.BRIEF_FILE, cfg.BENCHMARK_FILE, cfg.CONFIG_FILE, cfg.CHECKS_FILE)
                     if (root / f).exists()]
    git.run("add", "--", *session_files)
    for own in (cfg.LEDGER_FILE, cfg.IDEAS_FILE):  # written during the session, never by a candidate
        if git.ok("ls-files", "--error-unmatch", own):
            git.run("rm", "--cached", "--quiet", own)
    if git.dirty_tracked():
        git.run("commit", "--quiet", "--no-verify", "-F", "-",
                input=f"autoresearch: start session {config.session.name}\n", env=git.identity())
    remember_untracked(git, paths)
    baseline = _measure_baseline(Session(git, config, paths), progress)
    return InitResult(created, branch, baseline)


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
    session = Session(git, cfg.load(git.root), Paths(git.root))
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
    baseline = _measure_baseline(session, progress)
    return InitResult([], session.config.session.branch, baseline)


def _scaffold(root: Path, config: cfg.Config, opts: InitOptions) -> list[str]:
    created = []
    c = config
    if not (root / cfg.BRIEF_FILE).exists():
        scope = "\n".join(f"- `{g}`" for g in c.scope.include) or "- (anything in the repository)"
        protect = "\n".join(f"- `{g}`" for g in c.scope.protect)
        (root / cfg.BRIEF_FILE).write_text(BRIEF_TEMPLATE.format(
            name=c.session.name, metric=c.metric.name, direction=c.metric.direction,
            better="smaller" if c.metric.direction == "lower" else "larger",
            unit_note=f" ({c.metric.unit})" if c.metric.unit else "",
            benchmark=c.commands.benchmark, scope=scope, protect=protect), encoding="utf-8")
        created.append(cfg.BRIEF_FILE)
    if opts.benchmark == f"./{cfg.BENCHMARK_FILE}" and not (root / cfg.BENCHMARK_FILE).exists():
        path = root / cfg.BENCHMARK_FILE
        path.write_text(BENCHMARK_TEMPLATE.format(metric=c.metric.name), encoding="utf-8")
        path.chmod(0o755)
        created.append(cfg.BENCHMARK_FILE)
    if not (root / cfg.CONFIG_FILE).exists():
        (root / cfg.CONFIG_FILE).write_text(cfg.dump(config), encoding="utf-8")
        created.append(cfg.CONFIG_FILE)
    return created


def _measure_baseline(session: Session, progress: Progress) -> RunRecord:
    """Check and measure the incumbent alone; the first record of a segment."""
    git, paths, config = session.git, session.paths, session.config
    head = git.rev("HEAD")
    book = session.ledger()
    run = book.next_run()
    run_dir = paths.run_dir(run)
    arm = Arm("incumbent", paths.incumbent, tuple(config.scope.link))
    checkout(session, arm, head)
    started = time.monotonic()
    if config.commands.build:
        progress("build of the baseline")
        failure = build(session, arm, head, run_dir)
        if failure:
            raise AutoresearchError(f"the build fails on the baseline ({failure[0]}); fix it, then "
                                    f"run `autoresearch init` again.\n{failure[1]}")
    if config.commands.checks:
        progress("checks on the baseline")
        failure = run_checks(session, arm, run_dir / "checks")
        if failure:
            raise AutoresearchError(f"the checks fail on the baseline itself ({failure[0]}); "
                                    f"fix them, then run `autoresearch init` again.\n{failure[1]}")
    bench = Bench(config, run_dir)
    rounds = max(policy(session).min_rounds, 1)
    samples = []
    try:
        if wants_warmup(session) and rounds > 1:
            progress("warm-up")
            bench.run(arm, "warmup")
        for i in range(rounds):
            progress(f"baseline run {i + 1}/{rounds}")
            samples.append(bench.run(arm, f"b{i + 1:02d}"))
    except ArmFailure as failure:
        raise AutoresearchError(f"the benchmark fails on the baseline: {failure.message}. "
                                f"Log: {failure.log}\n{failure.tail}") from None
    values = [s.value for s in samples]
    secondary = {name: median([s.metrics[name] for s in samples if name in s.metrics])
                 for name in samples[0].metrics}
    header = ConfigHeader(name=config.session.name, metricName=config.metric.name,
                          metricUnit=config.metric.unit, bestDirection=config.metric.direction)
    segment = len(book.headers)
    record = RunRecord(
        run=run, commit=head, metric=median(values), metrics=secondary, status="keep",
        description="baseline", timestamp=now_ms(), segment=segment, verdict="baseline",
        reason="baseline", incumbent_commit=head, incumbent_metric=median(values),
        rounds=len(values), logs=str(run_dir),
        samples={"incumbent": values, "wall_s": [[round(s.wall_s, 4)] for s in samples]},
        durations={"total_s": round(time.monotonic() - started, 3)},
    )
    ledger.append(paths.ledger, header)
    ledger.append(paths.ledger, record)
    return record
