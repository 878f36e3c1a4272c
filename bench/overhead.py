"""The harness's own time per experiment: wall time minus the time inside the benchmark and the checks.

A throwaway repository holds a benchmark that sleeps 0.2 s and prints a metric with a little
noise (so experiments take the usual 4-6 interleaved rounds) and checks that do nothing. Both
scripts log when they start and end, so what remains of an experiment's wall time is the
harness's: git, worktrees, the ledger, statistics, and launching each sealed run.

Two faces. `loop` is long-lived: a proposer in the same process makes a do-nothing change and
the loop judges it, imports paid once. `run` is one process per experiment (the MCP server's
job workers are the same): its interpreter start-up and imports are listed on their own.
Apart from these, one sealed launch of `true` is timed (bubblewrap, the sandbox's init, bash):
the floor every benchmark run and every check pays, however fast the rest of the harness is.
Below that, the bare parts of any sealed harness that keeps its work in git are timed too (a
bubblewrap of `true` with no init, one git process, one fsync), and with the counts of one
experiment give what those parts alone cost here, however little the harness's own code did.

    python bench/overhead.py [--experiments 6] [--src DIR] [--json bench/results/overhead.json]

`--src` measures the harness of another checkout (its `src/`), for a before-and-after table.
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
from collections.abc import Callable
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

# The `loop` face: run in its own process, it prints when each experiment ended.
LOOP = """
import json, os, sys, time
from pathlib import Path
from autoresearch.loop import Budget, run_loop
from autoresearch.proposers.base import Proposal

trace = Path(os.environ["GIT_TRACE"])

def gits():
    return trace.read_text().count("trace: built-in: git") if trace.exists() else 0

class Comment:
    name = "bench:comment"
    spent = 0.0
    def propose(self, workspace, brief):
        t = time.perf_counter()
        (workspace / "work.py").write_text(f"COST = 100\\n# loop {brief.run}\\n")
        Comment.spent += time.perf_counter() - t
        return Proposal(description=f"loop comment {brief.run}")

class Ends:
    def __init__(self):
        self.rows = []
    def phase(self, event): pass
    def message(self, text): pass
    def close(self): pass
    def experiment(self, result, state):
        self.rows.append({"end": time.perf_counter(), "logs": result.record.logs,
                          "rounds": result.record.rounds, "gits": gits(), "proposer_s": Comment.spent})

view = Ends()
start, before = time.perf_counter(), gits()
run_loop(Path("."), Comment(), Budget(max_experiments=int(sys.argv[1])), view)
print(json.dumps({"start": start, "gits": before, "rows": view.rows}))
"""


def _spans(run_dir: Path) -> dict[str, float]:
    """Seconds inside the benchmark and the checks, and how many runs of each, from the run's logs."""
    totals = {"bench": 0.0, "checks": 0.0, "bench_runs": 0, "check_runs": 0}
    for path in run_dir.rglob("*") if run_dir.is_dir() else ():
        if not path.is_file():
            continue
        words = [line.split() for line in path.read_text(errors="replace").splitlines()
                 if line.startswith("overhead-span ")]
        for (_, kind, start), (_, _, end) in zip(words[0::2], words[1::2], strict=False):
            totals[kind] += (int(end) - int(start)) / 1e9
            totals["bench_runs" if kind == "bench" else "check_runs"] += 1
    return totals


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, out


def _row(wall: float, logs: str, rounds: int, gits: int, proposer: float = 0.0) -> dict:
    spans = _spans(Path(logs))
    harness = wall - spans["bench"] - spans["checks"] - proposer
    return {"wall_s": wall, "bench_s": spans["bench"], "checks_s": spans["checks"], "rounds": rounds,
            "launches": spans["bench_runs"] + spans["check_runs"], "harness_s": harness,
            "git_processes": gits}


def _median_s(action: Callable[[int], object], times: int = 15) -> float:
    """Median wall time of `action(i)` over `times` calls."""
    walls = []
    for i in range(times):
        t = time.perf_counter()
        action(i)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def launch_floor(src: Path, repo: Path, work: Path) -> dict[str, float]:
    """Median wall time of `true` run sealed (bwrap + init + bash) and unsealed (launcher + bash)."""
    sys.path.insert(0, str(src))
    from autoresearch.infra.runner import run_command
    from autoresearch.measure.sandbox import Step, make_sandbox
    from autoresearch.model import SandboxMode

    sealed = make_sandbox(SandboxMode.ON, repo, repo / ".git")
    return {name: _median_s(lambda i, prefix=prefix: run_command(
                "true", work, work.parent / "launch" / f"{i}", timeout=30, prefix=prefix))
            for name, prefix in (("sealed_launch_s", sealed.prefix(work, Step.BENCHMARK)),
                                 ("unsealed_launch_s", []))}


FSYNCS = 4  # per experiment: the pending run, the verdict, the ledger line, the run counter


def bare_floor(repo: Path) -> dict[str, float]:
    """Median wall time of the bare parts: bubblewrap with no init, a git process, an fsync."""
    bwrap = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
             "--die-with-parent", "true"]
    git = ["git", "-C", str(repo), "rev-parse", "HEAD"]
    out = {name: _median_s(lambda _, cmd=cmd: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))
           for name, cmd in (("bare_bwrap_s", bwrap), ("git_process_s", git))}
    with open(repo / ".git" / "fsync-probe", "ab") as fh:
        def append_and_sync(_: int) -> None:
            fh.write(b"x" * 200)
            fh.flush()
            os.fsync(fh.fileno())
        out["fsync_s"] = _median_s(append_and_sync)
    return out


def measure(experiments: int, src: Path = SRC) -> dict:
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        trace = Path(tmp) / "git.trace"
        env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(src)}
        git = ["git", "-C", str(repo)]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True, env=env)
        (repo / "work.py").write_text("COST = 100\n")
        for name, text in (("autoresearch.sh", BENCH), ("autoresearch.checks.sh", CHECKS)):
            (repo / name).write_text(text)
            (repo / name).chmod(0o755)
        subprocess.run([*git, "add", "-A"], check=True, env=env)
        subprocess.run([*git, "commit", "-qm", "project"], check=True, env=env)
        cli = [sys.executable, "-m", "autoresearch"]
        _timed([*cli, "init", "--name", "o", "--metric", "cost", "--scope", "work.py"], repo, env)
        (Path(tmp) / "scratch").mkdir()
        result: dict = {**launch_floor(src, repo, Path(tmp) / "scratch"), **bare_floor(repo)}

        # `loop`: one long-lived process
        _, out = _timed([sys.executable, "-c", LOOP, str(experiments)], repo,
                        {**env, "GIT_TRACE": str(trace)})
        loop = json.loads(out)
        previous, gits, spent = loop["start"], loop["gits"], 0.0
        result["loop"] = []
        for r in loop["rows"]:
            result["loop"].append(_row(r["end"] - previous, r["logs"], r["rounds"], r["gits"] - gits,
                                       r["proposer_s"] - spent))
            previous, gits, spent = r["end"], r["gits"], r["proposer_s"]

        # `run`: one process per experiment
        result["run"] = []
        for i in range(experiments):
            (repo / "work.py").write_text(f"COST = 100\n# comment {i}\n")  # a do-nothing change
            trace.unlink(missing_ok=True)
            wall, out = _timed([*cli, "run", "-m", f"comment {i}", "--json"], repo,
                               {**env, "GIT_TRACE": str(trace)})
            record = json.loads(out)
            gits = trace.read_text().count("trace: built-in: git") if trace.exists() else 0
            result["run"].append(_row(wall, record["logs"], record["rounds"], gits))
        result["python_s"] = statistics.median(
            _timed([sys.executable, "-c", "pass"], repo, env)[0] for _ in range(5))
        result["imports_s"] = statistics.median(
            _timed([sys.executable, "-c", "import autoresearch.experiment, autoresearch.faces.cli"],
                   repo, env)[0] for _ in range(5)) - result["python_s"]
        result["load"] = os.getloadavg()[0]
        return result


def summary(result: dict, face: str) -> dict[str, float]:
    """Medians of one face, and the harness time split into launches and everything else."""
    rows = result[face]
    harness = statistics.median(r["harness_s"] for r in rows)
    launches = statistics.median(r["launches"] for r in rows)
    floor = launches * result["sealed_launch_s"]
    startup = result["python_s"] + result["imports_s"] if face == "run" else 0.0
    return {"harness_s": harness, "launches": launches, "launch_floor_s": floor, "startup_s": startup,
            "rest_s": harness - floor - startup,
            "git_processes": statistics.median(r["git_processes"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=6)
    parser.add_argument("--src", type=Path, default=SRC, help="the harness to measure (a src/ directory)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    result = measure(args.experiments, args.src.resolve())
    for face in ("loop", "run"):
        print(f"\n{face}: {'exp':>3} {'wall s':>7} {'bench s':>8} {'checks s':>8} {'launches':>8} "
              f"{'rounds':>6} {'harness ms':>10} {'git calls':>9}")
        for i, r in enumerate(result[face], 1):
            print(f"{'':{len(face) + 1}} {i:>3} {r['wall_s']:7.2f} {r['bench_s']:8.2f} "
                  f"{r['checks_s']:8.3f} {r['launches']:8d} {r['rounds']:6d} "
                  f"{1000 * r['harness_s']:10.0f} {r['git_processes']:9d}")
        s = result[f"{face}_summary"] = summary(result, face)
        print(f"{face}: harness per experiment (median) {1000 * s['harness_s']:.0f} ms = "
              f"{s['launches']:.0f} sealed launches x {1000 * result['sealed_launch_s']:.0f} ms "
              f"({1000 * s['launch_floor_s']:.0f} ms)"
              + (f" + interpreter start-up and imports {1000 * s['startup_s']:.0f} ms"
                 if face == "run" else "")
              + f" + the rest {1000 * s['rest_s']:.0f} ms ({s['git_processes']:.0f} git processes, "
              "worktrees, ledger, statistics)")
    print(f"\none sealed launch of `true`: {1000 * result['sealed_launch_s']:.0f} ms; unsealed: "
          f"{1000 * result['unsealed_launch_s']:.0f} ms; `python -c pass`: "
          f"{1000 * result['python_s']:.0f} ms; "
          f"importing the run path: {1000 * result['imports_s']:.0f} ms; load average {result['load']:.1f}")
    loop = result["loop_summary"]
    least = (loop["launches"] * result["bare_bwrap_s"] + loop["git_processes"] * result["git_process_s"]
             + FSYNCS * result["fsync_s"])
    result["least_s"] = least
    print(f"the bare parts alone, at one experiment's counts: {loop['launches']:.0f} bubblewrap "
          f"launches x {1000 * result['bare_bwrap_s']:.1f} ms + {loop['git_processes']:.0f} git processes "
          f"x {1000 * result['git_process_s']:.1f} ms + {FSYNCS} fsyncs x {1000 * result['fsync_s']:.1f} ms "
          f"= {1000 * least:.0f} ms, before any of its own code runs (target: 100 ms)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
