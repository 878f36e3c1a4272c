"""`autoresearch report` on a real finished session: data, markdown, chart and page."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import BENCH_SH, Repo, copy_repo, made_once, make_project

from autoresearch.experiment import run_experiment
from autoresearch.faces.report import Group, build_report, total_gain, write_report
from autoresearch.faces.report.data import group_of
from autoresearch.model import RunRecord
from autoresearch.session import open_session
from autoresearch.stats.evidence import combine


@pytest.fixture
def finished(finished_once: Repo, tmp_path: Path) -> Repo:
    """A session with one experiment of each kind, judged by the real harness (a test's own copy)."""
    return copy_repo(finished_once, tmp_path / "project")


@pytest.fixture(scope="session")
def finished_once(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """The session of `finished`, made once in the run."""
    return made_once(tmp_path_factory, "report", _finish)


def _finish(path: Path) -> Repo:
    # a unit that is not a time: the constant cost is no claim about the process's time
    r = make_project(path)
    r.cli("init", "--name", "speed", "--metric", "cost", "--unit", "pt", "--scope", "work.py",
          "--timeout", "5", "--checks-timeout", "30")

    def experiment(description: str, **constants: object) -> None:
        for name, value in constants.items():
            r.set(name, value)
        run_experiment(r.path, description)

    experiment("halve the cost | with a pipe", COST=50)  # keep: 100 → 50
    experiment("make it slower", COST=80)  # worse than 50
    experiment("a wrong answer", COST=20, FAIL=True)  # checks failed
    r.write("autoresearch.sh", BENCH_SH.replace("METRIC cost=", "METRIC cost=0*"), executable=True)
    run_experiment(r.path, "edit the benchmark")  # tampered
    experiment("shave a tenth", COST=40)  # keep: 50 → 40
    experiment("next to nothing", COST=39.9)  # below min_effect
    return r


def test_report_data_groups_every_experiment_and_multiplies_the_keeps(finished: Repo):
    data = build_report(open_session(finished.path))
    groups = {e.description: e.group for e in data.experiments}
    assert groups == {
        "baseline": Group.BASELINE,
        "halve the cost | with a pipe": Group.KEEP,
        "make it slower": Group.WORSE,
        "a wrong answer": Group.CHECKS_FAILED,
        "edit the benchmark": Group.TAMPERED,
        "shave a tenth": Group.KEEP,
        "next to nothing": Group.NO_GAIN,
    }
    assert [e.n for e in data.experiments] == list(range(7))
    assert [e.best for e in data.experiments] == [100, 50, 50, 50, 50, 40, 40]
    assert data.baseline == 100 and data.incumbent == 40
    assert data.total is not None and data.total.keeps == 2
    assert math.isclose(data.total.ratio, 0.5 * 0.8) and math.isclose(data.total.gain, 0.6)
    assert data.total.ci == pytest.approx((0.4, 0.4))  # deterministic metric: exact
    assert data.counts() == {"keep": 2, "worse": 1, "no significant gain": 1, "checks failed": 1,
                             "tampered or out of scope": 1}
    assert "cost" not in {s.name for s in data.secondary}  # the primary is not secondary
    assert {"mem", "wall_s", "peak_rss_mb"} <= {s.name for s in data.secondary}
    assert data.rounds > 0 and data.seconds > 0


def test_report_command_writes_the_files(finished: Repo, tmp_path: Path):
    out = tmp_path / "out"
    text = finished.cli("report", "--out", str(out)).stdout
    assert "total +60.0% exact from 2 keeps" in text
    for name in ("report.md", "progress.png", "progress.svg", "report.html"):
        assert (out / name).stat().st_size > 1000 or name == "report.md"
    assert finished.git("status", "--porcelain") == ""  # nothing left in the working tree

    md = (out / "report.md").read_text()
    assert md.startswith("## speed: cost +60.0% (2 kept of 6)")
    assert "**Total gain +60.0% exact**" in md
    assert "| 2 | halve the cost \\| with a pipe | +50.0% exact |" in md
    for heading in ("**Worse** (1)", "**No significant gain** (1)", "**Checks failed** (1)",
                    "**Tampered or out of scope** (1)"):
        assert heading in md
    assert "- run 5: edit the benchmark — tampered: autoresearch.sh" in md
    assert "![progress of cost](progress.png)" in md
    assert "| mem | 50 | 50 | +0.0% |" in md

    html = (out / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=", html), "every script is inline"
    markup = re.sub(r"(?s)<script[^>]*>.*?</script>", "", html)  # plotly.js names its website
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup), "nothing loads from the network"
    assert "Plotly" in html and "halve the cost | with a pipe" in html

    svg = (out / "progress.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_progress_png_shows_the_running_best_line(finished: Repo, tmp_path: Path):
    files = write_report(open_session(finished.path), tmp_path)
    pixels = _rgb(files.png)
    assert len(np.unique(pixels, axis=0)) > 50, "the chart is not blank"
    green = np.all(np.abs(pixels - np.array([0x1A, 0x98, 0x50])) < 40, axis=1).sum()
    assert green > 500, "the running-best line and the keeps are drawn in green"


def test_segment_out_of_range_is_a_usage_error(finished: Repo):
    proc = finished.cli("report", "--segment", "4", check=2)
    assert "no segment 4" in proc.stderr


def test_total_gain_combines_log_intervals():
    t = total_gain(combine([0.8, 0.5], [(0.7, 0.9), (0.45, 0.55)], "lower"), "lower")
    assert t is not None
    assert math.isclose(t.ratio, 0.4) and math.isclose(t.gain, 0.6)
    half = [(math.log(hi) - math.log(lo)) / (2 * 1.959963984540054) for lo, hi in ((0.7, 0.9), (0.45, 0.55))]
    spread = 1.959963984540054 * math.hypot(*half)
    assert t.ci == pytest.approx((0.4 * math.exp(-spread), 0.4 * math.exp(spread)))
    assert t.gain_ci == pytest.approx((1 - t.ci[1], 1 - t.ci[0]))
    higher = total_gain(combine([1.25], [(1.2, 1.3)], "higher"), "higher")
    assert higher is not None and math.isclose(higher.gain, 0.25)
    assert total_gain(None, "lower") is None


def test_an_unbounded_interval_stays_unbounded_and_json_safe():
    import json

    from autoresearch.faces.report import fmt
    from autoresearch.faces.report.data import _finite

    t = total_gain(combine([0.5, 0.8], [(0.4, 0.6), (0.7, math.inf)], "lower"), "lower")
    assert t is not None and math.isclose(t.ratio, 0.4)
    assert t.ci == (0.0, math.inf) and fmt.interval(t.gain_ci) == "(unbounded interval)"
    assert json.dumps(_finite({"ci": t.ci, "gain_ci": t.gain_ci}), allow_nan=False) == (
        '{"ci": [0.0, null], "gain_ci": [null, 1.0]}')


@pytest.mark.parametrize(("verdict", "reason", "ratio", "group"), [
    ("discard", "worse", 1.2, Group.WORSE),
    ("discard", "deterministic metric: worse", 1.2, Group.WORSE),
    ("discard", "no significant gain within max_rounds: measured -1.0% [-3%, +1%]", 1.01, Group.NO_GAIN),
    ("discard", "a useful gain (10%, twice min_effect) is unlikely: measured -10.8% [...]", 1.1,
     Group.NO_GAIN),
    ("discard", "guard violated: rss (+9.0%)", 0.8, Group.GUARD),
    ("discard", "out of scope: docs/x.md", None, Group.TAMPERED),
    ("discard", "no change", None, Group.UNMEASURED),
    ("discard", "patch does not apply: x", None, Group.UNMEASURED),
    ("timeout", "timed out after 5s", None, Group.CRASHED),
    ("crash", "benchmark exited with code 3", None, Group.CRASHED),
])
def test_group_of_reads_verdict_and_reason(verdict, reason, ratio, group):
    record = RunRecord(run=2, status="discard", verdict=verdict, reason=reason, ratio=ratio,
                       timestamp=0)
    assert group_of(record) is group


def _rgb(png: Path) -> np.ndarray:
    """The pixels of an image as rows of (r, g, b)."""
    from PIL import Image

    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"), dtype=int).reshape(-1, 3)


def test_status_draws_the_running_best(finished: Repo):
    out = finished.cli("status").stdout
    n = finished.cli_json("status")["experiments"]
    assert n == len(finished.runs()) - 1  # every record but the baseline
    # every place that counts experiments counts the same ones: the baseline is none of them
    assert f"running best  ▁▇▇▇▇██  (the baseline, then after each of {n} experiments; " in out
    assert f"experiments: {n} (" in out
    assert f"{n} experiments" in finished.cli("report").stdout


def test_run_ends_with_where_the_session_stands(session: Repo):
    session.set("COST", 50)
    out = session.cli("run", "-m", "halve the cost").stdout
    assert ("session speed: cost 100 → 50, total +50.0% exact from 1 keep (paired ratios "
            "combined); 1 experiment") in out


def test_report_of_a_session_with_only_its_baseline(session: Repo, tmp_path: Path):
    data = session.cli_json("report", "--out", str(tmp_path))
    assert data["report"]["total"] is None and data["report"]["counts"] == {}
    assert [e["group"] for e in data["report"]["experiments"]] == ["baseline"]
    md = Path(data["markdown"]).read_text()
    assert md.startswith("## speed: no improvement kept yet on cost")
    assert "Nothing was kept" in md and "### Not kept (0)" in md
    assert len(np.unique(_rgb(Path(data["png"])), axis=0)) > 20
    assert Path(data["html"]).stat().st_size > 1_000_000  # plotly.js is inside


def test_report_shows_the_latest_confirm(finished: Repo, tmp_path: Path):
    finished.cli("confirm", "--inputs", "dev", "--rounds", "2")
    files = write_report(open_session(finished.path), tmp_path)
    assert files.data.confirm is not None and files.data.confirm["passed"] is True
    assert ("**Confirm passed** on the usual inputs (the baseline against the incumbent as it is now, "
            "2 interleaved rounds): 60.0% better, ratio 0.400 [0.400, 0.400]; agrees with the gain."
            ) in files.markdown.read_text()
