"""Where a running experiment stands: the event every face shows, and the file other processes read."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoresearch.stats import Comparison

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a long operation: its phase and, while measuring, the running estimate.

    `comparison` is the judgement after the rounds run so far (None before the first), for a
    metric where `direction` is better; `seconds_per_round` is how long rounds have taken, for
    an estimate of the time left. Each round has an event as it starts and one, `finished`,
    once it is measured.

    >>> str(ProgressEvent("checks"))
    'checks'
    >>> str(ProgressEvent(MEASURING, round=3, max_rounds=24, seconds_per_round=5))
    'round 3/24, at most 1 min 50 s left'
    """

    phase: str
    round: int = 0
    max_rounds: int = 0
    comparison: Comparison | None = None
    direction: str = "lower"
    seconds_per_round: float | None = None
    run: int = 0  # the experiment's run number and description, once it has them
    description: str = ""
    # a round just measured, not one starting: a log that prints one line per round prints these
    finished: bool = False
    worker: str = ""  # the Dask worker measuring it (`--executor`), once it has said so

    def __str__(self) -> str:
        if not self.max_rounds:
            return self.phase
        step = f"{'round' if self.phase == MEASURING else self.phase} {self.round}/{self.max_rounds}"
        estimate, interval, left = self.estimate, self.interval, self.seconds_left
        if estimate is not None:
            step += f", estimate {_pct(estimate)}"
        if interval:
            step += f" [{_pct(interval[0])}, {_pct(interval[1])}]"
        if left:
            step += f", at most {duration(left)} left"
        return step

    @property
    def estimate(self) -> float | None:
        """The running gain (+0.1 = 10% better), once a round has been measured."""
        c = self.comparison
        return c.improvement if c is not None and c.rounds else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The running gain's interval at the level a crossing needs now, once the rounds allow one."""
        from autoresearch.stats import improvement_of

        c = self.comparison
        if c is None or not c.rounds or not all(map(math.isfinite, c.ci)) or min(c.ci) <= 0:
            return None
        low, high = sorted(improvement_of(r, self.direction) for r in c.ci)  # type: ignore[arg-type]
        return low, high

    @property
    def seconds_left(self) -> float | None:
        """An upper bound: the rounds still allowed at the pace so far (most decide sooner)."""
        if not self.seconds_per_round or not self.max_rounds:
            return None
        return self.seconds_per_round * (self.max_rounds - self.round + 1)

    def as_dict(self) -> dict[str, Any]:
        estimate, interval = self.estimate, self.interval
        return {"run": self.run, "description": self.description,
                "phase": self.phase, "round": self.round, "max_rounds": self.max_rounds,
                "ratio": self.comparison.ratio if estimate is not None and self.comparison else None,
                "gain": estimate, "gain_ci": list(interval) if interval else None,
                "eta_s": self.seconds_left, "worker": self.worker or None, "text": str(self)}


MEASURING = "measuring"  # the phase of the interleaved rounds

Progress = Callable[[ProgressEvent], None]


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def duration(seconds: float) -> str:
    """`75` → "1 min 15 s", `3725` → "1 h 02 min".

    >>> duration(42.4), duration(75), duration(3725)
    ('42 s', '1 min 15 s', '1 h 02 min')
    """
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{round(s / 60)} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# --- the progress file: the dashboard reads it from another process ------------------------


def tracked(progress: Progress, path: Path, run: int, description: str) -> Progress:
    """`progress`, with each event naming the candidate and also written to `path`.

    The file is tiny and replaced atomically (a reader sees the old or the new one); it names
    the writing process, so a reader can tell a file left by a killed run from a live one.
    """
    from dataclasses import replace

    from autoresearch.infra.state import write_json

    started = time.time()

    def hook(event: ProgressEvent) -> None:
        event = replace(event, run=run, description=description)
        try:
            write_json(path, {"pid": os.getpid(), "started": started, "updated": time.time(),
                              **event.as_dict()}, durable=False)
        except OSError as exc:  # the dashboard's view is not worth failing an experiment for
            log.warning("could not write %s: %s", path, exc)
        progress(event)

    return hook


def clear_progress(path: Path) -> None:
    path.unlink(missing_ok=True)


def read_progress(path: Path) -> dict[str, Any] | None:
    """The running experiment's latest event, or None when none is running."""
    from autoresearch.infra.state import read_json

    data = read_json(path)
    if not data or not process_alive(int(data.get("pid", 0))):
        return None
    return data


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a reader's check for a writer killed mid-run)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
