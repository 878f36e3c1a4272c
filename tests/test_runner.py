"""The runner: process groups, hard timeouts, bounded output."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import PYTHON, processes_running, unique_hang, wait_until

from autoresearch.infra.runner import read_tail, run_command


def test_success_captures_output_and_resources(tmp_path: Path):
    r = run_command(f"echo out; echo err >&2; {PYTHON} -c 'sum(range(10**6))'", tmp_path,
                    tmp_path / "log", timeout=30)
    assert r.ok and r.returncode == 0 and not r.timed_out
    assert r.stdout_path.read_text() == "out\n" and r.stderr_path.read_text() == "err\n"
    assert r.cpu_s > 0 and r.peak_rss_mb > 1 and r.wall_s > 0
    assert "out" in r.tail() and "err" in r.tail()


def test_exit_code_is_reported(tmp_path: Path):
    r = run_command("exit 3", tmp_path, tmp_path / "log", timeout=10)
    assert (r.ok, r.returncode, r.timed_out) == (False, 3, False)


def test_timeout_kills_the_whole_group_including_grandchildren(tmp_path: Path):
    child, grandchild = f"sleep {unique_hang()}", f"sleep {unique_hang()}"
    start = time.monotonic()
    r = run_command(f"{child} & {grandchild}; wait", tmp_path, tmp_path / "log", timeout=1)
    assert r.timed_out and r.returncode is None and not r.ok
    assert time.monotonic() - start < 500  # not the ~1000 s the sleeps would take
    wait_until(lambda: not processes_running(child) and not processes_running(grandchild),
               "the killed sleeps to exit", timeout=30)


def test_background_leftovers_are_killed_after_a_normal_exit(tmp_path: Path):
    leftover = f"sleep {unique_hang()}"
    r = run_command(f"({leftover} &) ; echo done", tmp_path, tmp_path / "log", timeout=10)
    assert r.ok
    wait_until(lambda: not processes_running(leftover), "the leftover sleep to exit", timeout=30)


def test_huge_output_stays_out_of_memory(tmp_path: Path):
    # 200 MB of output; the parent's peak RSS must stay far below that. VmHWM is this process's
    # own high-water mark (ru_maxrss would include the pytest process it was forked from).
    code = (
        "import re, sys; from pathlib import Path; from autoresearch.infra.runner import run_command\n"
        f"r = run_command('head -c 200000000 /dev/zero | tr \"\\\\0\" x', Path({str(tmp_path)!r}), "
        f"Path({str(tmp_path / 'big')!r}), timeout=120)\n"
        "hwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
        "print(r.stdout_path.stat().st_size, hwm // 1024)\n"
        "print(len(r.tail()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    size, rss_mb, tail_len = map(int, out.split())
    assert size == 200_000_000
    assert rss_mb < 100
    assert tail_len <= 4096 * 2


def test_non_utf8_output_is_tolerated(tmp_path: Path):
    r = run_command("printf '\\xff\\xfe bad bytes\\n'", tmp_path, tmp_path / "log", timeout=10)
    assert r.ok and "bad bytes" in r.tail()


def test_read_tail_drops_the_partial_first_line(tmp_path: Path):
    path = tmp_path / "f"
    path.write_text("".join(f"line {i}\n" for i in range(10000)))
    tail = read_tail(path, 100)
    assert tail.endswith("line 9999\n")
    assert tail.splitlines()[0].startswith("line ")


def test_peak_rss_is_the_commands_own_not_the_harness_memory(tmp_path: Path):
    ballast = bytearray(300 * 1024 * 1024)  # the harness's own memory must not leak into the figure
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_command(f"{PYTHON} -c 'pass'", tmp_path, tmp_path / "s", timeout=30)
    big = run_command(f"{PYTHON} -c 'b = bytearray(200 * 1024 * 1024); b[::4096] = b\"x\" * len(b[::4096])'",
                      tmp_path, tmp_path / "b", timeout=30)
    del ballast
    assert small.ok and big.ok
    assert small.peak_rss_mb < 60
    assert 200 < big.peak_rss_mb < 280


def test_signal_exit_codes_and_cpu_of_the_command(tmp_path: Path):
    r = run_command("kill -TERM $$", tmp_path, tmp_path / "k", timeout=10)
    assert r.returncode == 128 + 15
    r = run_command(f"{PYTHON} -c 'sum(range(3 * 10**7))'", tmp_path, tmp_path / "c", timeout=60)
    assert r.ok and r.cpu_s > 0.1 and r.wall_s >= r.cpu_s * 0.5


def test_a_directory_removed_just_before_the_launch_is_named_not_an_internal_error(tmp_path: Path,
                                                                                   monkeypatch):
    # The removal lands between the check and the launch: the launch itself must say so.
    from autoresearch.infra import runner

    gone = tmp_path / "checkout"
    checks = iter([lambda _cwd: None])
    real = runner._require_directory
    monkeypatch.setattr(runner, "_require_directory", lambda cwd: next(checks, real)(cwd))
    try:
        run_command("true", gone, tmp_path / "log" / "x", 10)
    except runner.DirectoryGone as gone_error:
        assert "was removed while autoresearch was using it" in str(gone_error)
    else:
        raise AssertionError("a launch in a missing directory must raise DirectoryGone")
