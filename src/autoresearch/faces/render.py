"""Small text renderings of ledger records that several faces share."""

from __future__ import annotations

from autoresearch.model import RunRecord


def ratio_with_interval(record: RunRecord) -> str:
    """`0.812 [0.771, 0.855]`: the candidate/incumbent ratio and its interval, or "" if unmeasured.

    >>> r = RunRecord(run=1, status="keep", verdict="keep", timestamp=0, ratio=0.8, ci=(0.75, 0.85))
    >>> ratio_with_interval(r)
    '0.800 [0.750, 0.850]'
    """
    if record.ratio is None or record.ci is None:
        return ""
    return f"{record.ratio:.3f} [{record.ci[0]:.3f}, {record.ci[1]:.3f}]"
