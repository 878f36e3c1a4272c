"""Each bundled example, as a user gets it: its own test suite passes and its benchmark reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autoresearch import config as cfg
from autoresearch.demo import examples, prepare
from autoresearch.measure.metrics import parse_metrics

# The expert-streaming demo (test_demo.py) builds that example and runs its whole suite and its
# benchmark on the baseline, then on every candidate: running them here once more would only
# add the slow group's second-longest wait.
OWN_CHECK = [name for name in examples() if name != "expert-streaming"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", OWN_CHECK)
def test_example_checks_pass_and_benchmark_prints_its_metric(name: str, tmp_path: Path):
    repo = prepare(name, tmp_path / name)
    # The scripts run the interpreter the harness names, as under `autoresearch`: this one, with
    # its pytest and pytest-timeout, not whatever `python3` comes first on PATH.
    env = {**os.environ, "AUTORESEARCH_PYTHON": sys.executable}
    checks = subprocess.run(["./autoresearch.checks.sh"], cwd=repo, capture_output=True, text=True,
                            timeout=600, env=env)
    assert checks.returncode == 0, checks.stdout[-3000:] + checks.stderr[-3000:]
    assert " passed" in checks.stdout
    config = cfg.load(repo)
    if config.commands.build:
        build = subprocess.run(config.commands.build, shell=True, cwd=repo, capture_output=True,
                               text=True, timeout=600, env=env)
        assert build.returncode == 0, build.stderr[-3000:]
    bench = subprocess.run(["./autoresearch.sh"], cwd=repo, capture_output=True, text=True, timeout=240,
                           env=env)
    assert bench.returncode == 0, bench.stderr[-3000:]
    (tmp_path / "out").write_text(bench.stdout)
    # a primary the harness measures itself (instructions) needs no METRIC line of the benchmark
    primary = None if config.metric.measure.harness_measured else config.metric.name
    metrics = parse_metrics(tmp_path / "out", primary, unique_primary=True)
    assert primary is None or metrics[primary] > 0
    assert set(config.guards) <= set(metrics)


@pytest.mark.parametrize("name", examples())
def test_example_candidates_are_patches_with_a_subject(name: str):
    from autoresearch.demo import EXAMPLES
    from autoresearch.proposers.patches import describe

    patches = sorted((EXAMPLES / name / "candidates").glob("*.patch"))
    assert len(patches) >= 6
    for patch in patches:
        description, _ = describe(patch)
        assert description and not description[0].isdigit(), patch.name
