"""Seal build, checks and benchmark runs in bubblewrap: the candidate's code sees only its checkout."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from autoresearch.errors import UsageError
from autoresearch.infra.ledger import state_dir
from autoresearch.measure import seccomp
from autoresearch.model import SandboxMode

log = logging.getLogger(__name__)

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)")

# Where a sealed run finds what the harness hands it: inside its private /tmp.
RESULT_PATH = "/tmp/autoresearch/result.metrics"

# Directories under $HOME that hold toolchains, not secrets: seen read-only by sealed runs.
_TOOLCHAIN_DIRS = (".pyenv", ".cargo", ".rustup", ".rbenv", ".nvm", ".sdkman", ".local/bin")

# Pid 1 of a sealed run, and the run's only process besides bwrap, bash and the command: it
# measures the command the way the unsealed launcher (`runner`) does, from inside. The kernel
# tears a PID namespace down by auto-reaping what is left when its init dies, and an auto-reaped
# process's CPU time is lost to every rusage. So this init waits for the command, SIGKILLs every
# other process of the namespace (setsid and double-forked daemons included) and reaps them
# itself: their CPU reaches the figures it writes to the report pipe (argv[-2]), which the command
# never inherits. Not dumpable, so the command cannot ptrace it; SIGINT ignored, so it cannot be
# stopped early. `_signal` rather than `signal`, which imports enum: a few ms on every run.
# It installs the seccomp filter of sealed runs (argv[1], hex; empty where there is none), which
# every process of the run inherits. Given a census pipe (argv[2], counted runs), it traces the
# command and every process it starts (ptrace sees each fork and clone, however the process ends)
# and writes their pids there: a process whose count valgrind never logged (killed with SIGKILL,
# say) is then known.
_INIT = seccomp.INSTALL + """
import _signal, ctypes, os, resource, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(4, 0, 0, 0, 0)
_signal.signal(_signal.SIGINT, _signal.SIG_IGN)
report, command = int(sys.argv[-2]), sys.argv[-1]
census = int(sys.argv[2]) if len(sys.argv) > 4 else -1
if sys.argv[1]:
    install(sys.argv[1], "sealed runs")
os.set_inheritable(report, False)
start = time.perf_counter()
if census < 0:
    pid = os.posix_spawnp("bash", ["bash", "-c", command], os.environ,
                          setsigdef=(_signal.SIGINT, _signal.SIGPIPE))
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - start
else:
    import json
    os.set_inheritable(census, False)
    gate, go = os.pipe()
    ready, set_ = os.pipe()
    pid = os.fork()
    if pid == 0:  # made traceable (a fork inherits this init's undumpable state), traced, then run
        os.close(go)
        os.close(ready)
        libc.prctl(4, 1, 0, 0, 0)
        os.close(set_)
        os.read(gate, 1)
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        os.execvp("bash", ["bash", "-c", command])
    os.close(gate)
    os.close(set_)
    os.read(ready, 1)
    os.close(ready)
    # PTRACE_SEIZE; options TRACEFORK | TRACEVFORK | TRACECLONE | EXITKILL
    traced = libc.ptrace(0x4206, pid, None, ctypes.c_void_p(0x2 | 0x4 | 0x8 | 0x100000)) == 0
    why = "" if traced else os.strerror(ctypes.get_errno())
    os.close(go)
    processes, status = {pid}, None
    def resume(tid, sig):
        libc.ptrace(7, tid, None, ctypes.c_void_p(sig))  # PTRACE_CONT
    def spawned(tid, event):
        new = ctypes.c_ulong()
        libc.ptrace(0x4201, tid, None, ctypes.byref(new))  # PTRACE_GETEVENTMSG
        tgid = new.value
        if event == 3:  # a clone: a thread, or a process with an unusual exit signal
            try:  # it waits in its first stop until resumed, so it is there unless killed
                with open(f"/proc/{new.value}/status") as fh:
                    tgid = next(int(line.split()[1]) for line in fh if line.startswith("Tgid:"))
            except (OSError, StopIteration):
                pass
        if tgid == new.value:
            processes.add(new.value)
    while True:
        try:
            tid, st = os.waitpid(-1, 0x40000000)  # __WALL: traced threads too
        except ChildProcessError:
            break
        if os.WIFSTOPPED(st):
            event = st >> 16
            if event in (1, 2, 3):  # PTRACE_EVENT_FORK, _VFORK, _CLONE
                spawned(tid, event)
                resume(tid, 0)
            elif event:  # PTRACE_EVENT_STOP: a new tracee's first stop, or a group stop (not kept)
                resume(tid, 0)
            else:  # a signal on its way: deliver it
                resume(tid, os.WSTOPSIG(st))
            continue
        if tid == pid:
            status, wall = st, time.perf_counter() - start
        if status is not None:
            try:
                os.kill(-1, _signal.SIGKILL)
            except ProcessLookupError:
                pass
    found = {"traced": True, "processes": sorted(processes)} if traced else {"traced": False, "why": why}
    os.write(census, json.dumps(found).encode())
while status is not None:
    try:
        os.kill(-1, _signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        while os.waitpid(-1, 0)[0]:
            pass
    except ChildProcessError:
        break
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
os.write(report, f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss} {ru.ru_nivcsw}".encode())
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


class Step(StrEnum):
    """What a sealed run is for; it decides whether the checkout is writable."""

    BUILD = "build"  # writes its outputs into the checkout
    CHECKS = "checks"
    BENCHMARK = "benchmark"


@dataclass(frozen=True)
class Support:
    """What this machine offers for sealing runs."""

    bwrap: str | None  # path of the bwrap binary
    works: bool
    problem: str | None  # why it cannot seal, and how to fix that

    @property
    def version(self) -> str | None:
        """bubblewrap's version: asked only where it is shown, not by every process that seals."""
        return _version(self.bwrap) if self.bwrap else None

    def as_dict(self) -> dict[str, object]:
        return {"bwrap": self.bwrap, "version": self.version, "works": self.works, "problem": self.problem}


@functools.lru_cache(maxsize=1)
def probe() -> Support:
    """Try bubblewrap once with the namespaces a sealed run needs."""
    path = shutil.which("bwrap")
    if path is None:
        return Support(None, False, f"bubblewrap is not installed: {INSTALL_HINT}")
    try:
        trial = subprocess.run(
            [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent", "--as-pid-1",
             # a program outside every hidden place: the probe tests the namespaces, while the
             # interpreter (a venv under /tmp, say) is mounted into real runs by toolchain_paths
             "--cap-drop", "ALL", "--", shutil.which("true") or "/bin/true"],
            check=False, capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Support(path, False, f"bubblewrap does not run here: {exc}")
    if trial.returncode != 0:
        why = (trial.stderr.strip().splitlines()[-1] if trial.stderr.strip()
               else f"exit code {trial.returncode}")
        return Support(path, False,
                       f"bubblewrap cannot create namespaces here ({why}); allow unprivileged user "
                       "namespaces (sysctl kernel.unprivileged_userns_clone=1) or, in a container, "
                       "run it with user namespaces enabled")
    return Support(path, True, None)


@functools.lru_cache(maxsize=4)
def _version(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], check=False, capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.removeprefix("bubblewrap ") or None


@dataclass(frozen=True)
class Sandbox:
    """How the runs of one session are sealed; `sealed` is False when they run as they are.

    `hide` are the directories no run may see (the repository with its ledger and harness
    state, the git common directory); the checkouts measured live below them and are mounted
    back, each run seeing only its own.
    """

    sealed: bool
    why_not: str | None = None
    hide: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()  # absolute paths seen read-only (links, toolchains)
    writable: tuple[str, ...] = ()  # checkout-relative scratch paths, emptied before every run
    network: bool = False

    @property
    def label(self) -> str:
        """What the ledger records: "on" or "off"."""
        return "on" if self.sealed else "off"

    def prefix(self, checkout: Path, step: Step, binds: Mapping[Path, str] | None = None,
               census_fd: int | None = None) -> list[str]:
        """The argv that runs a command sealed in `checkout` (empty when not sealed).

        `run_command` appends the report pipe and the command: the argv ends in an init that
        runs `bash -c <command>` and reports its figures, as the unsealed launcher does, so a
        sealed run starts one interpreter, not two. Scratch paths are emptied first, sealed or
        not, so nothing one run writes reaches the next. `binds` mounts files or directories the
        harness made (host path -> path in the sandbox) writable. `census_fd` makes it a counted
        run: the init writes the pids of every process the run started there, and `/proc` is
        read-only (no writing another process's memory through `/proc/<pid>/mem`).
        """
        checkout = checkout.resolve()
        scratch = [] if step is Step.BUILD else [empty_scratch(checkout, rel) for rel in self.writable]
        if not self.sealed:
            return []
        argv = [probe().bwrap or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                *(["--remount-ro", "/proc"] if census_fd is not None else []), "--tmpfs", "/tmp"]
        home = _home()
        if home is not None:
            argv += ["--tmpfs", str(home)]
        for path in self.hide:
            argv += ["--tmpfs", str(path)]
        for path in self.readable:
            if path.exists():
                argv += ["--ro-bind", str(path), str(path)]
        # after the toolchains: `~/.local` is one, and the ledger's signing keys live below it
        secrets = Path(os.path.realpath(state_dir()))
        if secrets.is_dir():
            argv += ["--tmpfs", str(secrets)]
        argv += ["--bind" if step is Step.BUILD else "--ro-bind", str(checkout), str(checkout)]
        for path in scratch:
            argv += ["--bind", str(path), str(path)]
        for host, inside in (binds or {}).items():
            argv += ["--bind", str(host), inside]
        argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--as-pid-1",
                 "--new-session", "--cap-drop", "ALL", "--setenv", "TMPDIR", "/tmp", "--chdir", str(checkout)]
        if not self.network:
            argv.append("--unshare-net")
        census = [] if census_fd is None else [str(census_fd)]  # before the report pipe and command
        return [*argv, "--", os.path.realpath(sys.executable), "-I", "-S", "-c", _INIT, _filter(), *census]


@functools.lru_cache(maxsize=1)
def _filter() -> str:
    """The seccomp filter of sealed runs, as the init takes it."""
    if not seccomp.supported():
        log.warning("no seccomp filter for sealed runs on %s: the kernel's keyrings can carry a "
                    "value from one run to the next", seccomp.machine())
        return ""
    return seccomp.sealed_run_filter().hex()


def empty_scratch(checkout: Path, rel: str) -> Path:
    """Make `checkout/rel` an empty directory that lies inside the checkout, and return it."""
    target = checkout / rel.strip("/")
    if target.is_symlink() or target.is_file():
        target.unlink()
    if target.exists() and not target.resolve().is_relative_to(checkout):
        raise UsageError(f"[sandbox] writable path {rel!r} leads out of the checkout")
    if target.is_dir():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if not target.resolve().is_relative_to(checkout):
        shutil.rmtree(target)
        raise UsageError(f"[sandbox] writable path {rel!r} leads out of the checkout")
    return target


def make_sandbox(mode: SandboxMode, root: Path, git_common: Path, links: Sequence[str] = (),
                 writable: Sequence[str] = (), readable: Sequence[str] = (),
                 network: bool = False) -> Sandbox:
    """The sandbox a session's configuration asks for on this machine.

    mode "auto" seals where bubblewrap works; "on" makes its absence a usage error; "off" never seals.
    """
    if mode == SandboxMode.OFF:
        return Sandbox(False, "sandbox mode is off in autoresearch.toml")
    support = probe()
    if not support.works:
        if mode == SandboxMode.ON:
            raise UsageError(f"[sandbox] mode = \"on\" but runs cannot be sealed: {support.problem}. "
                             "Or set mode = \"auto\" to run unsealed (every record then says sandbox: off).")
        log.info("runs are not sealed: %s", support.problem)
        return Sandbox(False, support.problem)
    root, git_common = root.resolve(), git_common.resolve()
    hide = (root,) + (() if git_common.is_relative_to(root) else (git_common,))
    # Mounted where the checkouts' links point, even when that path is itself a symlink.
    seen = [root / rel.rstrip("/") for rel in links] + [Path(os.path.expanduser(p)) for p in readable]
    return Sandbox(True, None, hide, tuple(dict.fromkeys([*toolchain_paths(), *seen])), tuple(writable),
                   network)


def toolchain_paths() -> list[Path]:
    """Directories a sealed run needs to see although they lie in a hidden place ($HOME, /tmp).

    The interpreter running the harness (and its venv), and toolchains on $PATH or in the usual
    places under $HOME; everything else outside the hidden places is visible read-only anyway.
    """
    hidden = [p for p in (_home(), Path("/tmp")) if p is not None]
    found: list[Path] = []
    candidates = [Path(sys.prefix), Path(sys.base_prefix),
                  Path(os.path.realpath(sys.executable)).parent.parent]
    candidates += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p.startswith("/")]
    home = _home()
    if home is not None:
        candidates += [home / d for d in _TOOLCHAIN_DIRS]
    for path in candidates:
        for place in hidden:
            if path.is_relative_to(place) and path != place:
                # under $HOME the whole toolchain directory (shims point into it); under /tmp
                # only the path itself, since /tmp holds other people's work
                seen = place / path.relative_to(place).parts[0] if place == home else path
                if seen.exists() and seen not in found:
                    found.append(seen)
    return found


def _home() -> Path | None:
    home = Path(os.path.expanduser("~"))
    return home if home != Path("/") and home.is_absolute() and home.exists() else None
