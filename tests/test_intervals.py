"""Intervals the rounds could not bound: words in the text, null in every JSON face."""

from __future__ import annotations

import json
import math
import time

from conftest import Repo
from test_mcp_server import _call, _data

from autoresearch.faces.mcp_server import build_server
from autoresearch.model import RunRecord, Status, Verdict


def _strict(text: str) -> dict:
    """Parse as `jq` or a browser would: the tokens Infinity and NaN are not JSON."""
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in JSON output")

    return json.loads(text, parse_constant=refuse)


def _unbounded_discard(session: Repo) -> None:
    session.append_record(RunRecord(
        run=2, status=Status.DISCARD, verdict=Verdict.DISCARD, timestamp=int(time.time() * 1000),
        metric=100.0, incumbent_metric=100.0, ratio=1.0, ci=(0.0, math.inf), improvement=0.0,
        p_value=1.0, rounds=1, reason="no significant difference", description="one round only"))


def test_an_unbounded_interval_reads_in_words_and_is_null_in_json(session: Repo):
    _unbounded_discard(session)
    table = session.cli("log").stdout
    row = next(line for line in table.splitlines() if "one round only" in line)
    assert "(unbounded: too few rounds)" in row and "inf" not in row, row

    logged = _strict(session.cli("log", "--json").stdout)
    assert logged["runs"][-1]["ci"] == [0.0, None]
    status = _strict(session.cli("status", "--json").stdout)
    assert status["last"][-1]["ci"] == [0.0, None]
    assert "(unbounded: too few rounds)" in session.cli("status").stdout

    over_mcp = _data(_call(build_server(session.path), "log", {"limit": 1}))
    assert over_mcp["runs"][0]["ci"] == [0.0, None]


def test_a_one_sided_interval_reads_with_infinity_on_its_open_side(session: Repo):
    session.append_record(RunRecord(
        run=2, status=Status.KEEP, verdict=Verdict.KEEP, timestamp=int(time.time() * 1000),
        commit=session.git("rev-parse", "HEAD"), metric=50.0, incumbent_metric=100.0, ratio=0.5,
        ci=(0.4, math.inf), improvement=0.5, p_value=0.01, rounds=2, reason="better",
        description="one-sided"))
    row = next(line for line in session.cli("log").stdout.splitlines() if "one-sided" in line)
    assert "0.500 [0.400, ∞)" in row, row
    status = session.cli("status").stdout
    gain = next(line for line in status.splitlines() if line.startswith("gain"))
    assert "interval unbounded: too few rounds" in gain and "inf" not in gain, gain
    assert _strict(session.cli("status", "--json").stdout)["gain"]["ci"][1] is None
