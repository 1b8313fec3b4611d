"""The OS layers every program runs under.

RestrictedPython only sees the program's own code; library code the program calls runs
unrestricted (``sympy.sympify`` evaluates strings, ``numpy.load`` unpickles). So programs run in
processes that the kernel confines: such a process may read the Python installation and nothing
else, write nothing, open no socket, start no process, name no other process (it is alone in its PID
and IPC namespaces, and its seccomp allow-list lets the calls that take a pid act only on itself),
and starts from the template's state at start-up with bounded memory and CPU. A template sets up
what must come first before it imports anything (``TemplateIsolation.begin``), builds the rest once
it has (``Jail.prepare``), seals itself (``Jail.seal``), and each program's process enters the
layers right after it is forked (``Jail.enter``).

Each layer is used where the kernel and the template's privileges allow it, and ``IsolationReport``
says which ones a deployment got.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pwd
import resource
import signal
import sysconfig
from collections.abc import Iterable, Sequence

from potcot.sandbox import landlock, libc
from potcot.sandbox.namespaces import ProgramNamespaces, enter_template_namespaces, hide_processes
from potcot.sandbox.seccomp import CONFINING_CALLS, PROGRAM_CALLS, SeccompFilter
from potcot.sandbox.state import ProcessState

_SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
_SYSTEM_LIBRARY_FILES = ("/etc/ld.so.cache",)
_UNPRIVILEGED_USER = "nobody"


@dataclasses.dataclass(frozen=True)
class IsolationReport:
    """Which isolation layers a template has (with how), and which it lacks (with why)."""

    active: dict[str, str]
    missing: dict[str, str]

    def to_dict(self) -> dict[str, dict[str, str]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, str]]) -> IsolationReport:
        return cls(active=dict(data["active"]), missing=dict(data["missing"]))


@dataclasses.dataclass(frozen=True)
class ProcessLimits:
    """The kernel limits of one program's process."""

    address_space_bytes: int
    cpu_seconds: int
    open_files: int

    def overrides(self) -> dict[int, tuple[int, int]]:
        """The limits a process takes in place of its template's: its own address space, CPU and
        descriptors, and nothing of what it may not use (files to grow, processes, core dumps,
        locked memory, message queues, real-time priorities)."""
        own = {
            resource.RLIMIT_AS: self.address_space_bytes,
            resource.RLIMIT_CPU: self.cpu_seconds,
            resource.RLIMIT_NOFILE: self.open_files,
        }
        none = (
            resource.RLIMIT_FSIZE,
            resource.RLIMIT_NPROC,
            resource.RLIMIT_CORE,
            resource.RLIMIT_MEMLOCK,
            resource.RLIMIT_MSGQUEUE,
            resource.RLIMIT_RTPRIO,
        )
        return {**{kind: (value, value) for kind, value in own.items()}, **{kind: (0, 0) for kind in none}}


@dataclasses.dataclass(frozen=True)
class TemplateIsolation:
    """What a template set up for itself before importing anything: its state as the pool started
    it, and the layers that had to come first (a user change, namespaces)."""

    state: ProcessState
    read_paths: tuple[str, ...]
    active: dict[str, str]
    missing: dict[str, str]
    process_namespaces: bool

    @classmethod
    def begin(cls, read_paths: Sequence[str]) -> TemplateIsolation:
        """Capture this process's state, leave root where the installation allows it, and enter
        namespaces of its own (``sandbox.namespaces``: this forks). Call first, before importing
        the libraries."""
        state = ProcessState.capture()
        active: dict[str, str] = {}
        missing: dict[str, str] = {}
        for layer, (ok, how) in (
            ("unprivileged-user", _drop_privileges(read_paths)),
            ("namespaces", enter_template_namespaces()),
        ):
            (active if ok else missing)[layer] = how
        if "namespaces" in active:
            active["process-namespaces"] = (
                "each program's process alone in a PID and an IPC namespace: no other process to name or "
                "see in /proc, no System V object of anyone's"
            )
        else:
            missing["process-namespaces"] = "needs the template's own namespaces"
        return cls(state, tuple(read_paths), active, missing, "namespaces" in active)


class Jail:
    """The prepared layers of one template. Not thread-safe: a template is one thread."""

    def __init__(
        self,
        isolation: TemplateIsolation,
        report: IsolationReport,
        ruleset_fd: int | None,
        filters: tuple[SeccompFilter, SeccompFilter] | None,
    ) -> None:
        self.report = report
        self._state = isolation.state
        self._namespaces = ProgramNamespaces() if isolation.process_namespaces else None
        self._ruleset_fd = ruleset_fd
        self._filters = filters
        self._devnull = os.open(os.devnull, os.O_RDWR)
        self._template_pid = os.getpid()

    @classmethod
    def prepare(cls, isolation: TemplateIsolation) -> Jail:
        """Build the layers that each process enters. Call after the template has imported what
        programs need, then ``seal`` before forking any process."""
        active = {
            "restricted-python": "compile-time policy and runtime guards",
            "separate-processes": (
                "each program in a fresh process forked from a template that never sees a program, "
                "killed at its deadline, gone after its one program"
            ),
            "clean-state": (
                "limits, nice value, scheduling policy, CPU affinity and I/O priority set to the template's "
                "start-up values in every process and checked; capabilities dropped"
            ),
            "rlimits": (
                "address space, CPU seconds, open files; no file growth, processes, core dumps, locked memory "
                "or message queues"
            ),
            **isolation.active,
        }
        missing = dict(isolation.missing)
        filters = None
        try:
            filters = SeccompFilter.allowing(PROGRAM_CALLS + CONFINING_CALLS), SeccompFilter.denying(CONFINING_CALLS)
            names = len({call.name for call in PROGRAM_CALLS})
            active["seccomp"] = f"an allow-list of {names} calls, those that reach a process only on the caller itself"
        except (ImportError, RuntimeError, OSError) as error:
            missing["seccomp"] = f"libseccomp unavailable: {error}"

        ruleset = None
        abi = landlock.abi_version()
        if abi:
            ruleset = landlock.read_only_ruleset(abi, isolation.read_paths)
            extent = "files" + (", TCP" if abi >= 4 else "") + (", signals" if abi >= 6 else "")
            active["landlock"] = f"ABI {abi}: read-only Python installation; {extent} denied elsewhere"
        else:
            missing["landlock"] = "kernel without Landlock (needs Linux 5.13+ with landlock enabled)"
        return cls(isolation, IsolationReport(active, missing), ruleset, filters)

    def seal(self) -> None:
        """Hide the host's processes from the template's mount namespace where it has one, and load
        the template's own filter: from now on the template, and every process it forks, can make
        only the calls of the allow-list."""
        if self._namespaces is not None:
            hide_processes()
        if self._filters is not None:
            libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
            self._filters[0].load()

    def fork(self) -> int:
        """``os.fork``, into namespaces of the child's own where the template has them."""
        return self._namespaces.fork() if self._namespaces else os.fork()

    def enter(self, keep_fds: set[int], limits: ProcessLimits) -> None:
        """Confine the calling process, a fresh fork of the template, before it reads its program.
        Every file descriptor but ``keep_fds`` is closed.

        Any failure raises, and the caller must then exit without running a program.
        """
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        if self._namespaces is None and os.getppid() != self._template_pid:
            raise RuntimeError("the template exited before its process started")
        os.setsid()
        for stdio in (0, 1, 2):
            os.dup2(self._devnull, stdio)
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        libc.drop_capabilities()
        self._state.with_limits(limits.overrides()).enter()
        if self._ruleset_fd is not None:
            landlock.restrict_self(self._ruleset_fd)
        _close_all_except(keep_fds)
        if self._filters is not None:
            self._filters[1].load()


def library_paths(modules: Iterable[str]) -> list[str]:
    """What a program's process may read: the interpreter's standard library, the directories the
    given top-level modules load from (imported or not), and the system's shared libraries."""
    paths = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib")}
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if origin and os.path.isabs(origin):
            package_dir = os.path.dirname(origin)
            paths.add(os.path.dirname(package_dir) if origin.endswith("__init__.py") else package_dir)
    paths.update(_SYSTEM_LIBRARY_DIRS + _SYSTEM_LIBRARY_FILES)
    return sorted(path for path in paths if os.path.exists(path))


def _drop_privileges(read_paths: Sequence[str]) -> tuple[bool, str]:
    if os.geteuid() != 0:
        return True, f"runs as uid {os.geteuid()}, not root"
    try:
        nobody = pwd.getpwnam(_UNPRIVILEGED_USER)
    except KeyError:
        return False, f"no user {_UNPRIVILEGED_USER!r} on this system"
    if not _readable_as(nobody, read_paths):
        return False, (
            f"the Python installation is not readable by {_UNPRIVILEGED_USER!r}; "
            "the template stays root, and its processes drop every capability"
        )
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
    return True, f"dropped root for {_UNPRIVILEGED_USER!r} (uid {nobody.pw_uid})"


def _readable_as(user: pwd.struct_passwd, paths: Sequence[str]) -> bool:
    """Try, in a throw-away child, whether ``user`` can read every path."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            for path in paths:
                if os.path.isdir(path):
                    os.listdir(path)
                else:
                    os.close(os.open(path, os.O_RDONLY))
        except OSError:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _close_all_except(keep: set[int]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)
