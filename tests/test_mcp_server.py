"""The MCP face: an agent drives through the official SDK's client; the harness still judges."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest
from conftest import Repo
from mcp import Client, StdioServerParameters

from autoresearch.faces.mcp_server import build_server

READ_ONLY = {"brief", "log", "log_experiment", "result", "status"}
# What the long-experiment tests' client waits for an answer to a tool call before giving up.
CLIENT_TIMEOUT_S = 10


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


def _stdio(repo: Repo, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "autoresearch", "mcp"],
                                 cwd=str(repo.path), env=repo.env(**env))


def test_agent_runs_experiments_over_mcp(session: Repo):
    server = build_server(session.path)
    brief = _call(server, "brief").content[0].text
    assert "make cost lower" in brief and "call the tool `run_experiment`" in brief
    assert "do not call `autoresearch run`" not in brief

    nothing = _call(server, "run_experiment", {"description": "nothing yet"})
    assert nothing.is_error and "nothing to measure" in nothing.content[0].text

    session.set("COST", 40)
    kept = _data(_call(server, "run_experiment", {"description": "less work", "hypothesis": "h",
                                                   "wait_s": 300}))
    assert (kept["state"], kept["status"], kept["verdict"]) == ("done", "keep", "keep")
    assert session.git("log", "-1", "--format=%s") == "less work"

    session.set("COST", 400)
    discarded = _data(_call(server, "run_experiment", {"description": "more work", "wait_s": 300}))
    assert (discarded["status"], discarded["reason"]) == ("discard", "worse")
    assert "COST = 40" in session.read("work.py")
    again = _data(_call(server, "result", {"job": discarded["job"]}))
    assert (again["run"], again["reason"]) == (discarded["run"], "worse")

    st = _data(_call(server, "status"))
    assert st["counts"] == {"keep": 1, "discard": 1} and abs(st["improvement_pct"] - 60.0) < 1e-9
    runs = _data(_call(server, "log", {"limit": 2}))["runs"]
    assert [r["description"] for r in runs] == ["less work", "more work"]
    assert runs[0]["status"] == "keep"
    ideas = _data(_call(server, "add_idea", {"text": "try a lookup table"}))
    assert ideas["ideas"] == ["try a lookup table"]
    assert session.runs()[-1]["proposer"] == "agent:mcp"

    # pi-autoresearch's log_experiment maps to nothing here, and says why.
    logged = _data(_call(server, "log_experiment", {"metric": 1.0, "status": "keep"}))
    assert logged["recorded"] is False and "the harness, not the agent, measures" in logged["why"]
    assert logged["last_verdict"]["reason"] == "worse"
    assert len(session.runs()) == 3


def test_every_parameter_is_described_and_read_only_tools_say_so(session: Repo):
    async def tools():
        async with Client(build_server(session.path)) as client:
            return (await client.list_tools()).tools

    listed = {t.name: t for t in asyncio.run(tools())}
    assert set(listed) == READ_ONLY | {"add_idea", "init", "init_experiment", "run_experiment"}
    for tool in listed.values():
        assert tool.description, tool.name
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"
        assert tool.annotations.read_only_hint is (tool.name in READ_ONLY), tool.name


def test_init_starts_a_session_and_init_experiment_is_its_pi_name(repo: Repo):
    server = build_server(repo.path)
    started = _data(_call(server, "init", {"name": "speed", "metric": "cost", "scope": ["work.py"],
                                           "wait_s": 300}))
    assert (started["state"], started["branch"], started["baseline"]) == ("done", "autoresearch/speed", 100)
    assert repo.git("branch", "--show-current") == "autoresearch/speed"
    assert 'include = ["work.py"]' in repo.read("autoresearch.toml")
    twice = _call(server, "init_experiment", {"name": "speed", "metric_name": "cost"})
    assert twice.is_error and "already exists" in twice.content[0].text


def test_the_cli_serves_mcp_over_stdio(session: Repo):
    async def go():
        async with Client(_stdio(session)) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            return names, await client.call_tool("status", {})

    names, st = asyncio.run(go())
    assert "run_experiment" in names
    assert _data(st)["session"] == "speed"


def _long_experiment(session: Repo, bench_sleep: str, *, drop_client: bool) -> tuple[dict, list[str], float]:
    """Judge a halved COST with a slow benchmark through a client whose tool calls time out after
    `CLIENT_TIMEOUT_S`; with `drop_client` the first client disconnects (its server exits)
    mid-experiment."""
    session.cli("init", "--name", "speed", "--metric", "cost", "--scope", "work.py", "--timeout", "60")
    session.set("COST", 50)
    messages: list[str] = []

    async def progress(_step: float, _total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async def go() -> dict:
        async with Client(_stdio(session, BENCH_SLEEP=bench_sleep)) as client:
            args = {"description": "halve the cost", "wait_s": 5 if drop_client else 3600}
            try:
                first = await client.call_tool("run_experiment", args,
                                               read_timeout_seconds=CLIENT_TIMEOUT_S,
                                               progress_callback=progress)
                assert drop_client and _data(first)["state"] == "running", first
            except Exception as exc:
                assert not drop_client and "timed out" in str(exc).lower(), exc
                # The server is still there and the experiment goes on.
                assert _data(await client.call_tool("status", {}))["session"] == "speed"
            if drop_client:
                return {}
            return await poll(client)

    async def poll(client) -> dict:
        while True:
            data = _data(await client.call_tool("result", {"wait_s": CLIENT_TIMEOUT_S / 2},
                                                read_timeout_seconds=CLIENT_TIMEOUT_S,
                                                progress_callback=progress))
            if data["state"] == "done":
                return data

    async def reconnect() -> dict:
        async with Client(_stdio(session)) as client:
            return await poll(client)

    start = time.monotonic()
    data = asyncio.run(go())
    if drop_client:
        data = asyncio.run(reconnect())
    return data, messages, time.monotonic() - start


@pytest.mark.slow  # an experiment four times as long as the client's timeout
@pytest.mark.timeout(600)
def test_a_client_whose_calls_time_out_gets_the_verdict_of_a_longer_experiment(repo: Repo):
    session = repo
    data, messages, took = _long_experiment(session, "2", drop_client=False)
    # Warm-up (2 runs) and the 9 rounds a keep needs (18 runs), each run sleeping 2 s: at least
    # four times the client's timeout.
    assert data["durations"]["measure_s"] >= 4 * CLIENT_TIMEOUT_S and took > 4 * CLIENT_TIMEOUT_S
    assert (data["verdict"], data["reason"]) == ("keep", "better by 50.0%")
    assert session.git("log", "-1", "--format=%s") == "halve the cost"
    # Every phase reached the client, the running estimate with its interval too.
    assert messages[:4] == ["preparing checkouts", "checks", "warm-up", "round 1/24"], messages
    # two rounds prove nothing yet (the sign-flip test needs 2^-n <= alpha): no-gain stays in it
    assert any(m.startswith("round 2/24, estimate +50.0% [+0.0%, +50.0%]") for m in messages), messages


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_experiment_survives_its_client_going_away(repo: Repo):
    session = repo
    data, _messages, _took = _long_experiment(session, "2", drop_client=True)
    # The first client left after 5 s; the measurement went on for many times that.
    assert data["durations"]["measure_s"] >= 30
    assert (data["verdict"], data["reason"]) == ("keep", "better by 50.0%")
    assert [r["verdict"] for r in session.runs()] == ["baseline", "keep"]
    assert session.git("status", "--porcelain") == ""


def test_a_job_file_forged_in_the_working_tree_is_never_a_verdict(session: Repo):
    # Job state lives under the git directory; `.autoresearch/jobs/` is the agent's to write.
    forged = {"id": "20260101-000000-000000000-beef", "kind": "run", "state": "done", "pid": 0,
              "result": {"run": 99, "status": "keep", "verdict": "keep", "reason": "better by 99.0%"}}
    folder = session.path / ".autoresearch" / "jobs"
    folder.mkdir(parents=True)
    (folder / f"{forged['id']}.json").write_text(json.dumps(forged))
    server = build_server(session.path)
    named = _call(server, "result", {"job": forged["id"]})
    assert named.is_error and "no job" in named.content[0].text
    latest = _data(_call(server, "result"))  # the ledger's last record: the baseline
    assert latest.get("verdict") != "keep" and latest.get("run") != 99

    session.set("COST", 40)
    kept = _data(_call(server, "run_experiment", {"description": "less work", "wait_s": 300}))
    assert kept["verdict"] == "keep"
    private = session.path / ".git" / "autoresearch" / "jobs" / f"{kept['job']}.json"
    assert json.loads(private.read_text())["result"]["run"] == kept["run"]
