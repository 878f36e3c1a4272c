"""What a Dask worker does with one measurement: unpack both trees, build, measure, ship back."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import shutil
import socket
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from autoresearch import stats
from autoresearch.config import Config
from autoresearch.errors import ArmFailure, AutoresearchError, MeasurementStopped, UsageError
from autoresearch.infra.git import Git
from autoresearch.infra.runner import read_tail, run_command
from autoresearch.infra.workspace import link_untracked
from autoresearch.measure.bench import Arm, ArmName, Bench, Measurement, measure
from autoresearch.measure.claims import ClaimAudit, audit_claim
from autoresearch.measure.sandbox import Sandbox, Step, make_sandbox
from autoresearch.progress import ProgressEvent

log = logging.getLogger(__name__)

# A log file larger than this travels back as its last bytes only: a benchmark that prints
# megabytes per run must not turn every result into a transfer of the whole output.
MAX_LOG_BYTES = 1 << 20


@dataclass(frozen=True)
class Job:
    """One measurement as it travels to a worker: both trees, and how to measure them."""

    bundle: bytes  # a git bundle holding `commits`: parentless snapshots of the two trees
    commits: tuple[str, str]  # (incumbent, candidate)
    trees: tuple[str, str]  # what the checkouts must hold, verified before anything runs
    config: dict[str, Any]  # the session's Config, as JSON
    direction: str
    policy: stats.Policy
    warmup: bool
    fixed_rounds: int | None
    prior: dict[str, Any] | None  # earlier rounds this measurement continues (Measurement.as_record)
    env: dict[str, str]
    slowest_known_s: float | None
    repository: str  # the harness's repository: `[scope] link` paths are looked up under it
    hide: tuple[str, ...]  # places sealed runs must not see where they exist (the repository, .git)
    progress_topic: str
    stop_event: str  # set by the harness when it stops waiting: the worker stops between runs

    def same_measurement(self, other: Job) -> bool:
        """Whether `other` asks for exactly this measurement: the same trees, measured the same
        way (what travels and how the harness follows it may differ, as may the timeout's hint)."""
        def essence(job: Job) -> Job:
            return dataclasses.replace(job, bundle=b"", commits=("", ""), slowest_known_s=None,
                                       progress_topic="", stop_event="")
        return essence(self) == essence(other)


@dataclass(frozen=True)
class Failure:
    """Why a measurement produced no rounds, in a form that crosses the wire."""

    kind: Literal["arm", "usage", "error"]
    message: str
    arm: ArmName | None = None
    timed_out: bool = False
    tail: str = ""
    log: str = ""  # relative to the shipped logs

    def raise_here(self, logs: Path) -> None:
        if self.kind == "arm" and self.arm is not None:
            raise ArmFailure(self.arm, "timeout" if self.timed_out else "failed", self.message,
                             self.tail, logs / self.log)
        if self.kind == "usage":
            raise UsageError(self.message)
        raise AutoresearchError(self.message)


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: the raw rounds or a failure, the logs, and who measured."""

    samples: dict[str, Any] | None
    failure: Failure | None
    logs: bytes  # a gzipped tar of the run's log files
    worker: str
    host: str
    sandbox: str  # "on" or "off": whether the runs on the worker were sealed
    started: float = 0.0  # the worker's clock (time.time()) when it took the task, and when done
    finished: float = 0.0
    audit: ClaimAudit | None = None  # an `audit_job`'s finding


def measure_job(job: Job) -> Outcome:
    """The task a Dask worker runs: measure both arms interleaved here, in a scratch directory."""
    return _task(job, None)


def audit_job(job: Job, claim: stats.ClaimCheck) -> Outcome:
    """The task that bears out a claimed time saving on the worker that measured its rounds
    (`job.prior`): more rounds where the wall time could show it, else instruction counts."""
    return _task(job, claim)


def _task(job: Job, claim: stats.ClaimCheck | None) -> Outcome:
    from distributed import Event, get_worker

    worker = get_worker()
    scratch = Path(tempfile.mkdtemp(prefix="autoresearch-", dir=worker.local_directory))
    stop = Event(job.stop_event)

    def progress(event: ProgressEvent) -> None:
        if stop.is_set():  # the harness stopped waiting: free this worker for the next experiment
            raise MeasurementStopped("the harness stopped waiting for this measurement")
        comparison = dataclasses.asdict(event.comparison) if event.comparison is not None else None
        payload = {"phase": event.phase, "round": event.round, "max_rounds": event.max_rounds,
                   "seconds_per_round": event.seconds_per_round, "comparison": comparison,
                   "finished": event.finished, "worker": worker.address}
        worker.log_event(job.progress_topic, json.loads(json.dumps(payload)))  # plain types only

    try:
        return measure_in(scratch, job, worker.address, progress, claim)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure_in(scratch: Path, job: Job, worker: str, progress: Any,
               claim: stats.ClaimCheck | None = None) -> Outcome:
    """Check out both trees under `scratch`, build them, measure them (or, with `claim`, audit
    it); never raise for the candidate's or the session's failures (they travel back as a
    `Failure`)."""
    started = time.time()
    logs = scratch / "logs"
    logs.mkdir()
    host = socket.gethostname()
    config = Config.model_validate(job.config)
    label = "off"

    def outcome(samples: dict[str, Any] | None, failure: Failure | None,
                audit: ClaimAudit | None = None) -> Outcome:
        return Outcome(samples, failure, _pack(logs), worker, host, label, started, time.time(), audit)

    try:
        incumbent, candidate = _checkouts(scratch, job, config)
        seal = _sandbox(scratch, job, config)
        label = seal.label
        bench = Bench(config, logs, seal, slowest_known_s=job.slowest_known_s, env=job.env)
        missing = [rel for rel in config.scope.link if not (Path(job.repository) / rel).exists()]
        if missing:
            bench.warnings.append(f"{host}: linked paths missing on this worker: {', '.join(missing)}")
        _build(config, seal, incumbent, candidate, logs, host)
        prior = Measurement.from_record(job.prior) if job.prior else None

        def more() -> Measurement:
            return measure(bench, incumbent, candidate, job.direction, job.policy,  # type: ignore[arg-type]
                           job.warmup, progress, fixed_rounds=job.fixed_rounds, prior=prior)

        if claim is None:
            return outcome(more().as_record(), None)
        assert prior is not None, "a claim is audited on the rounds that made it"
        audit = audit_claim(config, claim, prior, seal, incumbent, candidate, logs,
                            measure_more=more if job.fixed_rounds else None)
        audit.record["measured_on"] = {"executor": "dask", "worker": worker, "host": host}
        return outcome(None, None, audit)
    except ArmFailure as exc:
        return outcome(None, Failure("arm", exc.message, exc.arm, exc.kind == "timeout", exc.tail,
                                     str(exc.log.relative_to(logs)) if exc.log.is_relative_to(logs) else ""))
    except UsageError as exc:
        return outcome(None, Failure("usage", f"on the Dask worker {worker} ({host}): {exc}"))
    except AutoresearchError as exc:
        return outcome(None, Failure("error", f"on the Dask worker {worker} ({host}): {exc}"))


def _checkouts(scratch: Path, job: Job, config: Config) -> tuple[Arm, Arm]:
    """Both trees from the bundle, each in its own worktree, verified to be exactly what was sent."""
    bundle = scratch / "arms.bundle"
    bundle.write_bytes(job.bundle)
    Git(scratch).run("init", "--quiet", "--bare", "git")
    repo = Git(scratch / "git")
    repo.run("fetch", "--quiet", str(bundle), "+refs/*:refs/*")
    bundle.unlink()
    links = tuple(config.scope.link)
    arms = (Arm("incumbent", scratch / "incumbent", links), Arm("candidate", scratch / "candidate", links))
    for arm, commit, tree in zip(arms, job.commits, job.trees, strict=True):
        repo.run("worktree", "add", "--quiet", "--detach", str(arm.path), commit)
        if Git(arm.path).tree_of("HEAD") != tree:
            raise AutoresearchError(f"the {arm.name}'s checkout on the worker is not the tree that was sent")
        link_untracked(arm.path, Path(job.repository), list(links))
    return arms


def _sandbox(scratch: Path, job: Job, config: Config) -> Sandbox:
    """This worker's sandbox: the scratch directory hidden like a repository, the harness's
    repository too where this machine has it, linked paths readable."""
    c, repository = config.sandbox, Path(job.repository)
    readable = [*c.readable, *(str(repository / rel.rstrip("/")) for rel in config.scope.link)]
    seal = make_sandbox(c.mode, scratch, scratch / "git", readable=readable,
                        writable=c.writable, network=c.network)
    if not seal.sealed:
        return seal
    here = tuple(p for p in map(Path, job.hide) if p.exists())
    return dataclasses.replace(seal, hide=seal.hide + here)


def _build(config: Config, seal: Sandbox, incumbent: Arm, candidate: Arm, logs: Path, host: str) -> None:
    """The build command in each checkout, on this worker's own toolchain."""
    build = config.commands.build
    if not build:
        return
    for arm in (incumbent, candidate):
        stem = logs / f"build-{arm.name}"
        result = run_command(build, arm.path, stem, config.commands.build_timeout,
                             prefix=seal.prefix(arm.path, Step.BUILD))
        if result.ok:
            continue
        what = "timed out" if result.timed_out else f"exit code {result.returncode}"
        if arm.name == "incumbent":
            raise AutoresearchError(f"the build fails on the incumbent ({what}):\n{result.tail()}")
        raise ArmFailure("candidate", "failed", f"build failed on the Dask worker ({host}): {what}",
                         result.tail(), result.stdout_path)


def _pack(logs: Path) -> bytes:
    """The log directory as a gzipped tar, each file cut to its last `MAX_LOG_BYTES`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(p for p in logs.rglob("*") if p.is_file() and not p.is_symlink()):
            data = path.read_bytes() if path.stat().st_size <= MAX_LOG_BYTES else \
                read_tail(path, MAX_LOG_BYTES).encode()
            info = tarfile.TarInfo(str(path.relative_to(logs)))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack_logs(data: bytes, into: Path) -> None:
    """Put a worker's logs where a local measurement would have written them."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
