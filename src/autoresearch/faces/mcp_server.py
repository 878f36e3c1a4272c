"""MCP tools over the functions the CLI calls: an agent drives its own loop, the harness judges."""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from pydantic import Field

from autoresearch.faces.render import json_ready

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.types import ToolAnnotations

T = TypeVar("T")

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
autoresearch judges performance experiments on this git repository. Workflow: read the brief
(tool `brief`), make ONE focused change to files in scope, then call `run_experiment` with a
description and hypothesis. The harness checks, measures against the current best and keeps
(commits) or discards (restores the files) the change; you never commit, revert or report a
number yourself. An experiment can take minutes: `run_experiment` reports progress and returns
after at most `wait_s` seconds; while the answer says "running", call `result` (it waits too)
until the verdict comes. The experiment goes on if a call times out or the connection drops.
Call `status` and `log` to see the history; `add_idea` records ideas for later. With no session
yet, `init` starts one. pi-autoresearch's tool names work too: `init_experiment` is `init`;
`log_experiment` records nothing, because here the harness measures and records every verdict.
"""

WAIT_S = 25.0  # below the 30-60 s tool timeouts common in clients
POLL_S = 0.5

LOG_EXPERIMENT_ANSWER = (
    "Nothing was recorded: in autoresearch the harness, not the agent, measures and judges. "
    "`run_experiment` already checked your change, measured it against the current best "
    "(interleaved, repeated until the answer is clear) and recorded the verdict in the ledger; "
    "a number you measured yourself is one noisy sample and is never recorded. Call "
    "`run_experiment` for each change and `log` or `result` to read the verdicts."
)

Description = Annotated[str, Field(description="What the change does, in one line; it becomes the "
                                               "commit message if the change is kept.")]
Hypothesis = Annotated[str, Field(description="Why the change should improve the metric; recorded "
                                              "with the verdict.")]
WaitS = Annotated[float, Field(ge=0, le=3600, description=(
    "Seconds to wait for the verdict before answering with the progress so far (the experiment "
    "goes on either way; call `result` to wait again). Keep it below your tool-call timeout."))]


def _read_only() -> "ToolAnnotations":
    from mcp.types import ToolAnnotations

    return ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                           open_world_hint=False)


def _acts() -> "ToolAnnotations":
    from mcp.types import ToolAnnotations

    return ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                           open_world_hint=False)


def build_server(repo: Path) -> "MCPServer":
    """An MCP server whose tools act on the session in `repo`.

    >>> server = build_server(Path("."))  # doctest: +SKIP
    >>> asyncio.run(mcp.Client(server).__aenter__())  # doctest: +SKIP
    """
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver.exceptions import ToolError

    from autoresearch import jobs
    from autoresearch.errors import AutoresearchError

    server = MCPServer(name="autoresearch", instructions=INSTRUCTIONS)

    async def in_thread(function: Callable[..., T], *args: Any) -> T:
        try:
            answer = await anyio.to_thread.run_sync(function, *args)
        except AutoresearchError as exc:  # the agent reads the message and can act on it
            raise ToolError(str(exc)) from None
        return cast(T, json_ready(answer))

    async def follow(job: jobs.Job, ctx: Context, wait_s: float, replay: bool = True) -> dict[str, Any]:
        """Wait up to `wait_s` for the job's outcome, sending its progress events as they come
        (with `replay`, those from its start; otherwise from the latest one on).

        A cancelled call (a client timeout) or a closed connection ends only this wait; the
        worker process goes on and `result` fetches its outcome later.
        """
        deadline = time.monotonic() + wait_s
        sent = None if replay else max((e["seq"] for e in job.read().get("events", [])), default=1) - 1
        sent = sent or 0
        while True:
            data = job.read()
            for event in data.get("events", []):
                if event["seq"] > sent:
                    sent = event["seq"]
                    try:
                        await ctx.report_progress(sent, None, _progress_text(event))
                    except Exception as exc:
                        logger.debug("progress not delivered: %s", exc)
            state = data.get("state")
            if state == jobs.DONE:
                return cast(dict[str, Any], json_ready({"state": "done", "job": job.id, **data["result"]}))
            if state in (jobs.FAILED, jobs.LOST):
                raise ToolError(f"{data.get('error')} (job {job.id})")
            if time.monotonic() >= deadline:
                return {"state": "running", "job": job.id, "progress": json_ready(_progress_fields(data)),
                        "next": f"call `result` with job {job.id!r} to wait for the verdict"}
            await anyio.sleep(POLL_S)

    def start(kind: str, arguments: dict[str, Any]) -> jobs.Job:
        busy = jobs.running(repo)
        if busy is not None:
            raise ToolError(f"job {busy.id} is still running ({_progress_text(busy.read())}); "
                            f"call `result` to wait for it before starting another")
        return jobs.start(repo, kind, arguments)

    @server.tool(annotations=_acts())
    async def run_experiment(description: Description, ctx: Context, hypothesis: Hypothesis = "",
                             wait_s: WaitS = WAIT_S) -> dict[str, Any]:
        """Judge the working tree's change against the incumbent: keep (commit) or restore.

        Runs the checks, then measures the change against the current best, interleaved, until
        the decision is clear. The verdict, the measured ratio with its 95% interval, the rounds
        and the reason come back; progress (phase, round, running estimate) is reported while it
        runs. Answers {"state": "running", "job": ...} if `wait_s` passes first: then call `result`.
        An error is raised when there is nothing to measure or the session is not set up.
        """
        job = start("run", {"description": description, "hypothesis": hypothesis or None,
                            "proposer": "agent:mcp"})
        return await follow(job, ctx, wait_s)

    @server.tool(annotations=_read_only())
    async def result(ctx: Context,
                     job: Annotated[str, Field(description="The job id `run_experiment` or `init` "
                                                           "answered with; empty = the latest job.")] = "",
                     wait_s: WaitS = WAIT_S) -> dict[str, Any]:
        """The outcome of an experiment (or init) started earlier, waiting up to `wait_s` for it.

        Use it after `run_experiment` answered "running", after a call timed out, or in a new
        connection: the experiment went on in its own process. Without any job, the last
        experiment in the ledger is returned.
        """
        found = jobs.find(repo, job or None)
        if found is None:
            if job:
                raise ToolError(f"no job {job!r}; `log` lists every recorded experiment")
            return await in_thread(_last_record)
        return await follow(found, ctx, wait_s, replay=False)

    @server.tool(annotations=_acts())
    async def init(
        ctx: Context,
        name: Annotated[str, Field(description="Session name; the branch is autoresearch/NAME.")] = "",
        metric: Annotated[str, Field(description="Primary metric: a `METRIC name=value` line the "
                                                 "benchmark prints (with measure cpu or "
                                                 "instructions the harness measures it).")] = "",
        direction: Annotated[str, Field(description="`lower` or `higher` is better (default lower).")] = "",
        unit: Annotated[str, Field(description="Unit of the metric, for display (e.g. µs).")] = "",
        measure: Annotated[str, Field(description="wall (the benchmark's METRIC; the default), cpu, "
                                                  "instructions or single.")] = "",
        benchmark: Annotated[str, Field(description="Benchmark command, run from the repository "
                                                    "root.")] = "./autoresearch.sh",
        checks: Annotated[str, Field(description="Correctness checks (exit 0 = pass); empty = "
                                                 "./autoresearch.checks.sh when present.")] = "",
        scope: Annotated[list[str], Field(description="Globs a candidate may change; empty = "
                                                      "anything.")] = [],  # noqa: B006 — never mutated
        protect: Annotated[list[str], Field(description="Globs a candidate may not change (the "
                                                        "benchmark, checks and config always are).")] = [],  # noqa: B006
        wait_s: WaitS = WAIT_S,
    ) -> dict[str, Any]:
        """Start a session: scaffold missing files, create branch autoresearch/NAME, check and
        measure the baseline. A repository with pi-autoresearch's files (autoresearch.md/.sh/.jsonl
        or .auto/) is imported, its history included. Answers like `run_experiment`."""
        arguments = {"name": name, "metric": metric, "direction": direction or None,
                     "unit": unit or None, "measure": measure or None, "benchmark": benchmark,
                     "checks": checks or None,
                     "scope": list(scope), "protect": list(protect)}
        return await follow(start("init", arguments), ctx, wait_s)

    @server.tool(annotations=_acts())
    async def init_experiment(
        ctx: Context,
        name: Annotated[str, Field(description="Session name (pi-autoresearch's init_experiment).")],
        metric_name: Annotated[str, Field(description="Primary metric, as the benchmark prints it.")],
        metric_unit: Annotated[str, Field(description="Unit of the metric, for display.")] = "",
        direction: Annotated[str, Field(description="`lower` or `higher` is better.")] = "lower",
    ) -> dict[str, Any]:
        """pi-autoresearch's name for `init`: start a session on this repository."""
        arguments = {"name": name, "metric": metric_name, "unit": metric_unit, "direction": direction}
        return await follow(start("init", arguments), ctx, WAIT_S)

    @server.tool(annotations=_read_only())
    async def log_experiment(
        description: Annotated[str, Field(description="Ignored: see the answer.")] = "",
        metric: Annotated[float | None, Field(description="Ignored: the harness measures.")] = None,
        status: Annotated[str, Field(description="Ignored: the harness decides.")] = "",
    ) -> dict[str, Any]:
        """pi-autoresearch's tool to record a result the agent measured. Here it records nothing:
        the harness measures and judges every change itself (call `run_experiment`)."""
        last = await in_thread(_last_record)
        return {"recorded": False, "why": LOG_EXPERIMENT_ANSWER, "last_verdict": last}

    @server.tool(annotations=_read_only())
    async def status() -> dict[str, Any]:
        """Baseline, incumbent, improvement in %, counts per verdict, pending candidate, warnings."""
        from autoresearch.session import open_session
        from autoresearch.status import status as get_status

        return await in_thread(lambda: get_status(open_session(repo)).as_dict(numbers=False))

    @server.tool(annotations=_read_only())
    async def log(limit: Annotated[int, Field(description="How many of the most recent experiments "
                                                          "to list; 0 = all.")] = 20) -> dict[str, Any]:
        """The last `limit` experiments: verdict, reason, metric, ratio and interval, rounds."""
        from autoresearch.session import open_session
        from autoresearch.status import summarize

        def read() -> dict[str, Any]:
            book = open_session(repo).ledger()
            runs = book.runs[-limit:] if limit > 0 else book.runs
            return {"runs": [summarize(r) for r in runs], "warnings": book.warnings}

        return await in_thread(read)

    @server.tool(annotations=_read_only())
    async def brief() -> str:
        """The brief the harness gives every proposer: objective, rules, history, ideas, last failure."""
        from autoresearch.brief import build_brief
        from autoresearch.session import open_session

        return await in_thread(lambda: build_brief(open_session(repo), driver="mcp").text)

    @server.tool(annotations=_acts())
    async def add_idea(text: Annotated[str, Field(description="The idea, one line.")]) -> dict[str, Any]:
        """Append an idea to the backlog (autoresearch.ideas.md) for later experiments."""
        from autoresearch.ideas import add_idea as add
        from autoresearch.ideas import list_ideas

        await in_thread(lambda: add(repo, text))
        return {"ideas": list_ideas(repo)}

    def _last_record() -> dict[str, Any]:
        from autoresearch.session import open_session
        from autoresearch.status import summarize

        runs = open_session(repo).ledger().runs
        return {"state": "done", "job": None, **summarize(runs[-1])} if runs else {"state": "none"}

    return server


def _progress_fields(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("phase", "round", "max_rounds", "ratio", "gain", "gain_ci", "eta_s", "text")
    return {k: data[k] for k in keys if data.get(k) is not None}


def _progress_text(data: dict[str, Any]) -> str:
    """`round 5/24, estimate +12.3% [+4.0%, +20.1%], at most 40 s left`: the event as a person reads it."""
    return str(data.get("text") or data.get("phase") or "starting")
