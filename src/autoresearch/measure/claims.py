"""Bear out a claimed time saving: by the process's wall time where it shows, else by instruction count."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoresearch import stats
from autoresearch.config import Config
from autoresearch.errors import ArmFailure
from autoresearch.measure.bench import FIRST_RUN_TIMEOUT_S, TIME_UNITS, Arm, Bench, Measurement, cross_check
from autoresearch.measure.sandbox import Sandbox
from autoresearch.model import Measure
from autoresearch.stats import median

log = logging.getLogger(__name__)

# Instructions saved are worth at most this many times the incumbent's average CPU time per
# instruction: a section that waits on memory costs more per instruction than the process
# does on average, but a saving the count does not show even at 4 times the average rate is
# not in the process's work. (Wall time per instruction would let a process that mostly
# sleeps turn a few skipped instructions into any claim.)
COUNT_SLACK = 4.0
COUNT_SLOWDOWN = 100.0  # a run under valgrind takes up to this many times as long


@dataclass
class ClaimAudit:
    """What bore out (or refuted) a claimed time saving before a keep."""

    veto: str | None = None  # the discard reason when the process's work does not show the claim
    note: str | None = None  # said to the user when the claim could not be checked
    record: dict[str, Any] = field(default_factory=dict)  # for the ledger: what was checked


def inconsistent_reason(claim: stats.ClaimCheck, result: Measurement) -> str:
    """The discard reason of a claim the process's wall time contradicts, with both numbers."""
    walls = [median([pair[i].wall_s for pair in result.rounds]) for i in (0, 1)]
    return (f"inconsistent metric: the benchmark claims {claim.claimed:.1%} less time, its process "
            f"took {claim.process:.1%} less (wall {walls[0]:.3g} → {walls[1]:.3g} s) where the claim "
            f"implies at least {claim.implied:.1%}")


def audit_claim(config: Config, claim: stats.ClaimCheck, result: Measurement, sandbox: Sandbox,
                incumbent: Arm, candidate: Arm, log_dir: Path,
                on_start: Callable[[int], None] | None = None,
                measure_more: Callable[[], Measurement] | None = None) -> ClaimAudit:
    """Keep a claimed time saving only if the process's own work shows it.

    The rounds' wall time bears the claim out when it can see the saving the claim implies
    (`ClaimCheck.confirmed`). Where it could but the noise hid it, `measure_more` adds as
    many rounds again (the second of `CLAIM_LOOKS`). Where it still does not, typically a timed
    section that is a small share of its process, each arm's instructions are counted once
    under valgrind: the claim is an `inconsistent metric` when it saves more time than the
    instructions saved allow at `COUNT_SLACK` times the incumbent's average CPU time per instruction,
    or when the candidate cannot be counted while the incumbent can.
    """
    more: dict[str, Any] = {}
    if not claim.confirmed and claim.visible and measure_more is not None:
        longer = measure_more()
        extra = longer.rounds[len(result.rounds):]
        more = {"more_rounds": {"claimed": [[i.value, c.value] for i, c in extra],
                                "wall_s": [[round(i.wall_s, 4), round(c.wall_s, 4)] for i, c in extra]}}
        again = cross_check(config, longer)
        if again is not None:
            claim, result = again, longer
            if again.inconsistent:
                return ClaimAudit(veto=inconsistent_reason(again, longer),
                                  record={"checked": "wall", **_shown(again), **more})
    shown = {**_shown(claim), **more}
    if claim.confirmed:
        return ClaimAudit(record={"checked": "wall", **shown})
    if shutil.which("valgrind") is None:
        note = ("the claimed time saving could not be borne out: its process's wall time cannot show "
                "a saving this small, and valgrind, which would count the process's instructions, is "
                "not installed")
        return ClaimAudit(note=note, record={"checked": None, **shown, "note": note})
    counts: dict[str, int] = {}
    slowest = max(pair[0].wall_s for pair in result.rounds)
    counting = config.model_copy(update={
        "metric": config.metric.model_copy(update={"measure": Measure.INSTRUCTIONS, "name": "instructions",
                                                   "unit": ""}),
        "commands": config.commands.model_copy(
            update={"timeout": max(FIRST_RUN_TIMEOUT_S, COUNT_SLOWDOWN * slowest)})})
    log_dir.mkdir(parents=True, exist_ok=True)
    # the same work as the timed runs: the benchmark is told the session's measure, not "instructions"
    bench = Bench(counting, log_dir, sandbox, on_start=on_start,
                  env={"AUTORESEARCH_MEASURE": str(config.metric.measure)})
    try:
        for arm in (incumbent, candidate):
            counts[arm.name] = int(bench.run(arm, "count").value)
    except ArmFailure as failure:
        why = f"counting the {failure.arm}'s instructions failed ({failure.message})"
        if failure.arm == "candidate":  # the incumbent counts: code that fails only when counted is no proof
            return ClaimAudit(veto=f"inconsistent metric: the process's wall time cannot bear out the "
                                   f"claimed {claim.claimed:.1%} less time, and {why}",
                              record={"checked": "instructions", **shown, "failed": failure.message})
        note = (f"the claimed time saving could not be borne out: its process's wall time cannot show a "
                f"saving this small, and {why}")
        return ClaimAudit(note=note, record={"checked": None, **shown, "note": note})
    return judge_counts(config, claim, result, counts, shown)


def judge_counts(config: Config, claim: stats.ClaimCheck, result: Measurement, counts: dict[str, int],
                 shown: dict[str, Any]) -> ClaimAudit:
    """Whether instruction counts bear out a claimed time saving the wall time could not show."""
    scale = TIME_UNITS[config.metric.unit.strip()]
    said = (median(result.values("incumbent")) - median(result.values("candidate"))) * scale
    cpu = [[pair[i].metrics.get("cpu_s", 0.0) for pair in result.rounds] for i in (0, 1)]
    # a clock too coarse to show the process's CPU time leaves its wall time, which is longer
    spent = median(cpu[0]) or median([pair[0].wall_s for pair in result.rounds])
    per_instruction = spent / counts["incumbent"]
    fewer = counts["incumbent"] - counts["candidate"]
    allowed = COUNT_SLACK * max(fewer, 0) * per_instruction
    record = {"checked": "instructions", **shown, "instructions": counts, "claimed_s": said,
              "allowed_s": allowed, "s_per_instruction": per_instruction}
    # The count must also be the timed runs' work: code that does less only when counted
    # (it can tell valgrind from its limits) would allow any claim. A count with no fewer
    # instructions allows none, so only a saving count is held to the timed runs' CPU time:
    # they must show a quarter of the saving the count implies or the claim states, whichever
    # is larger (a claim the count bears out is CPU work; skipping just enough instructions to
    # allow it would otherwise leave the timed runs a sixteenth of the claim to show).
    least_saved = max(fewer * per_instruction, said) / COUNT_SLACK
    if fewer > 0 and stats.count_outruns_process(cpu[0], cpu[1], least_saved,
                                   stats.gain_threshold(config.stats.min_effect, "lower"),
                                   config.stats.alpha):
        record["cpu_s"] = [median(cpu[0]), median(cpu[1])]
        return ClaimAudit(
            veto=(f"inconsistent metric: counted, the process executed {fewer:,} fewer instructions "
                  f"({counts['incumbent']:,} → {counts['candidate']:,}) and the benchmark claims "
                  f"{_seconds(said)} less time per run, which would save at least "
                  f"{_seconds(least_saved)} of CPU time per run, but in the timed runs its CPU time "
                  f"went {_seconds(median(cpu[0]))} → {_seconds(median(cpu[1]))}: the counted run did "
                  "not do the timed runs' work"),
            record=record)
    if said <= allowed:
        return ClaimAudit(record=record)
    return ClaimAudit(
        veto=(f"inconsistent metric: the benchmark claims {_seconds(said)} less time per run "
              f"({claim.claimed:.1%} of its timed section), but its process executed "
              f"{abs(fewer):,} {'fewer' if fewer >= 0 else 'more'} instructions "
              f"({counts['incumbent']:,} → {counts['candidate']:,}), which "
              f"allow at most {_seconds(allowed)} at {COUNT_SLACK:g}× the incumbent's "
              f"{_seconds(per_instruction)} of CPU time per instruction"),
        record=record)


def _shown(claim: stats.ClaimCheck) -> dict[str, float]:
    return {"claimed": round(claim.claimed, 4), "process": round(claim.process, 4),
            "implied": round(claim.implied, 4)}


def _seconds(value: float) -> str:
    """A duration in the unit that reads best.

    >>> _seconds(0.0025), _seconds(3.2e-9), _seconds(-1.5)
    ('2.5 ms', '3.2 ns', '-1.5 s')
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"
