"""The words of the ledger: outcome enums and the typed records every face reads and writes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Version of the ledger's line format, written in every config header. Lines of older versions
# (and pi-autoresearch's, which carry none) are still read. 3: the `conflict` verdict, a run's
# proposer `slot` and `proposal`, a keep's `ci_level`, a confirm's own `measure` and `metric`.
SCHEMA_VERSION = 3


class Verdict(StrEnum):
    """What the harness concluded about one candidate."""

    KEEP = "keep"
    DISCARD = "discard"
    CHECKS_FAILED = "checks_failed"
    CRASH = "crash"
    TIMEOUT = "timeout"
    BASELINE = "baseline"
    # `loop --parallel`: made on an older incumbent, the change does not merge onto the current one
    CONFLICT = "conflict"

    @property
    def status(self) -> Status:
        """pi-autoresearch's coarser status for the same verdict (its readers know only four)."""
        return _STATUS_OF.get(self, Status.DISCARD)

    @property
    def failed(self) -> bool:
        """The candidate produced no usable measurement."""
        return self in (Verdict.CRASH, Verdict.TIMEOUT)


class Status(StrEnum):
    """pi-autoresearch's status field: keep | discard | crash | checks_failed."""

    KEEP = "keep"
    DISCARD = "discard"
    CRASH = "crash"
    CHECKS_FAILED = "checks_failed"


_STATUS_OF = {
    Verdict.KEEP: Status.KEEP,
    Verdict.BASELINE: Status.KEEP,
    Verdict.CHECKS_FAILED: Status.CHECKS_FAILED,
    Verdict.CRASH: Status.CRASH,
    Verdict.TIMEOUT: Status.CRASH,
}


class Measure(StrEnum):
    """How the primary metric is obtained."""

    WALL = "wall"  # the benchmark's own METRIC, interleaved rounds
    CPU = "cpu"  # user+sys CPU of the benchmark's processes, measured by the harness
    INSTRUCTIONS = "instructions"  # instruction count under valgrind: deterministic
    # instructions decide; CPU time, measured interleaved, vetoes a keep that is slower in time
    INSTRUCTIONS_CPU = "instructions+cpu"
    SINGLE = "single"  # one run against the incumbent's recorded runs and the calibrated noise

    @property
    def counts_instructions(self) -> bool:
        return self in (Measure.INSTRUCTIONS, Measure.INSTRUCTIONS_CPU)

    @property
    def deterministic(self) -> bool:
        return self.counts_instructions

    @property
    def harness_measured(self) -> bool:
        """The harness makes the primary number itself; no METRIC line is needed."""
        return self in (Measure.CPU, Measure.INSTRUCTIONS, Measure.INSTRUCTIONS_CPU)


class Channel(StrEnum):
    """Where the benchmark's METRIC lines are read; the other place is ignored."""

    STDOUT = "stdout"
    FILE = "file"  # $AUTORESEARCH_RESULT_FILE, made by the harness for each run


class SandboxMode(StrEnum):
    """Whether build, checks and benchmark runs are sealed."""

    AUTO = "auto"  # where bubblewrap works; unsealed runs are recorded as `sandbox: off`
    ON = "on"  # unsealed runs are refused
    OFF = "off"


class Direction(StrEnum):
    """Which way the primary metric is better."""

    LOWER = "lower"
    HIGHER = "higher"


class StopReason(StrEnum):
    """Why a loop ended."""

    MAX_EXPERIMENTS = "max_experiments"
    MAX_HOURS = "max_hours"
    MAX_USD = "max_usd"
    PATIENCE = "patience"
    FAILURES = "failures"  # crashes or proposer failures in a row: the loop gave up
    INTERRUPTED = "interrupted"  # Ctrl-C
    NO_PROPOSALS = "no_proposals"  # the proposer has nothing left

    @property
    def gave_up(self) -> bool:
        return self is StopReason.FAILURES


# Reasons the harness gives without measuring; loops read them, so they are named once.
NO_CHANGE = "no change"


def ratio_interval(ci: Sequence[float]) -> str:
    """A ratio's interval as a person reads it; a side the rounds could not bound says so.

    A ratio's lower end is 0 when unbounded (its log is -inf), its upper end infinity.

    >>> ratio_interval((0.75, 0.85)), ratio_interval((0.9, math.inf)), ratio_interval((0.0, 1.05))
    ('[0.750, 0.850]', '[0.900, ∞)', '(0, 1.050]')
    >>> ratio_interval((0.0, math.inf))
    '(unbounded: too few rounds)'
    """
    low, high = ci
    bounded_low = math.isfinite(low) and low > 0
    bounded_high = math.isfinite(high)
    if not bounded_low and not bounded_high:
        return "(unbounded: too few rounds)"
    return (f"[{low:.3f}" if bounded_low else "(0") + ", " + (f"{high:.3f}]" if bounded_high else "∞)")


class ConfigHeader(BaseModel):
    """First line of each segment, as pi-autoresearch's `init_experiment` writes it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    type: Literal["config"] = "config"
    name: str
    metricName: str
    metricUnit: str = ""
    bestDirection: Direction = Direction.LOWER
    schema_version: int = 1  # headers written before versioning are version 1
    measure: Measure | None = None


class RunRecord(BaseModel):
    """One experiment. pi-autoresearch's fields first, then this tool's own."""

    # An interval from one round is infinite; JSON has no infinity, so it is written as the
    # string "Infinity", which reads back as a float (the default, null, would not).
    model_config = ConfigDict(extra="allow", ser_json_inf_nan="strings")
    run: int
    commit: str | None = None  # the kept commit, or the measured snapshot for other verdicts
    metric: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    status: Status
    description: str = ""
    timestamp: int  # milliseconds since the epoch, as pi-autoresearch writes it
    segment: int = 0
    confidence: float | None = None
    asi: dict[str, Any] | None = None

    verdict: Verdict
    reason: str = ""
    hypothesis: str | None = None
    incumbent_commit: str | None = None
    incumbent_metric: float | None = None
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    ci_level: float | None = None  # two-sided coverage of `ci`; None: 1 - 2 alpha (older records)
    improvement: float | None = None
    p_value: float | None = None
    rounds: int = 0
    samples: dict[str, Any] = Field(default_factory=dict)
    durations: dict[str, float] = Field(default_factory=dict)
    diff_stat: dict[str, int] = Field(default_factory=dict)
    proposer: str | None = None
    logs: str | None = None
    sandbox: Literal["on", "off"] | None = None  # whether the candidate's code ran sealed
    candidate_ref: str | None = None
    tail: str | None = None
    decided_at: int | None = None
    screen_ratio: float | None = None
    tokens: dict[str, int] | None = None
    cost_usd: float | None = None
    parts: list[int] | None = None  # the runs a combined candidate was made of
    tree: str | None = None  # the candidate's git tree: the same change judged again is recognized
    incumbent_tree: str | None = None
    continues: int | None = None  # the run whose rounds this measurement continued
    prior_rounds: int = 0  # how many of `rounds` came from that run
    startup_instructions: int | None = None  # a baseline's: instructions of a trivial interpreter run
    slot: int | None = None  # `loop --parallel`: the proposer (1..N) that made the candidate
    proposal: str | None = None  # `loop --parallel`: the commit it made, on the incumbent it started from
    # `loop --parallel --executor`: the keeps that replaced the incumbent while this candidate was
    # measured against it on a worker; each time it was measured again against the new one
    remeasured: list[int] | None = None

    @property
    def is_keep(self) -> bool:
        return self.verdict is Verdict.KEEP

    @property
    def is_baseline(self) -> bool:
        return self.verdict is Verdict.BASELINE


class MeasuredRecord(BaseModel):
    """A measurement beside the experiments: a commit against the incumbent, in fresh rounds.

    `confirm` and `ablate` write these; each is its own record type, so readers that count
    experiments (pi-autoresearch's too) skip them. An interval from too few rounds is infinite
    on a side: written as the string "Infinity", as in a run record, so the line reads back.
    """

    model_config = ConfigDict(extra="allow", ser_json_inf_nan="strings")
    type: str
    timestamp: int
    segment: int
    incumbent_commit: str
    rounds: int = 0
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    improvement: float | None = None
    p_value: float | None = None
    logs: str | None = None


class ConfirmRecord(MeasuredRecord):
    """`autoresearch confirm`: the segment's baseline against the incumbent, measured now."""

    type: Literal["confirm"] = "confirm"
    baseline_commit: str
    inputs: Literal["heldout", "dev"]
    env: dict[str, str] = Field(default_factory=dict)
    rounds: int
    ratio: float  # incumbent / baseline
    ci: tuple[float, float]
    improvement: float
    p_value: float
    passed: bool  # the incumbent is better than the baseline beyond the interval's doubt
    headline_ratio: float | None = None  # the keeps' combined ratio when this was measured
    headline_ci: tuple[float, float] | None = None
    agrees: bool | None = None  # the two intervals overlap
    samples: dict[str, Any] = Field(default_factory=dict)
    measure: Measure | None = None  # what was measured (cpu, wall: not always the session's measure)
    metric: str | None = None


class AblationRecord(MeasuredRecord):
    """`autoresearch ablate`: one keep removed from the incumbent, measured against it.

    `ratio` is incumbent / incumbent-without-the-keep: what the keep is worth now, on the
    session's direction (below 1 for a lower-is-better metric means it still helps).
    """

    type: Literal["ablation"] = "ablation"
    keep_run: int
    keep_commit: str
    description: str = ""
    outcome: Literal["measured", "no longer matters", "conflict"]
    reason: str = ""
