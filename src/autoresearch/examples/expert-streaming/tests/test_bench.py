"""The benchmark prints (and optionally writes) its METRIC lines."""

import re

import bench


def test_bench_prints_and_writes_metric_lines(tmp_path, monkeypatch, capsys):
    target = tmp_path / "result.txt"
    monkeypatch.setenv("AUTORESEARCH_RESULT_FILE", str(target))
    bench.main()
    printed = capsys.readouterr().out.splitlines()
    assert printed == target.read_text().splitlines()
    names = [re.fullmatch(r"METRIC (\w+)=([0-9.]+)", line).group(1) for line in printed]
    assert names == ["tokens_per_s", "resident_mb", "bytes_read_mb"]


def test_memory_metrics_are_deterministic(weights):
    first = bench.run(weights, new_tokens=8)
    second = bench.run(weights, new_tokens=8)
    assert first["tokens"] == second["tokens"]
    assert first["resident_mb"] == second["resident_mb"] > 0
    assert first["bytes_read_mb"] == second["bytes_read_mb"] > 0
