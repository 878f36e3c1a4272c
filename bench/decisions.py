"""Benchmark of the harness's keep/discard decisions: false keeps, power and rounds used.

Resampling mode (default) draws incumbent/candidate process pairs from real A/A measurements,
plants effects by scaling the candidate arm, and runs `autoresearch.stats.compare` round by
round, next to the anchors' rules on the same samples. `--live` runs real fresh-process trials
of a CPU loop. Prints markdown tables and writes JSON under bench/results/.

    python bench/decisions.py [--quick] [--live] [--trials N] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Sequence

from autoresearch.stats import (
    Policy,
    compare,
    gain_threshold,
    improvement_log_ratios,
    plan_from_aa,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
EFFECTS = [-0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30]
MAX_ROUNDS = 30  # rounds drawn per trial: enough for every rule and policy tried

Proc = list[float]  # the timed values of one fresh process
Pair = tuple[Proc, Proc]  # (arm A, arm B) run back to back


# --- data -----------------------------------------------------------------------------------


WALL_SOURCES = (("aa-wall-150-pairs.json", "vals"), ("aa-cpu-pairs.json", "wall"))
CPU_SOURCES = (("aa-cpu-pairs.json", "cpu"),)


def load_pairs(data: Path, sources: Sequence[tuple[str, str]] = WALL_SOURCES) -> list[Pair]:
    """All complete A/B pairs of the A/A files, each process as its list of timed values."""
    pairs: list[Pair] = []
    for name, key in sources:
        path = data / name
        if not path.exists():
            continue
        by: dict[int, dict[str, Proc]] = {}
        for rec in json.loads(path.read_text()):
            by.setdefault(rec["pair"], {})[rec["arm"]] = [float(v) for v in rec[key]]
        pairs += [(v["A"], v["B"]) for _, v in sorted(by.items()) if "A" in v and "B" in v]
    if not pairs:
        sys.exit(f"no A/A data under {data} (use --data DIR)")
    return pairs


AGGREGATES: dict[str, Callable[[Proc], float]] = {
    "median3": statistics.median,
    "min3": min,
    "single": lambda vals: vals[0],
}


def draw_trial(pairs: Sequence[Pair], effect: float, rng: random.Random) -> tuple[list[Proc], list[Proc]]:
    """MAX_ROUNDS resampled rounds: arms randomly swapped, the candidate scaled by 1 - effect."""
    inc: list[Proc] = []
    cand: list[Proc] = []
    for _ in range(MAX_ROUNDS):
        a, b = rng.choice(pairs)
        if rng.random() < 0.5:  # order was randomized, so the arms are exchangeable
            a, b = b, a
        inc.append(a)
        cand.append([v * (1.0 - effect) for v in b])
    return inc, cand


# --- the rules ------------------------------------------------------------------------------

Rule = Callable[[list[float], list[float], list[Proc], list[Proc]], tuple[bool, int]]


def ours(policy: Policy) -> Rule:
    def rule(inc: list[float], cand: list[float], _i: list[Proc], _c: list[Proc]) -> tuple[bool, int]:
        for n in range(1, len(inc) + 1):
            c = compare(inc[:n], cand[:n], "lower", policy)
            if c.outcome != "continue":
                return c.outcome == "better", c.rounds
        raise RuntimeError("compare did not decide by max_rounds")

    return rule


def single_strict(inc: list[float], cand: list[float], *_: object) -> tuple[bool, int]:
    return cand[0] < inc[0], 1


def pi_mad(inc: list[float], cand: list[float], *_: object) -> tuple[bool, int]:
    # segment = baseline + 4 more runs of unchanged code + the candidate's single run
    segment = inc[:5] + [cand[0]]
    med = statistics.median(segment)
    mad = statistics.median(abs(x - med) for x in segment)
    conf = abs(cand[0] - inc[0]) / mad if mad > 0 else math.inf
    return cand[0] < inc[0] and conf >= 2.0, 1


def codeflash(_i: list[float], _c: list[float], inc: list[Proc], cand: list[Proc]) -> tuple[bool, int]:
    n = 5
    best_i = min(min(p) for p in inc[:n])
    best_c = min(min(p) for p in cand[:n])
    return best_c < best_i * (1 - 0.05), n


def asv(inc: list[float], cand: list[float], *_: object) -> tuple[bool, int]:
    from scipy.stats import mannwhitneyu

    n = 10
    p = mannwhitneyu(inc[:n], cand[:n], alternative="two-sided").pvalue
    ratio = statistics.median(inc[:n]) / statistics.median(cand[:n])
    return bool(p < 0.002 and ratio > 1.1), n


def pyperf(_i: list[float], _c: list[float], inc: list[Proc], cand: list[Proc]) -> tuple[bool, int]:
    from scipy.stats import ttest_ind

    n = 20
    a = [v for p in inc[:n] for v in p]
    b = [v for p in cand[:n] for v in p]
    p = ttest_ind(a, b).pvalue
    return bool(p < 0.05 and statistics.fmean(b) < statistics.fmean(a)), n


_WILCOXON_COUNTS: dict[int, list[int]] = {}


def _wilcoxon_upper(n: int, w: float) -> float:
    """Exact P(W+ >= w) for n untied signed ranks."""
    counts = _WILCOXON_COUNTS.get(n)
    if counts is None:
        counts = [1] + [0] * (n * (n + 1) // 2)
        for r in range(1, n + 1):
            for s in range(len(counts) - 1, r - 1, -1):
                counts[s] += counts[s - r]
        _WILCOXON_COUNTS[n] = counts
    k = math.ceil(w - 1e-9)
    return sum(counts[max(k, 0) :]) / 2**n


def _hl(d: Sequence[float]) -> float:
    return statistics.median((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


def hca(min_effect: float) -> Rule:
    half_useful = gain_threshold(min_effect, "lower")  # useful effect = 2 x min_effect

    def rule(inc: list[float], cand: list[float], *_: object) -> tuple[bool, int]:
        d_all = improvement_log_ratios(inc, cand, "lower")
        for n in (10, 20):
            d = d_all[:n]
            order = sorted(range(n), key=lambda i: abs(d[i]))
            w = sum(rank + 1 for rank, i in enumerate(order) if d[i] > 0)
            est = _hl(d)
            if _wilcoxon_upper(n, w) <= 0.01 / 2 and est >= half_useful:
                return True, n
            if est <= 0:  # extend only an inconclusive try that points the right way
                return False, n
        return False, 20

    return rule


# --- running -------------------------------------------------------------------------------


def run_table(
    pairs: Sequence[Pair], rules: dict[str, Rule], effects: Sequence[float], trials: int,
    seed: int, aggregate: str = "median3",
) -> dict[str, dict[str, dict[str, float]]]:
    agg = AGGREGATES[aggregate]
    out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in rules}
    for effect in effects:
        rng = random.Random(f"{seed}:{effect}")
        tallies: dict[str, tuple[list[bool], list[int]]] = {name: ([], []) for name in rules}
        for _ in range(trials):
            inc_p, cand_p = draw_trial(pairs, effect, rng)
            inc = [agg(p) for p in inc_p]
            cand = [agg(p) for p in cand_p]
            judge_all(rules, inc, cand, inc_p, cand_p, tallies)
        for name, (keeps, rounds) in tallies.items():
            out[name][f"{effect:+.2f}"] = summarize(keeps, rounds)
    return out


def judge_all(rules: dict[str, Rule], inc: list[float], cand: list[float], inc_p: list[Proc],
              cand_p: list[Proc], tallies: dict[str, tuple[list[bool], list[int]]]) -> None:
    """Apply every rule to the same trial and tally its keep and rounds."""
    for name, rule in rules.items():
        keep, rounds = rule(inc, cand, inc_p, cand_p)
        tallies[name][0].append(keep)
        tallies[name][1].append(rounds)


def summarize(keeps: Sequence[bool], rounds: Sequence[int]) -> dict[str, float]:
    s = sorted(rounds)
    return {
        "keep_rate": sum(keeps) / len(keeps),
        "median_rounds": statistics.median(s),
        "p90_rounds": s[min(len(s) - 1, math.ceil(0.9 * len(s)) - 1)],
        "trials": len(keeps),
    }


def fmt_cell(r: dict[str, float]) -> str:
    return f"{100 * r['keep_rate']:.1f}% ({r['median_rounds']:g}/{r['p90_rounds']:g})"


def markdown(table: dict[str, dict[str, dict[str, float]]], title: str) -> str:
    names = list(table)
    effects = list(next(iter(table.values())))
    lines = [f"### {title}", "", "| effect | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for e in effects:
        lines.append(f"| {e} | " + " | ".join(fmt_cell(table[n][e]) for n in names) + " |")
    return "\n".join(lines) + "\n"


def detectable_80(pairs: Sequence[Pair], policy: Policy, trials: int, seed: int) -> dict[str, float]:
    """Smallest planted gain kept in >= 80% of trials (linear interpolation on a grid)."""
    grid = [0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.20]
    table = run_table(pairs, {"ours": ours(policy)}, grid, trials, seed)["ours"]
    rates = [table[f"{e:+.2f}"]["keep_rate"] for e in grid]
    found = math.nan
    for (e0, r0), (e1, r1) in zip(zip(grid, rates), zip(grid[1:], rates[1:])):
        if r0 < 0.8 <= r1:
            found = e0 + (0.8 - r0) / (r1 - r0) * (e1 - e0)
            break
    if rates[0] >= 0.8:
        found = grid[0]
    return {"measured": found, **{f"{e:.2f}": r for e, r in zip(grid, rates)}}


def aa_log_ratios(pairs: Sequence[Pair], aggregate: str = "median3") -> list[float]:
    agg = AGGREGATES[aggregate]
    return [math.log(agg(b) / agg(a)) for a, b in pairs]


def instructions_check() -> dict[str, str]:
    """Deterministic counts: a 1% change must be decided right in exactly one round."""
    policy = Policy(min_effect=0.005, min_rounds=1, max_rounds=1)
    out = {}
    for effect, want in ((0.01, "better"), (0.0, "not_better"), (-0.01, "worse"), (0.003, "not_better")):
        c = compare([1e9], [1e9 * (1 - effect)], "lower", policy)
        assert c.outcome == want and c.rounds == 1, (effect, c)
        out[f"{effect:+.3f}"] = f"{c.outcome} in {c.rounds} round"
    return out


# --- live mode ------------------------------------------------------------------------------

CHILD = """
import sys, time
n = int(sys.argv[1])
def work(n):
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc
work(n)  # warm-up value, discarded
vals = []
for _ in range(3):
    t = time.perf_counter(); work(n); vals.append(time.perf_counter() - t)
print(" ".join(repr(v) for v in vals))
"""


def run_child(loops: int) -> Proc:
    out = subprocess.run([sys.executable, "-c", CHILD, str(loops)], capture_output=True,
                         text=True, check=True)
    return [float(v) for v in out.stdout.split()]


def calibrate_loops(target: float = 0.027) -> int:
    loops = 100_000
    for _ in range(3):
        t = statistics.median(run_child(loops))
        loops = max(1000, int(loops * target / t))
    return loops


def live(trials: int, effects: Sequence[float], policy: Policy, seed: int) -> dict[str, object]:
    """Real fresh-process rounds, one process at a time, arms in random order per round."""
    rng = random.Random(seed)
    loops = calibrate_loops()
    rules: dict[str, Rule] = {"ours": ours(policy), "single strict": single_strict,
                              "HCA": hca(policy.min_effect)}
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in rules}
    aa: list[float] = []
    started = time.time()
    for effect in effects:
        tallies: dict[str, tuple[list[bool], list[int]]] = {name: ([], []) for name in rules}
        for _ in range(trials):
            inc_p: list[Proc] = []
            cand_p: list[Proc] = []
            for _ in range(max(policy.max_rounds, 20)):
                cand_loops = int(round(loops * (1 - effect)))
                if rng.random() < 0.5:
                    a = run_child(loops); b = run_child(cand_loops)
                else:
                    b = run_child(cand_loops); a = run_child(loops)
                inc_p.append(a); cand_p.append(b)
            inc = [statistics.median(p) for p in inc_p]
            cand = [statistics.median(p) for p in cand_p]
            if effect == 0:
                aa += [math.log(c / i) for i, c in zip(inc, cand)]
            judge_all(rules, inc, cand, inc_p, cand_p, tallies)
        for name, (keeps, rounds) in tallies.items():
            results[name][f"{effect:+.2f}"] = summarize(keeps, rounds)
    return {"loops": loops, "trials": trials, "seconds": round(time.time() - started, 1),
            "table": results, "aa_noise": plan_from_aa(aa).noise if aa else None}


# --- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="400 trials instead of 2000")
    ap.add_argument("--live", action="store_true", help="also run real fresh-process trials")
    ap.add_argument("--live-trials", type=int, default=6)
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    trials = args.trials or (400 if args.quick else 2000)
    pairs = load_pairs(args.data)
    policy = Policy()
    report: dict[str, object] = {"policy": asdict(policy), "pairs": len(pairs), "trials": trials}
    text = [f"Policy defaults: {asdict(policy)}; {len(pairs)} A/A pairs; {trials} trials per cell; "
            "cells: keep rate (median/p90 rounds)\n"]

    rules: dict[str, Rule] = {
        "ours": ours(policy),
        "single strict": single_strict,
        "pi MAD>=2": pi_mad,
        "codeflash 5% min-of-5": codeflash,
        "asv MWU p<.002 x1.1": asv,
        "pyperf t p<.05": pyperf,
        "HCA": hca(policy.min_effect),
    }
    main_table = run_table(pairs, rules, EFFECTS, trials, args.seed)
    report["resampling"] = main_table
    text.append(markdown(main_table, "Resampled real A/A noise (per-process median of 3)"))

    for agg in ("min3", "single"):
        t = run_table(pairs, {f"ours, {agg}": ours(policy)}, [0.0, 0.2], trials // 2, args.seed, agg)
        report.setdefault("aggregates", {}).update(t)  # type: ignore[union-attr]
    trade: dict[str, Rule] = {}
    for alpha in (0.01, 0.02, 0.05):
        for mr, conf in ((20, 3), (20, 0), (12, 2)):
            trade[f"a={alpha} max={mr} confirm={conf}"] = ours(
                replace(policy, alpha=alpha, max_rounds=mr, confirm_rounds=conf))
    tt = run_table(pairs, trade, [0.0, -0.02, 0.2], trials // 2, args.seed)
    report["tradeoff"] = tt
    agg_table = report["aggregates"]  # type: ignore[index]
    text.append(markdown(agg_table, "Per-process value: min of 3, or a single value"))  # type: ignore[arg-type]
    flipped = {e: {n: tt[n][e] for n in tt} for e in next(iter(tt.values()))}
    text.append(markdown(flipped, "Trade-off: alpha, max_rounds, confirm_rounds (rows) by effect"))

    # The same 100 recorded pairs seen through two measures: wall seconds and CPU seconds.
    by_measure: dict[str, dict[str, dict[str, float]]] = {}
    for label, sources in (("wall", (("aa-cpu-pairs.json", "wall"),)), ("cpu", CPU_SOURCES)):
        measured = load_pairs(args.data, sources)
        t = run_table(measured, {f"ours, {label}": ours(policy), f"HCA, {label}": hca(policy.min_effect)},
                      [0.0, -0.02, 0.05, 0.1, 0.2], trials // 2, args.seed)
        by_measure.update(t)
        plan_m = plan_from_aa(aa_log_ratios(measured), policy.alpha, 0.8, policy.max_rounds)
        report.setdefault("measure_noise", {})[label] = asdict(plan_m)  # type: ignore[union-attr]
    report["by_measure"] = by_measure
    text.append(markdown(by_measure, "By measure, on the same 100 recorded pairs (wall vs CPU seconds)"))
    noise = report["measure_noise"]  # type: ignore[index]
    text.append("Noise and 80%-power detectable gain by measure: " + "; ".join(
        f"{k}: noise {v['noise']:.3f}, detectable {v['detectable_effect']:.1%}"
        for k, v in noise.items()) + "; instructions: noise 0, any change ≥ min_effect in 1 round\n")

    det = detectable_80(pairs, policy, max(trials // 4, 200), args.seed)
    plan = plan_from_aa(aa_log_ratios(pairs), policy.alpha, 0.8, policy.max_rounds)
    report["detectable_80"] = {**det, "plan_from_aa": asdict(plan)}
    text.append(f"Smallest gain kept with 80% power: measured {det['measured']:.3f}, "
                f"plan_from_aa predicts {plan.detectable_effect:.3f} (noise {plan.noise:.3f}, "
                f"recommended min_effect {plan.min_effect}, max_rounds {plan.max_rounds})\n")
    report["instructions"] = instructions_check()
    text.append(f"Instructions mode (Policy(min_effect=0.005, min_rounds=1, max_rounds=1)): "
                f"{report['instructions']}\n")

    if args.live:
        lv = live(args.live_trials, [0.0, 0.1, 0.2], policy, args.seed)
        report["live"] = lv
        text.append(markdown(lv["table"], f"Live: {lv['trials']} trials per effect, "  # type: ignore[arg-type]
                             f"{lv['loops']} loops, {lv['seconds']} s, A/A noise {lv['aa_noise']}"))
    print("\n".join(text))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"decisions-{'quick-' if args.quick else ''}{stamp}.json"
    (RESULTS / name).write_text(json.dumps(report, indent=1, default=str))
    (RESULTS / f"decisions-{'quick-' if args.quick else ''}latest.md").write_text("\n".join(text))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
