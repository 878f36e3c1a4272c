"""A copied session (how the test fixtures hand a session out) is a session of its own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import Repo, copy_repo


def _worktrees(repo: Repo) -> list[str]:
    return [line.split()[1] for line in repo.git("worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def _holding(root: Path, text: str) -> set[str]:
    found = subprocess.run(["grep", "-rlF", text, "."], cwd=root, capture_output=True, text=True)
    return set(found.stdout.split())


def test_a_copy_runs_experiments_and_leaves_the_template_as_it_was(started_session: Repo, tmp_path: Path):
    template = started_session
    before = {"ledger": template.read("autoresearch.jsonl"), "head": template.git("rev-parse", "HEAD"),
              "worktrees": _worktrees(template)}
    copy = copy_repo(template, tmp_path / "copy")
    incumbent = copy.path / ".autoresearch" / "worktrees" / "incumbent"
    assert _worktrees(copy) == [str(copy.path), str(incumbent)]
    assert Repo(incumbent).git("rev-parse", "--git-common-dir") == str(copy.path / ".git")
    for checkout in (copy, Repo(incumbent)):  # clean, to the porcelain and to the index's stat data
        assert checkout.git("status", "--porcelain") == "" and checkout.git("diff-files") == ""
    # the template's path survives only where a signed record holds it: the baseline's logs
    assert _holding(copy.path, str(template.path)) == {"./autoresearch.jsonl"}
    baseline = copy.runs()[0]
    assert baseline["logs"] == str(template.path / ".autoresearch" / "runs" / "0001")
    assert json.dumps(copy.ledger()[1:]).count(str(template.path)) == 1

    copy.set("COST", 50)
    result = copy.cli_json("run", "-m", "halve the cost")
    assert result["verdict"] == "keep"
    assert Path(result["logs"]).is_relative_to(copy.path)
    assert result["incumbent_metric"] == 100  # measured in the copy's incumbent checkout
    assert copy.git("rev-parse", "HEAD") == result["commit"]
    assert Repo(incumbent).git("rev-parse", "HEAD") == before["head"]  # the incumbent it measured
    assert copy.git("status", "--porcelain") == "" and copy.cli_json("status")["counts"] == {"keep": 1}
    after = {"ledger": template.read("autoresearch.jsonl"), "head": template.git("rev-parse", "HEAD"),
             "worktrees": _worktrees(template)}
    assert after == before
