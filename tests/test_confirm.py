"""The headline gain from paired evidence, and `confirm`: baseline against incumbent, measured now."""

from __future__ import annotations

import math

from conftest import PYTHON, SESSION_SETTINGS, Repo

from autoresearch.stats.evidence import combine, fixed_estimate

# held-out items cost twice as much plus a fixed part: the ratio differs from the usual inputs',
# which shows which inputs a confirm measured
HELDOUT_BENCH = """\
#!/usr/bin/env bash
cd "$(dirname "$0")"
__PYTHON__ -c "
import os, sys
sys.path.insert(0, '.')
import work
held = os.environ.get('AUTORESEARCH_ITEMS') == 'heldout'
print(f'METRIC cost={work.COST * 2 + 10 if held else work.COST}')
if held:
    print('METRIC heldout=1')
"
""".replace("__PYTHON__", PYTHON)


def test_combine_multiplies_ratios_and_adds_log_variances():
    c = combine([0.8, 0.5], [(0.7, 0.9), (0.5, 0.5)], "lower")
    assert math.isclose(c.ratio, 0.4) and math.isclose(c.improvement, 0.6)
    half = (math.log(0.9) - math.log(0.7)) / 2  # the exact keep adds no uncertainty
    assert math.isclose(math.log(c.ci[1] / c.ratio), half, rel_tol=1e-9)
    assert not c.exact and combine([0.5], [(0.5, 0.5)], "lower").exact
    higher = combine([1.25, 1.2], [(1.2, 1.3), (1.1, 1.3)], "higher")
    assert math.isclose(higher.improvement, 0.5)


def test_combined_interval_covers_the_true_gain_at_its_level():
    """Chained keeps, each with a t interval from 8 noisy rounds: the combined 95% interval covers
    the true product in at least 95% of seeded sessions."""
    import random

    rng = random.Random(7)
    truth = [0.9, 0.8, 0.95]
    covered, trials = 0, 400
    for _ in range(trials):
        ratios, cis = [], []
        for r in truth:
            inc = [100.0 * math.exp(rng.gauss(0, 0.1)) for _ in range(8)]
            cand = [100.0 * r * math.exp(rng.gauss(0, 0.1)) for _ in range(8)]
            e = fixed_estimate(inc, cand, "lower", trim=0.0)
            ratios.append(e.ratio)
            cis.append(e.ci)
        c = combine(ratios, cis, "lower")
        covered += c.ci[0] <= math.prod(truth) <= c.ci[1]
    assert covered / trials >= 0.95


def test_status_headline_and_confirm_on_held_out_inputs(repo: Repo):
    repo.write("autoresearch.sh", HELDOUT_BENCH, executable=True)
    repo.git("commit", "-qam", "benchmark with held-out items")
    repo.cli("init", "--name", "c", "--metric", "cost", "--scope", "work.py")
    proc = repo.cli("confirm", check=2)
    assert "still the baseline" in proc.stderr
    # a constant metric decides as surely at alpha = 5% without a warm-up; two held-out confirms
    # are as good a cap as three
    toml = repo.read("autoresearch.toml")
    for old, new in (*SESSION_SETTINGS, ("max_heldout = 3", "max_heldout = 2")):
        assert old in toml
        toml = toml.replace(old, new)
    repo.write("autoresearch.toml", toml)
    repo.git("commit", "-qm", "settings for a constant metric", "autoresearch.toml")
    repo.set("COST", 60)
    assert repo.cli_json("run", "-m", "0.6")["verdict"] == "keep"
    repo.set("COST", 30)
    assert repo.cli_json("run", "-m", "0.5")["verdict"] == "keep"

    st = repo.cli_json("status")
    assert math.isclose(st["gain"]["ratio"], 0.3) and st["gain"]["exact"] and st["gain"]["keeps"] == 2
    assert math.isclose(st["improvement_pct"], 70.0)
    assert "70.0% better" in repo.cli("status").stdout

    held = repo.cli_json("confirm", "--rounds", "2")
    assert held["inputs"] == "heldout" and held["passed"] is True and held["remaining_heldout"] == 1
    assert math.isclose(held["ratio"], 70 / 210)  # the benchmark saw AUTORESEARCH_ITEMS=heldout
    confirms = [r for r in repo.ledger() if r.get("type") == "confirm"]
    assert len(confirms) == 1 and confirms[0]["env"] == {"AUTORESEARCH_ITEMS": "heldout"}

    st = repo.cli_json("status")  # what an agent reading status sees: pass or fail, no numbers
    assert st["confirm"]["passed"] is True and st["confirm"]["current"] is True
    assert "ratio" not in st["confirm"] and "improvement_pct" not in st["confirm"]
    assert math.isclose(repo.cli_json("status", "--show-heldout")["confirm"]["ratio"], 70 / 210)

    dev = repo.cli_json("confirm", "--rounds", "2", "--inputs", "dev")
    assert math.isclose(dev["ratio"], 0.3) and dev["agrees"] is True  # status agrees with confirm
    assert len(repo.cli_json("log")["runs"]) == 3  # a confirm is no experiment

    repo.cli("confirm", "--rounds", "1")
    proc = repo.cli("confirm", "--rounds", "1", check=2)
    assert "used its 2 held-out confirm" in proc.stderr


def test_confirm_says_so_when_the_benchmark_ignores_the_heldout_variable(session: Repo):
    """The default benchmark never reads AUTORESEARCH_ITEMS: the confirm measured the usual
    inputs and must not claim held-out ones, nor spend the held-out cap."""
    session.set("COST", 50)
    assert session.cli_json("run", "-m", "halve")["verdict"] == "keep"
    result = session.cli_json("confirm", "--rounds", "1")
    assert result["inputs"] == "dev" and result["passed"] is True
    assert result["remaining_heldout"] == 3 and math.isclose(result["ratio"], 0.5)
    assert "same inputs as the experiments" in result["notes"][0]
    text = session.cli("confirm", "--rounds", "1").stdout
    assert "PASSED on the usual inputs" in text and "did not print `METRIC heldout=1`" in text
    assert not [line for line in text.splitlines() if "held-out" in line and "note:" not in line]
    st = session.cli_json("status")
    assert st["confirm"]["inputs"] == "dev" and st["heldout_confirms_left"] == 3
    assert "ratio" in st["confirm"]  # not held-out: nothing to hide from an agent


def test_confirm_without_keeps_has_nothing_to_confirm(session: Repo):
    """A configuration commit moved the incumbent but no change was kept: nothing is measured."""
    session.set("COST", 120)
    assert session.cli_json("run", "-m", "worse")["verdict"] == "discard"
    config = session.read("autoresearch.toml").replace("checks_timeout = 30", "checks_timeout = 31")
    assert config != session.read("autoresearch.toml")
    session.write("autoresearch.toml", config)
    session.git("commit", "-qam", "longer checks timeout")
    proc = session.cli("confirm", "--rounds", "1", check=2)
    assert "nothing to confirm" in proc.stderr and "no keeps" in proc.stderr
    assert "FAILED" not in proc.stdout + proc.stderr
    assert not [r for r in session.ledger() if r.get("type") == "confirm"]
