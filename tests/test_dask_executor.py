"""Measurements on a real Dask cluster on 127.0.0.1: `dask scheduler` and `dask worker` processes."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Repo, fewer_rounds, make_project, wait_until

import autoresearch
from autoresearch.config import Config, dump

distributed = pytest.importorskip("distributed", reason="the Dask executor needs `pip install distributed`")

SRC = Path(autoresearch.__file__).resolve().parent.parent  # workers import this very tree


@dataclass
class Cluster:
    """A scheduler and its workers, each a process group of its own."""

    address: str
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by name
    scheduler: subprocess.Popen[bytes] | None = None

    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in (self.scheduler, *self.workers.values()) if p is not None]


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def _connected(address: str) -> dict:
    with distributed.Client(address, timeout=20, set_as_default=False) as client:
        return client.scheduler_info(n_workers=-1)["workers"]


@contextmanager
def dask_cluster(tmp: Path, workers: int = 2, **worker_env: str) -> Iterator[Cluster]:
    """`dask scheduler` and `dask worker --resources measure=1 --nthreads 1` processes, all
    killed with their groups on leaving, so none survives the test."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    tmp.mkdir(parents=True, exist_ok=True)
    address_file = tmp / "scheduler.json"
    cluster = Cluster("")
    try:
        cluster.scheduler = _start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                    "--no-dashboard", "--scheduler-file", str(address_file)],
                                   tmp / "scheduler.log", env)
        wait_until(address_file.exists, "the scheduler's address file", timeout=60)
        wait_until(lambda: json.loads(address_file.read_text() or "{}").get("address"), "an address")
        cluster.address = json.loads(address_file.read_text())["address"]
        for i in range(workers):
            name = f"w{i}"
            cluster.workers[name] = _start(
                ["distributed.cli.dask_worker", cluster.address, "--name", name, "--host", "127.0.0.1",
                 "--nthreads", "1", "--resources", "measure=1", "--no-nanny", "--no-dashboard",
                 "--local-directory", str(tmp / name)], tmp / f"{name}.log", {**env, **worker_env})
        wait_until(lambda: len(_connected(cluster.address)) == workers, "the workers", timeout=90)
        yield cluster
    finally:
        for proc in cluster.processes():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for proc in cluster.processes():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, 0)
                pytest.fail(f"process group {proc.pid} of the cluster survived")


def _found(root: Path, pattern: str, dirs: bool = False) -> list[Path]:
    """What under `root` matches `pattern`, read while a worker may be removing some of it
    (`os.walk` passes over what vanishes; `Path.rglob` raises)."""
    hits: list[Path] = []
    for top, subdirs, files in os.walk(root):
        hits += [Path(top) / name for name in (subdirs if dirs else [*subdirs, *files])
                 if fnmatch.fnmatch(name, pattern)]
    return hits


def _session(path: Path) -> Repo:
    repo = make_project(path)
    repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py",
             "--timeout", "20", "--checks-timeout", "30")
    return repo


def _patches(repo: Repo, folder: Path) -> None:
    """Candidates with every kind of verdict, each made on the code the ones before it leave:
    a keep, a worse one, a crash, a checks failure, another keep."""
    folder.mkdir()
    original = repo.read("work.py")
    kept = original.replace("COST = 100", "COST = 50")
    for name, before, after in [("01-halve", original, kept),
                                ("02-worse", kept, kept.replace("COST = 50", "COST = 200")),
                                ("03-not-a-number", kept, kept.replace("COST = 50", "COST = 'many'")),
                                ("04-wrong", kept, kept.replace("FAIL = False", "FAIL = True")),
                                ("05-third", kept, kept.replace("COST = 50", "COST = 33"))]:
        repo.write("work.py", before)
        repo.git("add", "work.py")
        repo.write("work.py", after)
        (folder / f"{name}.patch").write_text(repo.git("diff", raw=True))
        repo.git("reset", "-q")
        repo.git("checkout", "-q", "--", ".")


def _loop(repo: Repo, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", *args, "--json"], cwd=repo.path,
                          capture_output=True, text=True, timeout=400, env=repo.env())
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_dask_cluster_measures_a_session_with_the_verdicts_of_local_measurement(tmp_path: Path):
    here, there = _session(tmp_path / "here"), _session(tmp_path / "there")
    for repo in (here, there):
        fewer_rounds(repo)
    _patches(here, tmp_path / "ideas")
    local = _loop(here, "--patches", str(tmp_path / "ideas"))
    with dask_cluster(tmp_path / "cluster") as cluster:
        remote = _loop(there, "--patches", str(tmp_path / "ideas"), "--executor", cluster.address)
        workers = set(_connected(cluster.address))
    assert local["experiments"] == remote["experiments"] == 5

    def judged(repo: Repo) -> list[tuple[str, str]]:
        return [(r["verdict"], r["reason"].split(" [")[0].split(" (")[0]) for r in repo.runs()[1:]]

    assert [v for v, _ in judged(here)] == ["keep", "discard", "crash", "checks_failed", "keep"]
    assert judged(there) == judged(here)
    measured = [r for r in there.runs()[1:] if r["verdict"] in ("keep", "discard")]
    for record in measured:
        where = record["samples"]["measured_on"]
        assert where["executor"] == "dask" and where["worker"] in workers
        assert record["sandbox"] == where["sandbox"]
        # the logs of every run came back beside the ledger
        assert len(list(Path(record["logs"]).glob("*-r01-*.out"))) == 2
    assert all("measured_on" not in r["samples"] for r in here.runs()[1:])
    # the crash's tail and reason come from the worker's run
    crash = there.runs()[3]
    assert "cost" in crash["reason"] and crash["tail"]
    # the kept code is the same on both sides, and the working trees are clean
    assert there.read("work.py") == here.read("work.py")
    assert there.git("status", "--porcelain") == ""
    assert not there.git("for-each-ref", "refs/autoresearch/shipping")


def _run_killing_a_worker(repo: Repo, cluster: Cluster, message: str, task: str,
                          when: Callable[[Path], object] = lambda scratch: True) -> tuple[str, str, str]:
    """`autoresearch run` on the cluster, killing the worker that runs a task named `task` once
    `when(that worker's scratch space)` holds; the run's stdout and stderr, and that worker."""
    run = subprocess.Popen([sys.executable, "-m", "autoresearch", "run", "-m", message,
                            "--executor", cluster.address, "--json"], cwd=repo.path, env=repo.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with distributed.Client(cluster.address, timeout=20, set_as_default=False) as client:
            names = {addr: info["name"]
                     for addr, info in client.scheduler_info(n_workers=-1)["workers"].items()}

            def running() -> str | None:
                return next((addr for addr, keys in client.processing().items()
                             if any(task in str(k) for k in keys)), None)

            wait_until(running, f"{task} to start on a worker", timeout=300)
            worker = running()
            assert worker is not None
            scratch = Path(cluster.workers[names[worker]].args[-1])  # its --local-directory
            wait_until(lambda: when(scratch), f"{task} to get under way", timeout=120)
            os.killpg(cluster.workers[names[worker]].pid, signal.SIGKILL)
            cluster.workers[names[worker]].wait(timeout=30)
        out, err = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err + out
    return out, err, worker


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_worker_killed_mid_experiment_loses_nothing(tmp_path: Path):
    repo = _session(tmp_path / "project")
    repo.set("COST", 50)
    with dask_cluster(tmp_path / "cluster", BENCH_SLEEP="0.4") as cluster:
        # well into its rounds: the worker has run the benchmark a few times
        out, _, first = _run_killing_a_worker(
            repo, cluster, "halve the cost", "autoresearch-measure",
            when=lambda scratch: len(_found(scratch, "*-r0[2-9]-*.out")) >= 1)
    result = json.loads(out)
    assert result["verdict"] == "keep"
    runs = repo.runs()
    assert len(runs) == 2 and runs[1]["verdict"] == "keep"  # recorded once
    survivor = runs[1]["samples"]["measured_on"]["worker"]
    assert survivor != first
    # its rounds are the survivor's alone, from the start: none of the lost attempt's
    assert len(runs[1]["samples"]["candidate"]) == runs[1]["rounds"]
    logs = Path(runs[1]["logs"])
    assert len(list(logs.glob("*-r01-*.out"))) == 2
    assert "COST = 50" in repo.read("work.py") and repo.git("status", "--porcelain") == ""



def test_an_executor_is_a_scheduler_address_or_local():
    from autoresearch.config import Config, executor_address

    assert executor_address("tcp://10.0.0.7:8786") == "tcp://10.0.0.7:8786"
    assert executor_address("local") is None
    for wrong in ("http://127.0.0.1:8786", "10.0.0.7:8786", "tcp://host"):
        with pytest.raises(ValueError, match="not a Dask scheduler address"):
            executor_address(wrong)
    config = {"session": {"name": "s"}, "metric": {"name": "cost"}}
    assert Config.model_validate({**config, "executor": {"address": "local"}}).executor.address is None
    with pytest.raises(ValueError, match=r"executor\.address"):
        Config.model_validate({**config, "executor": {"address": "8786"}})


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_stops_the_measurement_on_the_worker_and_records_nothing(tmp_path: Path):
    repo = _session(tmp_path / "project")
    repo.set("COST", 50)  # a keep that takes 9 rounds

    with dask_cluster(tmp_path / "cluster", workers=1, BENCH_SLEEP="0.5") as cluster:
        scratch = tmp_path / "cluster" / "w0"

        def last_round() -> int:  # the highest round the worker has started so far
            return max((int(p.name.split("-r")[1][:2]) for p in _found(scratch, "*-r[0-9][0-9]-*.out")),
                       default=0)

        run = subprocess.Popen([sys.executable, "-m", "autoresearch", "run", "-m", "halve the cost",
                                "--executor", cluster.address], cwd=repo.path, env=repo.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: last_round() >= 2, "rounds on the worker", timeout=120)
            run.send_signal(signal.SIGINT)
            stopped_at, seen = last_round(), 0
            out, err = run.communicate(timeout=120)
            while _found(scratch, "autoresearch-*", dirs=True):  # until the worker lets go
                seen = max(seen, last_round())
                time.sleep(0.02)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        assert run.returncode == 130, err + out
        assert seen <= stopped_at + 2 < 9  # it stopped after the runs in flight, not at the end
        assert len(repo.runs()) == 1 and "COST = 50" in repo.read("work.py")
        assert not repo.git("for-each-ref", "refs/autoresearch/shipping")
        again = repo.cli("run", "-m", "halve the cost", "--executor", cluster.address, "--json")
    assert json.loads(again.stdout)["verdict"] == "keep"
    assert [r["verdict"] for r in repo.runs()] == ["baseline", "keep"]


def _two_at_once_session(path: Path) -> Repo:
    """A session whose cost has two knobs far apart in work.py (changes to each merge), and
    whose constant metric decides at the first look."""
    repo = make_project(path)
    repo.write("work.py", repo.read("work.py") + "\n\nDISCOUNT = 0\nCOST = COST - DISCOUNT\n")
    repo.git("commit", "-qam", "a discount")
    repo.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py",
             "--timeout", "20", "--checks-timeout", "30")
    fewer_rounds(repo)
    return repo


def _knob_patches(repo: Repo, folder: Path, cost: str, discount: str) -> None:
    folder.mkdir()
    original = repo.read("work.py")
    for name, text in (("1-cost", original.replace("COST = 100", f"COST = {cost}")),
                       ("2-discount", original.replace("DISCOUNT = 0", f"DISCOUNT = {discount}"))):
        repo.write("work.py", text)
        (folder / f"{name}.patch").write_text(repo.git("diff", raw=True))
        repo.git("checkout", "-q", "--", "work.py")


def _two_proposers(repo: Repo, address: str, folder: Path) -> subprocess.Popen[str]:
    """`loop --parallel 2` on the patches in `folder`, measuring on the cluster at `address`."""
    return subprocess.Popen([sys.executable, "-m", "autoresearch", "loop", "--patches", str(folder),
                             "--parallel", "2", "--no-checks-ahead", "--executor", address, "--json"],
                            cwd=repo.path, env=repo.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@contextmanager
def _while_two_measure(repo: Repo, address: str, folder: Path
                       ) -> Iterator[tuple[subprocess.Popen[str], distributed.Client]]:
    """A two-proposer loop from the moment two measurements are under way; killed on leaving
    if it still runs."""
    loop = _two_proposers(repo, address, folder)
    try:
        with distributed.Client(address, timeout=20, set_as_default=False) as client:
            wait_until(lambda: len(_measuring(client)) == 2, "two measurements under way", timeout=120)
            yield loop, client
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()


def _measuring(client: distributed.Client) -> list[str]:
    """The workers running a measurement now."""
    return [addr for addr, keys in client.processing().items()
            if any("autoresearch-measure" in str(k) for k in keys)]


def _parallel_loop(repo: Repo, address: str, folder: Path) -> subprocess.CompletedProcess[str]:
    loop = _two_proposers(repo, address, folder)
    out, err = loop.communicate(timeout=300)
    assert loop.returncode == 0, err + out
    return subprocess.CompletedProcess(loop.args, loop.returncode, out, err)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_workers_measure_two_experiments_at_once_and_a_keep_that_raced_is_measured_again(
        tmp_path: Path):
    apart = _two_at_once_session(tmp_path / "apart")
    _knob_patches(apart, tmp_path / "worse", cost="200", discount="-100")
    race = _two_at_once_session(tmp_path / "race")
    _knob_patches(race, tmp_path / "better", cost="50", discount="30")
    with dask_cluster(tmp_path / "cluster", BENCH_SLEEP="0.5") as cluster:
        names = {addr: info["name"] for addr, info in _connected(cluster.address).items()}
        worse = _parallel_loop(apart, cluster.address, tmp_path / "worse")
        better = _parallel_loop(race, cluster.address, tmp_path / "better")

    # two discards, measured at once: each on a worker of its own, in overlapping spans of the
    # workers' own clocks
    runs = apart.runs()[1:]
    assert [r["verdict"] for r in runs] == ["discard", "discard"]
    spans = [r["samples"]["measured_on"] for r in runs]
    assert {s["worker"] for s in spans} == set(names)
    assert spans[0]["started"] < spans[1]["finished"] and spans[1]["started"] < spans[0]["finished"]
    # the live view's log names each measurement under way and the worker running it
    for r in runs:
        label = f"proposer {r['slot']}: {r['description']}"
        assert f"{label} on {r['samples']['measured_on']['worker']}: round 1/" in worse.stderr

    # two keeps measured at once: the first judged is kept; the other's rounds were against an
    # incumbent that is gone, so it is measured again against the new one, and kept on those
    first, second = race.runs()[1:]
    assert json.loads(better.stdout)["experiments"] == 2
    assert first["verdict"] == second["verdict"] == "keep"
    assert first.get("remeasured") is None and second["remeasured"] == [first["run"]]
    kept = race.git("rev-list", "--first-parent", "HEAD").splitlines()
    assert second["incumbent_commit"] == first["commit"] == kept[1]
    assert second["incumbent_metric"] == first["metric"] and second["commit"] == kept[0]
    assert first["incumbent_metric"] == 100 and {first["metric"], second["metric"]} - {50, 70} == {20}
    assert "COST = 50" in race.read("work.py") and "DISCOUNT = 30" in race.read("work.py")
    assert race.git("status", "--porcelain") == ""


# A timed section too small a share of its process (a long untimed sleep) for the wall time to
# show its saving: the claim is borne out by instruction counts or not at all. A command rather
# than a script: counted, valgrind starts no `env` and second shell.
CLAIMING = "sleep 0.3; echo \"METRIC t_ms=$(sed -n 's/^T_MS = //p' work.py)\""


def _claiming_session(path: Path) -> Repo:
    """A session on a time its benchmark claims (`t_ms`), with a candidate that claims half
    of it while its process does the same work."""
    repo = make_project(path)
    repo.write("work.py", repo.read("work.py") + "\nT_MS = 2.0\n")
    config = Config.model_validate({"session": {"name": "speed"}, "metric": {"name": "t_ms", "unit": "ms"},
                                    "commands": {"benchmark": CLAIMING, "timeout": 30},
                                    "scope": {"include": ["work.py"]}})
    repo.write("autoresearch.toml", dump(config))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "session setup")
    repo.cli("init")
    repo.set("T_MS", 1.0)
    return repo


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_a_claimed_saving_is_counted_on_the_worker_that_measured_it(tmp_path: Path):
    repo = _claiming_session(tmp_path / "project")
    with dask_cluster(tmp_path / "cluster") as cluster:
        repo.cli("run", "-m", "claim half the time", "--executor", cluster.address)
    record = repo.runs()[-1]
    assert record["verdict"] == "discard" and "instructions" in record["reason"], record["reason"]
    claim, measured = record["samples"]["claim"], record["samples"]["measured_on"]
    assert claim["checked"] == "instructions" and claim["claimed_s"] > claim["allowed_s"]
    assert claim["measured_on"]["worker"] == measured["worker"]  # where its rounds ran
    counted = sorted(p.name for p in (Path(record["logs"]) / "claim").glob("*-count-*.out"))
    assert len(counted) == 2, counted  # each arm's count came back beside the run's logs


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_a_claim_whose_worker_is_lost_during_its_audit_is_counted_on_another(tmp_path: Path):
    # The worker is killed once the audit is handed to it: its two counts, each of a few programs
    # valgrind starts and translates, take seconds, against the hundredths the test takes to see
    # the audit there. A task bound to a lost worker would otherwise wait for it forever.
    repo = _claiming_session(tmp_path / "project")
    with dask_cluster(tmp_path / "cluster") as cluster:
        _, _, first = _run_killing_a_worker(repo, cluster, "claim half the time", "autoresearch-audit")
    record = repo.runs()[-1]
    assert record["verdict"] == "discard" and "instructions" in record["reason"], record["reason"]
    claim = record["samples"]["claim"]
    assert record["samples"]["measured_on"]["worker"] == first  # the rounds ran there
    assert claim["rounds_worker_gone"] == first and claim["measured_on"]["worker"] != first
    assert claim["checked"] == "instructions" and claim["claimed_s"] > claim["allowed_s"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_twice_stops_the_measurements_under_way_and_the_next_loop_judges_them(tmp_path: Path):
    repo = _two_at_once_session(tmp_path / "project")
    _knob_patches(repo, tmp_path / "better", cost="50", discount="30")
    with dask_cluster(tmp_path / "cluster", BENCH_SLEEP="1") as cluster:
        with _while_two_measure(repo, cluster.address, tmp_path / "better") as (loop, client):
            loop.send_signal(signal.SIGINT)
            time.sleep(0.5)
            loop.send_signal(signal.SIGINT)
            out, err = loop.communicate(timeout=120)
            wait_until(lambda: not _measuring(client), "the workers to let go", timeout=60)
        assert loop.returncode == 130, err + out
        assert len(repo.runs()) == 1 and repo.git("status", "--porcelain") == ""
        assert not repo.git("for-each-ref", "refs/autoresearch/shipping")
        # the candidates wait in the queue: the next loop judges them first, each once
        again = _parallel_loop(repo, cluster.address, tmp_path / "better")
    assert again.stderr.count("judging the queued candidate of proposer") == 2
    runs = repo.runs()[1:]
    kept = [r for r in runs if r["verdict"] == "keep"]
    assert sorted(r["description"] for r in kept) == ["cost", "discount"]
    # the patch folder offers the same patches again: nothing left to change
    assert all(r["reason"] == "no change" for r in runs if r["verdict"] != "keep")
    assert "COST = 50" in repo.read("work.py") and "DISCOUNT = 30" in repo.read("work.py")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_worker_killed_while_two_measure_loses_nothing(tmp_path: Path):
    repo = _two_at_once_session(tmp_path / "project")
    _knob_patches(repo, tmp_path / "worse", cost="200", discount="-100")
    with dask_cluster(tmp_path / "cluster", BENCH_SLEEP="1") as cluster:
        names = {addr: info["name"] for addr, info in _connected(cluster.address).items()}
        with _while_two_measure(repo, cluster.address, tmp_path / "worse") as (loop, _):
            lost = sorted(names)[0]
            os.killpg(cluster.workers[names[lost]].pid, signal.SIGKILL)
            cluster.workers[names[lost]].wait(timeout=30)
            out, err = loop.communicate(timeout=400)
    assert loop.returncode == 0, err + out
    runs = repo.runs()[1:]
    assert sorted(r["description"] for r in runs) == ["cost", "discount"]  # each recorded once
    assert all(r["verdict"] == "discard" for r in runs)
    survivor = set(names) - {lost}
    for r in runs:  # the lost worker's rounds are nowhere: all of each record's come from the survivor
        assert {r["samples"]["measured_on"]["worker"]} == survivor
        assert len(r["samples"]["candidate"]) == r["rounds"]
