"""Paired, interleaved comparison of incumbent and candidate: when to stop and what to conclude.

The statistic is the per-round log-ratio of the primary metric, oriented so that a positive
value means the candidate is better. The modules show the design:

* `robust`      log-ratios, trimmed means, robust spread, normal and t distributions (pure Python)
* `signflip`    the exact sequential sign-flip test: error control under any noise
* `sequential`  `Policy`, `Comparison`, `compare`: the decision at each look, and its reasons
* `estimate`    a keep's gain and interval adjusted for stopping at the crossing
* `guards`      secondary metrics that may not worsen
* `single`      one expensive run against recorded runs
* `planning`    noise from A/A rounds, its uncertainty, detectable gains, audit of keeps
* `simulate`    `compare` vectorized over simulated trials (numpy), for error-rate checks

Importing this package imports neither numpy nor scipy; a look costs about a millisecond.

>>> policy = Policy(alpha=0.01, min_effect=0.05, min_rounds=4, max_rounds=20)
>>> compare([100.0] * 9, [50.0] * 9, "lower", policy).outcome
'better'
"""

from __future__ import annotations

from autoresearch.stats.claims import ClaimCheck, check_claim, count_outruns_process
from autoresearch.stats.guards import GuardCheck, check_guard
from autoresearch.stats.planning import (
    KeepAudit,
    NoisePlan,
    audit_keeps,
    detectable_effect,
    noise_interval,
    noise_of,
    plan_from_aa,
)
from autoresearch.stats.robust import (
    Direction,
    gain_threshold,
    improvement_log_ratios,
    improvement_of,
    median,
    ratio_of,
    robust_spread,
)
from autoresearch.stats.sequential import (
    DETERMINISTIC_TOLERANCE,
    Comparison,
    Outcome,
    Policy,
    compare,
)
from autoresearch.stats.single import judge_single

__all__ = [
    "DETERMINISTIC_TOLERANCE", "ClaimCheck", "Comparison", "Direction", "GuardCheck", "KeepAudit",
    "NoisePlan", "Outcome", "Policy", "audit_keeps", "check_claim", "check_guard", "compare",
    "count_outruns_process", "detectable_effect", "gain_threshold", "improvement_log_ratios",
    "improvement_of", "judge_single", "median", "noise_interval", "noise_of", "plan_from_aa", "ratio_of",
    "robust_spread",
]
