"""Count a command's instructions under valgrind, over a channel the counted code cannot rewrite."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import socket
import sys
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from types import TracebackType

from autoresearch.errors import MetricError
from autoresearch.measure import seccomp

log = logging.getLogger(__name__)

READ_GRACE_S = 5.0  # for the log's last bytes once every process that held the channel is gone

# Valgrind announces every program it starts ("Command:", once per exec) and, when a process
# exits, prints its count ("I refs:") into its log. A forked process that never execs counts
# without an announcement. Not anchored to line starts: bytes written just before a line of
# valgrind's own cannot hide it.
_ANNOUNCED = re.compile(rb"==(\d+)== Command: (\S*)")  # the process and the program it started
_COUNTED = re.compile(rb"==(\d+)== I\s+refs:\s+([\d,]+)")

# Between the harness's launch and valgrind: hands the log socket over as the top descriptor of
# a fixed soft == hard descriptor limit, inside the range valgrind reserves for itself, installs
# the seccomp filter (when there is one for this machine) and execs valgrind. Nothing of the
# counted code has run yet.
_SEAL = seccomp.INSTALL + """
import os, resource, sys
fd, limit, prog = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < limit:
    sys.exit(f"autoresearch: counted runs need a hard descriptor limit of at least {limit} (ulimit -Hn)")
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
if fd != limit - 1:
    os.dup2(fd, limit - 1)
    os.close(fd)
if prog:
    install(prog, "counted runs")
os.execvp(sys.argv[4], sys.argv[4:])
"""


def counted_argv(log_fd: int, argv: Sequence[str]) -> list[str]:
    """`argv` with inherited descriptor `log_fd` moved to `seccomp.LOG_FD`, the descriptor limit
    fixed at `seccomp.FD_LIMIT` and the seccomp filter of counted runs installed."""
    prog = seccomp.counted_run_filter().hex() if seccomp.supported() else ""
    if not prog:
        log.warning("no seccomp filter for counted runs on %s: the counted code can duplicate "
                    "valgrind's log descriptor and write to it", seccomp.machine())
    return [os.path.realpath(sys.executable), "-I", "-S", "-c", _SEAL, str(log_fd), str(seccomp.FD_LIMIT),
            prog, *argv]


class CountChannel:
    """valgrind's log, read by the harness over a socket pair, as the source of the counts.

    Cachegrind's own count files would be written inside the run, where the counted code can
    write too. The log instead goes to a socket that the counted code never holds where it can
    use it: it is handed to valgrind as the top descriptor below a fixed descriptor limit, in
    the range valgrind reserves for itself and refuses the client's write, close and dup calls
    on; the seccomp filter of counted runs refuses the rest (duplicating it, changing the shared
    socket, other processes' memory). A socket cannot be reopened through `/proc/<pid>/fd`, and
    what is sent cannot be taken back. A process that dies before valgrind counts it (SIGKILL)
    leaves no count: in sealed runs the sandbox's init traces every process the run starts and
    reports them (`census`), and `total_instructions` then needs exactly one count from each.
    """

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.census: list[int] | None = None  # pids of every process the run started, when traced
        self._census_r, self._census_w = os.pipe()
        os.set_inheritable(self._census_w, True)
        self._ours, self._theirs = socket.socketpair()
        self._ours.shutdown(socket.SHUT_WR)
        self._theirs.shutdown(socket.SHUT_RD)
        self._theirs.set_inheritable(True)
        self._data = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def fd(self) -> int:
        """The descriptor the command inherits and valgrind writes its log to."""
        return self._theirs.fileno()

    @property
    def census_fd(self) -> int:
        """Where a sealed run's init writes the pids of every process it traced."""
        return self._census_w

    @property
    def fds(self) -> tuple[int, int]:
        """What the run inherits: the log's descriptor and the census's."""
        return self.fd, self._census_w

    def wrap(self, command: str) -> str:
        """`command` under cachegrind, counting instructions only, its log on this channel."""
        # --vgdb=no: no gdbserver, whose FIFOs in /tmp the counted code could speak to
        valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes", "--vgdb=no",
                    f"--log-fd={seccomp.LOG_FD}", "--cachegrind-out-file=/dev/null", "bash", "-c", command]
        return "exec " + shlex.join(counted_argv(self.fd, valgrind))

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := self._ours.recv(65536):
                self._data += chunk

    def finish(self) -> bytes:
        """Everything valgrind logged; call once the command and its processes are gone.

        The log is kept next to the run's output: it names valgrind's complaints when a
        benchmark fails only under valgrind.
        """
        self._theirs.close()
        self._close_census()
        self._reader.join(READ_GRACE_S)
        if self._reader.is_alive():  # a process we did not start still holds the channel
            with contextlib.suppress(OSError):
                self._ours.shutdown(socket.SHUT_RD)
            self._reader.join()
        self._ours.close()
        data = bytes(self._data)
        self.log_path.write_bytes(data)
        return data

    def _close_census(self) -> None:
        if self._census_w < 0:
            return
        os.close(self._census_w)
        self._census_w = -1
        os.set_blocking(self._census_r, False)  # what the init wrote before the run ended
        with os.fdopen(self._census_r, "rb") as fh:
            try:
                self.census = _census(fh.read() or b"")
            except BlockingIOError:
                self.census = None

    def __enter__(self) -> CountChannel:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._theirs.fileno() >= 0 or self._ours.fileno() >= 0:
            with contextlib.suppress(OSError):
                self.finish()
        with contextlib.suppress(OSError):
            self._close_census()


def _census(report: bytes) -> list[int] | None:
    """The pids a sealed run's init traced; None when nothing traced the run."""
    try:
        data = json.loads(report)
    except ValueError:
        return None
    if not data.get("traced"):
        if "why" in data:
            log.warning("a counted run could not be traced (%s): a process killed before valgrind "
                        "counted it goes unseen", data["why"])
        return None
    return [int(pid) for pid in data["processes"]]


def total_instructions(log: bytes, processes: Collection[int] | None = None) -> int:
    """Instructions of every process in valgrind's log, summed; a log that cannot be whole is an error.

    `processes` are the pids of every process the run started, when a tracer saw them: each
    must have exactly one count, and a count for any other pid was written by the counted code.
    Without them only the programs valgrind announced (one per exec) are known; a forked process
    that dies unannounced and uncounted goes unseen.

    >>> total_instructions(b"==7== Command: a\\n==8== I refs: 5\\n==7== I   refs:      1,000\\n")
    1005
    """
    announced = {int(m[1]) for m in _ANNOUNCED.finditer(log)} | set(processes or ())
    counts: dict[int, list[int]] = {}
    for m in _COUNTED.finditer(log):
        counts.setdefault(int(m[1]), []).append(int(m[2].replace(b",", b"")))
    if not announced:
        raise MetricError("valgrind started no program (is valgrind installed?)")
    uncounted = sorted(announced - counts.keys())
    if uncounted:
        raise MetricError(f"process {uncounted[0]} ended under valgrind without its instruction count "
                          "(killed by SIGKILL, or still running when the benchmark ended: its count is "
                          "unknown)")
    invented = sorted(counts.keys() - set(processes)) if processes is not None else []
    if invented:
        raise MetricError(f"valgrind's log holds a count for process {invented[0]}, which the run never "
                          "started: the benchmark's own code wrote into it")
    twice = sorted(pid for pid, found in counts.items() if len(found) > 1)
    if twice:
        raise MetricError(f"valgrind's log holds {len(counts[twice[0]])} counts for process {twice[0]}: "
                          "the benchmark's own code wrote into it")
    return sum(found[0] for found in counts.values())


def programs(log: bytes) -> Counter[str]:
    """How often each program was started by exec in a counted run, by name, from valgrind's log.

    Valgrind counts a process's instructions when it exits: what a process did before it
    replaced itself with exec, or what a forked copy did before it exec'd, is never counted.
    A run that execs programs its incumbent's run does not can hide work that way.

    >>> programs(b"==7== Command: bash -c x\\n==8== Command: ./prog in\\n==8== Command: /bin/true\\n")
    Counter({'bash': 1, 'prog': 1, 'true': 1})
    """
    return Counter(os.path.basename(m[2].decode(errors="replace")) for m in _ANNOUNCED.finditer(log))
