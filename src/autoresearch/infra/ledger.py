"""The append-only JSONL ledger, line-compatible with pi-autoresearch's `autoresearch.jsonl`.

Every line the harness writes carries `mac`: an HMAC-SHA256, keyed by a secret kept outside
the repository, over the previous line's mac and the line itself. A line anything else wrote
(a candidate's code, an agent) fails verification and is reported, never used.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    rejected: list[int] = field(default_factory=list)  # line numbers that failed verification
    tip: str = ""  # the mac of the last verified line: the next line chains from it

    @property
    def segment(self) -> int:
        """The current segment number (0 for the first header)."""
        return max(len(self.headers) - 1, 0)

    def segment_runs(self, segment: int | None = None) -> list[RunRecord]:
        seg = self.segment if segment is None else segment
        return [r for r in self.runs if r.segment == seg]

    def next_run(self) -> int:
        return max((r.run for r in self.runs), default=0) + 1


def signing_key(private: Path) -> bytes | None:
    """The key that signs this session's ledger, or None when it does not exist (yet).

    It lives under `$XDG_STATE_HOME/autoresearch/keys/` (default `~/.local/state`), outside
    the repository and every checkout, named by a random id kept in the private state.
    """
    id_file = private / "ledger-id"
    if not id_file.exists():
        return None
    path = _key_dir() / id_file.read_text().strip()
    return path.read_bytes().strip() if path.exists() else None


def make_signing_key(private: Path) -> bytes:
    """The session's signing key, created (0600, in a 0700 directory) on first use."""
    id_file = private / "ledger-id"
    if not id_file.exists():
        private.mkdir(parents=True, exist_ok=True)
        _create(id_file, secrets.token_hex(16).encode(), 0o644)
    path = _key_dir() / id_file.read_text().strip()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create(path, secrets.token_hex(32).encode(), 0o600)
    return path.read_bytes().strip()


def _key_dir() -> Path:
    return state_dir() / "keys"


def state_dir() -> Path:
    """The harness's own state outside every repository (the signing keys): hidden from sealed runs."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "autoresearch"


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file once; a concurrent creator wins and its content is kept."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _mac(key: bytes, previous: str, data: dict[str, Any]) -> str:
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, (previous + body).encode("utf-8"), hashlib.sha256).hexdigest()


def append(path: Path, record: BaseModel, key: bytes) -> None:
    """Append one signed JSON line atomically and durably (hold the session lock).

    One `write` on an O_APPEND descriptor puts the whole line at the end even with concurrent
    writers; fsync makes it survive a power cut.
    """
    text = _verified_line(record)
    mac = _mac(key, read(path, key).tip, json.loads(text))
    line = f'{text[:-1]},"mac":"{mac}"}}\n'
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
    return line


def _heal_torn_tail(fd: int, path: Path) -> None:
    """If a crash left a partial last line, end it so the next record starts on its own line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with path.open("rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) != b"\n":
            os.write(fd, b"\n")


def read(path: Path, key: bytes | None = None) -> Ledger:
    """Parse a ledger, using only lines that verify with `key`; the rest is reported, never fatal.

    Lines without a mac written before the first signed one come from before signing (or from
    pi-autoresearch) and are read with a warning; after it, an unsigned line is a forgery.
    A line that fails verification is skipped: the next genuine line still verifies, as it
    chains from the last genuine one (or, after a line edited in place, from the mac it kept).
    """
    ledger = Ledger()
    if not path.exists():
        return ledger
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    legacy = unverifiable = 0
    signed = False
    claimed = ""  # the mac the previous line carried, verified or not
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            mac = data.pop("mac", None) if isinstance(data, dict) else None
            if mac is None:
                if signed:
                    raise _Rejected("an unsigned line after signed ones")
                legacy += 1
            else:
                signed, previous = True, claimed
                claimed = str(mac)
                if key is None:
                    unverifiable += 1
                    continue
                if not any(hmac.compare_digest(str(mac), _mac(key, prev, data))
                           for prev in dict.fromkeys((ledger.tip, previous))):
                    raise _Rejected("its signature does not verify")
            _add(ledger, data)
            if mac is not None:
                ledger.tip = str(mac)
        except _Rejected as exc:
            ledger.rejected.append(number)
            ledger.warnings.append(f"{path.name}:{number}: not used: {exc} (the harness did not "
                                   "write this line, or it was changed)")
        except Exception as exc:
            ledger.warnings.append(f"{path.name}:{number}: skipped an unreadable line ({_short(exc)})")
    if legacy:
        ledger.warnings.append(f"{path.name}: {legacy} line(s) without a signature (from before "
                               "the ledger was signed) are read unverified")
    if unverifiable:
        ledger.warnings.append(f"{path.name}: {unverifiable} signed line(s) not used: this machine "
                               f"lacks the session's signing key (copy it into {_key_dir()} "
                               "from the machine that wrote them)")
    return ledger


class _Rejected(Exception):
    """A ledger line that fails verification."""


def _add(ledger: Ledger, data: dict[str, Any]) -> None:
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


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
