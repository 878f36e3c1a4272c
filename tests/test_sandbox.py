"""Sealed runs: candidate code that attacks the number, the other arm, the record or the machine.

Each attack is a candidate in a real session with the real bubblewrap sandbox; what is asserted
is the verdict and the ledger (never a timing): no attack is kept and no process survives.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import (
    BENCH_SH,
    PYTHON,
    WORK_PY,
    Repo,
    fewer_rounds,
    processes_running,
    textblock,
    unique_hang,
    wait_until,
)

from autoresearch.config import Config, dump
from autoresearch.infra.runner import run_command
from autoresearch.measure import seccomp
from autoresearch.measure.sandbox import Sandbox, Step, make_sandbox, probe
from autoresearch.model import SandboxMode

pytestmark = pytest.mark.skipif(not probe().works, reason=f"runs cannot be sealed here: {probe().problem}")


def _alive_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line mentions `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z":
            found.append(int(entry.name))
    return found


def _candidate(session: Repo, attack: str, **constants: object) -> None:
    """work.py with the attack appended: it runs whenever the checks or the benchmark import it."""
    session.write("work.py", WORK_PY + "\n" + textwrap.dedent(attack))
    for name, value in constants.items():
        session.set(name, value)


def _start(repo: Repo, metric: dict | None = None, sandbox: dict | None = None, commands: dict | None = None,
           stats: dict | None = None, **files: str) -> Repo:
    """A session on `repo` with this configuration and these files, all committed before `init`."""
    for rel, text in files.items():
        repo.write(rel.replace("_sh", ".sh").replace("_py", ".py"), text, executable=rel.endswith("_sh"))
    config = Config.model_validate({
        "session": {"name": "speed"}, "metric": {"name": "cost", **(metric or {})},
        "commands": {"checks": "./autoresearch.checks.sh", "timeout": 5, "checks_timeout": 30,
                     **(commands or {})},
        "scope": {"include": ["work.py"]}, "sandbox": sandbox or {}, "stats": stats or {},
    })
    repo.write("autoresearch.toml", dump(config))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "session setup")
    repo.cli("init")
    return repo


def _incumbent_checkout(session: Repo) -> Path:
    """Where the harness checked out the incumbent (a worktree of the repository)."""
    paths = [line.split(" ", 1)[1] for line in session.git("worktree", "list", "--porcelain").splitlines()
             if line.startswith("worktree ")]
    (found,) = [Path(p) for p in paths if Path(p).name == "incumbent"]
    return found


def _commit_config(session: Repo, old: str, new: str) -> None:
    """The user changes the configuration on the session branch."""
    text = session.read("autoresearch.toml")
    assert old in text
    session.write("autoresearch.toml", text.replace(old, new))
    session.git("commit", "-qm", "config", "autoresearch.toml")


def _verdict(session: Repo, message: str) -> dict:
    head = session.git("rev-parse", "HEAD")
    result = session.cli_json("run", "-m", message)
    record = session.runs()[-1]
    assert record["run"] == result["run"] and record["sandbox"] == "on"
    if result["verdict"] != "keep":
        assert session.git("rev-parse", "HEAD") == head
    return result


# --- the number ---------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["stdout", "file"])
def test_metric_lines_added_by_candidate_code_never_count(repo: Repo, channel: str):
    bench = BENCH_SH
    if channel == "file":
        bench = bench.replace('print(f"METRIC cost={work.COST}")',
                              'open(os.environ["AUTORESEARCH_RESULT_FILE"], "a")'
                              '.write(f"METRIC cost={work.COST}\\n")')
    session = _start(repo, metric={"channel": channel}, autoresearch_sh=bench)
    _candidate(session, """
        import os, atexit
        print("METRIC cost=1")  # the other channel: ignored
        def _claim():
            target = os.environ.get("AUTORESEARCH_RESULT_FILE")
            if target:
                open(target, "a").write("METRIC cost=1\\n")
            print("METRIC cost=1")
        atexit.register(_claim)
    """)
    result = _verdict(session, "claim a cost of 1")
    assert result["verdict"] == "crash"
    assert f"METRIC cost appears {2 if channel == 'file' else 3} times" in result["reason"]


def _timed(untimed: str, section: str, site: bool = True) -> str:
    """A benchmark that runs `untimed`, then times `section` and prints it as METRIC t_ms."""
    return textblock(f"""
        #!/usr/bin/env bash
        set -euo pipefail
        cd "$(dirname "$0")"
        {PYTHON}{"" if site else " -S"} - <<'PY'
        import sys, time
        sys.path.insert(0, ".")
        import work
        {untimed}
        t = time.perf_counter()
        {section}
        print(f"METRIC t_ms={{(time.perf_counter() - t) * 1000:.3f}}")
        PY
    """)


def test_a_faked_time_the_process_does_not_show_is_an_inconsistent_metric(repo: Repo):
    # The timed section is a sleep: the process's wall time follows it closely on any machine.
    # A sleep needs no warm-up run. Half as long again is untimed, so an honest cut saves the
    # process more than it claims, and no draw of the rounds can make it look inconsistent.
    session = _start(repo, metric={"name": "t_ms", "unit": "ms"}, stats={"warmup": False},
                     autoresearch_sh=_timed("time.sleep(work.PAUSE / 2)", "time.sleep(work.PAUSE)"),
                     work_py=WORK_PY + "PAUSE = 0.3\n")

    _candidate(session, """
        import time
        _clock = time.perf_counter
        _start = _clock()
        time.perf_counter = lambda: _start + (_clock() - _start) / 100  # the clock the benchmark reads
        PAUSE = 0.3
    """)
    lie = _verdict(session, "a clock that runs slow")
    assert lie["verdict"] == "discard" and lie["reason"].startswith(
        "inconsistent metric: the benchmark claims 9")
    assert "wall" in lie["reason"]

    session.set("PAUSE", 0.1)  # an honest saving of 0.2 s: the process shows it
    assert _verdict(session, "sleep less")["verdict"] == "keep"


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_a_faked_time_too_small_for_the_process_to_show_is_refuted_by_its_instruction_count(repo: Repo):
    # The timed section is a small share of its process's wall time (a long untimed sleep):
    # halving it moves that by about one percent, which no cross-check of wall times sees even
    # when load stretches the section several times over. It
    # is most of the process's CPU time (the interpreter starts without its site), so code
    # that skips it only when counted is caught.
    session = _start(repo, metric={"name": "t_ms", "unit": "ms"}, stats={"alpha": 0.05, "warmup": False},
                     autoresearch_sh=_timed("time.sleep(1.2)", "work.spin()", site=False),
                     work_py=WORK_PY.replace("SPIN = 0", "SPIN = 500000"))
    halved = """
        import os, sys
        class _Halved:  # the real line never reaches stdout: a time half as long does
            def __init__(self, out):
                self.out = out
            def write(self, text):  # (no `re`: its import would cost more than the timed work)
                if text.startswith("METRIC t_ms="):
                    text = f"METRIC t_ms={float(text[12:]) / 2:.3f}"
                return self.out.write(text)
            def __getattr__(self, name):
                return getattr(self.out, name)
        sys.stdout = _Halved(sys.stdout)
    """
    _candidate(session, halved, SPIN=500000)
    lie = _verdict(session, "report half the time")
    assert lie["verdict"] == "discard", lie
    assert (lie["reason"].startswith("inconsistent metric: the benchmark claims ")
            and "instructions" in lie["reason"])
    claim = session.runs()[-1]["samples"]["claim"]
    assert claim["checked"] == "instructions" and claim["claimed_s"] > claim["allowed_s"]

    # the same lie, from code that refuses to run when counted: no count, no keep
    _candidate(session, halved + """
        if "vgpreload" in os.environ.get("LD_PRELOAD", ""):
            sys.exit(3)
    """, SPIN=500000)
    dodge = _verdict(session, "report half the time, never counted")
    assert (dodge["verdict"] == "discard"
            and "counting the candidate's instructions failed" in dodge["reason"]), dodge

    # the same lie, from code that skips its work when counted: the count allows any claim,
    # but the timed runs' CPU time shows the work was done there
    _candidate(session, halved + """
        if "vgpreload" in os.environ.get("LD_PRELOAD", ""):
            import work
            work.SPIN = 0
    """, SPIN=500000)
    skip = _verdict(session, "report half the time, skip the work when counted")
    assert skip["verdict"] == "discard" and "did not do the timed runs' work" in skip["reason"], skip

    session.write("work.py", WORK_PY.replace("SPIN = 0", "SPIN = 250000"))  # honest: half the work
    honest = _verdict(session, "half the loop")
    assert honest["verdict"] == "keep", honest
    claim = session.runs()[-1]["samples"]["claim"]
    assert claim["checked"] in ("wall", "instructions")
    if claim["checked"] == "instructions":
        assert claim["instructions"]["candidate"] < claim["instructions"]["incumbent"]


# --- the other arm --------------------------------------------------------------------------


def test_a_detached_daemon_dies_with_its_run_and_never_reaches_the_incumbent(session: Repo):
    marker = f"ardaemon{os.getpid()}"
    _candidate(session, f"""
        import os, sys, time
        if "{marker}" not in sys.argv[0] and os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                # a double-forked daemon: make the incumbent look slow, for a long while
                os.execvp(sys.executable, [sys.executable, "-c", '''
        import glob, os, sys, time
        end = time.time() + 60
        while time.time() < end:
            for path in glob.glob("../incumbent/work.py") + glob.glob("../../runs/*/*.metrics"):
                try:
                    open(path, "a").write("\\\\nCOST = 1000\\\\nMETRIC cost=1000\\\\n")
                except OSError:
                    pass
            time.sleep(0.05)
        ''', "{marker}"])
            os._exit(0)
    """)
    result = _verdict(session, "a daemon")
    assert result["verdict"] == "discard" and result["metric"] == result["incumbent_metric"] == 100
    assert _alive_with(marker) == []
    assert "COST = 1000" not in (_incumbent_checkout(session) / "work.py").read_text()


def test_a_killed_harness_takes_its_sealed_run_with_it(session: Repo):
    """bwrap is the harness's own child and dies with it (--die-with-parent), the run's PID
    namespace with it: nothing waits for the next command's recovery."""
    hang = unique_hang()
    session.set("COST", 10)
    session.set("HANG", hang)
    proc = subprocess.Popen([sys.executable, "-m", "autoresearch", "run", "-m", "killed"],
                            cwd=session.path, env=session.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_until(lambda: processes_running(f"sleep {hang}") != [], "the hanging benchmark's start")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_until(lambda: processes_running(f"sleep {hang}") == [], "the sealed run's end")
    assert session.cli_json("status")["pending"] is True


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_a_hung_benchmark_leaves_no_detached_process(repo: Repo, mode: str):
    session = _start(repo, sandbox={"mode": mode})
    marker = f"arhang{os.getpid()}"
    _candidate(session, f"""
        import subprocess, sys, time
        if sys.argv[0] == "-":  # the benchmark, not the checks
            subprocess.Popen(["setsid", "sleep", "1000", "{marker}"], start_new_session=True)
            subprocess.Popen(["bash", "-c", "(setsid sleep 1001 {marker} &) ; sleep 1002"])
            time.sleep(1000)
    """)
    result = _verdict_any(session, "hang")
    assert result["verdict"] == "timeout"
    assert _alive_with(marker) == []


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_bytecode_planted_by_a_failing_candidate_never_reaches_the_next_experiment(repo: Repo, mode: str):
    session = _start(repo, sandbox={"mode": mode})
    # During its checks, the candidate compiles a slow incumbent (COST = 1000) and plants the
    # bytecode, stamped with the incumbent's own source size and time, in its __pycache__.
    _candidate(session, """
        import glob, importlib.util, importlib._bootstrap_external as bx, marshal, os
        for source in glob.glob(os.path.abspath("../incumbent/work.py")):
            try:
                text = open(source).read().replace("COST = 100", "COST = 1000")
                st = os.stat(source)
                data = bx._code_to_timestamp_pyc(compile(text, source, "exec"), st.st_mtime, st.st_size)
                target = importlib.util.cache_from_source(source)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "wb").write(data)
            except OSError:
                pass
    """, FAIL=True)
    assert _verdict_any(session, "fail and plant")["verdict"] == "checks_failed"
    planted = list(_incumbent_checkout(session).glob("__pycache__/work.*.pyc"))
    if mode == "off":
        assert planted  # the attack itself works when runs are not sealed...
    else:
        assert not planted
    session.write("work.py", WORK_PY + "# a comment\n")  # ...but the next, honest no-op is not kept
    result = _verdict_any(session, "no-op")
    assert result["verdict"] == "discard" and result["metric"] == result["incumbent_metric"] == 100


def _verdict_any(session: Repo, message: str) -> dict:
    """A verdict whether or not the run was sealed."""
    head = session.git("rev-parse", "HEAD")
    result = session.cli_json("run", "-m", message)
    if result["verdict"] != "keep":
        assert session.git("rev-parse", "HEAD") == head
    return result


@pytest.mark.parametrize("place", ["/tmp", "~", "scratch"])
def test_results_cached_between_runs_do_not_reach_the_next_run(repo: Repo, place: str):
    session = _start(repo, sandbox={"writable": ["scratch"]} if place == "scratch" else {})
    cache = {"/tmp": f"/tmp/ar-memo-{os.getpid()}", "~": f"~/.ar-memo-{os.getpid()}",
             "scratch": "scratch/memo"}[place]
    host = Path(os.path.expanduser(cache))
    try:
        # The first run computes and caches; every later run would find the cache and be "fast".
        _candidate(session, f"""
            import os
            _memo = os.path.expanduser("{cache}")
            COST = 1 if os.path.exists(_memo) else 100
            try:
                open(_memo, "w").write("done")
            except OSError:
                pass
        """)
        result = _verdict(session, f"memoize in {place}")
        assert result["verdict"] == "discard" and result["metric"] == 100
    finally:
        if host.is_absolute() and host.exists():
            host.unlink()
    assert not host.exists() or place == "scratch"


def test_the_benchmark_and_checks_see_no_git_ledger_or_harness_state(session: Repo):
    # A candidate that finds the ledger, git or the harness's state reports itself as better.
    _candidate(session, """
        import os
        from pathlib import Path
        _here = Path.cwd()
        _seen = [p for up in [_here, *_here.parents]
                 for p in (up / "autoresearch.jsonl", up / ".git" / "HEAD", up / ".autoresearch" / "runs")
                 if p.exists()]
        COST = 1 if _seen else 100
    """)
    result = _verdict(session, "read the ledger")
    assert result["verdict"] == "discard" and result["metric"] == 100


def test_a_value_cached_in_the_kernels_keyring_never_reaches_the_next_run(session: Repo):
    # The kernel's keyrings outlive a process: the user keyring is per uid, the session keyring
    # the harness's own. The first run would compute and cache, every later one read the cache.
    name = f"ar-memo-{os.getpid()}"
    _candidate(session, f"""
        import ctypes, sys
        _libc = ctypes.CDLL(None, use_errno=True)
        _nr = {_KEYRING_NR}
        COST = 100
        for _ring in (-4, -3):  # @u, @s
            if _libc.syscall(_nr["keyctl"], 10, _ring, b"user", b"{name}", 0) > 0:  # KEYCTL_SEARCH
                COST = 1
            else:
                _libc.syscall(_nr["add_key"], b"user", b"{name}", b"1", 1, _ring)
        print("cached" if COST == 1 else "computed", file=sys.stderr)
    """)
    result = _verdict(session, "memoize in the kernel's keyring")
    assert result["verdict"] == "discard" and result["metric"] == 100
    run_dir = session.path / ".autoresearch" / "runs" / f"{result['run']:04d}"
    said = [line for err in run_dir.glob("*.err") for line in err.read_text().splitlines()
            if line in ("cached", "computed")]
    assert said and set(said) == {"computed"}, said


# The keyring calls on this machine, for candidate code that calls them through libc.syscall.
_KEYRING_NR = {"x86_64": {"add_key": 248, "request_key": 249, "keyctl": 250},
               "aarch64": {"add_key": 217, "request_key": 218, "keyctl": 219}}.get(seccomp.machine(), {})


@pytest.mark.skipif(not _KEYRING_NR, reason=f"no seccomp filter for {seccomp.machine()}")
def test_a_sealed_run_can_neither_use_the_kernels_keyrings_nor_read_the_signing_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the harness's state where sealed runs would otherwise see it: in a readable directory
    xdg = tmp_path / "xdg"
    keys = xdg / "autoresearch" / "keys"
    keys.mkdir(parents=True)
    (keys / "0123").write_text("secret\n")
    (xdg / "other").write_text("visible\n")
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg))
    sandbox = make_sandbox(SandboxMode.ON, tmp_path / "repo", tmp_path / "repo/.git", readable=[str(xdg)])
    (tmp_path / "work").mkdir()
    script = textblock(f"""
        cat {xdg}/other
        ls -A {xdg}/autoresearch | sed 's/^/listed: /'
        cat {keys}/0123 2>/dev/null
        {sys.executable} -I -S - <<'PY'
        import ctypes, errno, json
        libc = ctypes.CDLL(None, use_errno=True)
        nr = {_KEYRING_NR}
        def call(*args):
            return "ok" if libc.syscall(*args) >= 0 else errno.errorcode[ctypes.get_errno()]
        print(json.dumps({{
            "add_key": call(nr["add_key"], b"user", b"ar-probe", b"1", 1, -4),
            "keyctl": call(nr["keyctl"], 0, -4, 0),  # KEYCTL_GET_KEYRING_ID of @u
            "request_key": call(nr["request_key"], b"user", b"ar-probe", None, 0)}}))
        PY
    """)
    r = run_command(script, tmp_path / "work", tmp_path / "log", timeout=60,
                    prefix=sandbox.prefix(tmp_path / "work", Step.BENCHMARK))
    assert r.ok, r.tail()
    lines = r.stdout_path.read_text().splitlines()
    assert lines[0] == "visible" and "secret" not in lines
    assert not [line for line in lines if line.startswith("listed")]
    assert json.loads(lines[-1]) == {"add_key": "EPERM", "keyctl": "EPERM", "request_key": "EPERM"}


# --- the sandbox itself -------------------------------------------------------------------


def test_a_sealed_run_sees_its_checkout_read_only_and_nothing_private(tmp_path: Path):
    repo = tmp_path / "repo"
    arm, other = repo / ".autoresearch/worktrees/candidate", repo / ".autoresearch/worktrees/incumbent"
    for path in (arm, other, repo / ".git", repo / "data"):
        path.mkdir(parents=True)
    (repo / "autoresearch.jsonl").write_text("{}\n")
    (repo / "data/input.txt").write_text("input\n")
    (arm / "work.py").write_text("x = 1\n")
    sandbox = make_sandbox(SandboxMode.ON, repo, repo / ".git", links=["data"], writable=["cache"])
    probe_script = textblock(f"""
        for p in ../../../autoresearch.jsonl ../../../.git ../incumbent ~/.ssh; do
            test -e "$p" && echo "visible: $p"
        done
        cat ../../../data/input.txt
        touch work.py 2>/dev/null && echo "checkout writable"
        touch cache/x && echo "scratch writable"
        touch /tmp/x && echo "tmp writable"
        ls -A ~ | head -1
        {PYTHON} -S -c "import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)" 2>/dev/null &&
            echo "network"
        ps -e -o pid= > /tmp/ps && wc -l < /tmp/ps
    """)
    (arm / "cache").mkdir()
    (arm / "cache/stale").write_text("left by an earlier run\n")
    r = run_command(probe_script, arm, tmp_path / "log", timeout=60,
                    prefix=sandbox.prefix(arm, Step.BENCHMARK))
    assert r.ok, r.tail()
    lines = r.stdout_path.read_text().splitlines()
    assert not [line for line in lines if line.startswith("visible")]
    assert "input" in lines and "checkout writable" not in lines and "network" not in lines
    assert "scratch writable" in lines and "tmp writable" in lines
    assert not (arm / "cache/stale").exists() and (arm / "cache/x").exists()
    assert lines[-1].strip() == "3"  # pid 1, bash, ps: nothing of the machine's processes
    build = run_command("touch built && echo ok", arm, tmp_path / "b", timeout=60,
                        prefix=sandbox.prefix(arm, Step.BUILD))
    assert build.ok and (arm / "built").exists()


def test_the_cpu_of_a_detached_process_counts_and_it_dies_with_the_run(tmp_path: Path):
    marker = f"arburn{os.getpid()}"
    sandbox = make_sandbox(SandboxMode.ON, tmp_path / "repo", tmp_path / "repo/.git")
    (tmp_path / "work").mkdir()
    # The daemon burns 0.5 s of CPU, tells the main process, and would then live on.
    script = textblock(f"""
        {PYTHON} -S - {marker} <<'PY'
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while time.process_time() < 0.5:
                    pass
                open("/tmp/burnt", "w").close()
                time.sleep(1000)
            os._exit(0)
        while not os.path.exists("/tmp/burnt"):
            time.sleep(0.01)
        PY
    """)
    r = run_command(script, tmp_path / "work", tmp_path / "log", timeout=120,
                    prefix=sandbox.prefix(tmp_path / "work", Step.BENCHMARK))
    assert r.ok, r.tail()
    assert r.cpu_s >= 0.5
    assert _alive_with(marker) == []


def test_a_sealed_run_is_bwrap_one_init_and_the_command_and_measures_only_the_command(tmp_path: Path):
    """No launcher interpreter in front of bwrap: the init inside measures, and the harness's
    own memory (inherited by whatever it forks) stays out of the peak."""
    sandbox = make_sandbox(SandboxMode.ON, tmp_path / "repo", tmp_path / "repo/.git")
    (tmp_path / "work").mkdir()
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    started: list[str] = []
    script = textblock(f"""
        tr '\\0' ' ' < /proc/1/cmdline | cut -c1-200; echo
        {sys.executable} -c 'b = bytearray(200 * 1024 * 1024); b[::4096] = b"x" * len(b[::4096])'
    """)
    r = run_command(script, tmp_path / "work", tmp_path / "log", timeout=120,
                    # the program the process runs: exec sets it before the close-on-exec pipe that
                    # tells the parent the exec happened, while `comm` may still be the parent's name
                    on_start=lambda pid: started.append(Path(os.readlink(f"/proc/{pid}/exe")).name),
                    prefix=sandbox.prefix(tmp_path / "work", Step.BENCHMARK))
    del ballast
    assert r.ok, r.tail()
    assert started == ["bwrap"]
    init = r.stdout_path.read_text().splitlines()[0].split()
    assert init[1:4] == ["-I", "-S", "-c"] and "python" in init[0]
    assert 200 < r.peak_rss_mb < 280
    assert r.cpu_s > 0


def test_mode_on_without_bubblewrap_is_a_usage_error_and_auto_runs_unsealed(repo: Repo, tmp_path: Path):
    bin_dir = tmp_path / "bin"  # this machine's tools, minus bwrap
    bin_dir.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if tool.name != "bwrap":
            (bin_dir / tool.name).symlink_to(tool)
    env = repo.env(PATH=f"{bin_dir}:{os.path.dirname(os.path.realpath(sys.executable))}")
    session = _start(repo)  # started sealed; then the machine loses bubblewrap
    fewer_rounds(session)
    _commit_config(session, 'mode = "auto"', 'mode = "on"')
    session.set("COST", 50)

    proc = subprocess.run([sys.executable, "-m", "autoresearch", "run", "-m", "x"], cwd=session.path,
                          check=False, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and "apt-get install bubblewrap" in proc.stderr + proc.stdout
    assert len(session.runs()) == 1  # nothing recorded, nothing changed
    assert session.read("work.py").count("COST = 50") == 1

    _commit_config(session, 'mode = "on"', 'mode = "auto"')
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "run", "-m", "x", "--json"],
                          cwd=session.path, check=False, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert session.runs()[-1]["sandbox"] == "off" and session.runs()[-1]["verdict"] == "keep"
    status = subprocess.run([sys.executable, "-m", "autoresearch", "status", "--json"], cwd=session.path,
                            check=False, capture_output=True, text=True, env=env, timeout=300).stdout
    assert "unsealed (sandbox: off)" in status


def test_off_means_unsealed_and_says_so(repo: Repo):
    session = _start(repo, sandbox={"mode": "off"})
    fewer_rounds(session)
    session.set("COST", 50)
    result = session.cli_json("run", "-m", "halve")
    assert result["verdict"] == "keep" and session.runs()[-1]["sandbox"] == "off"
    assert any("unsealed" in w for w in session.cli_json("status")["warnings"])
    assert Sandbox(False).prefix(session.path, Step.BENCHMARK) == []


def test_doctor_names_what_the_machine_supports_and_the_editable_install_trap(repo: Repo, tmp_path: Path):
    site = tmp_path / "site" / "project-0.1.dist-info"  # what `pip install -e .` leaves behind
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: project\nVersion: 0.1\n")
    (site / "direct_url.json").write_text(
        f'{{"url": "file://{repo.path}", "dir_info": {{"editable": true}}}}')
    env = repo.env(PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                            str(tmp_path / "site")])))
    proc = subprocess.run([sys.executable, "-m", "autoresearch", "doctor", "--json"], cwd=repo.path,
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(proc.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["sandbox"]["ok"] and "bubblewrap" in checks["sandbox"]["detail"]
    assert not checks["editable install"]["ok"] and "project" in checks["editable install"]["detail"]
    assert "sys.path" in checks["editable install"]["fix"]
    assert proc.returncode == 1 and report["ok"] is False


def test_a_build_is_reused_only_while_its_outputs_are_intact(repo: Repo):
    bench = textblock("""
        #!/usr/bin/env bash
        cd "$(dirname "$0")"
        echo "METRIC cost=$(cat built/cost.txt)"
    """)
    build = f"mkdir -p built && {PYTHON} -S -c 'import work; print(work.COST)' > built/cost.txt"
    session = _start(repo, commands={"build": build}, autoresearch_sh=bench)
    session.write("work.py", WORK_PY + "# a comment\n")
    first = session.cli_json("run", "-m", "no-op")
    assert first["verdict"] == "discard"
    assert not (Path(first["logs"]) / "build-incumbent.out").exists()  # the baseline's build, reused
    assert (Path(first["logs"]) / "build-candidate.out").exists()

    # Someone with access to the machine edits the incumbent's build output between experiments.
    (_incumbent_checkout(session) / "built/cost.txt").write_text("1000\n")
    session.write("work.py", WORK_PY + "# another comment\n")
    second = session.cli_json("run", "-m", "no-op again")
    assert second["verdict"] == "discard" and second["incumbent_metric"] == 100
    assert (Path(second["logs"]) / "build-incumbent.out").exists()


def test_claim_check_spares_honest_savings_and_catches_lies_on_simulated_noise():
    # The exact code path of the verdict on seeded synthetic rounds: each run's wall time with
    # log sd 0.15 (a per-round log-ratio sd of 0.21, this machine's), the timed section 0.3 s of
    # a 0.35 s process, 8 rounds per trial.
    import random

    from autoresearch.stats import check_claim, gain_threshold

    rng = random.Random(8)
    tolerance, alpha, trials = gain_threshold(0.05, "lower"), 0.01, 2000

    def flagged(saving: float, claim: float) -> float:
        hits = 0
        for _ in range(trials):
            mi = [0.3 * rng.lognormvariate(0, 0.05) for _ in range(8)]
            mc = [m * (1 - claim) for m in mi]
            wi = [0.35 * rng.lognormvariate(0, 0.15) for _ in range(8)]
            wc = [(0.35 - 0.3 * saving) * rng.lognormvariate(0, 0.15) for _ in range(8)]
            hits += check_claim(mi, mc, wi, wc, tolerance, alpha).inconsistent
        return hits / trials

    assert flagged(saving=0.5, claim=0.5) <= alpha  # honest: the process shows the saving
    assert flagged(saving=0.0, claim=0.0) <= alpha  # honest no-op
    assert flagged(saving=0.0, claim=0.9) >= 0.97  # the clock lies, the process does not move
    assert flagged(saving=0.0, claim=0.5) >= 0.8


@pytest.mark.parametrize("noise", ["gaussian", "heavy", "quantized", "drift"])
def test_a_count_the_timed_runs_do_not_bear_is_caught_and_an_honest_one_spared_on_simulated_noise(
        noise: str):
    # The exact function the audit calls, on seeded synthetic CPU times of 8 rounds: a process of
    # 0.17 s whose count says it saves `implied` seconds. Honest at the edge: it saves exactly
    # that (the least the count allows); a lie: it saves nothing.
    import random

    from autoresearch.stats import count_outruns_process, gain_threshold

    rng = random.Random(11)
    tolerance, alpha, trials = gain_threshold(0.05, "lower"), 0.01, 2000

    def cpu(mean: float, drift: float, sd: float) -> float:
        value = mean * drift * rng.lognormvariate(0, sd)
        if noise == "heavy" and rng.random() < 0.1:
            value *= 1 + abs(rng.gauss(0, 1.5))  # a run preempted by other work
        if noise == "quantized":
            value = max(0.004, round(value / 0.004) * 0.004)  # a 4 ms tick
        return value

    def flagged(saving: float, implied: float, sd: float) -> float:
        hits = 0
        for _ in range(trials):
            incumbent, candidate = [], []
            for r in range(8):
                drift = 1 + (0.6 * r / 7 if noise == "drift" else 0.0)  # the machine gets busier
                incumbent.append(cpu(0.17, drift, sd))
                candidate.append(cpu(0.17 - saving, drift, sd))
            hits += count_outruns_process(incumbent, candidate, implied, tolerance, alpha)
        return hits / trials

    # Honest, at a CPU-time noise twice this machine's under load (log sd 0.1 per run):
    assert flagged(saving=0.04, implied=0.04, sd=0.1) <= alpha  # at the count's least saving
    assert flagged(saving=0.0, implied=0.0, sd=0.1) <= alpha  # a count that saves nothing
    # A lie: counted, it skipped all its work (at 4x slack, a quarter of its CPU time); timed, it
    # did it all. Caught at the usual CPU-time noise (log sd 0.05 per run; one run in ten
    # preempted, 7 times in 10), less often at twice it.
    assert flagged(saving=0.0, implied=0.0425, sd=0.05) >= (0.7 if noise == "heavy" else 0.9)
    assert flagged(saving=0.0, implied=0.0425, sd=0.1) >= 0.3


def test_only_a_saving_the_wall_time_can_show_is_borne_out_by_it_on_simulated_noise():
    # `confirmed` spares a claim the instruction count. Through `cross_check`, as a keep meets it,
    # at both looks (the rounds, then as many again): a lie must be borne out at most alpha of
    # the time, an honest saving the process shows almost always. Seeded synthetic rounds: each
    # run's wall time with log sd 0.15, the claimed time with log sd 0.05.
    import random

    from autoresearch.measure.bench import CLAIM_LOOKS, Measurement, Sample, cross_check

    config = Config.model_validate({"session": {"name": "s"}, "metric": {"name": "t_ms", "unit": "ms"}})
    alpha, trials, rounds = config.stats.alpha, 2000, 8
    rng = random.Random(9)

    def round_of(timed: float, saving: float, claim: float) -> tuple[Sample, Sample]:
        m = timed * 1000 * rng.lognormvariate(0, 0.05)
        return (Sample("incumbent", m, {}, 0.0, 0.35 * rng.lognormvariate(0, 0.15), 0.0, 0),
                Sample("candidate", m * (1 - claim), {}, 0.0,
                       (0.35 - timed * saving) * rng.lognormvariate(0, 0.15), 0.0, 0))

    def confirmed(timed: float, saving: float, claim: float) -> float:
        hits = 0
        for _ in range(trials):
            result = Measurement(rounds=[round_of(timed, saving, claim) for _ in range(rounds)])
            for _look in range(CLAIM_LOOKS):
                check = cross_check(config, result)
                assert check is not None
                if check.confirmed:
                    hits += 1
                    break
                result = Measurement(rounds=result.rounds + [round_of(timed, saving, claim)
                                                             for _ in range(rounds)])
        return hits / trials

    assert confirmed(timed=0.3, saving=0.0, claim=0.5) <= alpha  # a lie the wall time could see
    assert confirmed(timed=0.01, saving=0.0, claim=0.5) == 0  # a small share: never, whatever the noise
    assert confirmed(timed=0.01, saving=0.5, claim=0.5) == 0  # honest but invisible: left to the count
    assert confirmed(timed=0.3, saving=0.5, claim=0.5) >= 0.95  # honest and visible


def test_an_interpreter_in_a_venv_under_tmp_still_seals(tmp_path: Path):
    # A venv in /tmp is hidden by the run's private /tmp: the probe must not take that for a
    # machine without namespaces, and real runs mount the interpreter back.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, capture_output=True)
    src = str(Path(__file__).parents[1] / "src")
    code = ("from autoresearch.measure.sandbox import probe, toolchain_paths\n"
            "import sys; print(probe().works, any(str(p) == sys.prefix for p in toolchain_paths()))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": src}).stdout.split()
    assert out == ["True", "True"]


def test_what_unsealed_checks_leave_in_the_candidates_checkout_never_reaches_its_runs(repo: Repo):
    """Checks run in the candidate's checkout only: a file they leave there (bytecode, a cache)
    would make the candidate's benchmark runs differ from the incumbent's with no code change."""
    bench = textblock("""
        #!/usr/bin/env bash
        cd "$(dirname "$0")"
        if [ -e checks-cache.txt ]; then echo "METRIC cost=50"; else echo "METRIC cost=100"; fi
    """)
    checks = textblock("""
        #!/usr/bin/env bash
        cd "$(dirname "$0")"
        echo warm > checks-cache.txt
    """)
    repo.write("autoresearch.checks.sh", checks, executable=True)
    session = _start(repo, sandbox={"mode": "off"}, autoresearch_sh=bench)
    session.write("work.py", session.read("work.py") + "# a comment, nothing else\n")
    result = session.cli_json("run", "-m", "comment only")
    assert result["verdict"] == "discard", result
    record = session.runs()[-1]
    assert set(record["samples"]["candidate"]) == {100.0} == set(record["samples"]["incumbent"])
