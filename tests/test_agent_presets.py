"""Agent presets against the real CLIs: every flag a preset passes is one the installed CLI lists."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo

from autoresearch.proposers.agent_cli import PRESETS, AgentCommand, Preset
from autoresearch.proposers.base import Brief


def flags_of(preset: Preset) -> list[str]:
    """The options a preset passes, including those a list placeholder repeats ({x:--read})."""
    words = shlex.split(re.sub(r"\{\w+(?::([^}]*))?\}", lambda m: m[1] or "", preset.command))
    return [w for w in words if w.startswith("-")]


def test_flags_of_reads_placeholder_flags():
    assert flags_of(PRESETS["aider"])[-2:] == ["--message-file", "--read"]
    assert flags_of(PRESETS["codex"]) == ["--sandbox", "--skip-git-repo-check"]


@pytest.mark.agent_cli
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_flags_are_listed_by_the_installed_cli(name: str, tmp_path: Path):
    preset = PRESETS[name]
    if shutil.which(preset.program) is None:
        pytest.skip(f"{preset.program} is not installed (the preset is written for "
                    f"{preset.written_for}; .ci/run installs it when the registry is reachable)")
    # A private HOME: a CLI's first start must not read or write the user's settings.
    env = {**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1", "CI": "1"}
    proc = subprocess.run(shlex.split(preset.help), capture_output=True, text=True, timeout=120, check=False,
                          env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-2000:]
    missing = [f for f in flags_of(preset) if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
    assert missing == [], f"`{preset.help}` does not list {missing} (preset for {preset.written_for})"


def test_placeholders_quote_files_and_repeat_flags(session: Repo):
    session.write("src/my file.py", "x = 1\n")
    session.git("add", "-A")
    session.git("commit", "-qm", "more")
    agent = AgentCommand("tool {files} {protected:--read} -m {prompt} {prompt_file}")
    brief = Brief(text="t", metric="cost", direction="lower", scope=["work.py", "src/**"],
                  protected=["autoresearch.sh", "autoresearch.toml", "work.py"], run=2)
    line = agent.command(session.path, brief, "make it fast", Path("/tmp/p q.md"))
    assert shlex.split(line) == [
        "tool", "src/my file.py",  # work.py is in scope but protected: read only
        "--read", "autoresearch.md", "--read", "autoresearch.sh", "--read", "autoresearch.toml",
        "--read", "work.py", "-m", "make it fast", "/tmp/p q.md"]


def test_a_custom_command_running_a_known_cli_keeps_its_scratch_out():
    assert AgentCommand("/opt/bin/aider --model x {files}").scratch == (".aider*",)
    assert AgentCommand("my-agent {prompt}").scratch == ()
