"""Continue a pi-autoresearch session: find its files and ledger, adopt its metric, import its history.

pi-autoresearch keeps a session either flat at the repository root (`autoresearch.md`, `.sh`,
`.checks.sh`, `.ideas.md`, `.jsonl`: the files this tool uses too) or, since 1.6, under `.auto/`
(`prompt.md`, `measure.sh`, `checks.sh`, `ideas.md`, `log.jsonl`). Its ledger lines are this
tool's own format minus the harness's fields, so its runs read as they are.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch import config as cfg
from autoresearch.infra import ledger
from autoresearch.model import ConfigHeader, RunRecord

AUTO_DIR = ".auto"


@dataclass(frozen=True)
class PiSession:
    """A pi-autoresearch session found in a repository."""

    layout: str  # "flat" or ".auto"
    ledger: Path
    header: ConfigHeader  # the current segment's
    runs: int
    benchmark: str | None = None  # for .auto: the files by their pi names
    checks: str | None = None
    brief: Path | None = None
    ideas: Path | None = None

    @property
    def label(self) -> str:
        return f"pi-autoresearch session {self.header.name!r} ({self.layout} layout, {self.runs} runs)"


def detect(root: Path) -> PiSession | None:
    """The pi-autoresearch session in `root`, if there is one and no session of this tool yet.

    The `.auto/` layout wins when both exist, as in pi-autoresearch itself.
    """
    if (root / cfg.CONFIG_FILE).exists():
        return None
    auto = root / AUTO_DIR
    if (auto / "log.jsonl").exists():
        book = ledger.read(auto / "log.jsonl")
        if not book.headers:
            return None

        def present(name: str) -> Path | None:
            return auto / name if (auto / name).exists() else None

        return PiSession(".auto", auto / "log.jsonl", book.headers[-1], len(book.runs),
                         benchmark=f"./{AUTO_DIR}/measure.sh" if present("measure.sh") else None,
                         checks=f"./{AUTO_DIR}/checks.sh" if present("checks.sh") else None,
                         brief=present("prompt.md"), ideas=present("ideas.md"))
    flat = root / cfg.LEDGER_FILE
    if flat.exists() and _written_by_pi(flat):
        book = ledger.read(flat)
        if book.headers:
            return PiSession("flat", flat, book.headers[-1], len(book.runs))
    return None


def _written_by_pi(path: Path) -> bool:
    """pi-autoresearch's lines carry no `verdict` (runs) and no `schema_version` (headers)."""
    for raw in path.read_bytes().splitlines():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict) and ("verdict" in data or "schema_version" in data):
            return False
    return True


def session_name(header_name: str) -> str:
    """A branch-safe session name from pi's free-text one.

    >>> session_name("Optimizing liquid: parse + render")
    'optimizing-liquid-parse-render'
    """
    slug = re.sub(r"[^a-z0-9._-]+", "-", header_name.lower()).strip("-._")
    return re.sub(r"\.{2,}", ".", slug)[:60].rstrip("-._") or "pi-session"


def adopt(opts: Any, pi: PiSession) -> Any:  # scaffold.InitOptions (imported: a cycle)
    """`opts` (InitOptions) completed from the pi session: flags given on the command line win."""
    h = pi.header
    adopted = dataclasses.replace(
        opts, name=opts.name or session_name(h.name), metric=opts.metric or h.metricName,
        unit=opts.unit if opts.unit is not None else h.metricUnit,
        direction=opts.direction or h.bestDirection)
    if pi.benchmark and opts.benchmark == f"./{cfg.BENCHMARK_FILE}":
        adopted = dataclasses.replace(adopted, benchmark=pi.benchmark)
    if pi.checks and opts.checks is None:
        adopted = dataclasses.replace(adopted, checks=pi.checks)
    return adopted


def import_files(root: Path, pi: PiSession) -> list[str]:
    """Copy the `.auto/` brief and ideas to this tool's names (when absent); return those made."""
    made = []
    for source, target in ((pi.brief, cfg.BRIEF_FILE), (pi.ideas, cfg.IDEAS_FILE)):
        if source is not None and not (root / target).exists():
            shutil.copyfile(source, root / target)
            made.append(target)
    return made


def import_ledger(path: Path, pi: PiSession) -> list[str]:
    """Bring pi's ledger lines into this session's ledger at `path`, verbatim; return notes.

    The flat layout's ledger already is that file. Lines that do not parse are carried over
    too, so `log` warns about them exactly as pi's own ledger would.
    """
    if pi.ledger.resolve() != path.resolve():
        text = pi.ledger.read_text(encoding="utf-8")
        path.write_text(text if text.endswith("\n") or not text else text + "\n", encoding="utf-8")
    book = ledger.read(path)
    segment = book.segment_runs()
    best = _best(segment, pi.header.bestDirection)
    notes = [f"continued the {pi.label}: `autoresearch log` shows its runs"]
    if best is not None:
        notes.append(f"its best kept {pi.header.metricName} = {best:g}{pi.header.metricUnit} (run "
                     f"{next(r.run for r in segment if r.metric == best)}) is the reference; every "
                     "candidate is still measured against the incumbent itself, interleaved")
    return notes


def _best(runs: Sequence[RunRecord], direction: str) -> float | None:
    kept = [r.metric for r in runs if r.status == "keep" and r.metric is not None]
    if not kept:
        return None
    return float(min(kept) if direction == "lower" else max(kept))


def describe(pi: PiSession) -> dict[str, object]:
    """The facts `init --json` reports about an imported session."""
    return {"layout": pi.layout, "name": pi.header.name, "metric": pi.header.metricName,
            "unit": pi.header.metricUnit, "direction": pi.header.bestDirection, "runs": pi.runs,
            "ledger": str(pi.ledger)}


__all__ = ["PiSession", "adopt", "describe", "detect", "import_files", "import_ledger"]
