"""Instruction counts come from valgrind's log on a socket the counted code cannot write, and every
process the run started must have its count."""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import PYTHON, WORK_PY, Repo

from autoresearch.config import Config, dump
from autoresearch.errors import MetricError
from autoresearch.infra.runner import run_command
from autoresearch.measure import seccomp
from autoresearch.measure.counts import CountChannel, counted_argv, total_instructions
from autoresearch.measure.sandbox import Step, make_sandbox, probe
from autoresearch.model import SandboxMode

needs_valgrind_and_cc = pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None,
                                           reason="needs valgrind and a C compiler")
needs_sandbox = pytest.mark.skipif(not probe().works, reason=f"runs cannot be sealed here: {probe().problem}")

# Counted code that does its work in a forked child (no exec: valgrind announces nothing), which
# writes a count line for itself into every descriptor it can find or make, by every call that
# writes; the parent then SIGKILLs it, so valgrind never writes the child's real count.
# `reach` also tries the other processes' memory and descriptors and prints what it got.
ATTACK_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile unsigned long sink;

static void work(long n) { for (long i = 0; i < n; i++) sink += i; }

static void forge(void) {
    char line[64];
    int len = snprintf(line, sizeof line, "==%d== I   refs:      1\n", (int)getpid());
    int src = open("/proc/self/cmdline", O_RDONLY);
    for (int fd = 3; fd < 1024; fd++) {
        int copies[] = {fd, dup(fd), fcntl(fd, F_DUPFD, 3), fcntl(fd, F_DUPFD_CLOEXEC, 3)};
        for (int i = 0; i < 4; i++) {
            if (copies[i] < 0) continue;
            if (write(copies[i], line, len) == len || send(copies[i], line, len, 0) == len)
                printf("forged into %d (a copy of %d)\n", copies[i], fd);
            if (src >= 0) sendfile(copies[i], src, NULL, 8);
            if (i) close(copies[i]);
        }
    }
}

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

/* The work in a child the tracer does not follow (CLONE_UNTRACED), or with clone3; where both are
   refused, the work is done here, as honestly as it gets. */
static int untraced(long n) {
    long c3 = syscall(435 /* clone3 */, NULL, 0);
    const char *clone3 = err(c3);
    int p[2];
    if (pipe(p)) return 1;
    long child = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
    if (child == 0) {
        work(n);
        if (write(p[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    printf("{\"clone3\": \"%s\", \"clone_untraced\": \"%s\"}\n", clone3, err(child));
    if (child < 0) { work(n); return 0; }
    char c;
    if (read(p[0], &c, 1) != 1) return 1;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}

int main(int argc, char **argv) {
    long n = atol(argv[1]);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(argv[2], "honest")) { work(n); return 0; }
    if (!strcmp(argv[2], "untraced")) return untraced(n);
    if (!strcmp(argv[2], "exec")) { work(n); execl("/bin/true", "true", (char *)0); return 1; }
    if (!strcmp(argv[2], "forkexec")) {  /* the work in a forked copy, which then execs */
        pid_t copy = fork();
        if (copy == 0) { work(n); execl("/bin/true", "true", (char *)0); _exit(1); }
        return waitpid(copy, NULL, 0) == copy ? 0 : 1;
    }
    int p[2];
    if (pipe(p)) return 1;
    pid_t child = fork();
    if (child == 0) {
        work(n);
        forge();
        if (write(p[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c = 0;
    while (c != 'x')  /* the forged lines reach this pipe too */
        if (read(p[0], &c, 1) != 1) return 1;
    if (!strcmp(argv[2], "reach")) {
        char buf[8] = {0};
        struct iovec iov = {buf, sizeof buf};
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)child);
        int pidfd = syscall(SYS_pidfd_open, child, 0);
        printf("{\"ptrace\": \"%s\", ", err(ptrace(PTRACE_ATTACH, child, 0, 0)));
        long written = syscall(SYS_process_vm_writev, child, &iov, 1, &iov, 1, 0);
        printf("\"process_vm_writev\": \"%s\", ", err(written));
        printf("\"pidfd_getfd\": \"%s\", ", err(syscall(SYS_pidfd_getfd, pidfd, 0, 0)));
        printf("\"child_mem\": \"%s\", ", err(open(path, O_RDWR)));
        printf("\"own_mem\": \"%s\"}\n", err(open("/proc/self/mem", O_RDWR)));
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
"""


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
@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.skipif(not probe().works, reason=f"runs cannot be sealed here: {probe().problem}")
@pytest.mark.parametrize("sealed", [True, False])
def test_code_writing_to_the_counts_cannot_lower_its_count(repo: Repo, sealed: bool):
    repo.set("SPIN", 30_000)
    # Python by itself: valgrind starts no shell script around it to translate in every counted run
    benchmark = f"{PYTHON} -S -c \"import sys; sys.path.insert(0, '.'); import work; work.spin()\""
    repo.write("autoresearch.toml", dump(Config.model_validate({
        "session": {"name": "instr"}, "metric": {"name": "instructions", "measure": "instructions"},
        "commands": {"benchmark": benchmark}, "scope": {"include": ["work.py"]},
        "sandbox": {"mode": "auto" if sealed else "off"}})))
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
    # a count for a process that never ran and a second one for its own, forged together: neither
    # reaches the log (there the second would make the run a crash, and sealed the first too)
    line = '"==999== Command: x\\n==999== I   refs:      1\\n=={pid}== I   refs:      1\\n"'
    repo.write("work.py", WORK_PY + forge + f"LINE = {line}\n")
    repo.set("SPIN", 30_000)
    forged = repo.cli_json("run", "-m", "forge a count")
    assert forged["verdict"] == "discard", forged
    # unsealed, process ids (printed by bash and the like) take more or fewer digits from one
    # run to the next, and so a few instructions; sealed, they are the same in every run
    assert forged["incumbent_metric"] == baseline or not sealed
    assert forged["metric"] >= forged["incumbent_metric"]
    assert [r["verdict"] for r in repo.runs()[1:]] == ["discard"]


# What counted code gets when it goes for the log socket (handed over as the top descriptor) or
# another process, with the filter of counted runs and no valgrind: the filter's refusals, and
# what it leaves to valgrind (which refuses write and close on its reserved descriptors).
FILTER_PROBE = r"""
import ctypes, errno, fcntl, json, os, resource, termios
libc = ctypes.CDLL(None, use_errno=True)
LOG, LOW = 1023, 1012
def call(f, *args):
    try:
        r = f(*args)
    except OSError as e:
        return errno.errorcode[e.errno]
    if isinstance(r, int) and r < 0:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"
src = os.open("/proc/self/cmdline", os.O_RDONLY)
pipe_r, pipe_w = os.pipe()
os.write(pipe_w, b"==1== I   refs:      1\n")
line = b"==1== I   refs:      1\n"
nonblock = ctypes.c_int(1)
new_limit = (ctypes.c_ulong * 2)(10, 10)
pidfd = libc.syscall(434, os.getpid(), 0)
CLONE_NR = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
def clone(flags):
    pid = libc.syscall(CLONE_NR, flags, 0, 0, 0, 0)
    if pid == 0:  # not refused: the child leaves at once
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return pid
got = {
    "dup": call(os.dup, LOG), "dup2": call(os.dup2, LOG, 50), "dup3": call(libc.dup3, LOG, 51, 0),
    "F_DUPFD low": call(fcntl.fcntl, LOG, fcntl.F_DUPFD, 10),
    "F_DUPFD_CLOEXEC low": call(fcntl.fcntl, LOG, fcntl.F_DUPFD_CLOEXEC, 10),
    "F_SETFL": call(fcntl.fcntl, LOG, fcntl.F_SETFL, os.O_NONBLOCK),
    "FIONBIO": call(libc.ioctl, LOG, termios.FIONBIO, ctypes.byref(nonblock)),
    "shutdown": call(libc.shutdown, LOG, 1), "setsockopt": call(libc.setsockopt, LOG, 1, 7, 0, 0),
    "sendto": call(libc.sendto, LOG, line, len(line), 0, None, 0),
    "sendfile": call(os.sendfile, LOG, src, 0, 4), "splice": call(os.splice, pipe_r, LOG, 4),
    "ptrace": call(libc.ptrace, 16, os.getppid(), None, None),
    "process_vm_writev": call(libc.process_vm_writev, os.getppid(), None, 0, None, 0, 0),
    "pidfd_getfd": call(libc.syscall, 438, pidfd, LOG, 0),
    "prlimit NOFILE of another": call(libc.prlimit, os.getppid(), 7, new_limit, None),
    "io_uring_setup": call(libc.syscall, 425, 1, ctypes.create_string_buffer(120)),
    "clone CLONE_UNTRACED": call(clone, 0x00800000 | 17),
    "keyctl": call(libc.syscall, {"x86_64": 250, "aarch64": 219}[os.uname().machine], 0, -4, 0),
    "clone3": call(libc.syscall, 435, None, 0),
    "fork": call(clone, 17),  # the tracer follows it
    # what valgrind itself does, or refuses on its own
    "F_DUPFD into the range": call(fcntl.fcntl, LOG, fcntl.F_DUPFD, LOW),
    "F_GETFD": call(fcntl.fcntl, LOG, fcntl.F_GETFD), "dup of another": call(os.dup, 0),
    "write": call(os.write, LOG, b"written\n"),
}
print(json.dumps({"got": got, "limit": resource.getrlimit(resource.RLIMIT_NOFILE)}))
"""


@pytest.mark.skipif(not seccomp.supported(), reason=f"no seccomp filter for {seccomp.machine()}")
def test_the_filter_of_counted_runs_refuses_what_valgrind_lets_through(tmp_path: Path):
    ours, theirs = socket.socketpair()
    proc = subprocess.run(counted_argv(theirs.fileno(), [sys.executable, "-I", "-c", FILTER_PROBE]),
                          pass_fds=(theirs.fileno(),), capture_output=True, text=True, timeout=60)
    theirs.close()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["limit"] == [seccomp.FD_LIMIT, seccomp.FD_LIMIT]
    got = report.pop("got")
    allowed = ["F_DUPFD into the range", "F_GETFD", "dup of another", "write", "fork"]
    assert {k: got.pop(k) for k in allowed} == dict.fromkeys(allowed, "ok")
    assert got.pop("clone3") == "ENOSYS"  # libc falls back to clone
    assert got == dict.fromkeys(got, "EPERM")
    ours.settimeout(10)
    assert ours.recv(100) == b"written\n"  # the filter leaves write to valgrind's own refusal


def _counted_run(tmp_path: Path, command: str, sealed_run: bool) -> tuple[str, bytes, list[int] | None]:
    """Run `command` counted, as a benchmark run is: its output, valgrind's log, the census."""
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    sandbox = make_sandbox(SandboxMode.ON if sealed_run else SandboxMode.OFF, root, root / ".git")
    with CountChannel(tmp_path / "run.valgrind") as channel:
        result = run_command(channel.wrap(command), tmp_path, tmp_path / "run", 120,
                             pass_fds=channel.fds if sealed_run else (channel.fd,),
                             prefix=sandbox.prefix(tmp_path, Step.BENCHMARK,
                                                   census_fd=channel.census_fd if sealed_run else None))
        log = channel.finish()
    assert result.returncode == 0, result.tail()
    return result.stdout_path.read_text(), log, channel.census


@needs_valgrind_and_cc
@needs_sandbox
def test_counted_code_reaches_neither_the_log_nor_another_process(tmp_path: Path):
    subprocess.run(["cc", "-O1", "-o", str(tmp_path / "attack"), "-x", "c", "-"], input=ATTACK_C,
                   text=True, check=True)
    out, log, census = _counted_run(tmp_path, "./attack 20000 reach", sealed_run=True)
    reached = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    # pidfd_getfd is unknown to older valgrinds, which refuse it themselves
    assert reached.pop("pidfd_getfd") in ("EPERM", "ENOSYS")
    assert reached == {"ptrace": "EPERM", "process_vm_writev": "EPERM",
                       "child_mem": "EROFS", "own_mem": "EROFS"}
    # the forger wrote into its own pipe and output, never into a copy of a reserved descriptor
    forged = [line for line in out.splitlines() if line.startswith("forged into")]
    sources = [int(line.split()[-1].rstrip(")")) for line in forged]
    assert sources and max(sources) < seccomp.RESERVED_LOW
    assert b"I   refs:      1\n" not in log  # no forged line reached valgrind's log
    assert census is not None and len(census) == 2
    parent, child = census
    assert f"=={parent}== I   refs:".encode() in log and f"=={child}==".encode() not in log
    with pytest.raises(MetricError, match=f"process {child} ended .* without its instruction count"):
        total_instructions(log, census)


@pytest.mark.slow
@pytest.mark.timeout(300)
@needs_valgrind_and_cc
@needs_sandbox
@pytest.mark.parametrize("mode", ["kill", "untraced", "exec", "forkexec"])
def test_work_done_in_a_child_that_is_never_counted_is_never_kept(repo: Repo, mode: str):
    """`kill`: a forked child SIGKILLed before valgrind counts it; `untraced`: a child cloned with
    CLONE_UNTRACED (or clone3), which the census would not see; `exec`: the work, then an exec
    of a trivial program, which valgrind counts in place of the work; `forkexec`: the same in a
    forked copy."""
    repo.write("attack.c", ATTACK_C)
    repo.write("mode.txt", "honest\n")
    repo.write(".gitignore", "attack\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "C benchmark")
    # a command, not a script: valgrind starts no second shell in every counted run
    repo.cli("init", "--name", "fork", "--measure", "instructions", "--build", "cc -O1 -o attack attack.c",
             "--benchmark", 'read mode < mode.txt; exec ./attack 300000 "$mode"', "--scope", "mode.txt")
    baseline = repo.runs()[-1]
    assert baseline["sandbox"] == "on" and baseline["metric"] > 300_000
    repo.write("mode.txt", f"{mode}\n")
    hidden = repo.cli_json("run", "-m", "work in a child that valgrind never counts")
    if mode == "kill":
        assert hidden["verdict"] == "crash", hidden
        assert "without its instruction count" in hidden["reason"]
    elif mode in ("exec", "forkexec"):
        assert hidden["verdict"] == "crash", hidden
        assert "exec'd programs the incumbent's did not (true)" in hidden["reason"], hidden
    else:  # the clone is refused: valgrind (3.19) dies of a refused fork; else the work is counted here
        assert hidden["verdict"] in ("crash", "discard"), hidden
        assert hidden["verdict"] == "crash" or hidden["metric"] > 300_000, hidden
    assert [r["verdict"] for r in repo.runs()[1:]] == [hidden["verdict"]]
    assert repo.read("mode.txt") == "honest\n"


def _decide(prog: bytes, arch: int, nr: int, *args: int) -> str:
    """What the kernel would do with a call, by running the classic BPF filter on it."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args, *[0] * (6 - len(args)))
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = struct.unpack_from("<HBBI", prog, 8 * pc)
        pc += 1
        if code == 0x20:  # load a word of the call
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x05:  # jump always
            pc += k
        elif code in (0x15, 0x35, 0x45):  # jump if equal / greater or equal / any bit set
            pc += jt if {0x15: acc == k, 0x35: acc >= k, 0x45: acc & k != 0}[code] else jf
        else:
            assert code == 0x06
            return "allow" if k == 0x7FFF0000 else f"errno {k & 0xFFFF}"


@pytest.mark.parametrize(("arch", "audit", "nr"), [
    ("x86_64", 0xC000003E, {"dup": 32, "fcntl": 72, "write": 1, "ptrace": 101, "prlimit64": 302,
                            "clone": 56, "clone3": 435, "fork": 57, "vfork": 58, "add_key": 248,
                            "request_key": 249, "keyctl": 250}),
    ("aarch64", 0xC00000B7, {"dup": 23, "fcntl": 25, "write": 64, "ptrace": 117, "prlimit64": 261,
                             "clone": 220, "clone3": 435, "add_key": 217, "request_key": 218,
                             "keyctl": 219}),
])
def test_the_filter_decides_each_call_by_its_number_and_arguments_on_both_machines(arch, audit, nr):
    prog = seccomp.counted_run_filter(arch)
    log_fd, low = seccomp.LOG_FD, seccomp.RESERVED_LOW
    assert _decide(prog, audit, nr["dup"], log_fd) == "errno 1"
    assert _decide(prog, audit, nr["dup"], low - 1) == "allow"  # the program's own descriptors
    assert _decide(prog, audit, nr["write"], log_fd) == "allow"  # valgrind's own log lines
    assert _decide(prog, audit, nr["fcntl"], log_fd, 0, low) == "allow"  # valgrind moving its log
    assert _decide(prog, audit, nr["fcntl"], log_fd, 0, 3) == "errno 1"
    assert _decide(prog, audit, nr["fcntl"], log_fd, 4, 0o4000) == "errno 1"  # F_SETFL
    assert _decide(prog, audit, nr["fcntl"], log_fd, 2, 1) == "allow"  # F_SETFD
    assert _decide(prog, audit, nr["fcntl"], 5, 4, 0o4000) == "allow"
    assert _decide(prog, audit, nr["ptrace"], 16, 2) == "errno 1"
    assert _decide(prog, audit, nr["prlimit64"], 7, 7, 1) == "errno 1"  # another's descriptor limit
    assert _decide(prog, audit, nr["prlimit64"], 0, 7, 1) == "allow"  # its own: valgrind emulates it
    assert _decide(prog, audit, nr["prlimit64"], 7, 3, 1) == "allow"  # another's stack limit
    assert _decide(prog, 0x40000003, nr["write"], 1) == "errno 1"  # a 32-bit call
    if arch == "x86_64":
        assert _decide(prog, audit, 0x40000000 | nr["dup"], log_fd) == "errno 1"  # x32
    # past the tracer: an untraced clone, clone3 (flags in memory: libc falls back to clone)
    sigchld, thread = 17, 0x3D0F00  # fork's flags; pthread_create's (CLONE_VM | ... | CLONE_THREAD)
    assert _decide(prog, audit, nr["clone"], 0x00800000 | sigchld) == "errno 1"
    assert _decide(prog, audit, nr["clone"], 0x00800000 | thread) == "errno 1"
    assert _decide(prog, audit, nr["clone"], sigchld) == "allow"
    assert _decide(prog, audit, nr["clone"], thread) == "allow"
    assert _decide(prog, audit, nr["clone3"], 0) == "errno 38"
    for call in ("fork", "vfork"):  # x86_64 only; the tracer follows both
        if call in nr:
            assert _decide(prog, audit, nr[call]) == "allow"
    # the keyrings, in every sealed run; counted runs keep the rest of their filter
    sealed = seccomp.sealed_run_filter(arch)
    for name in ("add_key", "request_key", "keyctl"):
        assert _decide(prog, audit, nr[name], 0) == _decide(sealed, audit, nr[name], 0) == "errno 1"
    for call, args in (("dup", (log_fd,)), ("ptrace", (16, 2)), ("clone", (0x00800000 | sigchld,)),
                       ("clone3", (0,)), ("write", (1,)), ("fcntl", (log_fd, 4, 0))):
        assert _decide(sealed, audit, nr[call], *args) == "allow"
    # 32-bit programs (and x32) run sealed, with the keyrings refused by their own numbers too
    compat, write32, keyrings32 = {"x86_64": (0x40000003, 4, (286, 287, 288)),
                                   "aarch64": (0x40000028, 4, (309, 310, 311))}[arch]
    assert _decide(sealed, compat, write32, 1) == "allow"
    assert [_decide(sealed, compat, n) for n in keyrings32] == ["errno 1"] * 3
    assert _decide(prog, compat, write32, 1) == "errno 1"  # valgrind counts native programs only
    if arch == "x86_64":
        assert _decide(sealed, audit, 0x40000000 | nr["write"], 1) == "allow"
        assert _decide(sealed, audit, 0x40000000 | nr["keyctl"], 0) == "errno 1"
    assert _decide(sealed, 0x4000003E, nr["write"], 1) == "errno 1"  # an ABI neither section knows
