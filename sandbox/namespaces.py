"""Namespaces: a template in namespaces of its own, and each program's process alone in a PID and an
IPC namespace that it shares with nothing.

A process alone in its PID namespace is PID 1 there and no other process has a pid it could name:
not the server, not its template, not the spare the template forked next, not a sibling running
another user's program. So ``kill``, ``prlimit``, ``setpriority``, the ``sched_*`` calls and a
process's CPU clock reach nothing but itself (``/proc`` stays the host's: Landlock keeps it closed).
Alone in its IPC namespace, it sees no System V segment, queue or semaphore of anyone's, and what it
creates dies with it.

The kernel lets a process create a PID namespace only for its children, and only once, unless it
returns to its own (``setns``), which needs privilege over that namespace. So the template starts in
a user namespace of its own and as PID 1 of a PID namespace owned by it: a small *holder* process
unshares them and forks the template, then only waits for it. For every program the template then
unshares a new PID and IPC namespace, forks the process into them and returns to its own. Where user
namespaces are refused (a container runtime's default seccomp profile, for one), the same works for
a root template with ``CAP_SYS_ADMIN``, and otherwise not at all: the seccomp filter
(``sandbox.seccomp``) still confines every such call to the caller itself.
"""

from __future__ import annotations

import os
import signal

from potcot.sandbox import libc

_TEMPLATE_NAMESPACES = libc.CLONE_NEWNS | libc.CLONE_NEWNET | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC | libc.CLONE_NEWPID
_PROGRAM_NAMESPACES = libc.CLONE_NEWPID | libc.CLONE_NEWIPC
_HOSTNAME = "sandbox"


def enter_template_namespaces() -> tuple[bool, str]:
    """Put this process, a template that has not yet imported anything, into namespaces of its own,
    as PID 1 of a PID namespace that it may give each of its processes a child of. Returns whether
    that worked, and how or why not. On success the calling process is the template's holder until
    this returns in its child, the template; the holder never returns."""
    try:
        libc.unshare(libc.CLONE_NEWUSER | _TEMPLATE_NAMESPACES)
        how = "user, PID, IPC, mount, network and UTS namespaces of its own"
    except OSError as user_error:
        try:
            libc.unshare(_TEMPLATE_NAMESPACES)
        except OSError:
            return False, f"namespaces unavailable to this process ({user_error.strerror})"
        how = "PID, IPC, mount, network and UTS namespaces of its own (no user namespace: privileged)"
    _fork_under_holder()
    libc.sethostname(_HOSTNAME)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)  # nothing mounted here reaches the host
    return True, how


def hide_processes() -> None:
    """Mount an empty, read-only file system over ``/proc`` in the template's own mount namespace:
    ``/proc`` is the host's, and even where Landlock refuses to open its files, ``stat`` and
    ``readlink`` would still tell which processes exist. The template calls this once it no longer
    reads ``/proc`` itself, and every process it forks after inherits the view."""
    flags = libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC
    libc.mount("none", "/proc", "tmpfs", flags, "size=4k,mode=0555")


def _fork_under_holder() -> None:
    """Fork: the child returns, as PID 1 of the new PID namespace; the parent holds no descriptor,
    waits for it, exits as it exited, and dies with the pool, and so does the child with it. (A
    child whose holder died before it asked to die with it sees its control socket close.)"""
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    pid = os.fork()
    if pid == 0:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    os.closerange(0, os.sysconf("SC_OPEN_MAX"))
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


class ProgramNamespaces:
    """Forks each process into a PID and an IPC namespace of its own. Made by a template that is
    PID 1 of its own PID namespace (``enter_template_namespaces``)."""

    def __init__(self) -> None:
        self._own = {
            kind: os.open(f"/proc/self/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            for kind, name in ((libc.CLONE_NEWPID, "pid"), (libc.CLONE_NEWIPC, "ipc"))
        }

    def fork(self) -> int:
        """``os.fork``, with the child alone in new namespaces; the template returns to its own."""
        libc.unshare(_PROGRAM_NAMESPACES)
        pid = os.fork()
        if pid != 0:
            for kind, fd in self._own.items():
                libc.setns(fd, kind)
        return pid
