"""Where a running experiment stands: the event every face shows, and the file other processes read."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoresearch.stats import Comparison


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a long operation: its phase and, while measuring, the running estimate.

    `comparison` is the judgement after the rounds run so far (None before the first), for a
    metric where `direction` is better; `seconds_per_round` is how long rounds have taken, for an estimate of the time left.

    >>> str(ProgressEvent("checks"))
    'checks'
    >>> str(ProgressEvent("measuring", round=3, max_rounds=24))
    'round 3/24'
    """

    phase: str
    round: int = 0
    max_rounds: int = 0
    comparison: Comparison | None = None
    direction: str = "lower"
    seconds_per_round: float | None = None

    def __str__(self) -> str:
        return f"round {self.round}/{self.max_rounds}" if self.max_rounds else self.phase

    @property
    def estimate(self) -> tuple[float, tuple[float, float]] | None:
        """The running gain and its 95% interval (+0.1 = 10% better), once there is one."""
        c = self.comparison
        if c is None or c.rounds == 0 or not all(map(math.isfinite, c.ci)):
            return None
        from autoresearch.stats import improvement_of

        low, high = sorted(improvement_of(r, self.direction) for r in c.ci)  # type: ignore[arg-type]
        return c.improvement, (low, high)

    @property
    def seconds_left(self) -> float | None:
        """An upper bound: the rounds still allowed at the pace so far (most decide sooner)."""
        if not self.seconds_per_round or not self.max_rounds:
            return None
        return self.seconds_per_round * (self.max_rounds - self.round + 1)

    def as_dict(self) -> dict[str, Any]:
        estimate = self.estimate
        return {"phase": self.phase, "round": self.round, "max_rounds": self.max_rounds,
                "ratio": self.comparison.ratio if estimate and self.comparison else None,
                "gain": estimate[0] if estimate else None,
                "gain_ci": list(estimate[1]) if estimate else None,
                "eta_s": self.seconds_left, "text": str(self)}


Progress = Callable[[ProgressEvent], None]


# --- the progress file: the dashboard reads it from another process ------------------------


def progress_writer(path: Path, run: int, description: str) -> Progress:
    """A progress callback that keeps `path` up to date with the latest event.

    The file is tiny and replaced atomically (a reader sees the old or the new one); it names
    the writing process, so a reader can tell a file left by a killed run from a live one.
    """
    from autoresearch.infra.state import write_json

    started = time.time()

    def write(event: ProgressEvent) -> None:
        write_json(path, {"run": run, "description": description, "pid": os.getpid(),
                          "started": started, "updated": time.time(), **event.as_dict()})

    return write


def read_progress(path: Path) -> dict[str, Any] | None:
    """The running experiment's latest event, or None when none is running."""
    from autoresearch.infra.state import read_json

    data = read_json(path)
    if not data or not _alive(int(data.get("pid", 0))):
        return None
    return data


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
