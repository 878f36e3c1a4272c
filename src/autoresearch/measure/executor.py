"""Where an experiment's measurement runs: on this machine, or on a worker of a Dask cluster."""

from __future__ import annotations

import logging
import queue
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from autoresearch import stats
from autoresearch.config import executor_address
from autoresearch.errors import AutoresearchError, UsageError
from autoresearch.infra.git import Git
from autoresearch.measure.bench import Arm, Bench, Measurement, measure
from autoresearch.model import Measure
from autoresearch.progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from distributed import Client, Future

    from autoresearch.measure.worker import Outcome
    from autoresearch.session import Session

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
# How long an experiment waits for a worker that may measure (one with the `measure`
# resource) to be connected before saying how to start one; a worker restarting overnight
# is back well within it.
WORKER_WAIT_S = 60.0
RESOURCE = "measure"


class Executor(Protocol):
    """Runs the measure step: both arms, interleaved, on one machine, until the rounds decide."""

    def measure(self, bench: Bench, incumbent: Arm, candidate: Arm, direction: stats.Direction,
                policy: stats.Policy, warmup: bool, progress: Progress = ...,
                fixed_rounds: int | None = None, prior: Measurement | None = None) -> Measurement: ...


class LocalExecutor:
    """This machine, in this process: `bench.measure` as it is."""

    def measure(self, bench: Bench, incumbent: Arm, candidate: Arm, direction: stats.Direction,
                policy: stats.Policy, warmup: bool, progress: Progress = lambda _: None,
                fixed_rounds: int | None = None, prior: Measurement | None = None) -> Measurement:
        return measure(bench, incumbent, candidate, direction, policy, warmup, progress,
                       fixed_rounds=fixed_rounds, prior=prior)


def executor_for(session: Session, address: str | None = None) -> Executor:
    """The executor `address` names (`--executor`), else the session's `[executor] address`.

    "local" (or nothing configured) measures here.
    """
    if address is not None:
        try:
            chosen = executor_address(address)
        except ValueError as exc:
            raise UsageError(f"--executor: {exc}") from None
    else:
        chosen = session.config.executor.address
    if chosen is None:
        return LocalExecutor()
    if session.config.metric.measure is Measure.SINGLE:
        raise UsageError("measure = \"single\" compares one run with the incumbent's runs recorded on "
                         "this machine, so it cannot measure on a Dask worker: use --executor local")
    from autoresearch.measure.arms import sandbox

    return DaskExecutor(chosen, session.git, session.root, sandbox(session).hide)


class DaskExecutor:
    """A worker of the Dask cluster at `address` measures both arms on its own hardware.

    The two trees travel as a git bundle of parentless snapshots (no history), the rounds
    come back raw, and the verdict is computed here from them. A task asks for the
    `measure` resource, so a worker started with `--resources measure=1` measures one
    experiment at a time; when a worker is lost mid-measurement the scheduler runs the task
    again on another one, from the start, and nothing of the lost attempt is kept.
    """

    def __init__(self, address: str, git: Git, repository: Path, hide: tuple[Path, ...] = ()):
        self.address, self.git, self.repository, self.hide = address, git, repository, hide

    def measure(self, bench: Bench, incumbent: Arm, candidate: Arm, direction: stats.Direction,
                policy: stats.Policy, warmup: bool, progress: Progress = lambda _: None,
                fixed_rounds: int | None = None, prior: Measurement | None = None) -> Measurement:
        from distributed import CancelledError, Event, KilledWorker

        from autoresearch.measure.worker import Job, measure_job, unpack_logs

        commits = tuple(Git(arm.path).rev("HEAD") for arm in (incumbent, candidate))
        bundle, snapshots, trees = self._bundle(commits)
        topic = f"autoresearch-progress-{uuid.uuid4().hex}"
        job = Job(bundle, snapshots, trees, bench.config.model_dump(mode="json"), str(direction),
                  policy, warmup, fixed_rounds, prior.as_record() if prior is not None else None,
                  bench.env, bench.slowest_incumbent_s, str(self.repository),
                  tuple(map(str, self.hide)), topic, f"{topic}-stop")
        with connect(self.address) as client:
            _wait_for_measuring_worker(client, self.address, progress)
            events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
            client.subscribe_topic(topic, lambda event: events.put(event[1]))
            progress(ProgressEvent(f"queued on the Dask cluster at {self.address}"))
            future = client.submit(measure_job, job, key=f"autoresearch-measure-{uuid.uuid4().hex}",
                                   resources={RESOURCE: 1}, pure=False)
            try:
                outcome = _result(future, events, progress, str(direction))
            except KilledWorker as exc:
                raise AutoresearchError(
                    f"the measurement was running on every Dask worker that died while it ran "
                    f"({exc}); nothing was recorded: check the workers' logs (memory?) and run "
                    "it again") from None
            except CancelledError:
                raise AutoresearchError(f"the Dask scheduler at {self.address} dropped the measurement "
                                        "(restarted?); nothing was recorded: run it again") from None
            finally:
                if not future.done():  # Ctrl-C: the worker stops after the run in flight
                    Event(job.stop_event, client=client).set()
                    future.cancel()
                client.unsubscribe_topic(topic)
        unpack_logs(outcome.logs, bench.log_dir)
        if outcome.failure is not None:
            outcome.failure.raise_here(bench.log_dir)
        return _measurement(outcome, direction, policy, fixed_rounds)

    def _bundle(self, commits: tuple[str, ...]) -> tuple[bytes, tuple[str, str], tuple[str, str]]:
        """Both commits' trees as parentless commits in one git bundle: shared files travel once."""
        git = self.git
        trees = tuple(git.tree_of(c) for c in commits)
        snapshots = tuple(git.run("commit-tree", tree, "-m", "autoresearch: a measured tree",
                                  env=git.identity()) for tree in trees)
        refs = [f"refs/autoresearch/shipping/{uuid.uuid4().hex}/{name}"
                for name in ("incumbent", "candidate")]
        try:
            for ref, snapshot in zip(refs, snapshots, strict=True):
                git.run("update-ref", ref, snapshot)
            with tempfile.TemporaryDirectory(prefix="autoresearch-bundle-") as tmp:
                path = Path(tmp) / "arms.bundle"
                git.run("bundle", "create", "--quiet", str(path), *refs)
                data = path.read_bytes()
        finally:
            for ref in refs:
                git.run("update-ref", "-d", ref, check=False)
        return data, (snapshots[0], snapshots[1]), (trees[0], trees[1])


@contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the scheduler at `address`, closed on leaving (no process is started)."""
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                         "`dask scheduler` and workers with `dask worker ADDRESS --resources "
                         "measure=1 --nthreads 1`, or measure here with --executor local") from None
    try:
        yield client
    finally:
        client.close()


def measuring_workers(client: Client) -> list[str]:
    """Addresses of the connected workers that may measure (started with the `measure` resource)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return sorted(addr for addr, info in workers.items() if info.get("resources", {}).get(RESOURCE))


def _wait_for_measuring_worker(client: Client, address: str, progress: Progress) -> None:
    deadline = time.monotonic() + WORKER_WAIT_S
    while not measuring_workers(client):
        if time.monotonic() > deadline:
            raise UsageError(f"no worker of the Dask scheduler at {address} may measure: start workers "
                             f"with `dask worker {address} --resources {RESOURCE}=1 --nthreads 1` "
                             "(the resource makes each measure one experiment at a time)")
        progress(ProgressEvent(f"waiting for a measuring worker at {address}"))
        time.sleep(1.0)


def _result(future: Future[Any], events: queue.SimpleQueue[dict[str, Any]], progress: Progress,
            direction: str) -> Outcome:
    """Wait for the task, relaying the worker's progress events to `progress` meanwhile."""
    while True:
        try:
            outcome: Outcome = future.result(timeout=0.25)
        except TimeoutError:
            _relay(events, progress, direction)
            continue
        _relay(events, progress, direction)
        return outcome


def _relay(events: queue.SimpleQueue[dict[str, Any]], progress: Progress, direction: str) -> None:
    while not events.empty():
        event = events.get()
        comparison = event.get("comparison")
        if comparison is not None:
            comparison = stats.Comparison(**{**comparison, "ci": tuple(comparison["ci"])})
        progress(ProgressEvent(event["phase"], event["round"], event["max_rounds"], comparison,
                               direction, event["seconds_per_round"]))


def _measurement(outcome: Outcome, direction: stats.Direction, policy: stats.Policy,
                 fixed_rounds: int | None) -> Measurement:
    """The worker's raw rounds, judged here: the verdict never comes from the worker."""
    samples = outcome.samples or {}
    result = Measurement.from_record(samples)
    result.warnings = list(samples.get("warnings") or [])
    result.measured_on = {"executor": "dask", "worker": outcome.worker, "host": outcome.host,
                          "sandbox": outcome.sandbox}
    if fixed_rounds is None and result.rounds:
        result.comparison = stats.compare(result.values("incumbent"), result.values("candidate"),
                                          direction, policy)
    return result

