"""The OS layers every program runs under.

RestrictedPython only sees the program's own code; library code the program calls runs
unrestricted (``sympy.sympify`` evaluates strings, ``numpy.load`` unpickles). So programs run in
runner processes that the kernel confines: a runner may read the Python installation and nothing
else, write nothing, open no socket, start no process, signal or trace no other process, and use
bounded memory and CPU. The layers are prepared once per template (``Jail.prepare``) and entered by
each program's process right after it is forked (``Jail.enter``).

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
from potcot.sandbox.seccomp import PROCESS_DENIED, TEMPLATE_DENIED, SeccompFilter

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


class Jail:
    """The prepared layers of one template. Not thread-safe: a template is one thread."""

    def __init__(
        self, report: IsolationReport, ruleset_fd: int | None, seccomp: SeccompFilter | None, devnull: int
    ) -> None:
        self.report = report
        self._ruleset_fd = ruleset_fd
        self._seccomp = seccomp
        self._devnull = devnull
        self._template_pid = os.getpid()

    @classmethod
    def prepare(cls, read_paths: Sequence[str]) -> Jail:
        """Confine this template where the kernel allows it and build the layers its processes enter.

        Call after the template has imported what programs need, and before it forks any process.
        """
        active = {
            "restricted-python": "compile-time policy and runtime guards",
            "separate-processes": (
                "each program in a fresh process forked from a template that never sees a program, "
                "killed at its deadline, gone after its one program"
            ),
            "rlimits": "address space, CPU seconds, open files; no file growth, no processes, no core dumps",
        }
        missing: dict[str, str] = {}
        for layer, outcome in (
            ("unprivileged-user", _drop_privileges(read_paths)),
            ("namespaces", _unshare_namespaces()),
        ):
            (active if outcome[0] else missing)[layer] = outcome[1]
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        devnull = os.open(os.devnull, os.O_RDWR)  # opened before the template's filter forbids it

        seccomp = None
        try:
            template_filter = SeccompFilter.build(TEMPLATE_DENIED, deny_write_opens=True)
            seccomp = SeccompFilter.build(PROCESS_DENIED, deny_write_opens=False)
            libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
            template_filter.load()
            active["seccomp"] = "no process creation, exec, sockets, tracing, signals or file changes"
        except (ImportError, RuntimeError, OSError) as error:
            missing["seccomp"] = f"libseccomp unavailable: {error}"

        ruleset = None
        abi = landlock.abi_version()
        if abi:
            ruleset = landlock.read_only_ruleset(abi, read_paths)
            extent = "files" + (", TCP" if abi >= 4 else "") + (", signals" if abi >= 6 else "")
            active["landlock"] = f"ABI {abi}: read-only Python installation; {extent} denied elsewhere"
        else:
            missing["landlock"] = "kernel without Landlock (needs Linux 5.13+ with landlock enabled)"
        return cls(IsolationReport(active, missing), ruleset, seccomp, devnull)

    def enter(self, keep_fds: set[int], limits: ProcessLimits) -> None:
        """Confine the calling process, a fresh fork of the template, before it reads its program.
        Every file descriptor but ``keep_fds`` is closed.

        Any failure raises, and the caller must then exit without running a program.
        """
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self._template_pid:
            raise RuntimeError("the template exited before its process started")
        for stdio in (0, 1, 2):
            os.dup2(self._devnull, stdio)
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        if self._ruleset_fd is not None:
            landlock.restrict_self(self._ruleset_fd)
        _close_all_except(keep_fds)
        for kind, value in (
            (resource.RLIMIT_AS, limits.address_space_bytes),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_FSIZE, 0),
            (resource.RLIMIT_NPROC, 0),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(kind, (value, value))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        if self._seccomp is not None:
            self._seccomp.load()


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
            "the template stays root without host capabilities when namespaces are available"
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


def _unshare_namespaces() -> tuple[bool, str]:
    """A new network namespace has no interfaces but a downed loopback; a new user namespace
    leaves the template with no capabilities over anything outside it, root or not."""
    try:
        libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNET)
        return True, "user and network namespaces: no network, no host capabilities"
    except OSError as user_error:
        if os.geteuid() != 0:
            return False, f"user namespaces unavailable to this user ({user_error.strerror})"
        try:
            libc.unshare(libc.CLONE_NEWNET)
        except OSError as error:
            return False, f"network namespace unavailable ({error.strerror})"
        return True, "network namespace: no network (user namespace unavailable)"


def _close_all_except(keep: set[int]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)
