"""A real agent CLI from a registry (aider, from PyPI) proposes through `autoresearch loop --agent`,
talking to a scripted model on 127.0.0.1; the harness judges a keep and a discard."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo
from model_stub import StubModel

pytestmark = pytest.mark.agent_cli


def _edit(search: str, replace: str, description: str, hypothesis: str) -> str:
    """An answer in aider's `diff` edit format: the change, then the report the brief asks for."""
    return (f"I will change the constant.\n\nwork.py\n```python\n<<<<<<< SEARCH\n{search}\n=======\n"
            f"{replace}\n>>>>>>> REPLACE\n```\n\nautoresearch.proposal.md\n```\n<<<<<<< SEARCH\n"
            f"=======\n{description}\nHypothesis: {hypothesis}\n>>>>>>> REPLACE\n```\n")


def test_aider_proposes_through_the_loop_and_the_harness_judges(session: Repo, tmp_path: Path):
    aider = shutil.which("aider")
    if aider is None:
        pytest.skip("aider is not installed (pip install aider-chat; .ci/run installs it in its "
                    "own venv when PyPI is reachable)")
    session.write(".env", "SECRET=1\n")  # aider offers to git-ignore a .env: that must not happen
    answers = [_edit("COST = 100", "COST = 50", "halve the cost", "less work per call"),
               _edit("COST = 50", "COST = 500", "tenfold the cost", "a check of the harness")]
    with StubModel(answers) as model:
        env = {"AIDER_MODEL": "openai/test-model", "OPENAI_API_BASE": model.url,
               "OPENAI_API_KEY": "stub-key", "AIDER_EDIT_FORMAT": "diff", "AIDER_MAP_TOKENS": "0",
               "AIDER_ANALYTICS": "false", "AIDER_SHOW_MODEL_WARNINGS": "false",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HOME": str(tmp_path / "home")}
        proc = subprocess.run([sys.executable, "-m", "autoresearch", "loop", "--agent", "aider",
                               "--max-experiments", "2", "--agent-timeout", "120", "--json"],
                              cwd=session.path, capture_output=True, text=True, timeout=600,
                              env=session.env(**env))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    summary = json.loads(proc.stdout)
    runs = session.runs()[1:]
    assert [(r["verdict"], r["reason"]) for r in runs] == [("keep", "better by 50.0%"),
                                                           ("discard", "worse")], summary
    assert [r["description"] for r in runs] == ["halve the cost", "tenfold the cost"]
    assert runs[0]["hypothesis"] == "less work per call"
    assert all(r["proposer"] == "agent:aider" for r in runs)
    assert "COST = 50" in session.read("work.py")
    # Nothing of aider's own is left in the tree or committed; .gitignore was not touched.
    assert session.git("status", "--porcelain") == "?? .env"  # the user's own file, untouched
    assert session.git("show", "--name-only", "--format=", "HEAD").split() == ["work.py"]
    assert session.read(".gitignore") == "*.log\n__pycache__/\n"
    assert (session.path / ".aider.chat.history.md").exists()  # written, and kept out
    assert ".aider*" in session.read(".git/info/exclude")
    # aider was handed the protected files read-only and the files in scope to edit.
    prompt = json.dumps(model.requests[0]["messages"])
    assert "make cost lower" in prompt and "COST = 100" in prompt
    assert len(model.requests) == 2
