"""Small text renderings of ledger records that several faces share."""

from __future__ import annotations

import math
from typing import Any

from autoresearch.model import RunRecord
from autoresearch.model import ratio_interval as ratio_interval  # one wording for every face


def ratio_with_interval(record: RunRecord) -> str:
    """`0.812 [0.771, 0.855]`: the candidate/incumbent ratio and its interval, or "" if unmeasured.

    >>> r = RunRecord(run=1, status="keep", verdict="keep", timestamp=0, ratio=0.8, ci=(0.75, 0.85))
    >>> ratio_with_interval(r)
    '0.800 [0.750, 0.850]'
    >>> ratio_with_interval(r.model_copy(update={"ratio": 1.2, "ci": (0.0, math.inf)}))
    '1.200 (unbounded: too few rounds)'
    """
    if record.ratio is None or record.ci is None:
        return ""
    return f"{record.ratio:.3f} {ratio_interval(record.ci)}"


def json_ready(value: Any) -> Any:
    """`value` with every non-finite number as None: JSON has no infinity or NaN, and strict
    readers (`jq`, a browser's `JSON.parse`) refuse the `Infinity` token Python writes. An
    interval the rounds could not bound on a side has null there.

    >>> json_ready({"ci": (0.0, math.inf), "p": math.nan, "runs": [1, 2.5]})
    {'ci': [0.0, None], 'p': None, 'runs': [1, 2.5]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


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
    return f": {change}, ratio {confirm['ratio']:.3f} {ratio_interval(confirm['ci'])}{agrees}"
