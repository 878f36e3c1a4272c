"""A pi-autoresearch session (flat layout, and the `.auto/` layout of pi-autoresearch 1.6)
continues here: `init` adopts its metric, imports its ledger, and the next experiment follows on."""

from __future__ import annotations

import json

from conftest import BENCH_SH, CHECKS_SH, Repo

HEADER = {"type": "config", "name": "Make cost lower", "metricName": "cost", "metricUnit": "ms",
          "bestDirection": "lower"}


def _run(run: int, metric: float, status: str, description: str, segment: int = 0) -> dict:
    """A line as pi-autoresearch's log_experiment writes it."""
    return {"run": run, "commit": f"{run:07x}", "metric": metric, "metrics": {"mem": 50},
            "status": status, "description": description, "timestamp": 1_790_000_000_000 + run,
            "segment": segment, "confidence": None, "iterationTokens": None}


def _jsonl(*lines: dict) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def _work_behind_the_cost(repo: Repo) -> None:
    """The benchmark reports `cost` in ms, a time: a claimed saving must be work its process no
    longer does, or the harness's cross-check calls it an inconsistent metric. The process sleeps
    200 ms that the candidate saves, four times the 50 ms it claims: its wall time bears the claim
    out far above the noise."""
    repo.set("NAP", 0.2)


def _halve_the_work(repo: Repo) -> None:
    repo.set("COST", 50)
    repo.set("NAP", 0.0)


def test_a_flat_pi_session_continues_with_its_history(repo: Repo):
    _work_behind_the_cost(repo)
    repo.write("autoresearch.md", "# Make cost lower\nTry caching.\n")
    repo.write("autoresearch.jsonl", _jsonl(HEADER, _run(1, 120, "keep", "baseline"),
                                            _run(2, 100, "keep", "cache the table"),
                                            _run(3, 130, "discard", "unroll the loop"),
                                            _run(4, 0, "crash", "use threads")))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "pi-autoresearch session")
    out = repo.cli_json("init", "--scope", "work.py")  # name, metric and unit come from pi's ledger
    assert out["branch"] == "autoresearch/make-cost-lower"
    assert out["imported"]["layout"] == "flat" and out["imported"]["runs"] == 4
    assert any("reference" in note and "100ms" in note for note in out["notes"])
    st = repo.cli_json("status")
    assert (st["metric"], st["unit"], st["direction"]) == ("cost", "ms", "lower")
    assert (st["baseline"], st["incumbent"]) == (120, 100)
    runs = repo.cli_json("log")["runs"]
    assert [(r["run"], r["verdict"], r["description"]) for r in runs] == [
        (1, "baseline", "baseline"), (2, "keep", "cache the table"),
        (3, "discard", "unroll the loop"), (4, "crash", "use threads")]
    assert "unroll the loop" in repo.cli("brief").stdout  # its dead ends are in the brief
    # The ledger is not part of the session branch, and the next experiment follows on.
    assert "autoresearch.jsonl" not in repo.git("ls-files").split()
    _halve_the_work(repo)
    judged = repo.cli_json("run", "-m", "halve the work")
    assert (judged["run"], judged["verdict"]) == (5, "keep")
    assert repo.cli_json("status")["incumbent"] == 50


def test_the_auto_layout_of_pi_autoresearch_1_6_is_imported(repo: Repo):
    _work_behind_the_cost(repo)
    repo.write(".gitignore", repo.read(".gitignore") + ".auto/\n")
    repo.git("commit", "-qam", "ignore pi's folder")
    repo.write(".auto/prompt.md", "# Objective\nMake cost lower without changing answers.\n")
    repo.write(".auto/ideas.md", "- precompute the table\n")
    repo.write(".auto/measure.sh", BENCH_SH.replace('cd "$(dirname "$0")"', 'cd "$(dirname "$0")/.."'),
               executable=True)
    repo.write(".auto/checks.sh", CHECKS_SH.replace('cd "$(dirname "$0")"', 'cd "$(dirname "$0")/.."'),
               executable=True)
    old = {**HEADER, "name": "first try", "metricName": "old_ms", "metricUnit": "ms"}
    repo.write(".auto/log.jsonl", _jsonl(old, _run(1, 9, "keep", "baseline"),
                                         HEADER, _run(2, 110, "keep", "baseline", 1),
                                         _run(3, 100, "keep", "trim the loop", 1)))
    out = repo.cli_json("init", "--name", "speed", "--scope", "work.py")
    assert out["imported"]["layout"] == ".auto" and out["imported"]["runs"] == 3
    config = repo.read("autoresearch.toml")
    assert '"./.auto/measure.sh"' in config and '"./.auto/checks.sh"' in config
    assert repo.read("autoresearch.md") == "# Objective\nMake cost lower without changing answers.\n"
    assert repo.cli_json("ideas")["ideas"] == ["precompute the table"]
    # The benchmark and checks are committed (despite .gitignore), so both arms measure with them.
    assert {".auto/measure.sh", ".auto/checks.sh"} <= set(repo.git("ls-files").split())
    st = repo.cli_json("status")
    assert (st["segment"], st["baseline"], st["incumbent"]) == (1, 110, 100)
    assert [r["verdict"] for r in repo.cli_json("log")["runs"]] == ["baseline", "baseline", "keep"]
    _halve_the_work(repo)
    assert repo.cli_json("run", "-m", "halve")["verdict"] == "keep"
    repo.write(".auto/measure.sh", repo.read(".auto/measure.sh").replace("work.COST", "1"))
    tampered = repo.cli_json("run", "-m", "edit the benchmark")
    assert (tampered["verdict"], tampered["reason"]) == ("discard", "tampered: .auto/measure.sh")
