"""The MCP face: an agent drives through the official SDK's client; the harness still judges."""

from __future__ import annotations

import asyncio
import json

from conftest import Repo
from mcp import Client

from autoresearch.faces.mcp_server import build_server


def _call(server, name: str, arguments: dict | None = None):
    async def go():
        async with Client(server) as client:
            return await client.call_tool(name, arguments or {})

    return asyncio.run(go())


def _data(result) -> dict:
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) else content
    return json.loads(result.content[0].text)


def test_agent_runs_experiments_over_mcp(session: Repo):
    server = build_server(session.path)

    async def tools():
        async with Client(server) as client:
            return sorted(t.name for t in (await client.list_tools()).tools)

    assert asyncio.run(tools()) == ["add_idea", "brief", "log", "run_experiment", "status"]
    brief = _call(server, "brief").content[0].text
    assert "make cost lower" in brief and "call the tool `run_experiment`" in brief
    assert "do not call `autoresearch run`" not in brief

    nothing = _call(server, "run_experiment", {"description": "nothing yet"})
    assert nothing.is_error and "nothing to measure" in nothing.content[0].text

    session.set("COST", 40)
    kept = _data(_call(server, "run_experiment", {"description": "less work", "hypothesis": "h"}))
    assert (kept["status"], kept["verdict"]) == ("keep", "keep")
    assert session.git("log", "-1", "--format=%s") == "less work"

    session.set("COST", 400)
    discarded = _data(_call(server, "run_experiment", {"description": "more work"}))
    assert (discarded["status"], discarded["reason"]) == ("discard", "worse")
    assert "COST = 40" in session.read("work.py")

    st = _data(_call(server, "status"))
    assert st["counts"] == {"keep": 1, "discard": 1} and abs(st["improvement_pct"] - 60.0) < 1e-9
    runs = _data(_call(server, "log", {"limit": 2}))["runs"]
    assert [r["description"] for r in runs] == ["less work", "more work"]
    assert runs[0]["status"] == "keep"
    ideas = _data(_call(server, "add_idea", {"text": "try a lookup table"}))
    assert ideas["ideas"] == ["try a lookup table"]
    assert session.runs()[-1]["proposer"] == "agent:mcp"


def test_the_cli_serves_mcp_over_stdio(session: Repo):
    import sys

    from mcp import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "autoresearch", "mcp"],
                                   cwd=str(session.path), env=session.env())

    async def go():
        async with Client(params) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            return names, await client.call_tool("status", {})

    names, st = asyncio.run(go())
    assert "run_experiment" in names
    assert _data(st)["session"] == "speed"
