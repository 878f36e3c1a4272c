"""Real agent CLIs from the registries (aider from PyPI, pi from npm) propose through
`autoresearch loop --agent NAME`, talking to a scripted model on 127.0.0.1; the harness judges a
keep and a discard."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from model_stub import StubModel

from autoresearch.proposers.agent_cli import PRESETS

# minutes of real agent CLIs: the slow group, which .ci/run runs after the README's command
pytestmark = [pytest.mark.agent_cli, pytest.mark.slow]

REPORTS = [("halve the cost", "less work per call"), ("tenfold the cost", "a check of the harness")]
EDITS = [("COST = 100", "COST = 50"), ("COST = 50", "COST = 500")]


def _aider(home: Path, url: str) -> tuple[list[Any], dict[str, str]]:
    """Answers in aider's `diff` edit format: the change, then the report the brief asks for."""
    answers = [(f"I will change the constant.\n\nwork.py\n```python\n<<<<<<< SEARCH\n{search}\n=======\n"
                f"{replace}\n>>>>>>> REPLACE\n```\n\nautoresearch.proposal.md\n```\n<<<<<<< SEARCH\n"
                f"=======\n{description}\nHypothesis: {hypothesis}\n>>>>>>> REPLACE\n```\n")
               for (search, replace), (description, hypothesis) in zip(EDITS, REPORTS, strict=False)]
    env = {"AIDER_MODEL": "openai/test-model", "OPENAI_API_BASE": url, "OPENAI_API_KEY": "stub-key",
           "AIDER_EDIT_FORMAT": "diff", "AIDER_MAP_TOKENS": "0", "AIDER_ANALYTICS": "false",
           "AIDER_SHOW_MODEL_WARNINGS": "false", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return answers, env


def _pi(home: Path, url: str) -> tuple[list[Any], dict[str, str]]:
    """pi edits through tool calls (its `edit` and `write` tools), then ends its turn."""
    agent = home / ".pi" / "agent"
    agent.mkdir(parents=True)
    (agent / "models.json").write_text(json.dumps({"providers": {"stub": {
        "baseUrl": url, "api": "openai-completions", "apiKey": "stub-key",
        "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
        "models": [{"id": "test-model"}]}}}))
    settings = {"defaultProvider": "stub", "defaultModel": "test-model"}
    (agent / "settings.json").write_text(json.dumps(settings))
    answers: list[Any] = []
    for (search, replace), (description, hypothesis) in zip(EDITS, REPORTS, strict=False):
        answers.append({"tool_calls": [
            {"name": "edit", "arguments": {"path": "work.py",
                                           "edits": [{"oldText": search, "newText": replace}]}},
            {"name": "write", "arguments": {"path": "autoresearch.proposal.md",
                                            "content": f"{description}\nHypothesis: {hypothesis}\n"}}]})
        answers.append("Done: one focused change.")
    return answers, {}


DRIVEN = {"aider": (_aider, "pip install aider-chat"),
          "pi": (_pi, "npm install -g @mariozechner/pi-coding-agent")}

# The scripted model serves OpenAI chat completions; these CLIs speak only their vendor's API.
NOT_DRIVEN = {
    "claude": "Claude Code talks only to the Anthropic Messages API; the scripted model serves OpenAI "
              "chat completions (its flags are checked against `claude --help`)",
    "codex": "Codex CLI talks only to the OpenAI Responses API; the scripted model serves chat "
             "completions (its flags are checked against `codex exec --help`)",
    "gemini": "Gemini CLI talks only to the Gemini API; the scripted model serves OpenAI chat "
              "completions (its flags are checked against `gemini --help`)",
    "opencode": "opencode installs its OpenAI-compatible provider package from npm at first use, "
                "which a test cannot rely on (its flags are checked against `opencode run --help`)",
}


def test_every_preset_is_driven_or_says_why_not():
    assert set(DRIVEN) | set(NOT_DRIVEN) == set(PRESETS)


@pytest.mark.parametrize("agent", sorted(PRESETS))
def test_a_real_agent_proposes_through_the_loop_and_the_harness_judges(agent: str, session: Repo,
                                                                        tmp_path: Path):
    if agent in NOT_DRIVEN:
        pytest.skip(NOT_DRIVEN[agent])
    setup, install = DRIVEN[agent]
    if shutil.which(PRESETS[agent].program) is None:
        pytest.skip(f"{agent} is not installed ({install}; .ci/agents.sh installs it when the "
                    "registry is reachable)")
    session.write(".env", "SECRET=1\n")  # aider offers to git-ignore a .env: that must not happen
    home = tmp_path / "home"
    home.mkdir()
    with StubModel() as model:
        answers, env = setup(home, model.url)
        model.answers = answers
        proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", "--agent", agent,
                               "--max-experiments", "2", "--agent-timeout", "120", "--json"],
                              cwd=session.path, capture_output=True, text=True, timeout=600,
                              env=session.env(HOME=str(home), **env), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    summary = json.loads(proc.stdout)
    runs = session.runs()[1:]
    assert [(r["verdict"], r["reason"]) for r in runs] == [("keep", "better by 50.0%"),
                                                           ("discard", "worse")], summary
    assert [(r["description"], r["hypothesis"]) for r in runs] == REPORTS
    assert all(r["proposer"] == f"agent:{agent}" for r in runs)
    assert "COST = 50" in session.read("work.py")
    # Nothing of the agent's own is left in the tree or committed; .gitignore was not touched.
    assert session.git("status", "--porcelain") == "?? .env"  # the user's own file, untouched
    assert session.git("show", "--name-only", "--format=", "HEAD").split() == ["work.py"]
    assert session.read(".gitignore") == "*.log\n__pycache__/\n"
    # The agent was given the brief and the files in scope.
    prompt = json.dumps(model.requests[0]["messages"])
    assert "make cost lower" in prompt and "autoresearch.proposal.md" in prompt
    assert not model.answers  # every scripted answer was asked for, no more
    if agent == "aider":
        assert (session.path / ".aider.chat.history.md").exists()  # written, and kept out
        assert ".aider*" in session.read(".git/info/exclude")
        assert "COST = 100" in prompt  # the file in scope, in its chat
