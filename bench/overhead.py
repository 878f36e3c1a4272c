"""The harness's own time per experiment: `autoresearch run` minus the benchmark's and the checks' time.

A throwaway repository holds a benchmark that sleeps 0.2 s and prints a metric with a little
noise (so experiments take the usual 4-6 interleaved rounds) and checks that do nothing. Both
scripts log when they start and end, so what remains of each `autoresearch run` process's wall
time is the harness: interpreter start-up, imports, git, worktrees, statistics, the ledger.

    python bench/overhead.py [--experiments 6] [--json bench/results/overhead.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}

# Sealed runs see a private /tmp and a read-only filesystem, so the scripts write their start
# and end times to stderr, which the harness keeps in the run's log directory.
BENCH = """\
#!/usr/bin/env bash
echo "overhead-span bench $(date +%s%N)" >&2
sleep 0.2
v=$(sed -n 's/^COST = //p' work.py)
echo "METRIC cost=$((v * 1000 + RANDOM % 40))"
echo "overhead-span end $(date +%s%N)" >&2
"""
CHECKS = """\
#!/usr/bin/env bash
echo "overhead-span checks $(date +%s%N)" >&2
echo "overhead-span end $(date +%s%N)" >&2
"""


def _spans(run_dir: Path) -> dict[str, float]:
    """Seconds spent inside the benchmark and the checks, from their start/end lines in the run's logs."""
    totals = {"bench": 0.0, "checks": 0.0}
    runs = 0
    for path in run_dir.rglob("*") if run_dir.is_dir() else ():
        if not path.is_file():
            continue
        words = [line.split() for line in path.read_text(errors="replace").splitlines()
                 if line.startswith("overhead-span ")]
        for (_, kind, start), (_, _, end) in zip(words[0::2], words[1::2], strict=False):
            totals[kind] += (int(end) - int(start)) / 1e9
            runs += kind == "bench"
    return {**totals, "bench_runs": runs}


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def measure(experiments: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(SRC)}
        git = ["git", "-C", str(repo)]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True, env=env)
        (repo / "work.py").write_text("COST = 100\n")
        for name, text in (("autoresearch.sh", BENCH), ("autoresearch.checks.sh", CHECKS)):
            (repo / name).write_text(text)
            (repo / name).chmod(0o755)
        subprocess.run([*git, "add", "-A"], check=True, env=env)
        subprocess.run([*git, "commit", "-qm", "project"], check=True, env=env)
        cli = [sys.executable, "-m", "autoresearch"]
        _run([*cli, "init", "--name", "o", "--metric", "cost", "--scope", "work.py"], repo, env)
        startup = [_run([*cli, "--help"], repo, env) for _ in range(5)]
        imports = [_run([sys.executable, "-c", "import autoresearch.experiment, autoresearch.faces.cli"],
                        repo, env) for _ in range(5)]
        trace = Path(tmp) / "git.trace"
        rows = []
        for i in range(experiments):
            (repo / "work.py").write_text(f"COST = 100\n# comment {i}\n")  # a do-nothing change
            trace.unlink(missing_ok=True)
            total = _run([*cli, "run", "-m", f"comment {i}", "--json"], repo,
                         {**env, "GIT_TRACE": str(trace)})
            gits = trace.read_text().count("trace: built-in: git") if trace.exists() else 0
            record = json.loads((repo / "autoresearch.jsonl").read_text().splitlines()[-1])
            spans = _spans(Path(record["logs"]))
            harness = total - spans["bench"] - spans["checks"]
            rows.append({"total_s": total, "bench_s": spans["bench"], "checks_s": spans["checks"],
                         "bench_runs": spans["bench_runs"], "rounds": record["rounds"],
                         "harness_s": harness, "git_processes": gits,
                         "harness_per_run_s": harness / max(spans["bench_runs"], 1)})
        return {"experiments": rows, "cli_startup_s": statistics.median(startup),
                "import_s": statistics.median(imports),
                "harness_median_s": statistics.median(r["harness_s"] for r in rows),
                "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=6)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    result = measure(args.experiments)
    print(f"{'exp':>3} {'total s':>8} {'bench s':>8} {'checks s':>8} {'runs':>5} {'rounds':>6} "
          f"{'harness ms':>10} {'per run ms':>10} {'git calls':>9}")
    for i, r in enumerate(result["experiments"], 1):
        print(f"{i:>3} {r['total_s']:8.2f} {r['bench_s']:8.2f} {r['checks_s']:8.3f} {r['bench_runs']:5d} "
              f"{r['rounds']:6d} {1000 * r['harness_s']:10.0f} {1000 * r['harness_per_run_s']:10.0f} "
              f"{r['git_processes']:9d}")
    print(f"harness per experiment (median): {1000 * result['harness_median_s']:.0f} ms; "
          f"`autoresearch --help`: {1000 * result['cli_startup_s']:.0f} ms; importing the run path: "
          f"{1000 * result['import_s']:.0f} ms; load average {result['load']:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
