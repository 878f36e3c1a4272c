"""Experiments (and `init`) in detached worker processes: they outlive the caller that started them.

An MCP client may time out, cancel the call, or kill the server while an experiment runs for
minutes. The work therefore runs in its own process and session (`start_new_session`), writes
where it stands to `<git dir>/autoresearch/jobs/<id>.json`, and its verdict is fetched from there
later. That is the harness's private state, out of the working tree: a job file an agent writes
in the tree is never read as a verdict.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch.infra.git import Git
from autoresearch.infra.state import Paths, read_json, write_json
from autoresearch.progress import process_alive

RUNNING, DONE, FAILED, LOST = "running", "done", "failed", "lost"
MAX_EVENTS = 200


@dataclass(frozen=True)
class Job:
    """A handle on one detached worker."""

    id: str
    path: Path
    pid: int = 0  # known at once to the starter; the worker also writes its own into the file

    def read(self) -> dict[str, Any]:
        """The job's latest state; a worker that died without a word is reported as lost."""
        data = read_json(self.path) or {"state": LOST, "error": "the job file is gone"}
        if data.get("state") == RUNNING and not process_alive(int(data.get("pid") or self.pid)):
            data = {**data, "state": LOST,
                    "error": "the worker stopped before a verdict (killed?); the next command "
                             "recovers the experiment, and `log` shows what was recorded"}
        return data


def jobs_dir(root: Path) -> Path:
    """Where the jobs of the repository at `root` keep their state (private to the harness)."""
    return Paths.of(Git(root)).jobs


def start(root: Path, kind: str, arguments: dict[str, Any]) -> Job:
    """Start `kind` ("run" or "init") with `arguments` in a detached worker; return at once."""
    folder = jobs_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    # Sortable by start time (to the nanosecond), so the latest job is the last name.
    job_id = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 10**9:09d}-{uuid.uuid4().hex[:4]}"
    path = folder / f"{job_id}.json"
    log_file = folder / f"{job_id}.log"
    write_json(path, {"id": job_id, "kind": kind, "arguments": arguments, "state": RUNNING,
                      "phase": "starting", "pid": 0, "started": time.time()})
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "autoresearch.jobs", str(root), job_id], cwd=root,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # a signal to the caller's group (Ctrl-C, a kill) spares it
        )
    # Reap the worker when it ends, so it never lingers as a zombie of a long-lived server.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{job_id}").start()
    return Job(job_id, path, proc.pid)


def find(root: Path, job_id: str | None = None) -> Job | None:
    """The job named `job_id`, or the most recent one."""
    folder = jobs_dir(root)
    if job_id:
        path = folder / f"{Path(job_id).name}.json"
        return Job(job_id, path) if path.exists() else None
    files = sorted(folder.glob("*.json")) if folder.exists() else []
    return Job(files[-1].stem, files[-1]) if files else None


def running(root: Path) -> Job | None:
    """The job whose worker is still at work, if any."""
    job = find(root)
    return job if job is not None and job.read().get("state") == RUNNING else None


# --- the worker ------------------------------------------------------------------------------


def _work(root: Path, job_id: str) -> int:
    job = Job(job_id, jobs_dir(root) / f"{job_id}.json")
    data = read_json(job.path)
    if data is None:
        return 2
    data.update(pid=os.getpid(), phase="starting")
    write_json(job.path, data)

    events: list[dict[str, Any]] = []

    def progress(event: Any) -> None:
        fields = event.as_dict() if hasattr(event, "as_dict") else {"phase": str(event), "text": str(event)}
        # Every event is kept (the last MAX_EVENTS), so a reader polling now and then misses none.
        events.append({"seq": len(events) + 1, **fields})
        data.update(fields, updated=time.time(), events=events[-MAX_EVENTS:])
        write_json(job.path, data, durable=False)  # progress, a few per benchmark run: no fsync

    from autoresearch.errors import AutoresearchError

    args = data["arguments"]
    try:
        if data["kind"] == "init":
            from autoresearch.scaffold import InitOptions, init_session

            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
            options = InitOptions(**fields)
            outcome = init_session(root, options, progress)
            base = outcome.baseline
            result: dict[str, Any] = {
                "branch": outcome.branch, "created": outcome.created,
                "needs_benchmark": outcome.needs_benchmark,
                "baseline": base.metric if base else None, "baseline_run": base.run if base else None}
        else:
            from autoresearch.experiment import run_experiment

            result = run_experiment(root, args["description"], args.get("hypothesis"),
                                    proposer=args.get("proposer"), progress=progress).as_dict()
    except AutoresearchError as exc:
        data.update(state=FAILED, error=str(exc), exit_code=exc.exit_code, finished=time.time())
        write_json(job.path, data)
        return exc.exit_code
    except BaseException as exc:
        data.update(state=FAILED, error=f"internal error: {type(exc).__name__}: {exc}", exit_code=1,
                    finished=time.time())
        write_json(job.path, data)
        raise
    data.update(state=DONE, result=result, phase="done", text="done", finished=time.time())
    write_json(job.path, data)
    return 0


if __name__ == "__main__":
    sys.exit(_work(Path(sys.argv[1]), sys.argv[2]))
