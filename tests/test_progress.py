"""Progress events of a real experiment: phases, rounds with the running estimate, the progress file."""

from __future__ import annotations

import os

from conftest import Repo

from autoresearch.experiment import run_experiment
from autoresearch.infra.state import read_json
from autoresearch.progress import MEASURING, ProgressEvent, read_progress
from autoresearch.session import open_session


def test_an_experiment_reports_each_round_with_its_running_estimate(session: Repo):
    paths = open_session(session.path).paths
    events: list[ProgressEvent] = []
    files: list[dict] = []

    def seen(event: ProgressEvent) -> None:
        events.append(event)
        files.append(read_json(paths.progress) or {})
        assert read_progress(paths.progress) is not None  # this process wrote it: alive

    session.set("COST", 50)
    result = run_experiment(session.path, "halve the cost", progress=seen)
    assert result.record.verdict == "keep"
    phases = [e.phase for e in events]
    assert phases.index("checks") < phases.index(MEASURING)
    rounds = [e for e in events if e.phase == MEASURING]
    numbers = [e.round for e in rounds]  # a round's event as it starts, and once it is judged
    assert numbers == sorted(numbers) and set(numbers) == set(range(1, result.record.rounds + 1))
    assert {e.max_rounds for e in rounds} == {open_session(session.path).config.stats.max_rounds}
    assert rounds[0].comparison is None and rounds[0].seconds_left is None
    for e in rounds[1:]:  # after a round there is an estimate: the cost halved, exactly
        assert e.estimate is not None and abs(e.estimate - 0.5) < 1e-9
        assert e.seconds_left is not None
        assert str(e).startswith(f"round {e.round}/{e.max_rounds}, estimate +50.0%")
    assert any(f.get("gain") == rounds[-1].estimate for f in files)
    assert {(e.run, e.description) for e in events} == {(2, "halve the cost")}
    assert all(f["run"] == 2 and f["pid"] == os.getpid() and f["phase"] for f in files)
    assert not paths.progress.exists(), "the progress file goes with the experiment"


def test_piped_progress_prints_each_round_once(session: Repo):
    """stderr is a pipe here: one line per measured round, with its estimate, for judged rounds
    (`run`) and fixed ones (`confirm`) alike."""
    session.set("COST", 50)
    proc = session.cli("run", "-m", "halve the cost")
    rounds = int(session.runs()[-1]["rounds"])
    lines = [line for line in proc.stderr.splitlines() if line.startswith("… round")]
    assert [line.split()[2] for line in lines] == [f"{k}/24," for k in range(1, rounds + 1)], lines
    assert all("estimate +50.0%" in line for line in lines), lines
    proc = session.cli("confirm", "--rounds", "3")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("… round")]
    assert [line.split()[2].rstrip(",") for line in lines] == ["1/3", "2/3", "3/3"], lines


def test_a_progress_file_of_a_dead_process_is_not_shown(tmp_path):
    from autoresearch.infra.state import write_json

    path = tmp_path / "progress.json"
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    write_json(path, {"pid": dead, "run": 3, "phase": "checks"})
    assert read_progress(path) is None
    write_json(path, {"pid": os.getpid(), "run": 3, "phase": "checks"})
    assert read_progress(path) == {"pid": os.getpid(), "run": 3, "phase": "checks"}


def test_the_running_interval_reads_as_gains_in_either_direction():
    from autoresearch.stats import Comparison

    lower = Comparison("continue", 4, 0.88, (0.80, 0.96), 0.12, 0.1, "measuring")
    event = ProgressEvent(MEASURING, 5, 24, lower, "lower", seconds_per_round=3.0)
    assert event.estimate == 0.12 and event.interval == (0.040000000000000036, 0.19999999999999996)
    assert str(event) == "round 5/24, estimate +12.0% [+4.0%, +20.0%], at most 1 min 00 s left"
    higher = Comparison("continue", 4, 1.1, (1.02, 1.2), 0.1, 0.1, "measuring")
    interval = ProgressEvent(MEASURING, 5, 24, higher, "higher").interval
    assert interval is not None and [round(x, 6) for x in interval] == [0.02, 0.2]
    unbounded = Comparison("continue", 1, 0.5, (0.0, float("inf")), 0.5, 0.5, "measuring")
    assert ProgressEvent(MEASURING, 2, 24, unbounded, "lower").interval is None
    assert ProgressEvent("checks").as_dict()["gain"] is None


def test_mcp_progress_words_the_running_estimate_and_time_left_once():
    """What an MCP client shows for an event is the harness's own wording, nothing added twice."""
    from autoresearch.faces.mcp_server import _progress_text
    from autoresearch.stats import Comparison

    lower = Comparison("continue", 4, 0.88, (0.80, 0.96), 0.12, 0.1, "measuring")
    event = ProgressEvent(MEASURING, 5, 24, lower, "lower", seconds_per_round=3.0)
    job_event = {"seq": 7, **event.as_dict()}  # as the worker stores it in the job file
    text = _progress_text(job_event)
    assert text == str(event) == "round 5/24, estimate +12.0% [+4.0%, +20.0%], at most 1 min 00 s left"
    assert text.count("left") == 1 and text.count("%]") == 1
    assert _progress_text({"phase": "checks", "text": "checks"}) == "checks"
