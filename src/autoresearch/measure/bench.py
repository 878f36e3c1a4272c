"""Measure incumbent and candidate: interleaved rounds of fresh processes, one arm at a time."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

from autoresearch import stats
from autoresearch.config import Config
from autoresearch.errors import ArmFailure, AutoresearchError, MetricError, UsageError
from autoresearch.infra.git import Git
from autoresearch.infra.runner import RunResult, run_command
from autoresearch.measure.counts import CountChannel, programs, total_instructions
from autoresearch.measure.metrics import parse_metrics
from autoresearch.measure.sandbox import RESULT_PATH, Sandbox, Step
from autoresearch.model import Channel, Direction, Measure
from autoresearch.progress import MEASURING, Progress, ProgressEvent

ArmName = Literal["incumbent", "candidate"]
log = logging.getLogger(__name__)

TIMEOUT_FLOOR_S = 10.0
PROCESS_WALL = "wall_s"  # the benchmark process's wall time, as the harness measured it
TIMEOUT_MULTIPLE = 5.0
FIRST_RUN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Arm:
    """One measured checkout: a git worktree holding exactly one commit."""

    name: ArmName
    path: Path
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One run of the benchmark in one arm."""

    arm: ArmName
    value: float
    metrics: dict[str, float]
    started: float  # epoch seconds
    wall_s: float
    load: float
    involuntary_switches: int


@dataclass
class Measurement:
    """Everything the rounds produced, in the order they ran."""

    rounds: list[tuple[Sample, Sample]] = field(default_factory=list)  # (incumbent, candidate)
    order: list[str] = field(default_factory=list)  # "ic" or "ci" per round
    comparison: stats.Comparison | None = None
    warnings: list[str] = field(default_factory=list)
    measured_on: dict[str, Any] | None = None  # where (and when) the rounds ran, when not on this machine

    def judged(self) -> stats.Comparison:
        """The comparison that ended the rounds (fixed rounds, as calibration runs, have none)."""
        if self.comparison is None:
            raise AutoresearchError("these rounds were not judged: they ran a fixed number, for calibration")
        return self.comparison

    def values(self, arm: ArmName, metric: str | None = None) -> list[float]:
        index = 0 if arm == "incumbent" else 1
        picked = [pair[index] for pair in self.rounds]
        if metric is None:
            return [s.value for s in picked]
        return [s.metrics[metric] for s in picked if metric in s.metrics]

    @classmethod
    def from_record(cls, samples: dict[str, Any]) -> Measurement:
        """The rounds a ledger record holds (`as_record`'s output), to continue measuring from."""
        inc, cand = samples.get("incumbent") or [], samples.get("candidate") or []
        n = min(len(inc), len(cand))
        secondary = samples.get("secondary") or {}

        def column(key: str, i: int, side: int, default: float) -> float:
            values = samples.get(key) or []
            return values[i][side] if i < len(values) else default

        result = cls(order=list(samples.get("order") or [])[:n])
        for i in range(n):
            pair: list[Sample] = []
            arms: tuple[tuple[ArmName, float], ...] = (("incumbent", inc[i]), ("candidate", cand[i]))
            for side, (arm, value) in enumerate(arms):
                metrics = {name: sides[arm][i] for name, sides in secondary.items()
                           if i < len(sides.get(arm, []))}
                pair.append(Sample(arm, float(value), metrics, column("started", i, side, 0.0),
                                   column("wall_s", i, side, 0.0), column("load", i, side, 0.0),
                                   int(column("involuntary_switches", i, side, 0))))
            result.rounds.append((pair[0], pair[1]))
        return result

    def as_record(self) -> dict[str, Any]:
        """Raw samples for the ledger, enough to recompute the verdict."""
        return {
            "incumbent": self.values("incumbent"),
            "candidate": self.values("candidate"),
            "order": self.order,
            "started": [[round(i.started, 3), round(c.started, 3)] for i, c in self.rounds],
            "wall_s": [[round(i.wall_s, 4), round(c.wall_s, 4)] for i, c in self.rounds],
            "load": [[i.load, c.load] for i, c in self.rounds],
            "involuntary_switches": [[i.involuntary_switches, c.involuntary_switches]
                                     for i, c in self.rounds],
            **({"warnings": self.warnings} if self.warnings else {}),
            **({"measured_on": self.measured_on} if self.measured_on else {}),
            "secondary": {
                name: {"incumbent": self.values("incumbent", name),
                       "candidate": self.values("candidate", name)}
                for name in sorted(self.rounds[0][0].metrics) if self.rounds
            },
        }


# Below this a run is mostly process start-up, and a timer's resolution is a visible part of
# what it measures: a gain in the work itself drowns in both.
SHORT_RUN_S = 0.1


def short_run_warning(walls: list[float], measure: Measure) -> str | None:
    """A warning when the benchmark's runs (`walls`, seconds each) are too short to time, or None.

    Instruction counts need no timer, and their start-up share is reported on its own.

    >>> short_run_warning([0.02, 0.03, 0.02], Measure.WALL)[:43]
    'the benchmark takes 0.020 s per run (median'
    >>> short_run_warning([0.02], Measure.INSTRUCTIONS), short_run_warning([0.5, 0.4], Measure.CPU)
    (None, None)
    """
    if measure is Measure.INSTRUCTIONS or not walls:
        return None
    wall = stats.median(walls)
    if wall >= SHORT_RUN_S:
        return None
    return (f"the benchmark takes {wall:.3f} s per run (median of {len(walls)}): at that length "
            "process start-up and the timer's resolution are a large part of every number, and "
            "small gains are lost in them. Repeat the work inside the benchmark (loop over its "
            f"inputs several times) until one run takes at least {SHORT_RUN_S:g} s; a second or "
            "more is better")


class Bench:
    """Runs the session's benchmark in an arm and turns its output into a `Sample`."""

    def __init__(self, config: Config, log_dir: Path, sandbox: Sandbox, slowest_known_s: float | None = None,
                 on_start: Callable[[int], None] | None = None, env: dict[str, str] | None = None):
        self.config = config
        self.sandbox = sandbox
        self.env = dict(env or {})  # extra environment of every run (held-out inputs)
        self.log_dir = log_dir
        self.slowest_incumbent_s = slowest_known_s
        self.on_start = on_start
        self._count = 0
        self.warnings: list[str] = []  # what went wrong around the runs without spoiling them
        self._started: dict[str, tuple[Counter[str], RunResult]] = {}  # per arm, its last count's execs
        if config.metric.measure.counts_instructions and shutil.which("valgrind") is None:
            raise UsageError("measure = instructions needs valgrind, which is not installed "
                             "(Debian/Ubuntu: apt-get install valgrind)")

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            log.warning("%s", message)
            self.warnings.append(message)

    def timeout(self) -> float:
        """The user's timeout, or a generous multiple of the incumbent's slowest run."""
        if self.config.commands.timeout:
            return self.config.commands.timeout
        if self.slowest_incumbent_s is None:
            return FIRST_RUN_TIMEOUT_S
        return max(TIMEOUT_FLOOR_S, TIMEOUT_MULTIPLE * self.slowest_incumbent_s)

    def run(self, arm: Arm, label: str) -> Sample:
        self._count += 1
        stem = self.log_dir / f"{self._count:03d}-{label}-{arm.name}"
        binds: dict[Path, str] = {}
        result_file = None
        command, env = self._command()
        env.update(self.env)
        if self.config.metric.channel is Channel.FILE:
            # Made by the harness, outside any checkout, fresh for every run.
            result_file = stem.with_suffix(".metrics")
            result_file.parent.mkdir(parents=True, exist_ok=True)
            result_file.unlink(missing_ok=True)
            result_file.touch()
            binds[result_file] = RESULT_PATH
            env["AUTORESEARCH_RESULT_FILE"] = RESULT_PATH if self.sandbox.sealed else str(result_file)
        timeout = self.timeout()
        started, load = time.time(), os.getloadavg()[0]
        with self._counting(stem) as channel:
            result = run_command(channel.wrap(command) if channel else command, arm.path, stem, timeout,
                                 env=env, on_start=self.on_start, pass_fds=self._inherited(channel),
                                 prefix=self.sandbox.prefix(arm.path, Step.BENCHMARK, binds,
                                                            self._census_fd(channel)))
            counted = channel.finish() if channel else b""
            census = channel.census if channel else None
        if not self.sandbox.sealed and _restore_arm(arm):  # sealed runs see their checkout read-only
            self._warn(f"{arm.name}: the benchmark changed tracked files in its checkout; restored")
        if result.timed_out:
            raise ArmFailure(arm.name, "timeout", f"benchmark timed out after {timeout:.0f} s",
                             result.tail(), result.stdout_path)
        if result.returncode != 0:
            if self.config.metric.measure.counts_instructions:
                self._fails_only_under_valgrind(arm, stem, result, timeout, env, binds)
            raise ArmFailure(arm.name, "failed", f"benchmark exited with code {result.returncode}",
                             result.tail(), result.stdout_path)
        try:
            metrics = self._metrics(result, result_file, counted, census)
        except MetricError as exc:
            raise ArmFailure(arm.name, "failed", str(exc), result.tail(), result.stdout_path) from None
        if channel is not None:
            self._same_programs(arm, programs(counted), result)
        value = metrics[self.config.metric.name]
        if value <= 0:
            _not_positive(arm, self.config.metric.name, value, result)
        if arm.name == "incumbent":
            self.slowest_incumbent_s = max(self.slowest_incumbent_s or 0.0, result.wall_s)
        return Sample(arm.name, value, metrics, started,
                      result.wall_s, load, result.involuntary_switches)

    def _same_programs(self, arm: Arm, started: Counter[str], result: RunResult) -> None:
        """Refuse counts of a candidate whose processes exec programs the incumbent's do not.

        Valgrind counts a process when it exits, so work done before an exec (by the process
        that execs, or by a forked copy before it execs) is never counted: a candidate could
        do its work and then exec a trivial program. The benchmark's own execs are the same in
        both arms; what the candidate's code adds is named and the count refused.
        """
        self._started[arm.name] = (started, result)
        if len(self._started) < 2:
            return
        (candidate, shown), (incumbent, _) = self._started["candidate"], self._started["incumbent"]
        extra = candidate - incumbent
        if extra:
            names = ", ".join(f"{name} ({times}×)" if times > 1 else name for name, times in extra.items())
            raise ArmFailure("candidate", "failed",
                             f"counted, the candidate's processes exec'd programs the incumbent's did "
                             f"not ({names}): valgrind never counts what a process did before an exec, "
                             "so its instruction count would miss that work. Code that starts programs "
                             "is measured by time (--measure cpu or wall)", shown.tail(), shown.stdout_path)

    def startup_instructions(self, arm: Arm) -> int | None:
        """Instructions of a trivial run of the benchmark's interpreter: its start-up cost.

        Counted once per segment, so a reader can tell how much of every count is the same
        fixed start-up (`"${AUTORESEARCH_PYTHON:-python3}" -c pass` for a benchmark that runs
        Python, an empty shell otherwise). None when the count fails: it is only a report.
        """
        if not self.config.metric.measure.counts_instructions:
            return None
        stem = self.log_dir / "startup"
        command, env = self._command(startup_command(arm.path, self.config.commands.benchmark))
        with CountChannel(stem.with_suffix(".valgrind")) as channel:
            result = run_command(channel.wrap(command), arm.path, stem, FIRST_RUN_TIMEOUT_S,
                                 env={**env, **self.env}, pass_fds=self._inherited(channel),
                                 prefix=self.sandbox.prefix(arm.path, Step.BENCHMARK,
                                                            census_fd=self._census_fd(channel)))
            counted = channel.finish()
        try:
            return total_instructions(counted, channel.census) if result.ok else None
        except MetricError:
            return None

    def _command(self, command: str | None = None) -> tuple[str, dict[str, str]]:
        command = command or self.config.commands.benchmark
        # The benchmark may adapt to the measure: an exact count needs one pass, no repeats.
        measure = {"AUTORESEARCH_MEASURE": str(self.config.metric.measure)}
        if not self.config.metric.measure.counts_instructions:
            return command, measure
        return command, {"PYTHONHASHSEED": "0", **measure}

    def _inherited(self, channel: CountChannel | None) -> tuple[int, ...]:
        """The descriptors a run inherits: a counted run's log, and its census when sealed (the
        init traces the run; unsealed, the command itself would hold the census)."""
        if channel is None:
            return ()
        return channel.fds if self.sandbox.sealed else (channel.fd,)

    def _census_fd(self, channel: CountChannel | None) -> int | None:
        return channel.census_fd if channel is not None and self.sandbox.sealed else None

    def _counting(self, stem: Path) -> contextlib.AbstractContextManager[CountChannel | None]:
        """The channel of a run's instruction count; none when the measure counts nothing."""
        if not self.config.metric.measure.counts_instructions:
            return contextlib.nullcontext()
        return CountChannel(stem.with_suffix(".valgrind"))

    def _fails_only_under_valgrind(self, arm: Arm, stem: Path, result: RunResult, timeout: float,
                                   env: dict[str, str], binds: dict[Path, str]) -> None:
        """Run a benchmark that failed under valgrind once without it: if it then succeeds,
        instruction counts cannot measure it (JITs often crash under valgrind), and saying so
        beats a page of the crashed interpreter's memory map.

        On the incumbent the session cannot be measured this way (a usage error); on the
        candidate it is that candidate's crash, with the same explanation.
        """
        plain_env = {k: v for k, v in env.items() if k != "PYTHONHASHSEED"}
        plain = run_command(self.config.commands.benchmark, arm.path, stem.with_name(stem.name + "-plain"),
                            timeout, env=plain_env, on_start=self.on_start,
                            prefix=self.sandbox.prefix(arm.path, Step.BENCHMARK, binds))
        if not plain.ok:
            return
        how = _exit_status(result.returncode or 0)
        why = (f"the benchmark fails under valgrind ({how}) but runs without it, so instruction "
               "counts cannot measure it. Interpreters and runtimes with a JIT often crash under "
               "valgrind: turn the JIT off in the benchmark (Ruby: --disable-yjit or "
               "RUBY_YJIT_ENABLE=0; Node: --jitless; Java: -Xint; PyPy: --jit off; LuaJIT: -joff), "
               "or choose another measure (--measure cpu or wall). A counted run also cannot "
               "open /proc/self/exe, cmdline or auxv, nor use more than 1012 file descriptors. "
               f"Valgrind's log: "
               f"{stem.with_suffix('.valgrind')}")
        if arm.name == "incumbent":
            raise UsageError(why)
        raise ArmFailure(arm.name, "failed", why, result.tail(1000), result.stdout_path)

    def _metrics(self, result: RunResult, result_file: Path | None, counted: bytes,
                 census: list[int] | None) -> dict[str, float]:
        primary = self.config.metric.name
        measure = self.config.metric.measure
        # cpu and instructions primaries are made by the harness and need no METRIC line, nor
        # the process's wall time taken as the primary (a confirm in time of a counted segment)
        required = None if measure.harness_measured or primary == PROCESS_WALL else primary
        # One channel, never one overriding the other: lines on the other are ignored.
        metrics = parse_metrics(result_file or result.stdout_path, required, unique_primary=True)
        if primary == PROCESS_WALL:
            metrics[primary] = result.wall_s  # the harness's own figure, whatever was printed
        metrics.setdefault("wall_s", result.wall_s)
        metrics.setdefault("cpu_s", result.cpu_s)
        metrics.setdefault("peak_rss_mb", result.peak_rss_mb)
        if measure is Measure.CPU:
            metrics[primary] = result.cpu_s
        elif measure.counts_instructions:
            metrics[primary] = float(total_instructions(counted, census))
        return metrics


def _exit_status(code: int) -> str:
    """A shell's exit code in words: 139 is a process killed by SIGSEGV.

    >>> _exit_status(139), _exit_status(2)
    ('killed by SIGSEGV', 'exit code 2')
    """
    try:
        return f"killed by {signal.Signals(code - 128).name}" if code > 128 else f"exit code {code}"
    except ValueError:
        return f"exit code {code}"


def _not_positive(arm: Arm, name: str, value: float, result: RunResult) -> NoReturn:
    """A primary metric of 0 or below has no ratio to judge: the run is unusable.

    On the incumbent the session itself cannot be judged (a usage error); on the candidate it is
    that candidate's crash.
    """
    why = (f"the {arm.name}'s benchmark reported {name}={value:g}, but verdicts compare the "
           f"ratio candidate/incumbent, which is undefined at 0 or below")
    if arm.name == "incumbent":
        raise UsageError(f"{why}. Make the primary metric a positive quantity (a time, a count "
                         "plus 1, a rate); a count that can reach 0, such as errors, belongs in a "
                         'secondary metric with a guard (errors = "<= incumbent"). '
                         f"Log: {result.stdout_path}")
    raise ArmFailure(arm.name, "failed", why, result.tail(), result.stdout_path)


def benchmark_text(root: Path, benchmark: str) -> str:
    """The benchmark command and, when it runs a script of the repository, that script's text."""
    from autoresearch.config import script_of

    script = script_of(benchmark)
    text = benchmark
    if script and (root / script).is_file():
        text += "\n" + (root / script).read_text(encoding="utf-8", errors="replace")
    return text


# The first Python the benchmark starts, with the flags that change its start-up (-S skips
# `site`, which alone can be most of a small run's instructions).
_PYTHON_CALL = re.compile(r'(?<![\w./-])("?\$\{?AUTORESEARCH_PYTHON(?::-[^}"\s]*)?\}?"?'
                          r"""|(?:[^\s"'=#!]*/)?python[\d.]*)((?:\s+-[BEIOSsqu]+)*)(?=\s|$)""")


def startup_command(root: Path, benchmark: str) -> str:
    """What a trivial run of the benchmark's interpreter is, judged from the benchmark's text.

    >>> startup_command(Path("/nonexistent"), "/opt/py/bin/python3.11 -I -S - <<'PY'")
    '/opt/py/bin/python3.11 -I -S -c pass'
    >>> startup_command(Path("/nonexistent"), '"$AUTORESEARCH_PYTHON" bench.py')
    '"$AUTORESEARCH_PYTHON" -c pass'
    >>> startup_command(Path("/nonexistent"), "#!/opt/py/bin/python3 -S\\nimport bench")
    '/opt/py/bin/python3 -S -c pass'
    >>> startup_command(Path("/nonexistent"), "make bench")
    'true'
    """
    text = benchmark_text(root, benchmark)
    call = _PYTHON_CALL.search(text)
    if call is not None:
        return f"{call[1]}{call[2]} -c pass"
    return '"${AUTORESEARCH_PYTHON:-python3}" -c pass' if "python" in text else "true"


# Runtimes whose time instruction counts misjudge: interpreters spend it on dispatch and memory
# traffic the count weighs like any instruction, and a JIT's code is counted, not its effect.
_RUNTIMES = {
    "python": "an interpreter", "ruby": "an interpreter (with a JIT, YJIT)", "perl": "an interpreter",
    "php": "an interpreter (with a JIT)", "lua": "an interpreter", "luajit": "a JIT",
    "node": "a JIT (V8)", "deno": "a JIT (V8)", "bun": "a JIT (JavaScriptCore)",
    "java": "a JIT (the JVM)", "pypy": "a JIT", "pypy3": "a JIT", "julia": "a JIT",
    "dotnet": "a JIT (.NET)", "Rscript": "an interpreter",
}
_RUNTIME_WORD = re.compile(r"(?<![\w./])(?:\S*/)?(" + "|".join(map(re.escape, _RUNTIMES))
                           + r")(?:3(?:\.\d+)?)?(?![\w.-])")


def proxy_warning(root: Path, benchmark: str) -> str | None:
    """Why instruction counts may misjudge this benchmark's time, judged from its text; or None."""
    found = _RUNTIME_WORD.search(benchmark_text(root, benchmark))
    if found is None:
        return None
    name = found[1]
    return (f"the benchmark runs {name}, {_RUNTIMES[name]}: instruction counts weigh every instruction "
            "alike, while its time goes largely to dispatch, memory traffic and compiled code the "
            "count cannot judge, so counts can overstate or hide a gain in time (a Ruby session "
            "counted -17% where wall time said -9%). Check what the counts keep with "
            "`autoresearch confirm --measure cpu`, or let time veto keeps (--measure instructions+cpu)")


CLAIM_LOOKS = 2  # times the process's wall time is asked to bear a claim out (claims.audit_claim)

# Units that make a primary metric a time the benchmark claims, in seconds.
TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "µs": 1e-6, "μs": 1e-6, "us": 1e-6, "ns": 1e-9}


def cross_check(config: Config, result: Measurement) -> stats.ClaimCheck | None:
    """A claimed time saving against the wall-time saving of the process, both from the same runs.

    None when the primary metric is no time the benchmark measures itself (a unit outside
    `TIME_UNITS`, a harness-made measure, a higher-is-better metric).
    """
    metric = config.metric
    scale = TIME_UNITS.get(metric.unit.strip())
    if scale is None or metric.measure is not Measure.WALL or metric.direction is not Direction.LOWER \
            or not result.rounds:
        return None
    incumbent = [pair[0] for pair in result.rounds]
    candidate = [pair[1] for pair in result.rounds]
    if any(s.value <= 0 or s.wall_s <= 0 for s in incumbent + candidate):
        return None
    return stats.check_claim(
        [s.value * scale for s in incumbent], [s.value * scale for s in candidate],
        [s.wall_s for s in incumbent], [s.wall_s for s in candidate],
        # a claim may exceed the process's saving by less than the smallest gain worth keeping
        tolerance=stats.gain_threshold(config.stats.min_effect, "lower"), alpha=config.stats.alpha,
        # wall time may bear a claim out at two looks (the rounds, then as many more): half each
        confirm_alpha=config.stats.alpha / CLAIM_LOOKS,
    )


def _restore_arm(arm: Arm) -> bool:
    """A benchmark that rewrites tracked files of its checkout would skew the next run: restore.

    Untracked files (build outputs, caches) are left: the build made them. True when it restored.
    """
    git = Git(arm.path)
    if not git.dirty_tracked():
        return False
    git.run("reset", "--quiet", "--hard")
    return True


def measure(
    bench: Bench,
    incumbent: Arm,
    candidate: Arm,
    direction: stats.Direction,
    policy: stats.Policy,
    warmup: bool,
    progress: Progress = lambda _: None,
    rng: random.Random | None = None,
    fixed_rounds: int | None = None,
    prior: Measurement | None = None,
) -> Measurement:
    """Interleave rounds (random order within each) until `stats.compare` reaches a verdict.

    With `fixed_rounds`, run exactly that many rounds and leave the judging to the caller
    (calibration's A/A rounds). With `prior`, the rounds of an earlier measurement of the same
    pair are the start of this one (a resubmission continues its test).
    """
    rng = rng or random.Random()
    result = Measurement(warnings=bench.warnings)  # the ledger record carries them
    if prior is not None:
        result.rounds, result.order = list(prior.rounds), list(prior.order)
    limit = fixed_rounds or policy.max_rounds
    if warmup:
        progress(ProgressEvent("warm-up"))
        for arm in _shuffled(rng, incumbent, candidate):
            bench.run(arm, "warmup")
    started = time.monotonic()
    while True:
        n = len(result.rounds) + 1
        pace = (time.monotonic() - started) / (n - 1) if n > 1 else None
        progress(ProgressEvent(MEASURING, n, limit, result.comparison, direction, pace))
        first, second = _shuffled(rng, incumbent, candidate)
        a = bench.run(first, f"r{n:02d}")
        b = bench.run(second, f"r{n:02d}")
        pair = (a, b) if first.name == "incumbent" else (b, a)
        result.rounds.append(pair)
        result.order.append("ic" if first.name == "incumbent" else "ci")
        if fixed_rounds is None:
            result.comparison = stats.compare(
                result.values("incumbent"), result.values("candidate"), direction, policy
            )
        # The estimate after this round too: the deciding round's would otherwise go unseen.
        progress(ProgressEvent(MEASURING, n, limit, result.comparison, direction,
                               (time.monotonic() - started) / n, finished=True))
        if result.comparison is not None and result.comparison.outcome != "continue":
            return result
        if fixed_rounds is None and _guard_settled(bench.config, result, policy):
            return result
        if n >= limit:
            return result


def _guard_settled(config: Config, result: Measurement, policy: stats.Policy) -> bool:
    """A guard measured at one exact value per arm in every round through the first look, beyond
    its tolerance: the veto is certain (the rule that settles an exact primary), so the rounds
    the primary would still need cannot change the verdict."""
    n = len(result.rounds)
    if n < policy.first_look:
        return False
    for name in config.guards:
        before, after = result.values("incumbent", name), result.values("candidate", name)
        if len(before) == len(after) == n and len(set(before)) == len(set(after)) == 1:
            direction, tolerance = config.guard(name)
            if stats.check_guard(before, after, direction, tolerance, config.stats.alpha).violated:
                return True
    return False


def _shuffled(rng: random.Random, a: Arm, b: Arm) -> tuple[Arm, Arm]:
    return (a, b) if rng.random() < 0.5 else (b, a)
