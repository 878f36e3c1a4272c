"""Small text renderings of ledger records that several faces share."""

from __future__ import annotations

from typing import Any

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


def inputs_words(inputs: str) -> str:
    """How a confirm's inputs read in a sentence: "held-out inputs" or "the usual inputs"."""
    return "held-out inputs" if inputs == "heldout" else "the usual inputs"


def confirm_numbers(confirm: dict[str, Any], hint: str) -> str:
    """What a confirm measured, as `status` and the report word it; `hint` where numbers are hidden.

    >>> confirm_numbers({"inputs": "dev", "ratio": 0.4, "ci": [0.38, 0.42], "improvement_pct": 60.0,
    ...                  "agrees": True}, "")
    ': 60.0% better, ratio 0.400 [0.380, 0.420]; agrees with the gain'
    """
    if "ratio" not in confirm:
        return hint if confirm["inputs"] == "heldout" else ""
    agrees = {True: "; agrees with the gain", False: "; DISAGREES with the gain",
              None: ""}[confirm.get("agrees")]
    gain = confirm["improvement_pct"] / 100
    change = f"{gain:.1%} better" if gain >= 0 else f"{-gain:.1%} worse"
    low, high = confirm["ci"]
    return f": {change}, ratio {confirm['ratio']:.3f} [{low:.3f}, {high:.3f}]{agrees}"
