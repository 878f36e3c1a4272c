"""`autoresearch setup --agent NAME` round-trips: setup, setup again = no change, remove = as before."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo

from autoresearch.agent_setup import AGENTS, GUIDE


def _files(repo: Path, home: Path) -> dict[str, bytes]:
    """Every file of the repository (git's data and the harness state aside) and of HOME (what
    Claude Code keeps of its own aside: its MCP servers are compared on their own), by path."""
    out = {}
    for folder, skip in ((repo, (".git", ".autoresearch")), (home, (".claude.json", ".claude"))):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.relative_to(folder).parts[0] not in skip:
                out[str(path)] = path.read_bytes()
    return out


def _setup(repo: Repo, home: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "setup", *args, "--json"],
                          cwd=repo.path, capture_output=True, text=True, timeout=300,
                          env=repo.env(HOME=str(home)), stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def _claude_servers(home: Path, root: Path) -> dict:
    config = home / ".claude.json"
    if not config.exists():
        return {}
    return json.loads(config.read_text()).get("projects", {}).get(str(root), {}).get("mcpServers", {})


@pytest.mark.parametrize("agent", AGENTS)
def test_setup_round_trips(agent: str, repo: Repo, tmp_path: Path):
    session = repo
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text('model = "o3"  # mine\n')
    session.write("AGENTS.md", "# Notes for agents\n\nUse tabs.\n")
    before = _files(session.path, home)

    first = _setup(session, home, "--agent", agent)
    assert first["changed"], first
    after_setup = _files(session.path, home)
    assert after_setup != before
    again = _setup(session, home, "--agent", agent)
    assert not again["changed"], again
    assert _files(session.path, home) == after_setup

    if agent in ("codex", "opencode", "pi"):
        text = session.read("AGENTS.md")
        assert text.startswith("# Notes for agents\n\nUse tabs.\n") and GUIDE in text
    if agent == "codex":
        config = (home / ".codex" / "config.toml").read_text()
        assert config.startswith('model = "o3"  # mine\n') and "[mcp_servers.autoresearch]" in config
        assert 'args = ["mcp"]' in config
    if agent == "claude":
        assert "name: autoresearch" in session.read(".claude/skills/autoresearch/SKILL.md")
        if shutil.which("claude"):
            assert _claude_servers(home, session.path)["autoresearch"]["args"] == ["mcp"]
        else:
            assert any(c["action"] == "skipped" and "claude mcp add" in c["detail"]
                       for c in first["changes"])
    if agent == "gemini":
        settings = json.loads(session.read(".gemini/settings.json"))
        assert settings["mcpServers"]["autoresearch"]["args"] == ["mcp"]
    removed = _setup(session, home, "--agent", agent, "--remove")
    assert removed["changed"]
    assert _files(session.path, home) == before
    assert _claude_servers(home, session.path) == {}
    assert not (session.path / ".autoresearch" / "setup").exists()


def test_remove_keeps_edits_made_after_setup(repo: Repo, tmp_path: Path):
    home = tmp_path / "home"
    _setup(repo, home, "--agent", "gemini")
    repo.write("GEMINI.md", repo.read("GEMINI.md") + "\nMy own rule.\n")
    _setup(repo, home, "--agent", "gemini", "--remove")
    assert repo.read("GEMINI.md") == "\nMy own rule.\n"
    assert not (repo.path / ".gemini").exists()


def test_files_setup_writes_into_a_session_are_never_a_candidate(tmp_path: Path, repo: Repo):
    repo.cli("init", "--name", "open", "--metric", "cost", "--timeout", "5")  # open scope
    _setup(repo, tmp_path / "home", "--agent", "cursor")
    repo.set("COST", 50)
    assert repo.cli_json("run", "-m", "halve")["verdict"] == "keep"
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == ["work.py"]
    assert (repo.path / ".cursor" / "rules" / "autoresearch.mdc").exists()


def test_brief_prints_what_a_proposer_is_given(session: Repo):
    loop = session.cli("brief").stdout
    assert loop.startswith("# Optimization task: make cost lower")
    assert "autoresearch.proposal.md" in loop and "do not call `autoresearch run`" in loop
    data = session.cli_json("brief", "--for", "mcp")
    assert data["driver"] == "mcp" and data["metric"] == "cost" and data["scope"] == ["work.py"]
    assert "autoresearch.sh" in data["protected"] and data["run"] == 2
    assert "call the tool `run_experiment`" in data["text"] and "proposal.md" not in data["text"]
    # The two briefs differ only in who runs the experiment and where the report goes.
    mcp_lines = set(data["text"].splitlines())
    only_loop = [line for line in loop.splitlines() if line not in mcp_lines]
    assert len(only_loop) == 2, only_loop
    assert session.cli("brief", "--for", "me", check=2).stderr.count("--for must be loop or mcp") == 1
