"""Retrying cannot buy a keep: a resubmitted change continues its own sequential test."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable

from conftest import PYTHON, Repo

from autoresearch.stats import Comparison, Policy, compare
from autoresearch.stats.evidence import continuation

POLICY = Policy(alpha=0.05, min_effect=0.0, min_rounds=4, max_rounds=16, confirm_rounds=0)


def _measure(draw: Callable[[], float], policy: Policy, prior: list[float]) -> tuple[Comparison, list[float]]:
    """The harness's measuring loop (`measure`), on synthetic log-ratios: one round, one look."""
    d = list(prior)
    while True:
        d.append(draw())
        verdict = compare([1.0] * len(d), [math.exp(-x) for x in d], "lower", policy)
        if verdict.outcome != "continue" or len(d) >= policy.max_rounds:
            return verdict, d


def _submit(draw: Callable[[], float], policy: Policy, prior: list[float] | None) -> tuple[str, list[float]]:
    """One submission as the experiment runs it: a resubmission continues its earlier rounds."""
    if prior is None:
        verdict, d = _measure(draw, policy, [])
        return verdict.outcome, d
    go_on = continuation([1.0] * len(prior), [math.exp(-x) for x in prior], "lower", policy)
    if go_on.settled is not None:
        return go_on.settled.outcome, prior
    verdict, d = _measure(draw, go_on.policy, prior)
    return verdict.outcome, d


def _retry_until_kept(draw: Callable[[], float], attempts: int, resume: bool) -> bool:
    prior = None
    for _ in range(attempts):
        outcome, rounds = _submit(draw, POLICY, prior if resume else None)
        if outcome == "better":
            return True
        prior = rounds
    return False


def test_an_identical_resubmission_cannot_raise_the_false_keep_rate():
    """On the same noise, an agent retrying a do-nothing change 8 times keeps it exactly when one
    uninterrupted run of the design to its last look would, so its false-keep rate is the
    design's own (which the decision's error-control test bounds by alpha). Restarting the test
    on each retry (the behaviour this replaces) keeps several times as often."""
    trials, attempts = 150, 8
    retried = restarted = single = 0
    for seed in range(trials):
        rng = random.Random(seed)
        stream = [rng.gauss(0.0, 0.1) for _ in range(attempts * POLICY.max_rounds)]

        def draws(stream: list[float] = stream) -> Callable[[], float]:
            it = iter(stream)
            return lambda: next(it)

        kept = _retry_until_kept(draws(), attempts, resume=True)
        whole, _ = _measure(draws(), Policy(**{**POLICY.__dict__, "futility": 0.0}), [])
        assert kept == (whole.outcome == "better"), seed  # the same walk through the same looks
        retried += kept
        single += whole.outcome == "better"
        restarted += _retry_until_kept(draws(), attempts, resume=False)
    assert retried == single
    assert restarted >= 3 * max(retried, 5)


NOISY_BENCH = """\
#!/usr/bin/env bash
cd "$(dirname "$0")"
__PYTHON__ -c "import random, sys; sys.path.insert(0, '.'); import work; \\
print(f'METRIC cost={work.COST * random.lognormvariate(0, 0.01)}')"
""".replace("__PYTHON__", PYTHON)


def _noisy_session(repo: Repo) -> None:
    """A benchmark with 1% noise on its metric, and a 50% bar that a 20% gain can never clear."""
    repo.write("autoresearch.sh", NOISY_BENCH, executable=True)
    repo.git("commit", "-qam", "noisy benchmark")
    repo.cli("init", "--name", "retry", "--metric", "cost", "--scope", "work.py")
    text = repo.read("autoresearch.toml")
    for key, value in (("min_effect", "0.5"), ("max_rounds", "8"), ("warmup", "false")):
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    repo.write("autoresearch.toml", text)
    repo.git("commit", "-qam", "a bar no noise can clear")


def test_submitting_the_same_change_again_continues_its_test(repo: Repo):
    """A real 20% gain under a 50% bar it can never clear, far above the 1% noise so that no
    draw makes it look worse: the first run stops early for futility, the resubmission continues
    those rounds to the design's last look, and a third submission measures nothing: the verdict
    stands. `extend` refuses the settled run."""
    _noisy_session(repo)

    repo.set("COST", 80)
    first = repo.cli_json("run", "-m", "a gain below the bar")
    assert (first["verdict"], first["rounds"], first["continues"]) == ("discard", 4, None)
    assert "unlikely" in first["reason"]  # stopped early: futility, not the last look
    repo.set("COST", 80)
    second = repo.cli_json("run", "-m", "the same gain again")
    assert second["verdict"] == "discard"
    # on to the design's last look, max_rounds 8: no boundary is within reach of this gain
    assert (second["continues"], second["prior_rounds"]) == (first["run"], 4)
    assert second["rounds"] == 8
    assert any("continues its 4 rounds" in n for n in second["notes"])
    repo.set("COST", 80)
    third = repo.cli_json("run", "-m", "and again")
    assert ((third["verdict"], third["rounds"], third["continues"])
            == ("discard", second["rounds"], second["run"]))
    assert any("verdict stands" in n for n in third["notes"])
    assert len(repo.runs()[-1]["samples"]["candidate"]) == second["rounds"]
    proc = repo.cli("extend", str(first["run"]), check=2)
    assert "settled" in proc.stderr
    assert repo.git("status", "--porcelain") == ""

    repo.set("COST", 81)  # another change: a test of its own
    other = repo.cli_json("run", "-m", "another value")
    assert other["continues"] is None and other["rounds"] == 4


def test_extend_continues_an_undecided_discard(repo: Repo):
    _noisy_session(repo)
    repo.set("COST", 80)
    first = repo.cli_json("run", "-m", "a gain below the bar")
    assert repo.read("work.py").count("COST = 100") == 1  # restored
    extended = repo.cli_json("extend", str(first["run"]))
    assert ((extended["verdict"], extended["continues"], extended["prior_rounds"])
            == ("discard", first["run"], 4))
    assert extended["rounds"] == 8  # on to the last look, past the first run's rounds
    assert repo.git("status", "--porcelain") == ""
    assert repo.cli("extend", "99", check=2).stderr.count("no run 99") == 1


def test_only_the_current_segment_is_continued():
    """Another segment may measure another metric: its rounds are never a prefix here."""
    from autoresearch.experiment import judged_before
    from autoresearch.infra.ledger import Ledger
    from autoresearch.model import ConfigHeader, RunRecord

    def discard(run: int, segment: int) -> RunRecord:
        return RunRecord(run=run, segment=segment, status="discard", verdict="discard", timestamp=0,
                         tree="t", incumbent_tree="i", samples={"incumbent": [1.0], "candidate": [1.0]})

    headers = [ConfigHeader(name="s", metricName="m"), ConfigHeader(name="s", metricName="cpu_s")]
    book = Ledger(headers=headers, runs=[discard(2, 0)])
    assert judged_before(book, "t", "i") is None
    book.runs.append(discard(4, 1))
    assert judged_before(book, "t", "i").run == 4
    assert judged_before(book, "t", "other") is None
