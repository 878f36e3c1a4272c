"""The seccomp filters of sealed runs: no state kept in the kernel between runs; and in counted runs,
no way to valgrind's log, another process or past the tracer."""

from __future__ import annotations

import platform
import struct
from dataclasses import dataclass
from enum import Enum

# The file-descriptor limit of a counted run, soft and hard. Valgrind reserves the top
# `VALGRIND_RESERVED_FDS` descriptors below the limit for itself and refuses the client's system
# calls on them; with soft == hard it cannot move that range, so every traced generation computes
# the same one. The log socket is handed over as the top descriptor.
FD_LIMIT = 1024
VALGRIND_RESERVED_FDS = 12  # N_RESERVED_FDS in valgrind 3.x (10 before 3.15: then two more are ours)
RESERVED_LOW = FD_LIMIT - VALGRIND_RESERVED_FDS
LOG_FD = FD_LIMIT - 1

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000  # x86_64 syscall numbers with this bit set are the x32 ABI
# The 32-bit ABI each machine also runs (i386, arm), and its numbers of the calls every sealed run refuses.
_COMPAT = {"x86_64": (0x40000003, {"add_key": 286, "request_key": 287, "keyctl": 288}),
           "aarch64": (0x40000028, {"add_key": 309, "request_key": 310, "keyctl": 311})}

# Syscall numbers; aarch64 has the generic table (no dup2).
_NR = {
    "x86_64": {"dup": 32, "dup2": 33, "dup3": 292, "fcntl": 72, "ioctl": 16, "shutdown": 48,
               "setsockopt": 54, "sendto": 44, "sendmsg": 46, "sendmmsg": 307, "sendfile": 40,
               "splice": 275, "tee": 276, "vmsplice": 278, "copy_file_range": 326,
               "io_uring_setup": 425, "io_setup": 206, "pidfd_getfd": 438, "ptrace": 101,
               "process_vm_readv": 310, "process_vm_writev": 311, "prlimit64": 302, "clone": 56,
               "clone3": 435, "add_key": 248, "request_key": 249, "keyctl": 250},
    "aarch64": {"dup": 23, "dup3": 24, "fcntl": 25, "ioctl": 29, "shutdown": 210, "setsockopt": 208,
                "sendto": 206, "sendmsg": 211, "sendmmsg": 269, "sendfile": 71, "splice": 76,
                "tee": 77, "vmsplice": 75, "copy_file_range": 285, "io_uring_setup": 425,
                "io_setup": 0, "pidfd_getfd": 438, "ptrace": 117, "process_vm_readv": 270,
                "process_vm_writev": 271, "prlimit64": 261, "clone": 220, "clone3": 435,
                "add_key": 217, "request_key": 218, "keyctl": 219},
}

EPERM, ENOSYS = 1, 38
F_DUPFD, F_GETFL, F_DUPFD_CLOEXEC = 0, 3, 1030
RLIMIT_NOFILE = 7
CLONE_UNTRACED = 0x00800000


class Op(Enum):
    EQ = "=="
    NE = "!="
    GE = ">="
    LT = "<"
    HAS = "&"  # any of the value's bits set


@dataclass(frozen=True)
class Arg:
    """A test on the low 32 bits of one argument (descriptors, commands, resources are ints)."""

    index: int
    op: Op
    value: int


# (syscall, conditions that must all hold) -> refused, with EPERM unless `_ERRNO_OF` says otherwise.
Rule = tuple[str, tuple[Arg, ...]]

# Every sealed run: the kernel's keyrings outlive a run (the user keyring is per uid, the session
# keyring the harness's own), so a value added in one run could be read by every later one.
_SEALED_RULES: tuple[Rule, ...] = (("add_key", ()), ("request_key", ()), ("keyctl", ()))

# Counted runs, besides: valgrind already refuses write, close and the like on its reserved
# descriptors; what it does not check is refused here: duplicating one (valgrind checks only the
# new descriptor), changing the shared socket (flags, ownership, shutdown, options), writing to it
# by other means than write, and I/O it never sees (io_uring, aio). Plus every way into another
# process: ptrace, process_vm_*, pidfd_getfd, and lowering another process's descriptor limit,
# which would move the range of its next program. And every way past the sandbox init's tracer,
# which must see each process the run starts: a clone with CLONE_UNTRACED is not followed, and
# clone3 takes its flags in memory the filter cannot read (ENOSYS: libc then falls back to clone).
_RESERVED = Arg(0, Op.GE, RESERVED_LOW)
_COUNTED_RULES: tuple[Rule, ...] = (
    ("dup", (_RESERVED,)),
    ("dup2", (_RESERVED,)),
    ("dup3", (_RESERVED,)),
    # valgrind itself moves the log into its range with F_DUPFD from the reserved top descriptor
    ("fcntl", (_RESERVED, Arg(1, Op.EQ, F_DUPFD), Arg(2, Op.LT, RESERVED_LOW))),
    ("fcntl", (_RESERVED, Arg(1, Op.EQ, F_DUPFD_CLOEXEC), Arg(2, Op.LT, RESERVED_LOW))),
    # anything past F_GETFD, F_SETFD, F_GETFL: F_SETFL (O_NONBLOCK is shared), F_SETOWN, leases...
    ("fcntl", (_RESERVED, Arg(1, Op.GE, F_GETFL + 1), Arg(1, Op.NE, F_DUPFD_CLOEXEC))),
    ("ioctl", (_RESERVED,)),
    ("shutdown", (_RESERVED,)),
    ("setsockopt", (_RESERVED,)),
    ("sendto", (_RESERVED,)),
    ("sendmsg", (_RESERVED,)),
    ("sendmmsg", (_RESERVED,)),
    ("sendfile", (_RESERVED,)),
    ("vmsplice", (_RESERVED,)),
    ("splice", (Arg(2, Op.GE, RESERVED_LOW),)),
    ("tee", (Arg(1, Op.GE, RESERVED_LOW),)),
    ("copy_file_range", (Arg(2, Op.GE, RESERVED_LOW),)),
    ("io_uring_setup", ()),
    ("io_setup", ()),
    ("ptrace", ()),
    ("process_vm_readv", ()),
    ("process_vm_writev", ()),
    ("pidfd_getfd", ()),
    ("prlimit64", (Arg(0, Op.NE, 0), Arg(1, Op.EQ, RLIMIT_NOFILE))),
    ("clone", (Arg(0, Op.HAS, CLONE_UNTRACED),)),  # the flags are the first argument on both machines
    ("clone3", ()),
)
_ERRNO_OF = {"clone3": ENOSYS}

# Source that installs a filter (hex) in the process running it, for the code strings that start
# runs: `install(hex, what)` exits naming `what` when the kernel refuses it.
INSTALL = """
def install(hexprog, what):
    import ctypes, os, sys
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    prog = bytes.fromhex(hexprog)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = Prog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if (libc.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
            or libc.prctl(22, ctypes.c_ulong(2), ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0))):
        sys.exit(f"autoresearch: cannot install the seccomp filter of {what}: "
                 + os.strerror(ctypes.get_errno()))
"""

# classic BPF
_LD_W_ABS, _JA, _JEQ, _JGE, _JSET, _RET = 0x20, 0x05, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_NR_OFFSET, _ARCH_OFFSET, _ARGS_OFFSET = 0, 4, 16


def machine() -> str:
    """This machine's architecture, as the kernel names it."""
    return platform.machine().lower().replace("arm64", "aarch64").replace("amd64", "x86_64")


def supported(arch: str | None = None) -> bool:
    """Whether sealed and counted runs on `arch` (this machine's by default) get their filters."""
    return (arch or machine()) in _NR


def sealed_run_filter(arch: str | None = None) -> bytes:
    """The filter of every sealed run, for `arch` or this machine: no keyrings, in any of its ABIs.

    32-bit programs (and x32 on x86_64) run sealed as they are; only their own numbers for the
    keyring calls are refused too.
    """
    arch = arch or machine()
    native, rules = _NR[arch], _SEALED_RULES
    if arch == "x86_64":  # x32 calls are the native numbers with the x32 bit
        native = {**native, **{f"x32 {name}": nr | _X32_BIT for name, nr in native.items()}}
        rules += tuple((f"x32 {name}", conds) for name, conds in _SEALED_RULES)
    compat_arch, compat = _COMPAT[arch]
    return _program([(_AUDIT_ARCH[arch], _rules(rules, native)),
                     (compat_arch, _rules(_SEALED_RULES, compat))])


def counted_run_filter(arch: str | None = None) -> bytes:
    """The filter of counted runs, sealed or not, for `arch` or this machine; valgrind counts
    native programs only, so every call of another ABI is refused."""
    arch = arch or machine()
    no_x32 = [(_LD_W_ABS, 0, 0, _NR_OFFSET), (_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, _ERRNO | EPERM)]
    return _program([(_AUDIT_ARCH[arch], (no_x32 if arch == "x86_64" else [])
                      + _rules(_SEALED_RULES + _COUNTED_RULES, _NR[arch]))])


Instruction = tuple[int, int, int, int]


def _program(sections: list[tuple[int, list[Instruction]]]) -> bytes:
    """A filter as the kernel takes it (`struct sock_filter[]`): each section decides the calls of
    one ABI (its audit architecture) and allows what it does not refuse; other ABIs get EPERM."""
    prog: list[Instruction] = []
    for audit, body in sections:
        body = [*body, (_RET, 0, 0, _ALLOW)]
        # JA over the section: a conditional jump reaches 255 instructions at most
        prog += [(_LD_W_ABS, 0, 0, _ARCH_OFFSET), (_JEQ, 1, 0, audit), (_JA, 0, 0, len(body)), *body]
    prog.append((_RET, 0, 0, _ERRNO | EPERM))
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def _rules(rules: tuple[Rule, ...], numbers: dict[str, int]) -> list[Instruction]:
    """The instructions that refuse each of `rules` whose call has a number in `numbers`."""
    prog: list[Instruction] = []
    for name, conds in rules:
        if name not in numbers:
            continue
        # one block per rule: a failed test jumps past the block's RET
        block: list[Instruction] = [(_LD_W_ABS, 0, 0, _NR_OFFSET), (_JEQ, 0, _SKIP, numbers[name])]
        for arg in conds:
            block.append((_LD_W_ABS, 0, 0, _ARGS_OFFSET + 8 * arg.index))  # low half, little-endian
            block.append(_test(arg))
        block.append((_RET, 0, 0, _ERRNO | _ERRNO_OF.get(name, EPERM)))
        end = len(block)
        prog += [(code, _skip(jt, i, end), _skip(jf, i, end), k) for i, (code, jt, jf, k) in enumerate(block)]
    return prog


_SKIP = -1  # placeholder: jump past the rule's block


def _test(arg: Arg) -> Instruction:
    """A jump that falls through when `arg` holds and skips the block when it does not."""
    if arg.op is Op.EQ:
        return (_JEQ, 0, _SKIP, arg.value)
    if arg.op is Op.NE:
        return (_JEQ, _SKIP, 0, arg.value)
    if arg.op is Op.GE:
        return (_JGE, 0, _SKIP, arg.value)
    if arg.op is Op.HAS:
        return (_JSET, 0, _SKIP, arg.value)
    return (_JGE, _SKIP, 0, arg.value)


def _skip(offset: int, at: int, end: int) -> int:
    return end - at - 1 if offset == _SKIP else offset

