"""The measures (wall, cpu, instructions), calibration, and what status says about error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import PYTHON, Repo, copy_repo, decide_sooner, made_once, make_project

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")


def _silent_benchmark(repo: Repo, work: str = "spin") -> None:
    """A benchmark that only does the work and prints nothing: the harness measures it."""
    repo.write("autoresearch.sh", "#!/usr/bin/env bash\ncd \"$(dirname \"$0\")\"\n"
               f"{PYTHON} -S -c \"import sys; sys.path.insert(0, '.'); import work; work.{work}()\"\n",
               executable=True)


def _counted_python(work: str) -> str:
    """A benchmark command that runs the work in Python started without its site (most of a small
    run's instructions) and by itself: valgrind starts no shell script and no `dirname` around it,
    each a program it would translate anew in every counted run."""
    return f"{PYTHON} -S -c \"import sys; sys.path.insert(0, '.'); import work; work.{work}()\""


@pytest.fixture(scope="session")
def counted_once(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A session measured in instructions, calibrated, made once in the run (`counted`)."""
    return made_once(tmp_path_factory, "counted", _counted_session)


def _counted_session(path: Path) -> Repo:
    repo = make_project(path)
    repo.set("SPIN", 30_000)
    repo.git("commit", "-qam", "bench")
    repo.cli("init", "--name", "instr", "--metric", "instructions", "--measure", "instructions",
             "--benchmark", _counted_python("nap(); work.spin"), "--scope", "work.py")
    (path.parent / "calibration.json").write_text(repo.cli("calibrate", "--json").stdout)
    return repo


@pytest.fixture
def counted(counted_once: Repo, tmp_path: Path) -> tuple[Repo, dict]:
    """A test's own copy of a session on the instructions of Python work (`SPIN` loop iterations,
    then `NAP` seconds asleep), and what `calibrate --json` said of it."""
    calibration = json.loads((counted_once.path.parent / "calibration.json").read_text())
    return copy_repo(counted_once, tmp_path / "project"), calibration


def test_cpu_measure_needs_no_metric_line_and_keeps_a_4x_cut(repo: Repo):
    # The benchmark burns a set amount of CPU time, so the harness's CPU measure of it does not
    # depend on how busy the machine is: 0.2 s plus the interpreter's start-up (~0.03 s), cut to 0.05 s.
    _silent_benchmark(repo, "burn")
    repo.set("BURN", 0.2)
    repo.git("commit", "-qam", "cpu-bound bench")
    repo.cli("init", "--name", "cpu", "--metric", "cpu_s", "--measure", "cpu", "--scope", "work.py")
    baseline = repo.runs()[0]
    assert baseline["metric"] > 0.18 and "peak_rss_mb" in baseline["metrics"]
    decide_sooner(repo)  # a gain of 4 times decides as surely at alpha = 5%
    repo.set("BURN", 0.05)
    result = repo.cli_json("run", "-m", "quarter of the work")
    assert result["status"] == "keep", result
    assert 0.05 <= result["metric"] < 0.2  # the candidate's own CPU time, start-up included
    assert result["ratio"] < 0.6


@pytest.mark.slow  # Python runs under valgrind
@pytest.mark.timeout(300)
@needs_valgrind
def test_instructions_measure_is_exact_and_decides_in_one_round(counted: tuple[Repo, dict]):
    repo, calibration = counted
    assert calibration["noise"] == 0.0 and calibration["log_ratios"] == [0.0, 0.0]
    st = repo.cli_json("status")
    assert 0 < st["startup_instructions"] < st["baseline"]  # counted once, reported
    assert "are start-up" in repo.cli("status").stdout
    repo.set("SPIN", 10_000)
    result = repo.cli_json("run", "-m", "a third of the loop")
    assert (result["status"], result["rounds"]) == ("keep", 1)
    assert result["ci"][0] == result["ci"][1] == result["ratio"]
    repo.set("SPIN", 20_000)
    result = repo.cli_json("run", "-m", "twice the loop")
    assert (result["status"], result["reason"], result["rounds"]) == ("discard", "worse", 1)


def test_calibrate_measures_noise_writes_settings_and_clears_the_warning(session: Repo):
    assert any("never calibrated" in w for w in session.cli_json("status")["warnings"])
    calibration = session.cli_json("calibrate", "--rounds", "4", "--write")
    assert calibration["rounds"] == 4
    assert calibration["noise"] == 0.0  # the metric is deterministic here
    assert calibration["written"] is True
    toml = session.read("autoresearch.toml")
    assert f"min_effect = {calibration['recommended_min_effect']:g}" in toml
    assert session.git("log", "-1", "--format=%s").startswith("autoresearch: calibrate")
    assert session.git("status", "--porcelain") == ""
    assert not any("calibrat" in w for w in session.cli_json("status")["warnings"])
    text = session.cli("calibrate", "--rounds", "4").stdout
    assert "noise" in text and "recommended: min_effect" in text


def test_calibrate_on_real_timing_reports_positive_noise(repo: Repo):
    # Real wall time of a 50 ms sleep: it jitters by microseconds to milliseconds, never 0,
    # and CPU contention cannot stretch it past the detectable range.
    repo.set("NAP", 0.05)
    repo.git("commit", "-qam", "work")
    repo.cli("init", "--name", "wall", "--metric", "nap_ms", "--scope", "work.py")
    calibration = repo.cli_json("calibrate", "--rounds", "6")
    assert calibration["noise"] > 0
    assert len(calibration["log_ratios"]) == 6
    assert 0 < calibration["detectable_effect"] < 1


def test_status_counts_expected_false_keeps(session: Repo):
    session.set("COST", 50)
    session.cli("run", "-m", "keep one")
    st = session.cli_json("status")
    assert st["counts"] == {"keep": 1}
    assert 0 <= st["expected_false_keeps"] <= 0.01
    assert "expected number of them that are noise" in session.cli("status").stdout


@pytest.mark.parametrize(("example", "guard", "vetoed", "kept", "worsening"), [
    ('# allocations = "<= incumbent"', 'mem = "<= incumbent"', 51, 49, "+2.0%"),
    # here mem is a benefit: it may drop by 5% at most
    ('# tokens_per_s = "-2%"', 'mem = "-5%"', 40, 60, "+20.0%"),
], ids=["lower-or-equal-incumbent", "higher-is-better"])
def test_a_guard_vetoes_a_cheaper_candidate_that_worsens_its_metric(
        session: Repo, example: str, guard: str, vetoed: int, kept: int, worsening: str):
    session.write("autoresearch.toml", session.read("autoresearch.toml").replace(example, guard))
    session.git("commit", "-qm", "guard", "autoresearch.toml")
    session.set("COST", 50)
    session.set("MEM", vetoed)
    vetoed_run = session.cli_json("run", "-m", "cheaper, mem worse")
    assert vetoed_run["reason"] == f"guard violated: mem ({worsening})"
    session.set("COST", 50)
    session.set("MEM", kept)
    assert session.cli_json("run", "-m", "cheaper, mem better")["status"] == "keep"


def test_single_mode_needs_calibration_then_judges_one_run(repo: Repo):
    repo.cli("init", "--name", "once", "--metric", "cost", "--measure", "single", "--scope", "work.py",
             "--timeout", "5")
    repo.set("COST", 50)
    proc = repo.cli("run", "-m", "too early", check=2)
    assert "run `autoresearch calibrate` first" in proc.stderr
    assert "COST = 50" in repo.read("work.py")  # the candidate waits, untouched
    repo.set("COST", 100)
    repo.cli("calibrate", "--rounds", "4")
    repo.set("COST", 50)
    kept = repo.cli_json("run", "-m", "halve")
    assert (kept["status"], kept["rounds"]) == ("keep", 1)
    record = repo.runs()[-1]
    assert record["samples"]["candidate"] == [50.0]
    assert "single mode" in record["samples"]["warnings"][0]
    repo.set("COST", 75)
    worse = repo.cli_json("run", "-m", "back up")
    assert (worse["status"], worse["reason"]) == ("discard", "worse")


def test_single_mode_on_real_timing_keeps_a_4x_cut(repo: Repo):
    # Real wall time, but of sleeping: busy cores add at most milliseconds to 200 ms → 50 ms.
    repo.set("NAP", 0.2)
    repo.git("commit", "-qam", "work")
    repo.cli("init", "--name", "once", "--metric", "nap_ms", "--measure", "single", "--scope", "work.py")
    repo.cli("calibrate", "--rounds", "6")
    repo.set("NAP", 0.05)
    result = repo.cli_json("run", "-m", "quarter")
    assert (result["status"], result["rounds"]) == ("keep", 1), result
    assert 50 <= result["metric"] < 200


def test_a_discard_speaks_the_decisions_terms(session: Repo):
    from autoresearch import stats
    from autoresearch.experiment import decide
    from autoresearch.measure.bench import Measurement, Sample
    from autoresearch.session import open_session

    s = open_session(session.path)
    result = Measurement()
    noise = [1.00, 1.03, 0.98, 1.01, 0.97, 1.02, 0.99, 1.04, 0.96, 1.00, 1.01, 0.99]
    for x in noise:
        inc = Sample("incumbent", 100.0, {}, 0.0, 0.1, 0.0, 0)
        cand = Sample("candidate", 100.0 * x, {}, 0.0, 0.1, 0.0, 0)
        result.rounds.append((inc, cand))
        result.comparison = stats.compare(result.values("incumbent"), result.values("candidate"),
                                          "lower", stats.Policy())
        if result.comparison.outcome != "continue":
            break
    verdict, reason = decide(s, result)
    assert verdict == "discard"
    # rounds, the estimate and the bar it was judged against; no interval that could clear it
    assert "after" in reason and "rounds" in reason and "estimate" in reason and "useful ≥ 10%" in reason
    assert "[" not in reason


def test_a_keep_whose_interval_reaches_below_min_effect_is_marginal(session: Repo):
    from autoresearch.model import RunRecord

    session.set("COST", 50)
    session.cli("run", "-m", "deterministic keep")
    for run, ci in ((3, (0.45, 0.55)), (4, (0.70, 1.004))):  # clear; a close call
        session.append_record(RunRecord(
            run=run, status="keep", verdict="keep", timestamp=0, metric=40.0, ratio=sum(ci) / 2,
            ci=ci, improvement=1 - sum(ci) / 2, p_value=0.001, description=f"run {run}"))
    st = session.cli_json("status")
    assert st["marginal_keeps"] == [4]
    assert "marginal: run 4" in session.cli("status").stdout


def test_status_warns_when_the_noise_grew_since_calibration(session: Repo):
    from autoresearch.model import RunRecord

    session.cli("calibrate", "--rounds", "4")
    assert not any("noise grew" in w for w in session.cli_json("status")["warnings"])
    # Calibration saw no noise at all (a deterministic metric). Pretend the last two
    # experiments saw ±20% swings, as on a machine that became busy.
    calibration = session.private("calibration-wall.json")
    data = json.loads(calibration.read_text())
    data["noise"] = 0.01
    calibration.write_text(json.dumps(data))
    swings = [1.0, 1.25, 0.8, 1.2, 0.85, 1.1, 0.9, 1.3]
    for run in (2, 3):
        session.append_record(RunRecord(
            run=run, status="discard", verdict="discard", timestamp=0, description=f"noisy {run}",
            samples={"incumbent": [100.0] * 8, "candidate": [100.0 * s for s in swings]}))
    warnings = session.cli_json("status")["warnings"]
    assert any("noise grew since calibration" in w for w in warnings), warnings


def test_cpu_measure_names_its_primary_itself(repo: Repo):
    _silent_benchmark(repo)
    repo.set("SPIN", 20_000)
    repo.git("commit", "-qam", "bench")
    repo.cli("init", "--name", "cpu", "--measure", "cpu")  # no --metric needed
    toml = repo.read("autoresearch.toml")
    assert 'name = "cpu_s"' in toml and 'unit = "s"' in toml
    proc = repo.cli("init", "--new-segment", check=0)
    assert "baseline" in proc.stdout


def test_instructions_without_valgrind_is_a_clear_error(repo: Repo, tmp_path):
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"  # a PATH with the basics and no valgrind
    bin_dir.mkdir()
    for tool in ("git", "bash", "env", "python3", "dirname", "sleep"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "init", "--name", "i",
                           "--measure", "instructions"], cwd=repo.path, capture_output=True,
                          text=True, env={**repo.env(), "PATH": str(bin_dir)})
    assert proc.returncode == 2, proc.stderr
    assert "needs valgrind" in proc.stderr and "apt-get install valgrind" in proc.stderr


@pytest.mark.slow  # Python runs under valgrind
@pytest.mark.timeout(300)
@needs_valgrind
def test_instructions_decide_and_cpu_time_vetoes(repo: Repo):
    """Fewer instructions kept in one round; fewer instructions but far more kernel time (reading
    /dev/zero costs system time valgrind cannot count) vetoed by the CPU-time check."""
    repo.write("work.py", repo.read("work.py") + "\n\nCHURN = 0\n\n\ndef churn():\n"
               "    with open('/dev/zero', 'rb', buffering=0) as f:\n"
               "        for _ in range(CHURN):\n"
               "            f.read(1 << 24)\n")
    repo.set("SPIN", 30_000)
    repo.git("commit", "-qam", "bench")
    repo.cli("init", "--name", "both", "--measure", "instructions+cpu", "--scope", "work.py",
             "--benchmark", _counted_python("spin(); work.churn"))
    assert "times the changes it would keep" in repo.read("autoresearch.md")
    repo.set("SPIN", 20_000)
    kept = repo.cli_json("run", "-m", "a third less work")
    assert (kept["status"], kept["rounds"]) == ("keep", 1)
    assert len(repo.runs()[-1]["samples"]["cpu_veto"]["candidate"]) >= 4
    repo.set("SPIN", 10_000)
    repo.set("CHURN", 200)  # 3 GB copied by the kernel
    vetoed = repo.cli_json("run", "-m", "less work, more system time")
    assert vetoed["status"] == "discard" and vetoed["reason"].startswith("fewer instructions, but slower")


def test_calibrate_names_runtimes_whose_time_instruction_counts_misjudge(tmp_path):
    from autoresearch.measure.bench import proxy_warning

    (tmp_path / "bench.sh").write_text("#!/bin/sh\nexec ruby -Ilib bench.rb\n")
    assert "runs ruby, an interpreter" in proxy_warning(tmp_path, "./bench.sh")
    assert "a JIT (V8)" in proxy_warning(tmp_path, "node bench.mjs")
    assert "runs python" in proxy_warning(tmp_path, '"${AUTORESEARCH_PYTHON:-python3}" bench.py')
    assert "confirm --measure cpu" in proxy_warning(tmp_path, "/usr/bin/python3.11 bench.py")
    for compiled in ("./target/release/bench", "make bench && ./bench", "echo nodejs-free"):
        assert proxy_warning(tmp_path, compiled) is None


@pytest.mark.slow  # Python runs under valgrind
@pytest.mark.timeout(300)
@needs_valgrind
def test_confirm_in_wall_time_catches_a_keep_the_counts_made_that_time_does_not_bear(
        counted: tuple[Repo, dict]):
    repo, calibration = counted
    assert any("runs python" in w for w in calibration["warnings"])
    # fewer instructions, but half a second of waiting the count cannot see
    repo.set("SPIN", 10_000)
    repo.set("NAP", 0.5)
    assert repo.cli_json("run", "-m", "a third of the loop, and a nap")["verdict"] == "keep"
    assert "cpu or wall" in repo.cli("confirm", "--measure", "instructions", "--inputs", "dev",
                                     check=2).stderr
    timed = repo.cli_json("confirm", "--measure", "wall", "--inputs", "dev", "--rounds", "4")
    assert (timed["measure"], timed["metric"], timed["rounds"]) == ("wall", "wall_s", 4)
    assert timed["passed"] is False and timed["agrees"] is False
    assert any("judged by instructions" in n and "DISAGREE" in n for n in timed["notes"]), timed["notes"]
    confirm = [r for r in repo.runs() if r.get("type") == "confirm"][-1]
    assert confirm["measure"] == "wall" and len(confirm["samples"]["incumbent"]) == 4
