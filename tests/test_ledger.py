"""The ledger: pi-autoresearch-compatible lines, atomic appends, torn lines survived."""

from __future__ import annotations

import json
from pathlib import Path

from autoresearch.infra import ledger
from autoresearch.model import ConfigHeader, RunRecord


def _record(run: int) -> RunRecord:
    return RunRecord(run=run, status="keep", verdict="keep", timestamp=1, metric=1.5,
                     description=f"run {run}")


def test_append_and_read_back(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    ledger.append(path, ConfigHeader(name="s", metricName="t", bestDirection="lower"))
    ledger.append(path, _record(1))
    ledger.append(path, _record(2))
    book = ledger.read(path)
    assert [r.run for r in book.runs] == [1, 2] and book.next_run() == 3
    assert not book.warnings
    first = json.loads(path.read_text().splitlines()[1])
    for key in ("run", "commit", "metric", "metrics", "status", "description", "timestamp",
                "segment", "confidence", "asi"):
        assert key in first


def test_torn_last_line_is_skipped_with_a_warning_and_healed(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    ledger.append(path, _record(1))
    with path.open("a") as fh:
        fh.write('{"run": 2, "status": "ke')  # a crash mid-write
    book = ledger.read(path)
    assert [r.run for r in book.runs] == [1]
    assert len(book.warnings) == 1 and "autoresearch.jsonl:2" in book.warnings[0]
    torn = path.read_text()
    ledger.append(path, _record(3))
    book = ledger.read(path)
    assert [r.run for r in book.runs] == [1, 3]
    # Nothing already written is rewritten: the torn line is ended, the new record follows it.
    assert path.read_text() == torn + "\n" + _record(3).model_dump_json() + "\n"
    assert path.read_text().startswith(_record(1).model_dump_json())


def test_reads_pi_autoresearch_lines(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    path.write_text(
        '{"type":"config","name":"liquid","metricName":"combined_us","metricUnit":"µs","bestDirection":"lower"}\n'
        '{"run":1,"commit":"abc1234","metric":7374,"metrics":{"allocations":62620},"status":"keep",'
        '"description":"baseline","timestamp":1700000000000,"segment":0,"confidence":null}\n'
        '{"run":2,"commit":"def5678","metric":7000,"metrics":{},"status":"discard",'
        '"description":"try","timestamp":1700000001000,"segment":0,"confidence":1.2,"asi":{"x":1}}\n'
    )
    book = ledger.read(path)
    assert not book.warnings
    assert book.headers[0].metricUnit == "µs"
    # pi-autoresearch's first run of a segment is that segment's baseline.
    assert [(r.run, r.verdict) for r in book.runs] == [(1, "baseline"), (2, "discard")]
