"""Count a command's instructions under valgrind, over a channel the counted code cannot rewrite."""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import threading
from pathlib import Path
from types import TracebackType

from autoresearch.errors import MetricError

READ_GRACE_S = 5.0  # for the log's last bytes once every process that held the channel is gone

# Valgrind announces every program it starts ("Command:", once per exec) and, when a process
# exits, prints its count ("I refs:") into its log. A forked process that never execs counts
# without an announcement. Not anchored to line starts: bytes written just before a line of
# valgrind's own cannot hide it.
_ANNOUNCED = re.compile(rb"==(\d+)== Command: ")
_COUNTED = re.compile(rb"==(\d+)== I\s+refs:\s+([\d,]+)")


class CountChannel:
    """valgrind's log, read by the harness over a socket pair, as the source of the counts.

    Cachegrind's own count files would be written inside the run, where the counted code can
    write too. The log instead goes to a socket: valgrind keeps its copy among its reserved
    descriptors, which the counted code cannot write, close or duplicate (valgrind refuses those
    system calls); a socket cannot be reopened through `/proc/<pid>/fd`; and what is sent
    cannot be taken back. The code can still write to the copy it inherits, so it can only add
    bytes: `total_instructions` accepts a log only where each process valgrind started has
    exactly one count, and extra counts only add instructions.
    """

    def __init__(self, log_path: Path):
        self.log_path = log_path
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

    def wrap(self, command: str) -> str:
        """`command` under cachegrind, counting instructions only, its log on this channel."""
        return ("valgrind --tool=cachegrind --cache-sim=no --trace-children=yes "
                f"--log-fd={self.fd} --cachegrind-out-file=/dev/null bash -c {shlex.quote(command)}")

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
        self._reader.join(READ_GRACE_S)
        if self._reader.is_alive():  # a process we did not start still holds the channel
            with contextlib.suppress(OSError):
                self._ours.shutdown(socket.SHUT_RD)
            self._reader.join()
        self._ours.close()
        data = bytes(self._data)
        self.log_path.write_bytes(data)
        return data

    def __enter__(self) -> CountChannel:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._theirs.fileno() >= 0 or self._ours.fileno() >= 0:
            with contextlib.suppress(OSError):
                self.finish()


def total_instructions(log: bytes) -> int:
    """Instructions of every process in valgrind's log, summed; a log that cannot be whole is an error.

    >>> total_instructions(b"==7== Command: a\\n==8== I refs: 5\\n==7== I   refs:      1,000\\n")
    1005
    """
    announced = {int(m[1]) for m in _ANNOUNCED.finditer(log)}
    counts: dict[int, list[int]] = {}
    for m in _COUNTED.finditer(log):
        counts.setdefault(int(m[1]), []).append(int(m[2].replace(b",", b"")))
    if not announced:
        raise MetricError("valgrind started no program (is valgrind installed?)")
    uncounted = sorted(announced - counts.keys())
    if uncounted:
        raise MetricError(f"process {uncounted[0]} ended under valgrind without its instruction count "
                          "(killed by a signal: its count is unknown)")
    twice = sorted(pid for pid, found in counts.items() if len(found) > 1)
    if twice:
        raise MetricError(f"valgrind's log holds {len(counts[twice[0]])} counts for process {twice[0]}: "
                          "the benchmark's own code wrote into it")
    return sum(found[0] for found in counts.values())
