"""Instruction counts come from valgrind's log on a socket: counted code can add to it, never lower it."""

from __future__ import annotations

import shutil
import textwrap

import pytest
from conftest import PYTHON, WORK_PY, Repo

from autoresearch.config import Config, dump
from autoresearch.errors import MetricError
from autoresearch.measure.counts import total_instructions
from autoresearch.measure.sandbox import probe


def test_forged_bytes_in_the_log_can_add_a_count_but_never_hide_or_replace_one():
    real = b"==7== Command: python3 bench.py\n==7== I   refs:      1,000\n"
    assert total_instructions(real) == 1000
    # bytes written just before valgrind's line, with or without a newline, leave it readable
    for junk in (b"==7", b"==7== I   refs:      ", b"==9== I   refs:      1", b"99"):
        forged = b"==7== Command: python3 bench.py\n" + junk + b"==7== I   refs:      1,000\n"
        assert total_instructions(forged) >= 1000
    # a forked process counts without an announcement: an invented one only adds
    assert total_instructions(real + b"==12== I   refs:      5\n") == 1005
    with pytest.raises(MetricError, match="wrote into it"):  # a second count for a real process
        total_instructions(b"==7== I   refs:      1\n" + real)
    with pytest.raises(MetricError, match="without its instruction count"):  # killed before it counted
        total_instructions(b"==7== Command: python3 bench.py\n==8== I   refs:      5\n")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.skipif(not probe().works, reason=f"runs cannot be sealed here: {probe().problem}")
@pytest.mark.parametrize("sealed", [True, False])
def test_code_writing_to_the_counts_cannot_lower_its_count(repo: Repo, sealed: bool):
    repo.write("autoresearch.sh", "#!/usr/bin/env bash\ncd \"$(dirname \"$0\")\"\n"
               f"{PYTHON} -c \"import sys; sys.path.insert(0, '.'); import work; work.spin()\"\n",
               executable=True)
    repo.set("SPIN", 300_000)
    repo.write("autoresearch.toml", dump(Config.model_validate({
        "session": {"name": "instr"}, "metric": {"name": "instructions", "measure": "instructions"},
        "scope": {"include": ["work.py"]}, "sandbox": {"mode": "auto" if sealed else "off"}})))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "bench")
    repo.cli("init")
    baseline = repo.runs()[-1]["metric"]
    forge = textwrap.dedent("""
        import atexit, os
        def _forge():
            # where cachegrind's count files used to be, and every descriptor this process holds
            for place in ("/tmp/autoresearch/valgrind", os.environ.get("TMPDIR", "/tmp")):
                os.makedirs(place, exist_ok=True)
                for name in ("cg.1", f"cg.{os.getpid()}", "cg.out"):
                    with open(os.path.join(place, name), "w") as fh:
                        fh.write("events: Ir\\nsummary: 1\\n")
            for fd in range(3, 1024):
                try:
                    os.write(fd, LINE.format(pid=os.getpid()).encode())
                except OSError:
                    pass
        atexit.register(_forge)
    """)
    # a count for a process that never ran: more instructions, never fewer
    repo.write("work.py", WORK_PY + forge + 'LINE = "==999== Command: x\\n==999== I   refs:      1\\n"\n')
    repo.set("SPIN", 300_000)
    added = repo.cli_json("run", "-m", "invent a process")
    assert added["verdict"] == "discard" and added["incumbent_metric"] == baseline
    assert added["metric"] >= baseline
    # a second count for its own process: the run cannot be counted
    repo.write("work.py", WORK_PY + forge + 'LINE = "=={pid}== I   refs:      1\\n"\n')
    repo.set("SPIN", 300_000)
    own = repo.cli_json("run", "-m", "count myself as 1")
    assert own["verdict"] == "crash" and "wrote into it" in own["reason"], own
    assert [r["verdict"] for r in repo.runs()[1:]] == ["discard", "crash"]
