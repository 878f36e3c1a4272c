"""Read `METRIC name=value` lines from a benchmark's output, strictly."""

from __future__ import annotations

import math
import re
from pathlib import Path

from autoresearch.errors import MetricError

# pi-autoresearch's form, so benchmarks written for it work unchanged.
METRIC_LINE = re.compile(r"^METRIC\s+([\w.µ]+)=(\S+)\s*$")


def parse_metrics(path: Path, primary: str | None, *, unique_primary: bool) -> dict[str, float]:
    """All metrics in the file at `path`, the last occurrence of each winning.

    A missing or non-finite `primary` is an error (None: no metric is required). With
    `unique_primary`, a primary metric printed twice is an error: a second line may come from
    the code under test rather than the benchmark.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkstemp()[1]); _ = p.write_text("METRIC t_ms=12.5\\nnoise\\n")
    >>> parse_metrics(p, "t_ms", unique_primary=True)
    {'t_ms': 12.5}
    """
    values: dict[str, float] = {}
    primary_count = 0
    bad: dict[str, str] = {}
    with path.open("rb") as fh:
        for raw in fh:  # line by line: the file may be huge
            if not raw.startswith(b"METRIC"):
                continue
            match = METRIC_LINE.match(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            if not match:
                continue
            name, text = match.groups()
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if name == primary:
                primary_count += 1
            if not math.isfinite(value):
                values.pop(name, None)  # the last occurrence wins, even a bad one
                bad[name] = text
                continue
            bad.pop(name, None)
            values[name] = value
    if primary is not None and primary not in values:
        detail = f" (got {primary}={bad[primary]}, not a finite number)" if primary in bad else ""
        raise MetricError(f"no METRIC {primary}=<number> line in the benchmark output{detail}")
    if unique_primary and primary_count > 1:
        raise MetricError(
            f"METRIC {primary} appears {primary_count} times in the benchmark's output; it must "
            "appear once (a second line may come from the code under test)"
        )
    return values
