"""Seccomp: the system calls a program's process may make, as an allow-list, whatever code runs.

``PROGRAM_CALLS`` is everything a program's process may do once confined: the calls real programs
make (measured with strace over the fidelity corpus, the test corpora and lazily imported parts of
numpy, sympy and scipy), with conditions on the arguments of every call that could reach beyond the
process (``prlimit64``, ``sched_getaffinity`` and the clocks only on itself, files opened only for
reading, a few harmless ``ioctl`` requests and ``fcntl`` commands). A call that is not on the
list fails with ``EPERM``, whatever the kernel adds next; there is no ``kill``, no System V IPC,
no socket, no ``execve``.

``CONFINING_CALLS`` is what only the template and a freshly forked process still confining itself
use: forking into new PID and IPC namespaces, waiting for and killing its own child, handing pipes
to the pool, and setting a process's own limits and scheduling. Filters are compiled once per
template with libseccomp (through ``pyseccomp``) and exported as BPF, in two stages, because the
kernel's cost of loading a filter grows with its size: the template loads the allow-list of both
sets on itself, which every process it forks inherits; each program's process then adds the small
filter that denies the confining calls, leaving exactly ``PROGRAM_CALLS``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import fcntl
import os
import signal
import tempfile
from collections.abc import Iterable

from potcot.sandbox import libc

_ALL_BITS = 0xFFFF_FFFF_FFFF_FFFF
_INT_BITS = 0xFFFF_FFFF  # the kernel reads an int argument's low 32 bits; the rest may be anything
_WRITE_OPEN_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1
_TCGETS, _TIOCGWINSZ, _FIONCLEX, _FIOCLEX = 0x5401, 0x5413, 0x5450, 0x5451
# What glibc's fork passes to clone: a child process, no thread, no namespace, no shared memory.
_FORK_FLAGS = 0x01200000 | signal.SIGCHLD  # CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD
_PR_GET_PDEATHSIG, _PR_CAPBSET_READ, _PR_GET_NO_NEW_PRIVS = 2, 23, 39
_CLOCK_CALLS = ("clock_gettime", "clock_getres", "clock_nanosleep")
_SCHEDULER_CALLS = ("sched_setaffinity", "sched_getscheduler", "sched_setscheduler", "sched_getparam", "sched_setparam")


@dataclasses.dataclass(frozen=True)
class Condition:
    """``argument & mask == value`` for one argument of a call."""

    argument: int
    value: int
    mask: int = _INT_BITS


@dataclasses.dataclass(frozen=True)
class Call:
    """A system call a filter allows when all of its conditions hold; several ``Call`` of one name
    allow it when any of them does."""

    name: str
    conditions: tuple[Condition, ...] = ()


def _calls(names: str) -> tuple[Call, ...]:
    return tuple(Call(name) for name in names.split())


def _on_itself(name: str, argument: int = 0) -> Call:
    """A call whose ``argument`` names a process: allowed only as 0, the caller itself."""
    return Call(name, (Condition(argument, 0),))


def _one_of(name: str, argument: int, values: Iterable[int], mask: int = _INT_BITS) -> tuple[Call, ...]:
    return tuple(Call(name, (Condition(argument, value, mask),)) for value in values)


def _read_only(name: str, flags_argument: int) -> Call:
    return Call(name, (Condition(flags_argument, 0, _WRITE_OPEN_FLAGS),))


PROGRAM_CALLS: tuple[Call, ...] = (
    # memory, files opened for reading (Landlock decides which), and the two pipes it was given
    *_calls("brk mmap munmap mremap mprotect madvise futex read pread64 readv write writev close lseek"),
    *_calls("fstat newfstatat stat lstat statx getdents64 getcwd"),
    _read_only("openat", 2),
    _read_only("open", 1),
    *_one_of("ioctl", 1, (_TCGETS, _TIOCGWINSZ, _FIOCLEX, _FIONCLEX)),
    *_one_of("fcntl", 1, (fcntl.F_GETFD, fcntl.F_SETFD, fcntl.F_GETFL, fcntl.F_SETFL, fcntl.F_DUPFD_CLOEXEC)),
    # facts about itself and the machine; CPU clocks only its own (another process's have ids below 0)
    *_calls("getpid gettid getppid getuid geteuid getgid getegid uname getrandom getrusage times"),
    *_calls("gettimeofday time nanosleep sched_yield"),
    *(Call(name, (Condition(0, 0, _INT_BITS & ~0xF),)) for name in _CLOCK_CALLS),
    _on_itself("prlimit64"),
    _on_itself("sched_getaffinity"),
    # signals delivered to itself, and its end
    *_calls("rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack restart_syscall exit exit_group"),
)

CONFINING_CALLS: tuple[Call, ...] = (
    # the template: a new process in new PID and IPC namespaces, its pipes, its end
    Call("clone", (Condition(0, _FORK_FLAGS, _ALL_BITS),)),
    Call("unshare", (Condition(0, libc.CLONE_NEWPID | libc.CLONE_NEWIPC, _ALL_BITS),)),
    *_one_of("setns", 1, (libc.CLONE_NEWPID, libc.CLONE_NEWIPC)),
    Call("pidfd_send_signal", (Condition(1, signal.SIGKILL),)),
    *_calls("pidfd_open wait4 waitid pipe2 sendmsg sendto recvmsg recvfrom pselect6 select poll ppoll"),
    # a forked process confining itself: its descriptors, privileges and a clean state
    *_calls("set_robust_list dup dup2 dup3 close_range setsid capget capset landlock_restrict_self"),
    *_one_of(
        "prctl",
        0,
        (
            libc.PR_SET_PDEATHSIG,
            libc.PR_SET_NO_NEW_PRIVS,
            libc.PR_SET_SECCOMP,
            _PR_GET_PDEATHSIG,
            _PR_CAPBSET_READ,
            _PR_GET_NO_NEW_PRIVS,
        ),
    ),
    *(Call(name, (Condition(0, _PRIO_PROCESS), Condition(1, 0))) for name in ("getpriority", "setpriority")),
    *(Call(name, (Condition(0, _IOPRIO_WHO_PROCESS), Condition(1, 0))) for name in ("ioprio_get", "ioprio_set")),
    *(_on_itself(name) for name in _SCHEDULER_CALLS),
)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompFilter:
    """A compiled filter, ready to be loaded by any process forked after it was built."""

    def __init__(self, bpf: bytes) -> None:
        self._buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self._program = _SockFprog(len(bpf) // 8, ctypes.addressof(self._buffer))

    @classmethod
    def allowing(cls, calls: Iterable[Call]) -> SeccompFilter:
        """A filter that allows ``calls`` and refuses every other call with ``EPERM``. Raises
        ``RuntimeError`` (or ``ImportError``) where libseccomp is not installed."""
        import pyseccomp

        rules = _new_filter(pyseccomp.ERRNO(errno.EPERM))
        for call in calls:
            conditions = [pyseccomp.Arg(c.argument, pyseccomp.MASKED_EQ, c.mask, c.value) for c in call.conditions]
            _add(rules, pyseccomp.ALLOW, call.name, conditions)
        return cls._export(rules)

    @classmethod
    def denying(cls, calls: Iterable[Call]) -> SeccompFilter:
        """A filter that refuses every call named in ``calls`` with ``EPERM``, whatever its arguments."""
        import pyseccomp

        rules = _new_filter(pyseccomp.ALLOW)
        for name in sorted({call.name for call in calls}):
            _add(rules, pyseccomp.ERRNO(errno.EPERM), name, [])
        return cls._export(rules)

    @classmethod
    def _export(cls, rules: object) -> SeccompFilter:
        with tempfile.TemporaryFile() as exported:
            rules.export_bpf(exported)  # type: ignore[attr-defined]  # a pyseccomp.SyscallFilter
            exported.seek(0)
            return cls(exported.read())

    def load(self) -> None:
        """Install the filter on this process for good; needs ``no_new_privs`` set first."""
        libc.prctl(libc.PR_SET_SECCOMP, libc.SECCOMP_MODE_FILTER, ctypes.byref(self._program))


def _new_filter(default_action: int) -> object:
    import pyseccomp

    rules = pyseccomp.SyscallFilter(default_action)
    rules.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    rules.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)  # a binary tree over the call numbers
    return rules


def _add(rules: object, action: int, name: str, conditions: list[object]) -> None:
    try:
        rules.add_rule(action, name, *conditions)  # type: ignore[attr-defined]  # a pyseccomp.SyscallFilter
    except (OSError, ValueError):
        pass  # not a system call on this architecture or libseccomp version
