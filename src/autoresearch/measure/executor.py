"""Where an experiment's measurement runs: on this machine, or on a worker of a Dask cluster."""

from __future__ import annotations

import contextlib
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
from autoresearch.measure.claims import ClaimAudit, audit_claim
from autoresearch.model import Measure
from autoresearch.progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from distributed import Client, Future

    from autoresearch.config import Config
    from autoresearch.measure.worker import Job, Outcome
    from autoresearch.session import Session

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
# How long an experiment waits for a worker that may measure (one with the `measure`
# resource) to be connected before saying how to start one; a worker restarting overnight
# is back well within it.
WORKER_WAIT_S = 60.0
RESOURCE = "measure"
WORKER_LOOK_S = 2.0  # how often a task bound to one worker asks whether that worker is still there


class _WorkerGone(Exception):
    """The one worker a task may run on left the cluster."""


class Executor(Protocol):
    """Runs the measure step: both arms, interleaved, on one machine, until the rounds decide."""

    def measure(self, bench: Bench, incumbent: Arm, candidate: Arm, direction: stats.Direction,
                policy: stats.Policy, warmup: bool, progress: Progress = ...,
                fixed_rounds: int | None = None, prior: Measurement | None = None) -> Measurement: ...

    def audit(self, bench: Bench, claim: stats.ClaimCheck, result: Measurement, incumbent: Arm,
              candidate: Arm, policy: stats.Policy, more_rounds: int | None,
              progress: Progress = ...) -> ClaimAudit:
        """Bear out `result`'s claimed time saving where its rounds ran (`claims.audit_claim`):
        up to `more_rounds` rounds in all where the wall time could show it, else instruction counts."""
        ...


class LocalExecutor:
    """This machine, in this process: `bench.measure` as it is."""

    def measure(self, bench: Bench, incumbent: Arm, candidate: Arm, direction: stats.Direction,
                policy: stats.Policy, warmup: bool, progress: Progress = lambda _: None,
                fixed_rounds: int | None = None, prior: Measurement | None = None) -> Measurement:
        return measure(bench, incumbent, candidate, direction, policy, warmup, progress,
                       fixed_rounds=fixed_rounds, prior=prior)

    def audit(self, bench: Bench, claim: stats.ClaimCheck, result: Measurement, incumbent: Arm,
              candidate: Arm, policy: stats.Policy, more_rounds: int | None,
              progress: Progress = lambda _: None) -> ClaimAudit:
        def more() -> Measurement:
            return measure(bench, incumbent, candidate, bench.config.metric.direction, policy, False,
                           progress, fixed_rounds=more_rounds, prior=result)

        return audit_claim(bench.config, claim, result, bench.sandbox, incumbent, candidate,
                           bench.log_dir / "claim", on_start=bench.on_start,
                           measure_more=more if more_rounds else None)


def executor_for(session: Session, address: str | Executor | None = None) -> Executor:
    """The executor `address` names (`--executor`), else the session's `[executor] address`.

    "local" (or nothing configured) measures here; an executor already made is itself.
    """
    if address is not None and not isinstance(address, str):
        return address
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
        self.client: Client | None = None  # while `opened`
        self.flights: list[Flight] = []  # measurements started ahead, not yet taken

    def measure(self, bench: Bench, incumbent: Arm, candidate: Arm, direction: stats.Direction,
                policy: stats.Policy, warmup: bool, progress: Progress = lambda _: None,
                fixed_rounds: int | None = None, prior: Measurement | None = None) -> Measurement:
        """Both arms' rounds from a worker: those of a measurement started ahead (`start`) when
        one is exactly this one, the same trees measured the same way; else a new task's."""
        from autoresearch.measure.worker import unpack_logs

        commits = (Git(incumbent.path).rev("HEAD"), Git(candidate.path).rev("HEAD"))
        job = self._job(commits, bench.config.model_dump(mode="json"), str(direction), policy, warmup,
                        fixed_rounds, prior.as_record() if prior is not None else None, bench.env,
                        bench.slowest_incumbent_s)
        flight = next((f for f in self.flights if f.job.same_measurement(job)), None)
        with contextlib.ExitStack() as stack:
            if flight is not None:
                self.flights.remove(flight)
            else:
                client = self.client or stack.enter_context(connect(self.address))
                flight = self._submit(client, job, "", progress)
            outcome = self._wait(flight, progress)
        unpack_logs(outcome.logs, bench.log_dir)
        if outcome.failure is not None:
            outcome.failure.raise_here(bench.log_dir)
        return _measurement(outcome, direction, policy, fixed_rounds)

    def audit(self, bench: Bench, claim: stats.ClaimCheck, result: Measurement, incumbent: Arm,
              candidate: Arm, policy: stats.Policy, more_rounds: int | None,
              progress: Progress = lambda _: None) -> ClaimAudit:
        """The audit on the worker whose rounds made the claim: more rounds must come from the
        same hardware, and the instructions' time is the rounds' CPU time per instruction."""
        from autoresearch.measure.worker import unpack_logs

        where = (result.measured_on or {}).get("worker")
        if where is None:  # rounds of this machine (an earlier run's, continued): audited here
            return LocalExecutor().audit(bench, claim, result, incumbent, candidate, policy,
                                         more_rounds, progress)
        commits = (Git(incumbent.path).rev("HEAD"), Git(candidate.path).rev("HEAD"))

        def job(rounds: int | None) -> Job:
            return self._job(commits, bench.config.model_dump(mode="json"),
                             str(bench.config.metric.direction), policy, False, rounds,
                             result.as_record(), bench.env, bench.slowest_incumbent_s)

        with contextlib.ExitStack() as stack:
            client = self.client or stack.enter_context(connect(self.address))
            outcome: Outcome | None = None
            if where in measuring_workers(client):
                with contextlib.suppress(_WorkerGone):
                    outcome = self._audit_on(client, job(more_rounds), claim, where, progress)
            if outcome is None:
                # More rounds would have to come from the rounds' own hardware; an instruction
                # count does not, and the time per instruction is the rounds' own.
                log.warning("the Dask worker %s that measured this candidate is gone: its claimed "
                            "saving is counted in instructions on another worker", where)
                progress(ProgressEvent(f"{where} is gone: counting instructions on another worker"))
                outcome = self._audit_on(client, job(None), claim, None, progress)
                if outcome.audit is not None:
                    outcome.audit.record["rounds_worker_gone"] = where
        unpack_logs(outcome.logs, bench.log_dir / "claim")  # where an audit here leaves its logs
        if outcome.failure is not None:
            outcome.failure.raise_here(bench.log_dir / "claim")
        assert outcome.audit is not None
        return outcome.audit

    def _audit_on(self, client: Client, job: Job, claim: stats.ClaimCheck, where: str | None,
                  progress: Progress) -> Outcome:
        """The audit's outcome from the worker `where` (any measuring worker if None); `_WorkerGone`
        when `where` leaves the cluster before it ends (a task bound to it would wait forever)."""
        from autoresearch.measure.worker import audit_job

        flight = Flight(job, client, "")
        client.subscribe_topic(job.progress_topic, lambda event: flight.events.put(event[1]))
        bound: dict[str, Any] = {"workers": [where], "allow_other_workers": False} if where else {}
        flight.future = client.submit(audit_job, job, claim, key=f"autoresearch-audit-{uuid.uuid4().hex}",
                                      resources={RESOURCE: 1}, pure=False, **bound)
        return self._wait(flight, progress, bound_to=where)

    # --- measurements started ahead: several experiments on several workers at once ------------

    @contextmanager
    def opened(self) -> Iterator[DaskExecutor]:
        """One connection to the scheduler for many measurements (a loop's life); measurements
        started ahead and not taken are stopped on leaving."""
        with connect(self.address) as client:
            self.client = client
            try:
                yield self
            finally:
                for flight in self.flights:
                    flight.cancel()
                self.flights.clear()
                self.client = None

    def capacity(self) -> int | None:
        """How many measurements may run at once: the workers that may measure, now; None when
        the scheduler does not answer (the measurements under way then say what happened)."""
        assert self.client is not None, "capacity() needs opened()"
        try:
            return len(measuring_workers(self.client))
        except (OSError, TimeoutError) as exc:  # distributed's CommClosedError is an OSError
            log.warning("the Dask scheduler at %s did not say how many workers measure: %s",
                        self.address, exc)
            return None

    def start(self, commits: tuple[str, str], config: Config, policy: stats.Policy,
              slowest_known_s: float | None, label: str) -> Flight:
        """Start measuring `commits` (incumbent, candidate) on a worker, as the experiment of
        `label` will ask for it (the session's direction, warm-up and `policy`); `measure`
        takes its rounds when the experiment gets there."""
        assert self.client is not None, "start() needs opened()"
        job = self._job(commits, config.model_dump(mode="json"), str(config.metric.direction), policy,
                        config.wants_warmup(), None, None, {}, slowest_known_s)
        flight = self._submit(self.client, job, label, lambda _: None)
        self.flights.append(flight)
        return flight

    def drop(self, flight: Flight) -> None:
        """Stop a measurement started ahead that no experiment will take."""
        if flight in self.flights:
            self.flights.remove(flight)
        flight.cancel()

    def _job(self, commits: tuple[str, str], config: dict[str, Any], direction: str,
             policy: stats.Policy, warmup: bool, fixed_rounds: int | None,
             prior: dict[str, Any] | None, env: dict[str, str], slowest_known_s: float | None) -> Job:
        from autoresearch.measure.worker import Job

        bundle, snapshots, trees = self._bundle(commits)
        topic = f"autoresearch-progress-{uuid.uuid4().hex}"
        return Job(bundle, snapshots, trees, config, direction, policy, warmup, fixed_rounds, prior,
                   dict(env), slowest_known_s, str(self.repository), tuple(map(str, self.hide)),
                   topic, f"{topic}-stop")

    def _submit(self, client: Client, job: Job, label: str, progress: Progress) -> Flight:
        from autoresearch.measure.worker import measure_job

        _wait_for_measuring_worker(client, self.address, progress)
        flight = Flight(job, client, label)
        client.subscribe_topic(job.progress_topic, lambda event: flight.events.put(event[1]))
        progress(ProgressEvent(f"queued on the Dask cluster at {self.address}"))
        flight.future = client.submit(measure_job, job, key=f"autoresearch-measure-{uuid.uuid4().hex}",
                                      resources={RESOURCE: 1}, pure=False)
        return flight

    def _wait(self, flight: Flight, progress: Progress, bound_to: str | None = None) -> Outcome:
        """The flight's outcome, its progress relayed meanwhile; stopped when left early (Ctrl-C).

        A flight `bound_to` one worker raises `_WorkerGone` when that worker leaves.
        """
        from distributed import CancelledError, KilledWorker

        looked = time.monotonic()
        try:
            while True:
                try:
                    outcome: Outcome = flight.future.result(timeout=0.25)
                except TimeoutError:
                    flight.relay(progress)
                    if bound_to is not None and time.monotonic() - looked > WORKER_LOOK_S:
                        looked = time.monotonic()
                        if bound_to not in measuring_workers(flight.client):
                            raise _WorkerGone(bound_to) from None
                    continue
                flight.relay(progress)
                return outcome
        except KilledWorker as exc:
            raise AutoresearchError(
                f"the measurement was running on every Dask worker that died while it ran "
                f"({exc}); nothing was recorded: check the workers' logs (memory?) and run "
                "it again") from None
        except CancelledError:
            raise AutoresearchError(f"the Dask scheduler at {self.address} dropped the measurement "
                                    "(restarted?); nothing was recorded: run it again") from None
        finally:
            flight.cancel()

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


class Flight:
    """One measurement on the cluster: its task, and the progress its worker reports."""

    def __init__(self, job: Job, client: Client, label: str):
        self.job, self.client, self.label = job, client, label
        self.future: Future[Any] = None  # type: ignore[assignment]  # set on submitting
        self.events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.worker = ""  # the worker measuring it, once it has said so

    def done(self) -> bool:
        return bool(self.future.done())

    def relay(self, progress: Progress) -> None:
        """The worker's progress events so far, as `ProgressEvent`s naming the worker."""
        while not self.events.empty():
            event = self.events.get()
            comparison = event.get("comparison")
            if comparison is not None:
                comparison = stats.Comparison(**{**comparison, "ci": tuple(comparison["ci"])})
            self.worker = event.get("worker") or self.worker
            progress(ProgressEvent(event["phase"], event["round"], event["max_rounds"], comparison,
                                   self.job.direction, event["seconds_per_round"],
                                   description=self.label, finished=event.get("finished", False),
                                   worker=self.worker))

    def cancel(self) -> None:
        """Stop the task if it still runs: the worker stops after the benchmark run in flight."""
        from distributed import Event

        with contextlib.suppress(Exception):  # a client or scheduler already gone has nothing to stop
            if not self.future.done():
                Event(self.job.stop_event, client=self.client).set()
                self.future.cancel()
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self.job.progress_topic)


def _measurement(outcome: Outcome, direction: stats.Direction, policy: stats.Policy,
                 fixed_rounds: int | None) -> Measurement:
    """The worker's raw rounds, judged here: the verdict never comes from the worker."""
    samples = outcome.samples or {}
    result = Measurement.from_record(samples)
    result.warnings = list(samples.get("warnings") or [])
    result.measured_on = {"executor": "dask", "worker": outcome.worker, "host": outcome.host,
                          "sandbox": outcome.sandbox, "started": round(outcome.started, 3),
                          "finished": round(outcome.finished, 3)}
    if fixed_rounds is None and result.rounds:
        result.comparison = stats.compare(result.values("incumbent"), result.values("candidate"),
                                          direction, policy)
    return result

