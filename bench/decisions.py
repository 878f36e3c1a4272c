"""Benchmark of keep/discard decision rules: false keeps, power and rounds, on recorded and
simulated noise, next to other tools' rules as implemented here.

Every rule sees the same trials. Recorded trials resample the real A/A pairs in bench/data
(two processes of identical code per round, order randomized when measured, so the arms are
exchangeable): the first half of the pairs in time tunes each rule's threshold to a matched
false-keep rate, the second half reports. Simulated trials use `autoresearch.stats.simulate`
(heavy tails, whole-millisecond quantization, drifting load, bursts). Vectorized with numpy.

    python bench/decisions.py [--quick] [--trials N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from autoresearch.stats import Policy, compare, gain_threshold, plan_from_aa  # noqa: E402 (after the path)
from autoresearch.stats.simulate import BETTER, decide_batch, simulated_arms  # noqa: E402

DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
EFFECTS = [-0.05, -0.02, 0.0, 0.05, 0.10, 0.20, 0.30]
ROUNDS = 24  # rounds drawn per trial: enough for every rule here (HCA extends to 20 blocks)
MATCHED_RATE = 0.01  # false-keep rate every tunable rule is matched to


# --- trials ----------------------------------------------------------------------------------


@dataclass
class Trials:
    """Per-process values of each arm: trials x rounds x values per process."""

    inc: np.ndarray
    cand: np.ndarray

    def per_process(self) -> tuple[np.ndarray, np.ndarray]:
        return np.median(self.inc, axis=2), np.median(self.cand, axis=2)


def load_pairs(name: str, key: str) -> np.ndarray:
    """Pairs x 2 arms x 3 values, in the order they were measured."""
    by: dict[int, dict[str, list[float]]] = {}
    for rec in json.loads((DATA / name).read_text()):
        by.setdefault(rec["pair"], {})[rec["arm"]] = [float(v) for v in rec[key]]
    return np.array([[v["A"], v["B"]] for _, v in sorted(by.items()) if "A" in v and "B" in v])


def recorded(pairs: np.ndarray, effect: float, trials: int, rng: np.random.Generator,
             whole_ms: bool = False) -> Trials:
    """Resampled rounds: a random pair per round, its two processes swapped at random."""
    idx = rng.integers(0, len(pairs), (trials, ROUNDS))
    swap = rng.random((trials, ROUNDS)) < 0.5
    a, b = pairs[idx, 0], pairs[idx, 1]
    inc = np.where(swap[..., None], b, a)
    cand = np.where(swap[..., None], a, b) * (1.0 - effect)
    if whole_ms:  # a metric printed in whole milliseconds (~27 ms: steps of ~4%)
        inc, cand = np.round(inc * 1000.0), np.round(cand * 1000.0)
    return Trials(inc, cand)


def simulated(kind: str, effect: float, trials: int, rng: np.random.Generator) -> Trials:
    inc, cand = simulated_arms(kind, trials, ROUNDS, rng, effect)
    return Trials(np.exp(inc)[..., None], np.exp(cand)[..., None])


# --- the rules, vectorized over trials; each returns (kept, rounds used) ---------------------

Rule = Callable[[Trials, float], tuple[np.ndarray, np.ndarray]]


def ours(policy: Policy) -> Rule:
    """This harness: `decide_batch`, checked against `compare` in tests/test_error_rates.py."""
    def rule(t: Trials, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        inc, cand = t.per_process()
        d = np.log(inc) - np.log(cand)
        b = decide_batch(d[:, : policy.max_rounds], replace(policy, alpha=alpha))
        return b.outcome == BETTER, b.rounds
    return rule


def single_strict(t: Trials, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Karpathy's autoresearch / pi-autoresearch default: one run each, candidate faster."""
    inc, cand = t.per_process()
    return cand[:, 0] < inc[:, 0] * (1.0 - margin), np.ones(len(inc), int)


def pi_mad(t: Trials, score: float) -> tuple[np.ndarray, np.ndarray]:
    """pi-autoresearch's confidence score as implemented here (advisory in pi, a rule here):
    segment = baseline + 4 reruns + the candidate's run; keep if faster and
    |candidate - baseline| / MAD(segment) >= score."""
    inc, cand = t.per_process()
    seg = np.concatenate([inc[:, :5], cand[:, :1]], axis=1)
    mad = np.median(np.abs(seg - np.median(seg, axis=1, keepdims=True)), axis=1)
    conf = np.abs(cand[:, 0] - inc[:, 0]) / np.where(mad > 0, mad, np.nan)
    keep = (cand[:, 0] < inc[:, 0]) & ((conf >= score) | (mad == 0))
    return keep, np.ones(len(inc), int)


def codeflash(t: Trials, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """codeflash: min over 5 processes (all their values) per arm, keep if >= margin faster."""
    best_i = t.inc[:, :5].reshape(len(t.inc), -1).min(axis=1)
    best_c = t.cand[:, :5].reshape(len(t.cand), -1).min(axis=1)
    return best_c < best_i * (1.0 - margin), np.full(len(t.inc), 5)


def asv(t: Trials, p_max: float) -> tuple[np.ndarray, np.ndarray]:
    """asv: Mann-Whitney U two-sided p < 0.002 and a 10% factor, 10 processes per arm."""
    from scipy.stats import mannwhitneyu

    inc, cand = t.per_process()
    p = mannwhitneyu(inc[:, :10], cand[:, :10], alternative="two-sided", axis=1).pvalue
    ratio = np.median(inc[:, :10], axis=1) / np.median(cand[:, :10], axis=1)
    return (p < p_max) & (ratio > 1.1), np.full(len(inc), 10)


def pyperf(t: Trials, p_max: float) -> tuple[np.ndarray, np.ndarray]:
    """pyperf compare_to: two-sample t-test p < 0.05 on 20 processes x 3 values, mean faster."""
    from scipy.stats import ttest_ind

    a = t.inc[:, :20].reshape(len(t.inc), -1)
    b = t.cand[:, :20].reshape(len(t.cand), -1)
    p = ttest_ind(a, b, axis=1).pvalue
    return (p < p_max) & (b.mean(axis=1) < a.mean(axis=1)), np.full(len(a), 20)


def _signed_rank_upper(n: int) -> np.ndarray:
    """Exact P(W+ >= w) for n untied signed ranks, w = 0..n(n+1)/2."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return counts[::-1].cumsum()[::-1] / 2.0**n


def _wilcoxon_hl(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact signed-rank p-value and Hodges-Lehmann estimate of each row."""
    n = d.shape[1]
    ranks = np.argsort(np.argsort(np.abs(d), axis=1), axis=1) + 1
    w = np.where(d > 0, ranks, 0).sum(axis=1)
    p = _signed_rank_upper(n)[w]
    i, j = np.triu_indices(n)
    hl = np.median((d[:, i] + d[:, j]) / 2.0, axis=1)
    return p, hl


def hca(extend: bool, min_effect: float = 0.05) -> Rule:
    """HillClimbAnything: exact one-sided Wilcoxon signed-rank on 10 blocks at alpha, keep if
    also the Hodges-Lehmann estimate >= half the useful effect (useful = 2 x min_effect); with
    `extend`, looks at 10 and 20 blocks at alpha/2 each, extending a positive-HL try."""
    half_useful = gain_threshold(min_effect, "lower")

    def rule(t: Trials, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        inc, cand = t.per_process()
        d = np.log(inc) - np.log(cand)
        level = alpha / 2 if extend else alpha
        p10, hl10 = _wilcoxon_hl(d[:, :10])
        keep = (p10 <= level) & (hl10 >= half_useful)
        rounds = np.full(len(d), 10)
        if extend:
            more = ~keep & (hl10 > 0)
            p20, hl20 = _wilcoxon_hl(d[:, :20])
            keep |= more & (p20 <= level) & (hl20 >= half_useful)
            rounds = np.where(more, 20, 10)
        return keep, rounds
    return rule


def rules(policy: Policy) -> dict[str, tuple[Rule, float, bool]]:
    """name -> (rule, published knob, knob grows with strictness on a log scale)."""
    return {
        "ours": (ours(policy), policy.alpha, True),
        "single strict": (single_strict, 0.0, False),
        "pi MAD>=2 (as implemented here)": (pi_mad, 2.0, False),
        "codeflash 5% min-of-5": (codeflash, 0.05, False),
        "asv MWU p<0.002, x1.1": (asv, 0.002, True),
        "pyperf t p<0.05": (pyperf, 0.05, True),
        "HCA 10 blocks": (hca(False), 0.01, True),
        "HCA 10+10, alpha/2 per look": (hca(True), 0.01, True),
    }


# --- running ---------------------------------------------------------------------------------


def rate(rule: Rule, knob: float, trials: Trials) -> tuple[float, float]:
    keep, rounds = rule(trials, knob)
    return float(keep.mean()), float(np.median(rounds))


def tune(rule: Rule, published: float, is_level: bool, null: Trials, target: float) -> float:
    """The knob whose false-keep rate on `null` is the largest not above `target`."""
    if is_level:  # a significance level: search its log between 1e-5 and 0.5
        lo, hi = math.log(1e-5), math.log(0.5)
        for _ in range(18):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if rate(rule, math.exp(mid), null)[0] <= target else (lo, mid)
        return math.exp(lo)
    lo, hi = 0.0, 0.25  # a margin or a score: larger is stricter
    while rate(rule, hi, null)[0] > target and hi < 256:
        lo, hi = hi, hi * 2
    for _ in range(16):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if rate(rule, mid, null)[0] <= target else (mid, hi)
    return hi


def cell(r: tuple[float, float]) -> str:
    return f"{100 * r[0]:.1f}% ({r[1]:g})"


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    out = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def look_cost(policy: Policy, repeats: int = 20) -> dict[str, float]:
    """Milliseconds per look of `compare` (pure Python), over 24 rounds, and at a keep."""
    rng = np.random.default_rng(0)
    d = rng.normal(0.0, 0.2, 24)
    inc = [1.0] * 24
    cand = [math.exp(-x) for x in d]
    start = time.perf_counter()
    for _ in range(repeats):
        for n in range(1, 25):
            compare(inc[:n], cand[:n], "lower", policy)
    per_look = (time.perf_counter() - start) / (repeats * 24) * 1000
    start = time.perf_counter()
    for _ in range(repeats):
        compare([1.0] * 9, [0.5] * 9, "lower", policy)
    at_keep = (time.perf_counter() - start) / repeats * 1000
    return {"per_look_ms": round(per_look, 3), "keep_ms": round(at_keep, 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1000 trials per cell instead of 4000")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    n = args.trials or (1000 if args.quick else 4000)
    started = time.time()
    policy = Policy()
    wall = np.concatenate([load_pairs("aa-wall-150-pairs.json", "vals"),
                           load_pairs("aa-cpu-pairs.json", "wall")])
    first_half = np.concatenate([wall[:75], wall[150:200]])  # each file's earlier pairs
    second_half = np.concatenate([wall[75:150], wall[200:]])
    rng = np.random.default_rng(args.seed)

    def draw(pairs: np.ndarray, effect: float, whole_ms: bool = False) -> Trials:
        return recorded(pairs, effect, n, rng, whole_ms)

    report: dict[str, object] = {"policy": asdict(policy), "trials": n, "pairs": len(wall)}
    text = [(f"Trials per cell: {n}; recorded pairs: {len(wall)} (tuned on {len(first_half)}, "
            f"reported on {len(second_half)}); cells: keep rate (median rounds)\n")]

    # 1. every rule at its published setting, on the reporting half
    all_rules = rules(policy)
    trials_by_effect = {e: draw(second_half, e) for e in EFFECTS}
    published = {name: [rate(r, knob, trials_by_effect[e]) for e in EFFECTS]
                 for name, (r, knob, _) in all_rules.items()}
    report["published"] = {k: dict(zip(map(str, EFFECTS), v, strict=False)) for k, v in published.items()}
    text.append(table("Every rule at its published setting (recorded noise, reporting half)",
                      ["rule"] + [f"{e:+.0%}" for e in EFFECTS],
                      [[name] + [cell(x) for x in v] for name, v in published.items()]))

    # 2. matched false-keep rates: tuned on the first half, reported on the second
    tune_null = draw(first_half, 0.0)
    matched: dict[str, object] = {}
    rows = []
    for name, (r, knob, is_level) in all_rules.items():
        k = tune(r, knob, is_level, tune_null, MATCHED_RATE)
        results = [rate(r, k, trials_by_effect[e]) for e in (0.0, 0.05, 0.10, 0.20, 0.30)]
        matched[name] = {"knob": k, "rates": results}
        rows.append([name, f"{k:.3g}"] + [cell(x) for x in results])
    report["matched"] = matched
    text.append(table(f"Matched: each rule's threshold tuned to <= {MATCHED_RATE:.0%} A/A false keeps "
                      "on the first half, reported on the second",
                      ["rule", "tuned knob", "A/A", "+5%", "+10%", "+20%", "+30%"], rows))

    # 3. false keeps of this harness's rule per kind of noise (defaults, and screening alone)
    kinds: dict[str, Callable[[float], Trials]] = {
        "recorded": lambda e: draw(second_half, e),
        "recorded, whole ms": lambda e: draw(second_half, e, whole_ms=True),
        **{k: (lambda e, k=k: simulated(k, e, n, rng))
           for k in ("gaussian", "heavy", "quantized", "drift", "bursts")},
    }
    screening = replace(policy, min_effect=0.0, min_rounds=1)
    rows = []
    noise_rates: dict[str, object] = {}
    for kind, make in kinds.items():
        null = make(0.0)
        defaults = rate(ours(policy), policy.alpha, null)
        screen = rate(ours(screening), screening.alpha, null)
        worse = rate(ours(policy), policy.alpha, make(-0.02))
        noise_rates[kind] = {"defaults": defaults, "screening": screen, "-2%": worse}
        rows.append([kind, cell(defaults), cell(screen), cell(worse)])
    report["noise_kinds"] = noise_rates
    text.append(table("This harness's false keeps by kind of noise (alpha = 1%)",
                      ["noise", "A/A, defaults", "A/A, min_effect 0 & min_rounds 1", "-2%, defaults"], rows))

    # 4. power and rounds on recorded noise; with the noise calibrated on the first half
    aa = np.log(np.median(first_half[:, 0], axis=1)) - np.log(np.median(first_half[:, 1], axis=1))
    plan = plan_from_aa(aa.tolist(), policy.alpha, 0.8, policy.max_rounds)
    calibrated = replace(policy, noise=plan.noise)
    rows = []
    power: dict[str, object] = {}
    for label, pol in (("defaults", policy), (f"noise calibrated ({plan.noise:.3f})", calibrated),
                       ("confirm_rounds 1", replace(policy, confirm_rounds=1)),
                       ("confirm_rounds 3", replace(policy, confirm_rounds=3)),
                       ("max_rounds 12", replace(policy, max_rounds=12)),
                       ("alpha 5%", replace(policy, alpha=0.05)),
                       # a bound: what any use of alpha can keep by round 10 (all of it at one look)
                       ("one look at round 10, all of alpha", replace(policy, min_rounds=10,
                                                                       max_rounds=10, futility=0.0))):
        res = [rate(ours(pol), pol.alpha, trials_by_effect[e]) for e in (0.0, 0.05, 0.10, 0.20, 0.30)]
        power[label] = res
        rows.append([label] + [cell(x) for x in res])
    report["power"] = power
    text.append(table("This harness: keep rate (median rounds) on recorded noise, reporting half",
                      ["policy", "A/A", "+5%", "+10%", "+20%", "+30%"], rows))
    text.append(f"Calibration on the first half: noise {plan.noise:.3f} (90% interval "
                f"{plan.noise_low:.3f}-{plan.noise_high:.3f}), 80%-power detectable gain "
                f"{plan.detectable_effect:.1%} (simulated on the A/A draws), recommended "
                f"min_effect {plan.min_effect}\n")
    report["plan"] = asdict(plan)

    one = Policy(min_effect=0.005, min_rounds=1, max_rounds=1, deterministic=True)
    instr = {f"{e:+.3f}": compare([1e9], [1e9 * (1 - e)], "lower", one).outcome
             for e in (0.016, 0.005, 0.0, -0.01)}
    report["instructions"] = instr
    cost = look_cost(policy)
    report["cost"] = cost
    text.append(f"Instructions mode (min_effect 0.5%, one round): {instr}\n")
    text.append(f"Decision cost (pure Python): {cost['per_look_ms']} ms per look over 24 rounds, "
                f"{cost['keep_ms']} ms for a keep's estimate and interval\n")
    report["seconds"] = round(time.time() - started, 1)
    text.append(f"Run time: {report['seconds']} s (`python bench/decisions.py"
                f"{' --quick' if args.quick else ''} --seed {args.seed}`)\n")
    print("\n".join(text))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"decisions-{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
    (RESULTS / "decisions-latest.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
