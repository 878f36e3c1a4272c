"""Experiments per hour against the number of proposers (`loop --parallel N`) on this machine.

A throwaway repository holds a benchmark that sleeps (`--bench-s` per run, so each experiment
measures for a fixed time), checks that sleep (`--checks-s`), and as many prepared patches as
the runs need, each adding its own file (independent candidates that merge in any order). The
proposer is a script run through `--agent-cmd`: it sleeps `--propose-s` seconds, then applies
the next patch. By default the proposal takes as long as one experiment's verdict, measured
first with an instant proposer. Each N then runs `--experiments` experiments. Experiments per
hour are counted from the first verdict to the last (the steady state of a long run: the loop's
start-up and the wait for the first proposals are left out), and also over the whole loop.

    python bench/throughput.py [--proposers 1 2 3 4] [--experiments 16] [--json bench/results/throughput.json]

Each result is one row of a Markdown table (setup, N, experiments, minutes, experiments per
hour, ratio to the first row of its setup, experiments per hour over the whole loop).
`--executor tcp://HOST:PORT` measures on a Dask cluster; `--loop-arg` passes any other option
on to every loop, and `--setup` names the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}

BENCH = """\
#!/usr/bin/env bash
sleep "$BENCH_S"
echo "METRIC cost=$(sed -n 's/^COST = //p' work.py)"
"""
CHECKS = """\
#!/usr/bin/env bash
sleep "$CHECKS_S"
"""
# The scripted proposer: sleep, then take the next patch (a rename, so two at once never share one).
PROPOSER = """\
import os, pathlib, subprocess, sys, time
time.sleep(float(os.environ["PROPOSE_S"]))
folder = pathlib.Path(os.environ["PATCHES"])
for patch in sorted(folder.glob("*.patch")):
    taken = folder / "taken" / patch.name
    try:
        patch.rename(taken)
    except FileNotFoundError:
        continue
    subprocess.run(["git", "apply", str(taken)], check=True)
    pathlib.Path(os.environ["AUTORESEARCH_PROPOSAL_FILE"]).write_text(patch.stem + "\\n")
    break
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def _project(root: Path, patches: int, env: dict[str, str]) -> Path:
    """A repository with a session started on it and `patches` independent candidates."""
    repo = root / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "work.py").write_text("COST = 100\n")
    for name, text in (("autoresearch.sh", BENCH), ("autoresearch.checks.sh", CHECKS)):
        (repo / name).write_text(text)
        (repo / name).chmod(0o755)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "project")
    subprocess.run([sys.executable, "-m", "autoresearch", "init", "--name", "bench", "--metric", "cost",
                    "--timeout", "60", "--checks-timeout", "60"], cwd=repo, env=env, check=True,
                   capture_output=True)
    folder = root / "patches"
    (folder / "taken").mkdir(parents=True)
    for k in range(patches):
        (repo / f"idea_{k:03d}.py").write_text(f"IDEA = {k}\n")
        _git(repo, "add", "-A")
        (folder / f"{k:03d}-idea.patch").write_text(_git(repo, "diff", "--cached", "--binary"))
        _git(repo, "reset", "-q", "--hard")
    return repo


def run_loop(parallel: int, experiments: int, propose_s: float, args: argparse.Namespace) -> dict:
    """One loop of `experiments` experiments with `parallel` proposers, in a fresh repository."""
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        root = Path(tmp)
        env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(SRC), "BENCH_S": str(args.bench_s),
               "CHECKS_S": str(args.checks_s), "PROPOSE_S": str(propose_s),
               "PATCHES": str(root / "patches"), "XDG_STATE_HOME": str(root / "state")}
        repo = _project(root, experiments + parallel, env)
        script = root / "propose.py"
        script.write_text(PROPOSER)
        command = [sys.executable, "-m", "autoresearch", "loop", "--agent-cmd",
                   f"{shlex.quote(sys.executable)} {script}", "--parallel", str(parallel),
                   "--max-experiments", str(experiments), "--json", *args.loop_arg]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"loop failed ({proc.returncode}):\n{proc.stderr}")
        summary = json.loads(proc.stdout)
        ledger = [json.loads(line) for line in (repo / "autoresearch.jsonl").read_text().splitlines()]
        runs = [r for r in ledger if r.get("verdict") not in (None, "baseline") and r.get("durations")]

    def mean(key: str) -> float | None:
        values = [r["durations"][key] for r in runs if key in r["durations"]]
        return round(sum(values) / len(values), 3) if values else None

    # Steady state: from the first verdict to the last, so neither the loop's start (imports,
    # worktrees) nor the wait for the first proposals counts; a night is hundreds of experiments.
    stamps = sorted(r["timestamp"] for r in runs)
    # On a cluster: the most measurements under way at once, from the workers' own clocks
    spans = [(where["started"], where["finished"]) for r in runs
             if "started" in (where := r.get("samples", {}).get("measured_on") or {})]
    at_once = max((sum(1 for s, f in spans if s <= start < f) for start, _ in spans), default=None)
    steady = 3600 * 1000 * (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return {"setup": args.setup, "parallel": parallel, "experiments": summary["experiments"],
            "wall_s": round(wall, 2), "wall_per_hour": round(3600 * summary["experiments"] / wall, 1),
            "per_hour": round(steady, 1),
            "verdict_s": mean("total_s"), "checks_s": mean("checks_s"),
            "measure_s": mean("measure_s"), "propose_s": propose_s, "at_once": at_once,
            "remeasured": sum(len(r.get("remeasured") or []) for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposers", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--experiments", type=int, default=16)
    parser.add_argument("--bench-s", type=float, default=0.2, help="seconds one benchmark run sleeps")
    parser.add_argument("--checks-s", type=float, default=2.0, help="seconds the checks sleep")
    parser.add_argument("--propose-s", type=float, default=None,
                        help="seconds a proposal takes (default: one verdict, measured first)")
    parser.add_argument("--executor", help="measure on this Dask scheduler (loop --executor)")
    parser.add_argument("--setup", help="the name of these rows (default: one machine, or the executor)")
    parser.add_argument("--loop-arg", action="append", default=[],
                        help="an option passed on to every loop (repeat for more; --loop-arg=--x)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    if args.executor:
        args.loop_arg += ["--executor", args.executor]
    args.setup = args.setup or (f"Dask {args.executor}" if args.executor else "one machine")
    propose_s = args.propose_s
    if propose_s is None:
        probe = run_loop(1, 4, 0.0, args)
        propose_s = probe["verdict_s"]
        print(f"one verdict takes {propose_s:.2f} s: each proposal sleeps as long", file=sys.stderr)
    rows = [run_loop(n, args.experiments, propose_s, args) for n in args.proposers]
    print("| setup | proposers | experiments | minutes | experiments/hour (steady) | × first row "
          "| experiments/hour (whole loop) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        row["ratio"] = round(row["per_hour"] / rows[0]["per_hour"], 2)
        print(f"| {row['setup']} | {row['parallel']} | {row['experiments']} | {row['wall_s'] / 60:.1f} "
              f"| {row['per_hour']:.0f} | {row['ratio']:.2f} | {row['wall_per_hour']:.0f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"proposal_s": propose_s, "bench_s": args.bench_s,
                                         "checks_s": args.checks_s, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
