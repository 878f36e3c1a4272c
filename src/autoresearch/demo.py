"""`autoresearch demo`: a whole session on a bundled example, offline, with no API key."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.errors import UsageError
from autoresearch.infra.git import Git
from autoresearch.model import RunRecord
from autoresearch.progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from autoresearch.loop import Budget, View
    from autoresearch.session import Session

EXAMPLES = Path(__file__).parent / "examples"
SKIP = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc", "weights", ".autoresearch",
                              "autoresearch.jsonl")


def examples() -> list[str]:
    """Names of the bundled examples."""
    return sorted(p.name for p in EXAMPLES.iterdir() if (p / "autoresearch.toml").exists())


@dataclass
class DemoResult:
    """Where the demo ran and what the session decided."""

    repo: Path
    example: str
    runs: list[RunRecord] = field(default_factory=list)
    stop_reason: str | None = None


def prepare(example: str, directory: Path | None) -> Path:
    """Copy an example into a fresh git repository with one commit; return its path.

    >>> prepare("template-engine", None)  # doctest: +SKIP
    PosixPath('/tmp/autoresearch-demo-k2j3/template-engine')
    """
    if example not in examples():
        raise UsageError(f"no example {example!r}; examples: {', '.join(examples())}")
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="autoresearch-demo-")) / example
    elif directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty; give a new or empty --dir")
    shutil.copytree(EXAMPLES / example, directory, ignore=SKIP, dirs_exist_ok=True)
    for script in directory.glob("*.sh"):  # an installed package may not keep the mode bits
        script.chmod(0o755)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=directory, check=True)
    git = Git(directory)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", f"{example}: example project", env=git.identity())
    return directory


def run_demo(example: str, directory: Path | None, make_view: Callable[[Session, Budget], View],
             progress: Progress = lambda _: None) -> DemoResult:
    """Prepare the example, start a session, and judge every bundled candidate patch."""
    from autoresearch.loop import Budget, run_loop
    from autoresearch.proposers.patches import PatchFolder
    from autoresearch.scaffold import InitOptions, init_session
    from autoresearch.session import open_session

    repo = prepare(example, directory)
    progress(ProgressEvent(f"example copied to {repo}"))
    init_session(repo, InitOptions(name="", metric=""), progress)
    session = open_session(repo)
    budget = Budget(max_failures=1000)  # the bad candidates are the point of the demo
    view = make_view(session, budget)
    try:
        state = run_loop(repo, PatchFolder(repo / "candidates", tried=set()), budget, view)
    finally:
        view.close()
    return DemoResult(repo, example, [r for r in session.ledger().runs], state.stop_reason)
