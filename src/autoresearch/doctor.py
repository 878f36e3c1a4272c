"""What this machine supports for sealed, exact measurement, and how to get the rest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autoresearch.measure.sandbox import INSTALL_HINT, probe


@dataclass(frozen=True)
class Check:
    """One finding: whether it is fine, what was seen, and what to do when it is not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


# Run in each interpreter a benchmark may use: the distributions installed in editable mode,
# with the directory each one points to.
_EDITABLE = r"""
import json, sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse
found = []
for dist in metadata.distributions():
    text = dist.read_text("direct_url.json")
    if text:
        info = json.loads(text)
        if info.get("dir_info", {}).get("editable"):
            found.append([dist.metadata["Name"], unquote(urlparse(info["url"]).path)])
for entry in sys.path:
    folder = Path(entry or ".")
    if folder.is_dir():
        for link in folder.glob("*.egg-link"):
            found.append([link.stem, link.read_text().splitlines()[0].strip()])
print(json.dumps(found))
"""


def diagnose(repo: Path | None) -> Report:
    """Everything `autoresearch doctor` reports; `repo` is the session's repository, if any."""
    checks = [_sandbox(), _user_namespaces(), _valgrind()]
    if repo is not None:
        checks.append(_editable(repo))
    return Report(checks)


def _sandbox() -> Check:
    support = probe()
    if support.works:
        return Check("sandbox", True, f"bubblewrap {support.version} at {support.bwrap} seals build, checks "
                     "and benchmark runs")
    return Check("sandbox", False, support.problem or "bubblewrap does not work",
                 INSTALL_HINT if support.bwrap is None else
                 "allow user namespaces for bubblewrap (see the user-namespaces check)")


def _user_namespaces() -> Check:
    if os.geteuid() == 0:
        return Check("user namespaces", True, "running as root: bubblewrap needs none")
    limit = _read_int("/proc/sys/user/max_user_namespaces")
    allowed = _read_int("/proc/sys/kernel/unprivileged_userns_clone")
    apparmor = _read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    if limit == 0 or allowed == 0:
        return Check("user namespaces", False, "unprivileged user namespaces are disabled",
                     "sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000")
    if apparmor == 1:
        return Check("user namespaces", False, "AppArmor restricts unprivileged user namespaces",
                     "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or install an AppArmor "
                     "profile for bwrap")
    return Check("user namespaces", True, f"available (limit {limit})" if limit else "available")


def _valgrind() -> Check:
    path = shutil.which("valgrind")
    if path is None:
        return Check("valgrind", False, "not installed: `--measure instructions` is unavailable",
                     "Debian/Ubuntu: apt-get install valgrind")
    version = subprocess.run([path, "--version"], check=False, capture_output=True, text=True).stdout.strip()
    return Check("valgrind", True, f"{version} at {path}: `--measure instructions` counts exactly")


def _editable(repo: Path) -> Check:
    """The editable-install trap: both checkouts would import the same live copy of the code."""
    interpreters = dict.fromkeys(
        p for p in (sys.executable, shutil.which("python3"), shutil.which("python")) if p)
    trapped: dict[tuple[str, str], str] = {}
    for python in interpreters:
        try:
            out = subprocess.run([python, "-c", _EDITABLE], check=False, capture_output=True, text=True,
                                 timeout=60, cwd=repo).stdout
            found = json.loads(out or "[]")
        except (OSError, subprocess.TimeoutExpired, ValueError):
            continue
        for name, target in found:
            if target and Path(target).resolve().is_relative_to(repo.resolve()):
                trapped.setdefault((name, target), python)
    if trapped:
        found = "; ".join(f"{name} (-> {target}) in {python}" for (name, target), python in trapped.items())
        return Check("editable install", False,
                     f"installed in editable mode from this repository: {found}. "
                     "A benchmark that imports it gets the working tree's code in both checkouts, "
                     "so every comparison is A/A",
                     "make the benchmark import the code from its own checkout (for Python: put the "
                     "script's directory first on sys.path), or uninstall the editable copy")
    return Check("editable install", True, "no package of this repository is installed in editable mode")


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None
