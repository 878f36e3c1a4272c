"""Run one command: its own process group, a hard timeout, output streamed to log files."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from autoresearch.errors import UsageError

TAIL_BYTES = 4096
STOP_GRACE_S = 5.0  # for the launcher to kill and reap what a stopped command left

# A small launcher between the harness and the command. Linux reports a process's peak RSS
# including the memory of the process it was forked from, so a command started straight from
# the harness (100+ MB, growing) would inherit that as its "peak". Started from this launcher,
# the command's figures include only the launcher's few MB, the same for both arms.
# The launcher is a child subreaper: orphans of the command (setsid, double forks) become its
# children, and after the command exits it kills and reaps them, so their CPU time counts and
# none outlives the run. It reports its figures through a pipe the command never inherits, as
# "wall_s cpu_s maxrss_kb nivcsw". A sealed run has no launcher: the sandbox's init, inside the
# run's PID namespace, does the same (`Sandbox.prefix`). `_signal`, not `signal` (which imports
# enum), and no json: its start-up is paid on every run.
_LAUNCHER = """
import _signal, ctypes, os, resource, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
report = int(sys.argv[1])
os.set_inheritable(report, False)
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_signal.signal(_signal.SIGTERM, lambda *_: os.kill(pid, _signal.SIGKILL))  # the harness's timeout
while True:
    try:
        _, status = os.waitpid(pid, 0)
        break
    except InterruptedError:
        pass
wall = time.perf_counter() - start
while True:
    orphans = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as fh:
                orphans += [int(p) for p in fh.read().split()]
    except OSError:  # a kernel without /proc/<pid>/task/<tid>/children: the group kill remains
        pass
    if not orphans:
        break
    for orphan in orphans:
        os.kill(orphan, _signal.SIGKILL)
    for orphan in orphans:  # their own children become ours: the next pass gets them
        os.waitpid(orphan, 0)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
os.write(report, f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss} {ru.ru_nivcsw}".encode())
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


# Per thread: who else wants to know the process groups `run_command` starts (see `watching`).
_watchers = threading.local()


@contextlib.contextmanager
def watching(on_start: Callable[[int], None]) -> Iterator[None]:
    """Tell `on_start` of every process group `run_command` starts in this thread meanwhile.

    Another thread can then stop a command this thread waits for (`stop_group`), as the
    parallel loop does with its proposers' agents.
    """
    previous = getattr(_watchers, "on_start", None)
    _watchers.on_start = on_start
    try:
        yield
    finally:
        _watchers.on_start = previous


@dataclass(frozen=True)
class RunResult:
    """What one command did."""

    returncode: int | None  # None when it was killed for the timeout
    timed_out: bool
    wall_s: float
    cpu_s: float  # user + sys of the process and the descendants it waited for
    peak_rss_mb: float
    involuntary_switches: int  # context switches forced on it: a sign of a disturbed run
    stdout_path: Path
    stderr_path: Path

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0

    def tail(self, limit: int = TAIL_BYTES) -> str:
        """The last `limit` bytes of stdout and stderr, decoded leniently."""
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            text = read_tail(path, limit)
            if text.strip():
                parts.append(text)
        return "\n".join(parts)


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The end of a possibly huge file, without reading the rest of it."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if size > limit and "\n" in text:
        text = text.split("\n", 1)[1]  # drop the partial first line
    return text


def run_command(
    command: str,
    cwd: Path,
    log_stem: Path,
    timeout: float | None,
    env: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    prefix: Sequence[str] = (),
    pass_fds: Sequence[int] = (),
) -> RunResult:
    """Run `command` through bash in `cwd` and wait at most `timeout` seconds.

    stdout and stderr go to `<log_stem>.out` and `<log_stem>.err`, so memory stays bounded
    whatever the command prints. The command runs in a new process group; on timeout, and
    after it exits, the whole group and every orphan it left are killed, so no descendant
    outlives the call. `on_start(pgid)` lets a caller record the group so a later process can
    clean it up. `prefix` is a sandbox (`Sandbox.prefix`) whose init takes the report pipe and
    the command and measures it in place of the launcher; `pass_fds` are inherited.

    >>> r = run_command("echo hi", Path("."), Path("/tmp/x"), timeout=5)  # doctest: +SKIP
    >>> r.ok, r.tail().strip()  # doctest: +SKIP
    (True, 'hi')
    """
    _require_directory(cwd)
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    out_path = log_stem.with_suffix(".out")
    err_path = log_stem.with_suffix(".err")
    report_r, report_w = os.pipe()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        argv = ([*prefix, str(report_w), command] if prefix  # the sandbox's init measures it
                else [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report_w), "bash", "-c", command])
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                # Scripts can run the interpreter autoresearch runs under, venv or not.
                env={**os.environ, "AUTORESEARCH_PYTHON": sys.executable, **(env or {})},
                start_new_session=True,
                pass_fds=(report_w, *pass_fds),
            )
        except FileNotFoundError:
            _require_directory(cwd)  # removed since the check above: say so, not "internal error"
            raise
        finally:
            os.close(report_w)
        reaped: list[tuple[int, resource.struct_rusage, float]] = []

        def reap() -> None:
            # wait4 gives the rusage of this child and the descendants it waited for.
            _, code, usage = os.wait4(proc.pid, 0)
            reaped.append((code, usage, time.perf_counter()))

        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        try:
            for notify in (on_start, getattr(_watchers, "on_start", None)):
                if notify:
                    notify(proc.pid)
            waiter.join(timeout)
        except BaseException:  # Ctrl-C: nothing we started may outlive us
            _stop(proc.pid, waiter)
            proc.returncode = -1
            os.close(report_r)
            raise
        timed_out = waiter.is_alive()
        if timed_out:
            _stop(proc.pid, waiter)
        else:
            kill_group(proc.pid)  # leftovers the command forked and left behind
        proc.returncode = -1  # reaped by wait4 above; keep Popen from waiting again
    # The command's own figures, without the launcher's start-up; the launcher's own when it
    # was killed before it could report.
    own = _read_usage(report_r)
    _require_directory(cwd)  # removed while the command ran: its outcome means nothing
    status, usage, end = reaped[0]
    return RunResult(
        returncode=None if timed_out else os.waitstatus_to_exitcode(status),
        timed_out=timed_out,
        wall_s=own.get("wall_s", end - start),
        cpu_s=own.get("cpu_s", usage.ru_utime + usage.ru_stime),
        peak_rss_mb=own.get("maxrss_kb", usage.ru_maxrss) / 1024,
        involuntary_switches=int(own.get("nivcsw", usage.ru_nivcsw)),
        stdout_path=out_path,
        stderr_path=err_path,
    )


class DirectoryGone(UsageError):
    """The directory a command runs in was removed from outside (a measured checkout, say)."""


def _require_directory(cwd: Path) -> None:
    if not cwd.is_dir():
        raise DirectoryGone(f"{cwd} was removed while autoresearch was using it; nothing was "
                            "recorded for this step. Run the command again: measured checkouts "
                            "are recreated.")


def _read_usage(fd: int) -> dict[str, float]:
    """The launcher's report; empty when it was killed before writing it."""
    with os.fdopen(fd, "rb") as fh:
        words = fh.read().split()
    try:
        figures = [float(word) for word in words]
    except ValueError:
        return {}
    return dict(zip(_REPORTED, figures, strict=True)) if len(figures) == len(_REPORTED) else {}


_REPORTED = ("wall_s", "cpu_s", "maxrss_kb", "nivcsw")  # the launcher's and the sandbox init's report


def _stop(launcher: int, waiter: threading.Thread) -> None:
    """Stop a run early: the launcher kills the command and reaps every orphan it left (setsid
    ones too, which a group kill misses); the group kill is the fallback."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(launcher, signal.SIGTERM)
    waiter.join(STOP_GRACE_S)
    kill_group(launcher)
    waiter.join()


def stop_group(launcher: int) -> None:
    """Ask a running command's launcher to end it (from another thread): it kills the command and
    reaps every orphan; `run_command` then returns as for a failed command."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(launcher, signal.SIGTERM)


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    """True while any process of the group still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_identity(pid: int) -> str | None:
    """Who `pid` is: the boot and the start time of the process now holding that number.

    A stored process group is killed only while its leader still has the identity it had, so
    a number the system has since given to another process is never killed. None where the
    process is gone or /proc is missing.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    # Field 22 (start time in clock ticks since boot); the command name before it may hold spaces.
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


def same_group(pgid: int, identity: str | None) -> bool:
    """Whether the process group `pgid` is still the one whose leader had `identity`.

    With the leader gone but members alive, the kernel keeps the number reserved while the
    group exists, so it cannot belong to another process; only a group with no identity stored
    (or from before a reboot) is never trusted.
    """
    if not identity or not group_alive(pgid):
        return False
    now = process_identity(pgid)
    if now is not None:
        return now == identity
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return False
    return identity.split(":")[0] == boot
