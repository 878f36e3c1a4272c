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


def test_skipped_instructions_are_worth_the_process_cpu_time_not_its_sleep():
    # the process sleeps 0.7 s and spends 25 ms of CPU: 2M fewer instructions are worth about
    # 0.27 ms of CPU at the process's rate (1.1 ms at 4 times it), not the 30 ms its wall time
    # per instruction would allow, so the claimed 5 ms saving is not borne out
    cpu = [0.0247 + i * 1e-4 for i in range(8)]
    counts = {"incumbent": 184_000_000, "candidate": 182_000_000}
    audit = judge_counts(CONFIG, CLAIM, _rounds(cpu, cpu), counts, {})
    assert audit.veto is not None and "2,000,000 fewer instructions" in audit.veto, audit.veto
    assert audit.record["allowed_s"] < 0.0015 < audit.record["claimed_s"]


def test_a_count_that_shows_the_claimed_saving_bears_it_out():
    # 80M fewer instructions of a 25 ms process: about 11 ms of CPU, and the timed runs show it
    counts = {"incumbent": 184_000_000, "candidate": 104_000_000}
    result = _rounds([0.0247 + i * 1e-4 for i in range(8)], [0.0140 + i * 1e-4 for i in range(8)])
    audit = judge_counts(CONFIG, CLAIM, result, counts, {})
    assert audit.veto is None and audit.record["claimed_s"] <= audit.record["allowed_s"], audit.veto


def test_skipping_just_enough_when_counted_leaves_the_claim_to_the_timed_cpu_time():
    # the benchmark claims 10 of its 20 ms; counted, 20M instructions fewer (2.7 ms of CPU at
    # the process's rate, enough at 4 times it); timed, the CPU time did not move. A quarter of
    # the count's saving hides in the noise, a quarter of the claim's does not.
    result = Measurement(rounds=[
        (Sample("incumbent", 20.0, {"cpu_s": 0.0247 + i * 1e-4}, 0.0, 0.7, 0.0, 0),  # type: ignore[arg-type]
         Sample("candidate", 10.0, {"cpu_s": 0.0247 + i * 1e-4}, 0.0, 0.7, 0.0, 0))  # type: ignore[arg-type]
        for i in range(8)])
    counts = {"incumbent": 184_000_000, "candidate": 164_000_000}
    audit = judge_counts(CONFIG, CLAIM, result, counts, {})
    assert audit.veto is not None and "did not do the timed runs' work" in audit.veto, audit.veto
    assert audit.record["claimed_s"] <= audit.record["allowed_s"]  # the count alone would allow it
