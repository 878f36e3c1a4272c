"""Coding-agent CLIs (Claude Code, Codex, Gemini, aider, opencode, pi) run headless as proposers."""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from autoresearch.errors import UsageError
from autoresearch.infra.git import Git
from autoresearch.infra.runner import run_command
from autoresearch.proposers.base import PROPOSAL_PLACEHOLDER, Brief, Proposal

log = logging.getLogger(__name__)

# Where an agent writes its description and hypothesis. At the repository root and not ignored by
# git, because some agents refuse to write into dot-directories or git-ignored paths (aider skips
# "files that match gitignore spec"); the harness reads and removes it before judging.
PROPOSAL_FILE = "autoresearch.proposal.md"



@dataclass(frozen=True)
class Preset:
    """A headless command line for one agent CLI, written for (and checked against) one version.

    `help` is the command whose `--help` must list every flag of `command` (a test checks it
    against the installed CLI); `scratch` are files the CLI writes into the repository for
    itself, kept out of candidates through `.git/info/exclude`.
    """

    command: str
    written_for: str
    help: str
    scratch: tuple[str, ...] = ()

    @property
    def program(self) -> str:
        return self.command.split()[0]


# Placeholders, each shell-quoted: {prompt} (the brief as one argument), {prompt_file},
# {workspace}, {files} (the files in scope), {protected} (tracked files the agent must not change,
# for CLIs that take read-only context). A list placeholder with a flag after a colon repeats the
# flag: {protected:--read} → `--read a.sh --read b.toml`.
PRESETS: dict[str, Preset] = {
    "claude": Preset("claude -p --permission-mode acceptEdits {prompt}", "Claude Code 2.1",
                     "claude --help", (".claude/settings.local.json",)),
    # `--full-auto` is gone since 0.14x; workspace-write lets it edit the working tree only.
    "codex": Preset("codex exec --sandbox workspace-write --skip-git-repo-check {prompt}",
                    "Codex CLI 0.171", "codex exec --help"),
    # Headless mode in a folder not yet trusted exits 55 unless the session trusts it.
    "gemini": Preset("gemini --approval-mode auto_edit --skip-trust -p {prompt}", "Gemini CLI 0.61",
                     "gemini --help", (".gemini/tmp/",)),
    # --no-gitignore: aider would otherwise add `.aider*` to .gitignore (an out-of-scope edit);
    # the harness excludes its scratch files instead. Protected files go in read-only, so aider
    # does not add them to its chat as editable when the brief names them.
    "aider": Preset("aider --yes-always --no-auto-commits --no-dirty-commits --no-gitignore "
                    "--no-auto-lint --no-auto-test --no-stream --no-pretty --no-fancy-input "
                    "--no-check-update --no-show-release-notes --no-detect-urls "
                    "--no-suggest-shell-commands --message-file {prompt_file} {files} "
                    "{protected:--read}", "aider 0.86", "aider --help", (".aider*",)),
    "opencode": Preset("opencode run {prompt}", "opencode 1.18", "opencode run --help"),
    "pi": Preset("pi -p {prompt}", "pi-coding-agent 0.73", "pi --help"),
}


class _Paths(list[str]):
    """A list placeholder: `{files}` quotes each path; `{files:--flag}` puts the flag before each."""

    def __format__(self, flag: str) -> str:
        return " ".join(f"{flag} {shlex.quote(p)}" if flag else shlex.quote(p) for p in self)


class AgentCommand:
    """Runs an agent command in the workspace with the brief; the agent edits files in place.

    >>> AgentCommand("my-agent --task-file {prompt_file}").name
    'agent:my-agent'
    >>> AgentCommand.preset("aider").scratch
    ('.aider*',)
    """

    parallel_safe = True  # each proposal is its own process in its own workspace

    def __init__(self, template: str, timeout_s: float = 1800, name: str | None = None,
                 scratch: tuple[str, ...] | None = None):
        self.template = template
        self.timeout_s = timeout_s
        try:
            words = shlex.split(template)
        except ValueError as exc:
            raise UsageError(f"the agent command is not a valid shell command line ({exc}): "
                             f"{template}") from None
        if not words:
            raise UsageError("the agent command is empty")
        program = Path(words[0]).name
        self.name = name or f"agent:{program}"
        # A custom command that runs a known CLI leaves that CLI's scratch files too.
        self.scratch = scratch if scratch is not None else next(
            (p.scratch for p in PRESETS.values() if p.program == program), ())

    @classmethod
    def preset(cls, agent: str, timeout_s: float = 1800) -> AgentCommand:
        if agent not in PRESETS:
            raise UsageError(f"unknown agent {agent!r}; presets: {', '.join(PRESETS)} "
                             "(or give any command with --agent-cmd)")
        preset = PRESETS[agent]
        return cls(preset.command, timeout_s, name=f"agent:{agent}", scratch=preset.scratch)

    def command(self, workspace: Path, brief: Brief, prompt: str, prompt_file: Path) -> str:
        """The shell command line for one proposal, placeholders filled in."""
        in_scope = files_in_scope(workspace, brief.scope)
        read_only = read_only_files(workspace, brief.protected, in_scope)
        return fill_placeholders(self.template, {
            "prompt": shlex.quote(prompt), "prompt_file": shlex.quote(str(prompt_file)),
            "workspace": shlex.quote(str(workspace)),
            "files": _Paths(f for f in in_scope if f not in read_only), "protected": _Paths(read_only),
        })

    def propose(self, workspace: Path, brief: Brief) -> Proposal | None:
        folder = workspace / ".autoresearch" / "proposals"
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"run-{brief.run:04d}"
        prompt_file = stem.with_suffix(".prompt.md")
        report_file = workspace / PROPOSAL_FILE
        report_file.unlink(missing_ok=True)
        prompt = brief.text.replace(PROPOSAL_PLACEHOLDER, PROPOSAL_FILE)
        prompt_file.write_text(prompt, encoding="utf-8")
        if self.scratch:
            from autoresearch.infra.workspace import exclude_paths

            exclude_paths(Git.discover(workspace), self.scratch, "agents' scratch files")
        result = run_command(self.command(workspace, brief, prompt, prompt_file), workspace,
                             stem.with_name(stem.name + "-agent"), self.timeout_s,
                             env={"AUTORESEARCH_PROPOSAL_FILE": str(report_file)})
        description, hypothesis = _take_report(report_file, stem.with_suffix(".proposal.md"))
        proposal = Proposal(description=description or "", hypothesis=hypothesis,
                            transcript=result.stdout_path)
        if result.timed_out:
            proposal.failed = f"the agent timed out after {self.timeout_s:g} s"
        elif result.returncode != 0:
            proposal.failed = f"the agent exited with code {result.returncode}: {result.tail(400).strip()}"
        return proposal


def fill_placeholders(template: str, values: dict[str, str | _Paths]) -> str:
    """Substitute the documented placeholders only; any other brace is the command's own.

    >>> fill_placeholders("jq '{a: .b}' {prompt_file} {files:--read} {unknown}",
    ...                   {"prompt_file": "p.md", "files": _Paths(["a b.py"])})
    "jq '{a: .b}' p.md --read 'a b.py' {unknown}"
    """
    def fill(m: re.Match[str]) -> str:
        value = values.get(m[1])
        if value is None or (m[2] is not None and not isinstance(value, _Paths)):
            return m[0]
        return format(value, m[2] or "")

    return _PLACEHOLDER.sub(fill, template)


_PLACEHOLDER = re.compile(r"\{(prompt|prompt_file|workspace|files|protected)(?::([^{}]*))?\}")


def _take_report(path: Path, keep_as: Path) -> tuple[str | None, str | None]:
    """Read the agent's report, move it out of the working tree; first line = description,
    a line `Hypothesis: ...` = hypothesis."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None, None
    keep_as.write_text(text, encoding="utf-8")
    path.unlink()
    lines = [line.strip() for line in text.splitlines()]
    hypothesis = next((line.split(":", 1)[1].strip() for line in lines
                       if line.lower().startswith("hypothesis:")), None)
    description = next((line.lstrip("# ").strip() for line in lines
                        if line and not line.lower().startswith("hypothesis:")), None)
    return description, hypothesis


def _tracked(workspace: Path) -> list[str]:
    out = Git(workspace).run("ls-files", "-z", check=False)
    return [f for f in out.split("\0") if f]


def files_in_scope(workspace: Path, scope: list[str]) -> list[str]:
    """Tracked files the agent may edit (all tracked files when the scope is open)."""
    from autoresearch.infra.workspace import glob_match

    return [f for f in _tracked(workspace) if not scope or any(glob_match(f, g) for g in scope)]


def read_only_files(workspace: Path, protected: list[str], in_scope: list[str]) -> list[str]:
    """Tracked files the brief names that the agent must not change: the protected files and,
    when the scope leaves it out, the research brief."""
    from autoresearch.config import BRIEF_FILE
    from autoresearch.infra.workspace import glob_match

    editable = set(in_scope)
    return [f for f in _tracked(workspace)
            if any(glob_match(f, g) for g in protected) or (f == BRIEF_FILE and f not in editable)]
