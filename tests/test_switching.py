"""Switching what a session measures: one command, per-measure calibration, honest labels."""

from __future__ import annotations

import tomllib

from conftest import Repo


def _config(repo: Repo) -> dict:
    return tomllib.loads(repo.read("autoresearch.toml"))


def test_new_segment_switches_the_measure_and_back(session: Repo):
    session.cli("init", "--new-segment", "--measure", "cpu")
    metric = _config(session)["metric"]
    assert (metric["name"], metric["unit"], metric["measure"]) == ("cpu_s", "s", "cpu")
    assert metric["secondary"] == ["cost"]  # the benchmark metric it replaced stays visible
    assert session.git("log", "-1", "--format=%s") == "autoresearch: measure cpu_s (cpu)"
    assert session.git("status", "--porcelain") == ""
    headers = [r for r in session.ledger() if r.get("type") == "config"]
    assert [(h["metricName"], h["metricUnit"], h["measure"]) for h in headers] == [
        ("cost", "", "wall"), ("cpu_s", "s", "cpu")]
    baseline = session.runs()[-1]
    assert baseline["segment"] == 1 and 0 < baseline["metric"] < 5 and baseline["metrics"]["cost"] == 100
    brief = session.read("autoresearch.md")  # still as scaffolded: rewritten for the new measure
    assert "measured by the harness" in brief and "METRIC cpu_s" not in brief

    rows = session.cli_json("log")["runs"]
    assert [(r["segment"], r["metric_name"], r["unit"], r["measure"]) for r in rows] == [
        (0, "cost", "", "wall"), (1, "cpu_s", "s", "cpu")]
    table = session.cli("log").stdout
    assert "cost 100 (wall)" in table and " s (cpu)" in table

    session.cli("init", "--new-segment", "--measure", "wall")
    metric = _config(session)["metric"]
    assert (metric["name"], metric["measure"]) == ("cost", "wall") and "secondary" not in metric
    assert session.runs()[-1]["metric"] == 100


def test_a_metric_named_beside_a_harness_measure_is_a_secondary(repo: Repo):
    repo.cli("init", "--name", "cpu", "--metric", "spin_ms", "--unit", "ms", "--measure", "cpu",
             "--scope", "work.py")
    metric = _config(repo)["metric"]
    assert (metric["name"], metric["unit"], metric["secondary"]) == ("cpu_s", "s", ["spin_ms"])
    assert "spin_ms" in repo.runs()[0]["metrics"]
    brief = repo.read("autoresearch.md")
    assert "`spin_ms`" in brief and "METRIC cpu_s" not in brief


def test_a_named_secondary_the_benchmark_does_not_print_fails_the_baseline(repo: Repo):
    proc = repo.cli("init", "--name", "cpu", "--metric", "nothere", "--measure", "cpu", check=2)
    assert "no METRIC nothere=<number> line" in proc.stderr


def test_scaffolded_benchmark_for_a_harness_measure_prints_no_primary(repo: Repo):
    repo.git("rm", "-q", "autoresearch.sh")
    repo.git("commit", "-qm", "no benchmark yet")
    repo.cli("init", "--name", "x", "--measure", "instructions")
    script = repo.read("autoresearch.sh")
    assert "measures the primary metric (instructions) itself" in script
    assert "METRIC instructions" not in script
    assert "counted by the harness under valgrind" in repo.read("autoresearch.md")


def test_calibration_belongs_to_its_measure(session: Repo):
    calibration = session.cli_json("calibrate", "--rounds", "4", "--write")
    assert calibration["measure"] == "wall"
    stats = _config(session)["stats"]
    assert stats["calibrated_for"] == "wall" and stats["min_effect"] == calibration["recommended_min_effect"]
    out = session.cli_json("init", "--new-segment", "--measure", "cpu")
    assert any("calibrated for wall" in note for note in out["notes"])
    stats = _config(session)["stats"]
    assert "calibrated_for" not in stats and "min_effect" not in stats  # back to the default
    warnings = session.cli_json("status")["warnings"]
    assert any("never calibrated" in w for w in warnings)  # the wall calibration says nothing here


def test_a_hand_edited_measure_under_wall_calibration_is_warned_about(session: Repo):
    session.cli("calibrate", "--rounds", "4", "--write")
    text = session.read("autoresearch.toml").replace('calibrated_for = "wall"', 'calibrated_for = "cpu"')
    session.write("autoresearch.toml", text)
    session.git("commit", "-qam", "edit")
    warnings = session.cli_json("status")["warnings"]
    assert any("calibrated for measure cpu" in w for w in warnings)


def test_gains_below_the_detectable_one_are_named_with_the_better_measure(session: Repo):
    import json

    from autoresearch.model import RunRecord

    session.cli("calibrate", "--rounds", "4")
    calibration = session.private("calibration-wall.json")
    data = json.loads(calibration.read_text())
    data["detectable_effect"] = 0.2  # as on a noisy machine
    calibration.write_text(json.dumps(data))
    assert not any("lost to noise" in w for w in session.cli_json("status")["warnings"])
    for run, gain in ((2, 0.03), (3, 0.08), (4, 0.05)):
        session.append_record(RunRecord(
            run=run, status="discard", verdict="discard", timestamp=0, description=f"idea {run}",
            improvement=gain, ratio=1 - gain, reason="no significant gain"))
    (hint,) = [w for w in session.cli_json("status")["warnings"] if "lost to noise" in w]
    assert "+3.0% to +8.0%" in hint and "--measure instructions" in hint and "--measure cpu" in hint
    assert "lost to noise" in session.cli("brief").stdout
