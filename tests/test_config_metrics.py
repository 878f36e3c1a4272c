"""Config validation and METRIC parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch import config as cfg
from autoresearch.errors import ConfigError, MetricError
from autoresearch.infra.workspace import first_violation, glob_match
from autoresearch.measure.metrics import parse_metrics


def _out(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "out"
    path.write_bytes(text.encode())
    return path


def test_metrics_last_occurrence_wins_and_secondaries_kept(tmp_path: Path):
    path = _out(tmp_path, "METRIC a=1\nMETRIC b_µs=2.5e3\nMETRIC a=3\n  METRIC c=4\nMETRIC d=x\n")
    assert parse_metrics(path, "a", unique_primary=False) == {"a": 3.0, "b_µs": 2500.0}


def test_metrics_primary_twice_on_stdout_is_an_error(tmp_path: Path):
    with pytest.raises(MetricError, match="appears 2 times"):
        parse_metrics(_out(tmp_path, "METRIC a=1\nMETRIC a=2\n"), "a", unique_primary=True)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "abc"])
def test_metrics_non_finite_primary_is_an_error(tmp_path: Path, value: str):
    with pytest.raises(MetricError, match="not a finite number"):
        parse_metrics(_out(tmp_path, f"METRIC a=1\nMETRIC a={value}\n"), "a", unique_primary=False)


def test_metrics_missing_primary(tmp_path: Path):
    with pytest.raises(MetricError, match="no METRIC a=<number>"):
        parse_metrics(_out(tmp_path, "hello\n"), "a", unique_primary=True)


def test_config_round_trips_through_dump(tmp_path: Path):
    c = cfg.Config.model_validate({
        "session": {"name": "s"}, "metric": {"name": "t_ms", "direction": "higher", "unit": "ms"},
        "commands": {"checks": "./c.sh", "timeout": 12},
        "scope": {"include": ["src/**"], "protect": ["tests/**"]}, "guards": {"rss": "+5%"},
    })
    (tmp_path / cfg.CONFIG_FILE).write_text(cfg.dump(c))
    assert cfg.load(tmp_path) == c
    assert c.guard("rss") == ("lower", pytest.approx(0.05))
    assert c.protected_paths()[:3] == ["autoresearch.toml", "autoresearch.jsonl", "autoresearch.sh"]


def test_config_rejects_bad_guard_and_rounds(tmp_path: Path):
    (tmp_path / cfg.CONFIG_FILE).write_text(
        '[session]\nname = "s"\n[metric]\nname = "m"\n[stats]\nmin_rounds = 9\nmax_rounds = 3\n'
        '[guards]\nrss = "a bit"\n')
    with pytest.raises(ConfigError) as err:
        cfg.load(tmp_path)
    text = str(err.value)
    assert "autoresearch.toml:7: stats.max_rounds" in text
    assert "autoresearch.toml:9: guards.rss" in text


@pytest.mark.parametrize(("path", "pattern", "expected"), [
    ("src/a.py", "src/**", True), ("src/x/y/a.py", "src/**/*.py", True), ("src/a.py", "src/**/*.py", True),
    ("a.py", "*.py", True), ("lib/a.py", "*.py", False), ("tests/t.py", "tests", True),
    ("tests2/t.py", "tests", False), ("bench.py", "./bench.py", True),
])
def test_glob_match(path: str, pattern: str, expected: bool):
    assert glob_match(path, pattern) is expected


def test_first_violation_prefers_tampering_over_scope():
    assert first_violation(["docs/a", "bench.sh"], ["bench.sh"], ["src/**"]) == "tampered: bench.sh"
    assert first_violation(["src/a.py"], ["bench.sh"], ["src/**"]) is None
