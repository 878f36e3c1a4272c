"""bench/throughput.py with every measurement on a local Dask cluster: a scheduler and workers on 127.0.0.1.

Starts `dask scheduler` and `--workers` `dask worker --resources measure=1 --nthreads 1`
processes (each in its own process group, all killed on the way out), then runs
bench/throughput.py with `--executor tcp://127.0.0.1:PORT` passed to every loop; every other
option goes to throughput.py as it is. The workers get the benchmark's settings (`--bench-s`,
`--checks-s`) in their environment, since the benchmark runs there.

    python bench/cluster.py [--workers 2] [throughput.py options: --proposers 1 2 4 --json ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"


@contextlib.contextmanager
def local_cluster(tmp: Path, workers: int, env: dict[str, str]) -> Iterator[str]:
    """The address of a scheduler with `workers` measuring workers, all on 127.0.0.1."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log: str) -> None:
        with (tmp / log).open("wb") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=env, start_new_session=True))

    address_file = tmp / "scheduler.json"
    try:
        start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
              "--scheduler-file", str(address_file), log="scheduler.log")
        address = _wait_for(lambda: json.loads(address_file.read_text() or "{}").get("address")
                            if address_file.exists() else None)
        for i in range(workers):
            start("distributed.cli.dask_worker", address, "--name", f"w{i}", "--host", "127.0.0.1",
                  "--nthreads", "1", "--resources", "measure=1", "--no-dashboard",
                  "--local-directory", str(tmp / f"w{i}"), log=f"w{i}.log")
        _wait_for(lambda: _workers(address) == workers)
        yield address
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _workers(address: str) -> int:
    from distributed import Client

    with Client(address, timeout=20, set_as_default=False) as client:
        return len(client.scheduler_info(n_workers=-1)["workers"])


def _wait_for(condition, timeout: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit("the local Dask cluster did not start (see its logs)")
        time.sleep(0.2)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bench-s", type=float, default=0.2, help="seconds one benchmark run sleeps")
    parser.add_argument("--checks-s", type=float, default=2.0, help="seconds the checks sleep")
    args, rest = parser.parse_known_args()
    env = {**os.environ, "PYTHONPATH": str(SRC), "BENCH_S": str(args.bench_s), "CHECKS_S": str(args.checks_s)}
    with tempfile.TemporaryDirectory(prefix="dask-cluster-") as tmp, \
            local_cluster(Path(tmp), args.workers, env) as address:
        print(f"local Dask cluster at {address} with {args.workers} workers", file=sys.stderr)
        subprocess.run([sys.executable, str(BENCH / "throughput.py"), "--bench-s", str(args.bench_s),
                        "--checks-s", str(args.checks_s), "--setup", f"Dask, {args.workers} workers",
                        "--loop-arg=--executor", f"--loop-arg={address}", *rest], check=True)


if __name__ == "__main__":
    main()
