"""The append-only JSONL ledger, line-compatible with pi-autoresearch's `autoresearch.jsonl`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from autoresearch.errors import AutoresearchError
from autoresearch.model import AblationRecord, ConfigHeader, ConfirmRecord, RunRecord


@dataclass
class Ledger:
    """Everything read from a ledger file."""

    headers: list[ConfigHeader] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    confirms: list[ConfirmRecord] = field(default_factory=list)
    ablations: list[AblationRecord] = field(default_factory=list)

    @property
    def segment(self) -> int:
        """The current segment number (0 for the first header)."""
        return max(len(self.headers) - 1, 0)

    def segment_runs(self, segment: int | None = None) -> list[RunRecord]:
        seg = self.segment if segment is None else segment
        return [r for r in self.runs if r.segment == seg]

    def next_run(self) -> int:
        return max((r.run for r in self.runs), default=0) + 1


def append(path: Path, record: BaseModel) -> None:
    """Append one JSON line atomically and durably.

    One `write` on an O_APPEND descriptor puts the whole line at the end even with concurrent
    writers; fsync makes it survive a power cut.
    """
    line = _verified_line(record)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _heal_torn_tail(fd, path)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


class LedgerWriteError(AutoresearchError):
    """A record that would not read back; it is not written."""


def _verified_line(record: BaseModel) -> str:
    """The record as one JSON line, proven to read back as the same record.

    A line the reader cannot parse would be skipped by every later command: the experiment
    would vanish and its run number be handed out again.
    """
    try:
        line = record.model_dump_json(exclude_none=False)
        again = type(record).model_validate_json(line).model_dump_json(exclude_none=False)
    except (ValueError, TypeError) as exc:
        raise LedgerWriteError(f"run record not written: it does not serialize ({_short(exc)})") from None
    if again != line or "\n" in line:
        raise LedgerWriteError("run record not written: it does not read back as written")
    return line + "\n"


def _heal_torn_tail(fd: int, path: Path) -> None:
    """If a crash left a partial last line, end it so the next record starts on its own line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with path.open("rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) != b"\n":
            os.write(fd, b"\n")


def read(path: Path) -> Ledger:
    """Parse a ledger; a torn or foreign line is skipped with a warning, never fatal."""
    ledger = Ledger()
    if not path.exists():
        return ledger
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if data.get("type") == "config":
                ledger.headers.append(ConfigHeader.model_validate(data))
            elif data.get("type") == "confirm":
                ledger.confirms.append(ConfirmRecord.model_validate(data))
            elif data.get("type") == "ablation":
                ledger.ablations.append(AblationRecord.model_validate(data))
            else:
                data.setdefault("segment", ledger.segment)
                if "verdict" not in data:  # pi-autoresearch's line: its verdict is its status,
                    first = not any(r.segment == data["segment"] for r in ledger.runs)
                    # and the first run of a segment is that segment's baseline.
                    keep = data.get("status") == "keep"
                    data["verdict"] = "baseline" if first and keep else data.get("status", "discard")
                    data.setdefault("run", len(ledger.runs) + 1)
                ledger.runs.append(RunRecord.model_validate(data))
        except Exception as exc:  # noqa: BLE001 — any unreadable line is reported, not fatal
            ledger.warnings.append(f"{path.name}:{number}: skipped an unreadable line ({_short(exc)})")
    return ledger


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
