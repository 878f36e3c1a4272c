"""MCP tools over the functions the CLI calls: an agent drives its own loop, the harness judges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

INSTRUCTIONS = """\
autoresearch judges performance experiments on this git repository. Workflow: read the brief
(tool `brief`), make ONE focused change to files in scope, then call `run_experiment` with a
description and hypothesis. The harness checks, measures against the current best and keeps
(commits) or discards (restores the files) the change; you never commit, revert or report a
number yourself. Call `status` and `log` to see the history; `add_idea` records ideas for later.
"""


def build_server(repo: Path):
    """An MCP server whose tools act on the session in `repo`.

    >>> server = build_server(Path("."))  # doctest: +SKIP
    >>> asyncio.run(mcp.Client(server).__aenter__())  # doctest: +SKIP
    """
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from autoresearch.errors import AutoresearchError

    server = MCPServer(name="autoresearch", instructions=INSTRUCTIONS)

    async def in_thread(function, *args):
        # Experiments take minutes: keep the protocol responsive while one runs.
        try:
            return await anyio.to_thread.run_sync(function, *args)
        except AutoresearchError as exc:  # the agent reads the message and can act on it
            raise ToolError(str(exc)) from None

    @server.tool()
    async def run_experiment(description: str, hypothesis: str = "") -> dict[str, Any]:
        """Judge the working tree's change against the incumbent: keep (commit) or restore.

        `description`: what the change does (the commit message); `hypothesis`: why it should help.
        The verdict, the measured ratio with its 95% interval, the rounds and the reason come
        back; an error is raised when there is nothing to measure or the session is not set up.
        """
        from autoresearch.experiment import run_experiment as judge

        result = await in_thread(lambda: judge(repo, description, hypothesis or None,
                                               proposer="agent:mcp"))
        return result.as_dict()

    @server.tool()
    async def status() -> dict[str, Any]:
        """Baseline, incumbent, improvement in %, counts per verdict, pending candidate, warnings."""
        from autoresearch.session import open_session
        from autoresearch.status import status as get_status

        return await in_thread(lambda: get_status(open_session(repo)).as_dict(numbers=False))

    @server.tool()
    async def log(limit: int = 20) -> dict[str, Any]:
        """The last `limit` experiments: verdict, reason, metric, ratio and interval, rounds."""
        from autoresearch.session import open_session
        from autoresearch.status import summarize

        def read() -> dict[str, Any]:
            book = open_session(repo).ledger()
            runs = book.runs[-limit:] if limit > 0 else book.runs
            return {"runs": [summarize(r) for r in runs], "warnings": book.warnings}

        return await in_thread(read)

    @server.tool()
    async def brief() -> str:
        """The brief the harness gives every proposer: objective, rules, history, ideas, last failure."""
        from autoresearch.brief import build_brief
        from autoresearch.session import open_session

        return await in_thread(lambda: build_brief(open_session(repo), driver="mcp").text)

    @server.tool()
    async def add_idea(text: str) -> dict[str, Any]:
        """Append an idea to the backlog (autoresearch.ideas.md) for later experiments."""
        from autoresearch.ideas import add_idea as add
        from autoresearch.ideas import list_ideas

        await in_thread(lambda: add(repo, text))
        return {"ideas": list_ideas(repo)}

    return server
