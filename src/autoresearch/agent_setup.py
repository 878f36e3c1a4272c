"""`autoresearch setup --agent NAME`: install an agent's instructions and register the MCP server.

Every file is changed idempotently, backed up first, and recorded in a manifest under
`.autoresearch/setup/`, so `--remove` puts each one back exactly as it was (or, when the user
edited it since, takes out only what setup added).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoresearch.errors import UsageError

log = logging.getLogger(__name__)

START, END = "<!-- autoresearch:start -->", "<!-- autoresearch:end -->"
SERVER = "autoresearch"

GUIDE = """\
This repository runs an autoresearch session: optimization experiments that a harness measures
and judges. You propose changes; the harness decides.

1. Read the brief: the MCP tool `brief`, or `autoresearch brief`. It names the metric, the files
   you may change, the protected files, what was tried and what failed.
2. Make ONE focused change to files in scope.
3. Have it judged: the MCP tool `run_experiment` (description, hypothesis), or
   `autoresearch run -m "<what you changed>" --hypothesis "<why it should help>" --json`.
   The harness runs the checks, measures the change against the current best, and keeps it
   (commits) or discards it (restores the files). A long experiment keeps running if your call
   times out: fetch its verdict with the MCP tool `result` or `autoresearch log`.
4. Read the verdict and reason, then decide the next change.

Never commit, revert, or edit the benchmark, the checks or `autoresearch.toml` (such a change
is discarded as tampered), and never judge a change by your own run of the benchmark: the
harness measures each change against the current best, interleaved and repeated.
`status` and `log` show the history; `add_idea` (or `autoresearch idea "..."`) records an idea.
"""

SKILL = f"""\
---
name: autoresearch
description: Run measured optimization experiments in this repository with the autoresearch
  harness. Use when asked to make this code faster or smaller, or to continue an autoresearch
  session; the harness (MCP tools brief, run_experiment, result, status, log) judges each change.
---

# autoresearch

{GUIDE}"""

CURSOR_RULE = f"""\
---
description: autoresearch optimization session (measured experiments judged by the harness)
alwaysApply: false
---

# autoresearch

{GUIDE}"""


@dataclass
class Change:
    """One thing setup did (or would undo) and how it went."""

    path: str
    action: str  # created | updated | unchanged | removed | restored | registered | skipped | ...
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "action": self.action, "detail": self.detail}


@dataclass
class SetupResult:
    agent: str
    removed: bool
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.action not in ("unchanged", "skipped", "absent") for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "removed": self.removed, "changed": self.changed,
                "changes": [c.as_dict() for c in self.changes]}


class _Manifest:
    """What setup changed in this repository, with backups: `.autoresearch/setup/<agent>.json`."""

    def __init__(self, root: Path, agent: str):
        self.folder = root / ".autoresearch" / "setup"
        self.path = self.folder / f"{agent}.json"
        self.entries: dict[str, dict[str, Any]] = (
            json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {})

    def record(self, target: Path, before: bytes | None) -> None:
        """Remember the state before setup first touched `target` (later touches keep it)."""
        key = str(target)
        if key in self.entries:
            return
        entry: dict[str, Any] = {"existed": before is not None}
        if before is not None:
            backup = self.folder / "backups" / f"{int(time.time() * 1000)}-{target.name}"
            backup.parent.mkdir(parents=True, exist_ok=True)
            backup.write_bytes(before)
            entry["backup"] = str(backup)
        self.entries[key] = entry

    def wrote(self, target: Path, after: bytes) -> None:
        self.entries[str(target)]["after"] = after.decode("utf-8", "surrogateescape")

    def save(self) -> None:
        if self.entries:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.entries, indent=2), encoding="utf-8")
        elif self.path.exists():
            self.path.unlink()
            _prune(self.folder, self.folder.parent.parent)


# --- file edits that can be undone exactly ---------------------------------------------------


def _install(manifest: _Manifest, target: Path, edit: Callable[[str | None], str], label: str,
             changes: list[Change]) -> None:
    before = target.read_bytes() if target.exists() else None
    old = before.decode("utf-8") if before is not None else None
    new = edit(old)
    if old == new:
        changes.append(Change(label, "unchanged"))
        return
    manifest.record(target, before)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(new, encoding="utf-8")
    manifest.wrote(target, new.encode("utf-8"))
    changes.append(Change(label, "created" if before is None else "updated"))


def _uninstall(manifest: _Manifest, target: Path, strip: Callable[[str], str], label: str,
               changes: list[Change], root: Path) -> None:
    entry = manifest.entries.pop(str(target), None)
    if not target.exists():
        changes.append(Change(label, "absent"))
        return
    current = target.read_text(encoding="utf-8")
    if entry is not None and current == entry.get("after"):
        if entry["existed"]:
            backup = Path(entry["backup"])
            target.write_bytes(backup.read_bytes())
            backup.unlink()
            _prune(backup.parent, root)
            changes.append(Change(label, "restored"))
        else:
            target.unlink()
            _prune(target.parent, root)
            changes.append(Change(label, "removed"))
        return
    # Edited since (or set up by hand): take out only what setup adds.
    stripped = strip(current)
    if stripped == current:
        changes.append(Change(label, "unchanged", "nothing of autoresearch's in it"))
    elif not stripped.strip() and entry is not None and not entry["existed"]:
        target.unlink()
        _prune(target.parent, root)
        changes.append(Change(label, "removed"))
    else:
        target.write_text(stripped, encoding="utf-8")
        changes.append(Change(label, "updated", "removed the autoresearch part, kept your edits"))


def _prune(directory: Path, root: Path) -> None:
    """Remove folders setup made that are now empty (never the repository or home itself)."""
    stop = {root, Path.home()}
    while directory not in stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def _with_section(text: str | None) -> str:
    block = f"{START}\n## autoresearch\n\n{GUIDE}{END}\n"
    if text is None or not text.strip():
        return block
    if START in text and END in text:
        head, rest = text.split(START, 1)
        return head + block.rstrip("\n") + rest.split(END, 1)[1]
    return text + ("" if text.endswith("\n") else "\n") + "\n" + block


def _without_section(text: str) -> str:
    if START not in text or END not in text:
        return text
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    tail = tail.removeprefix("\n")
    head = head[:-1] if head.endswith("\n\n") else head
    return head + tail


def _whole(content: str) -> tuple[Callable[[str | None], str], Callable[[str], str]]:
    """A file setup owns entirely: written as `content`, removed whole."""
    return (lambda _old: content), (lambda text: "" if text == content else text)


def _json_server(entry: dict[str, Any], key: str = "mcpServers"
                 ) -> tuple[Callable[[str | None], str], Callable[[str], str]]:
    """A JSON settings file with our server under `key`; other settings are kept."""

    def add(text: str | None) -> str:
        data = json.loads(text) if text and text.strip() else {}
        if data.get(key, {}).get(SERVER) == entry:
            return text or ""
        data.setdefault(key, {})[SERVER] = entry
        return json.dumps(data, indent=2) + "\n"

    def strip(text: str) -> str:
        data = json.loads(text)
        if SERVER not in data.get(key, {}):
            return text
        del data[key][SERVER]
        if not data[key]:
            del data[key]
        return json.dumps(data, indent=2) + "\n" if data else ""

    return add, strip


def _toml_server(command: str) -> tuple[Callable[[str | None], str], Callable[[str], str]]:
    """Codex's `~/.codex/config.toml`: an `[mcp_servers.autoresearch]` table, appended as text so
    the rest of the file (comments included) stays byte for byte."""
    block = (f"\n# added by `autoresearch setup --agent codex`\n[mcp_servers.{SERVER}]\n"
             f"command = {json.dumps(command)}\nargs = [\"mcp\"]\n")

    def add(text: str | None) -> str:
        text = text or ""
        if SERVER in tomllib.loads(text).get("mcp_servers", {}):
            return text
        return text + ("" if not text or text.endswith("\n") else "\n") + block

    def strip(text: str) -> str:
        return text.replace(block, "", 1)

    return add, strip


# --- agents -----------------------------------------------------------------------------------

AGENTS = ("claude", "codex", "gemini", "cursor", "opencode", "pi")


def setup_agent(root: Path, agent: str, remove: bool = False) -> SetupResult:
    """Install (or with `remove`, undo) `agent`'s instructions and MCP registration for `root`."""
    if agent not in AGENTS:
        raise UsageError(f"unknown agent {agent!r}; setup knows {', '.join(AGENTS)}")
    manifest = _Manifest(root, agent)
    result = SetupResult(agent, remove)
    command = shutil.which("autoresearch") or "autoresearch"
    home = Path.home()
    files: list[tuple[Path, tuple[Callable[[str | None], str], Callable[[str], str]], str]] = []
    section = (_with_section, _without_section)
    if agent == "claude":
        files.append((root / ".claude/skills/autoresearch/SKILL.md", _whole(SKILL),
                      ".claude/skills/autoresearch/SKILL.md"))
    elif agent == "codex":
        files.append((root / "AGENTS.md", section, "AGENTS.md"))
        codex_home = Path(os.environ.get("CODEX_HOME") or home / ".codex")
        files.append((codex_home / "config.toml", _toml_server(command), str(codex_home / "config.toml")))
    elif agent == "gemini":
        files.append((root / "GEMINI.md", section, "GEMINI.md"))
        files.append((root / ".gemini/settings.json", _json_server({"command": command, "args": ["mcp"]}),
                      ".gemini/settings.json"))
    elif agent == "cursor":
        files.append((root / ".cursor/rules/autoresearch.mdc", _whole(CURSOR_RULE),
                      ".cursor/rules/autoresearch.mdc"))
        files.append((root / ".cursor/mcp.json", _json_server({"command": command, "args": ["mcp"]}),
                      ".cursor/mcp.json"))
    elif agent == "opencode":
        files.append((root / "AGENTS.md", section, "AGENTS.md"))
        files.append((root / "opencode.json",
                      _json_server({"type": "local", "command": [command, "mcp"], "enabled": True}, "mcp"),
                      "opencode.json"))
    else:  # pi reads AGENTS.md and has no MCP client
        files.append((root / "AGENTS.md", section, "AGENTS.md"))
    for target, (add, strip), label in files:
        if remove:
            _uninstall(manifest, target, strip, label, result.changes, root)
        else:
            _install(manifest, target, add, label, result.changes)
    if agent == "claude":
        result.changes.append(_claude_mcp(root, command, remove, manifest))
    elif agent == "pi" and not remove:
        result.changes.append(Change("mcp", "skipped", "pi has no MCP client; it calls "
                                     "`autoresearch run ... --json` as AGENTS.md says"))
    manifest.save()
    if not remove:
        _not_a_candidate(root, [str(t.relative_to(root)) for t, _, _ in files if _inside(t, root)])
    return result


def _claude_mcp(root: Path, command: str, remove: bool, manifest: _Manifest) -> Change:
    """Claude Code keeps MCP servers in its own config: change it only through `claude mcp`."""
    label = "claude mcp (local scope)"
    registered = _claude_has_server(root)
    if shutil.which("claude") is None:
        manual = ("claude mcp remove autoresearch" if remove
                  else f"claude mcp add {SERVER} -- {command} mcp")
        return Change(label, "skipped", f"claude is not installed; run `{manual}` in the repository")
    if remove:
        made = manifest.entries.pop("claude-mcp", None)
        if made and made.get("backup"):
            Path(made["backup"]).unlink(missing_ok=True)
            _prune(Path(made["backup"]).parent, root)
        if not made or not registered:
            return Change(label, "unchanged", "not registered by setup" if registered else "not registered")
        _run(["claude", "mcp", "remove", SERVER, "-s", "local"], root)
        return Change(label, "removed")
    if registered:
        return Change(label, "unchanged")
    config = Path.home() / ".claude.json"
    entry: dict[str, Any] = {"registered": True}
    if config.exists():  # claude rewrites its whole config: keep a copy of it as it was
        backup = manifest.folder / "backups" / f"{int(time.time() * 1000)}-claude.json"
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(config, backup)
        entry["backup"] = str(backup)
    _run(["claude", "mcp", "add", SERVER, "-s", "local", "--", command, "mcp"], root)
    manifest.entries["claude-mcp"] = entry
    return Change(label, "registered", f"{SERVER}: {command} mcp")


def _claude_has_server(root: Path) -> bool:
    config = Path.home() / ".claude.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return SERVER in data.get("projects", {}).get(str(root), {}).get("mcpServers", {})


def _run(argv: list[str], cwd: Path) -> None:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        from autoresearch.errors import AutoresearchError

        raise AutoresearchError(f"`{' '.join(argv)}` failed ({proc.returncode}): "
                                f"{(proc.stderr or proc.stdout).strip()[-500:]}")


def _inside(path: Path, root: Path) -> bool:
    return path.is_relative_to(root)


def _not_a_candidate(root: Path, written: list[str]) -> None:
    """Files setup writes into a repository with a session are the user's, never a candidate's."""
    from autoresearch.infra.git import Git
    from autoresearch.infra.state import Paths, read_json, write_json

    paths = Paths.of(Git(root))
    data = read_json(paths.preexisting)
    if data is None:
        return  # no session yet: `init` marks every untracked file as the user's
    known = set(data.get("paths", []))
    if not set(written) <= known:
        write_json(paths.preexisting, {**data, "paths": sorted(known | set(written))})
