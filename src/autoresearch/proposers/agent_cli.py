"""Coding-agent CLIs (Claude Code, Codex, Gemini, aider, opencode, pi) run headless as proposers."""

from __future__ import annotations

import shlex
from pathlib import Path

from autoresearch.git import Git
from autoresearch.proposers.base import Brief, Proposal
from autoresearch.runner import run_command

# Each preset was written against the agent's documented headless mode at the version noted;
# `--agent-cmd` takes any other command line. Placeholders: {prompt} (the brief as one quoted
# argument), {prompt_file}, {workspace}, {files} (files in scope, quoted).
PRESETS: dict[str, tuple[str, str]] = {
    "claude": ("claude -p --permission-mode acceptEdits {prompt}", "Claude Code 2.x"),
    "codex": ("codex exec --full-auto --skip-git-repo-check {prompt}", "Codex CLI 0.14x"),
    "gemini": ("gemini --approval-mode auto_edit -p {prompt}", "Gemini CLI 0.6x"),
    "aider": ("aider --yes-always --no-auto-commits --no-stream --message-file {prompt_file} {files}",
              "aider 0.8x"),
    "opencode": ("opencode run {prompt}", "opencode 1.x"),
    "pi": ("pi -p {prompt}", "pi-coding-agent (pi -p print mode)"),
}


class AgentCommand:
    """Runs an agent command in the workspace with the brief; the agent edits files in place.

    >>> AgentCommand("my-agent --task-file {prompt_file}").name
    'agent:my-agent'
    """

    def __init__(self, template: str, timeout_s: float = 1800, name: str | None = None):
        self.template = template
        self.timeout_s = timeout_s
        self.name = name or f"agent:{shlex.split(template)[0]}"

    @classmethod
    def preset(cls, agent: str, timeout_s: float = 1800) -> AgentCommand:
        if agent not in PRESETS:
            from autoresearch.errors import UsageError

            raise UsageError(f"unknown agent {agent!r}; presets: {', '.join(PRESETS)} "
                             "(or give any command with --agent-cmd)")
        return cls(PRESETS[agent][0], timeout_s, name=f"agent:{agent}")

    def propose(self, workspace: Path, brief: Brief) -> Proposal | None:
        folder = workspace / ".autoresearch" / "proposals"
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"run-{brief.run:04d}"
        prompt_file = stem.with_suffix(".prompt.md")
        report_file = stem.with_suffix(".proposal.md")
        report_file.unlink(missing_ok=True)
        rel_report = report_file.relative_to(workspace)
        prompt = brief.text.replace(PROPOSAL_PLACEHOLDER, str(rel_report))
        prompt_file.write_text(prompt, encoding="utf-8")
        command = self.template.format(
            prompt=shlex.quote(prompt), prompt_file=shlex.quote(str(prompt_file)),
            workspace=shlex.quote(str(workspace)),
            files=" ".join(shlex.quote(f) for f in files_in_scope(workspace, brief.scope)),
        )
        result = run_command(command, workspace, stem.with_name(stem.name + "-agent"), self.timeout_s,
                             env={"AUTORESEARCH_PROPOSAL_FILE": str(report_file)})
        description, hypothesis = _read_report(report_file)
        proposal = Proposal(description=description or "", hypothesis=hypothesis,
                            transcript=result.stdout_path)
        if result.timed_out:
            proposal.failed = f"the agent timed out after {self.timeout_s:g} s"
        elif result.returncode != 0:
            proposal.failed = f"the agent exited with code {result.returncode}: {result.tail(400).strip()}"
        return proposal


PROPOSAL_PLACEHOLDER = "{proposal_file}"


def _read_report(path: Path) -> tuple[str | None, str | None]:
    """First line = description; a line `Hypothesis: ...` = hypothesis."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except FileNotFoundError:
        return None, None
    hypothesis = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("hypothesis:")), None)
    description = next((l.lstrip("# ").strip() for l in lines
                        if l and not l.lower().startswith("hypothesis:")), None)
    return description, hypothesis


def files_in_scope(workspace: Path, scope: list[str]) -> list[str]:
    """Tracked files the agent may edit (all tracked files when the scope is open)."""
    from autoresearch.workspace import glob_match

    out = Git(workspace).run("ls-files", "-z", check=False)
    files = [f for f in out.split("\0") if f]
    return [f for f in files if not scope or any(glob_match(f, g) for g in scope)]
