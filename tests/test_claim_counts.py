"""How instruction counts judge a claimed time saving, on rounds made up for the purpose."""

from __future__ import annotations

from autoresearch import stats
from autoresearch.config import Config
from autoresearch.measure.bench import Measurement, Sample
from autoresearch.measure.claims import judge_counts

CONFIG = Config.model_validate({"session": {"name": "s"}, "metric": {"name": "t_ms", "unit": "ms"}})
# the benchmark claims half its timed 10 ms; the process sleeps 0.7 s around it
CLAIM = stats.ClaimCheck(inconsistent=False, claimed=0.5, process=0.0, implied=0.007)


def _rounds(cpu_incumbent: list[float], cpu_candidate: list[float]) -> Measurement:
    def sample(arm: str, value: float, cpu: float) -> Sample:
        return Sample(arm, value, {"cpu_s": cpu}, 0.0, 0.7, 0.0, 0)  # type: ignore[arg-type]

    return Measurement(rounds=[(sample("incumbent", 10.0, a), sample("candidate", 5.0, b))
                               for a, b in zip(cpu_incumbent, cpu_candidate, strict=True)])


def test_a_count_with_no_saving_refutes_the_claim_itself_and_is_not_held_to_the_cpu_time():
    # the candidate's count is higher and its timed runs took more CPU: the count allows no saving,
    # which refutes the claim; it says nothing of the counted run doing other work
    result = _rounds([0.0247 + i * 1e-4 for i in range(8)], [0.0273 + i * 1e-4 for i in range(8)])
    audit = judge_counts(CONFIG, CLAIM, result, {"incumbent": 184_000_000, "candidate": 194_000_000}, {})
    assert audit.veto is not None and audit.veto.startswith("inconsistent metric: the benchmark claims")
    assert "more instructions" in audit.veto


def test_a_saving_count_the_timed_cpu_time_lacks_is_other_work_than_the_timed_runs():
    # counted, 100M fewer instructions; timed, the CPU time did not move at all
    cpu = [0.0247 + i * 1e-4 for i in range(8)]
    counts = {"incumbent": 184_000_000, "candidate": 84_000_000}
    audit = judge_counts(CONFIG, CLAIM, _rounds(cpu, cpu), counts, {})
    assert audit.veto is not None and "did not do the timed runs' work" in audit.veto
