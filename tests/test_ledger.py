"""The ledger: pi-autoresearch-compatible lines, atomic appends, torn lines survived."""

from __future__ import annotations

import json
import math
from pathlib import Path

from autoresearch.infra import ledger
from autoresearch.model import AblationRecord, ConfigHeader, ConfirmRecord, RunRecord

KEY = b"k" * 32


def _record(run: int) -> RunRecord:
    return RunRecord(run=run, status="keep", verdict="keep", timestamp=1, metric=1.5,
                     description=f"run {run}")


def test_append_and_read_back(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    ledger.append(path, ConfigHeader(name="s", metricName="t", bestDirection="lower"), KEY)
    ledger.append(path, _record(1), KEY)
    ledger.append(path, _record(2), KEY)
    book = ledger.read(path, KEY)
    assert [r.run for r in book.runs] == [1, 2] and book.next_run() == 3
    assert not book.warnings
    first = json.loads(path.read_text().splitlines()[1])
    for key in ("run", "commit", "metric", "metrics", "status", "description", "timestamp",
                "segment", "confidence", "asi"):
        assert key in first


def test_torn_last_line_is_skipped_with_a_warning_and_healed(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    ledger.append(path, _record(1), KEY)
    with path.open("a") as fh:
        fh.write('{"run": 2, "status": "ke')  # a crash mid-write
    book = ledger.read(path, KEY)
    assert [r.run for r in book.runs] == [1]
    assert len(book.warnings) == 1 and "autoresearch.jsonl:2" in book.warnings[0]
    torn = path.read_text()
    ledger.append(path, _record(3), KEY)
    book = ledger.read(path, KEY)
    assert [r.run for r in book.runs] == [1, 3]
    # Nothing already written is rewritten: the torn line is ended, the new record follows it.
    assert path.read_text().startswith(torn + "\n" + _record(3).model_dump_json()[:-1] + ',"mac":"')
    assert path.read_text().startswith(_record(1).model_dump_json()[:-1] + ',"mac":"')


def test_reads_pi_autoresearch_lines(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    path.write_text(
        '{"type":"config","name":"liquid","metricName":"combined_us","metricUnit":"µs","bestDirection":"lower"}\n'
        '{"run":1,"commit":"abc1234","metric":7374,"metrics":{"allocations":62620},"status":"keep",'
        '"description":"baseline","timestamp":1700000000000,"segment":0,"confidence":null}\n'
        '{"run":2,"commit":"def5678","metric":7000,"metrics":{},"status":"discard",'
        '"description":"try","timestamp":1700000001000,"segment":0,"confidence":1.2,"asi":{"x":1}}\n'
    )
    book = ledger.read(path, KEY)
    assert book.warnings == [("autoresearch.jsonl: 3 line(s) without a signature (from before the "
                              "ledger was signed) are read unverified")]
    assert book.headers[0].metricUnit == "µs"
    # pi-autoresearch's first run of a segment is that segment's baseline.
    assert [(r.run, r.verdict) for r in book.runs] == [(1, "baseline"), (2, "discard")]


def _line(path: Path, number: int) -> dict:
    return json.loads(path.read_text().splitlines()[number - 1])


def test_lines_the_harness_did_not_sign_are_reported_and_never_used(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    ledger.append(path, ConfigHeader(name="s", metricName="t"), KEY)
    ledger.append(path, _record(1), KEY)
    forged = json.loads(_record(2).model_dump_json()) | {"metric": 0.001}
    with path.open("a") as fh:
        fh.write(json.dumps(forged) + "\n")  # no mac at all
        fh.write(json.dumps(forged | {"mac": "0" * 64}) + "\n")  # a made-up one
        fh.write(json.dumps(_line(path, 2)) + "\n")  # a genuine line replayed
    ledger.append(path, _record(2), KEY)  # the harness's own record of run 2 is still written
    book = ledger.read(path, KEY)
    assert [(r.run, r.metric) for r in book.runs] == [(1, 1.5), (2, 1.5)]
    assert book.rejected == [3, 4, 5] and len(book.warnings) == 3
    assert all("not used" in w for w in book.warnings)
    # Read with another key, or none, nothing signed is used.
    assert ledger.read(path, b"other" * 8).runs == []
    keyless = ledger.read(path, None)
    assert keyless.runs == [] and any("lacks the session's signing key" in w for w in keyless.warnings)


def test_a_line_changed_in_place_fails_alone(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    for run in (1, 2, 3):
        ledger.append(path, _record(run), KEY)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"metric":1.5', '"metric":0.1')
    path.write_text("\n".join(lines) + "\n")
    book = ledger.read(path, KEY)
    assert [r.run for r in book.runs] == [1, 3] and book.rejected == [2]


def test_unsigned_lines_from_before_signing_are_read_with_a_warning(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    path.write_text(_record(1).model_dump_json() + "\n")
    ledger.append(path, _record(2), KEY)
    with path.open("a") as fh:
        fh.write(_record(3).model_dump_json() + "\n")  # unsigned after a signed line: forged
    book = ledger.read(path, KEY)
    assert [r.run for r in book.runs] == [1, 2] and book.rejected == [3]
    assert any("1 line(s) without a signature" in w for w in book.warnings)


def test_signing_key_lives_outside_the_repository(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    private = tmp_path / "repo" / ".git" / "autoresearch"
    assert ledger.signing_key(private) is None
    key = ledger.make_signing_key(private)
    assert key and ledger.signing_key(private) == key
    [key_file] = (tmp_path / "state" / "autoresearch" / "keys").iterdir()
    assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.name == (private / "ledger-id").read_text()


# A confirm and an ablation line as the harness wrote them before the two shared a base class.
OLD_CONFIRM = ('{"type":"confirm","timestamp":5,"segment":0,"baseline_commit":"b0","incumbent_commit":'
               '"c1","inputs":"heldout","env":{"AUTORESEARCH_ITEMS":"heldout"},"rounds":2,"ratio":0.5,'
               '"ci":[0.5,0.5],"improvement":0.5,"p_value":0.0,"passed":true,"headline_ratio":0.5,'
               '"headline_ci":[0.5,0.5],"agrees":true,"samples":{},"logs":"/tmp/x"}')
OLD_ABLATION = ('{"type":"ablation","timestamp":6,"segment":0,"keep_run":2,"keep_commit":"k2",'
                '"incumbent_commit":"c1","description":"halve","outcome":"measured","reason":"",'
                '"ratio":0.5,"ci":[0.45,0.55],"improvement":0.5,"p_value":0.01,"rounds":3,"logs":null}')


def test_confirm_and_ablation_lines_of_older_ledgers_still_read(tmp_path: Path):
    path = tmp_path / "autoresearch.jsonl"
    header = ConfigHeader(name="s", metricName="t").model_dump_json()
    path.write_text("\n".join([header, OLD_CONFIRM, OLD_ABLATION]) + "\n")
    book = ledger.read(path, KEY)
    (confirm,), (ablation,) = book.confirms, book.ablations
    assert (confirm.inputs, confirm.passed, confirm.ci, confirm.rounds) == ("heldout", True, (0.5, 0.5), 2)
    assert ((ablation.keep_run, ablation.outcome, ablation.ci, ablation.logs)
            == (2, "measured", (0.45, 0.55), None))
    for old, record in ((OLD_CONFIRM, confirm), (OLD_ABLATION, ablation)):
        written, then = json.loads(record.model_dump_json()), json.loads(old)
        assert {k: written[k] for k in then} == then  # every old field, same name, same value
        assert all(written[k] is None for k in written.keys() - then.keys())  # newer: not recorded then


def test_a_confirm_with_an_unbounded_interval_is_written_and_reads_back(tmp_path: Path):
    """One round of a noisy measure bounds nothing: the record must still reach the ledger."""
    path = tmp_path / "autoresearch.jsonl"
    confirm = ConfirmRecord(timestamp=1, segment=0, baseline_commit="b", incumbent_commit="c",
                            inputs="dev", rounds=1, ratio=0.5, ci=(0.0, math.inf), improvement=0.5,
                            p_value=1.0, passed=False)
    ledger.append(path, confirm, KEY)
    ablation = AblationRecord(timestamp=2, segment=0, keep_run=2, keep_commit="k", incumbent_commit="c",
                              outcome="measured", ratio=0.9, ci=(0.0, math.inf), rounds=1)
    ledger.append(path, ablation, KEY)
    book = ledger.read(path, KEY)
    assert book.confirms[0].ci == (0.0, math.inf) and book.ablations[0].ci == (0.0, math.inf)
    assert not book.warnings
