"""Seccomp filters: the system calls a template and its program processes may never make, whatever
code runs.

Filters are compiled once per template with libseccomp (through ``pyseccomp``) and exported as
BPF. They come in two stages, because the kernel's cost of loading a filter grows with its size:
the template loads the large one on itself (no exec, sockets, tracing, file changes, namespaces),
which every process it forks inherits; each program's process then adds the small one (no new
processes, no signals), which is all a fork still has to load: about 0.1 ms rather than 0.3.
"""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile
from collections.abc import Iterable

from potcot.sandbox import libc

TEMPLATE_DENIED = (
    # new programs
    "execve execveat "
    # the network, and local sockets to other processes
    "socket socketpair "
    # other processes: tracing, their memory, their signals
    "ptrace process_vm_readv process_vm_writev pidfd_getfd kill tkill "
    # changing the file system
    "creat mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink "
    "symlinkat mknod mknodat chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat truncate "
    "ftruncate fallocate utime utimes utimensat futimesat setxattr lsetxattr fsetxattr removexattr "
    "lremovexattr fremovexattr openat2 open_by_handle_at name_to_handle_at "
    # namespaces, mounts, the kernel itself
    "unshare setns mount umount2 pivot_root chroot mount_setattr move_mount open_tree fsopen fsmount "
    "fsconfig fspick init_module finit_module delete_module kexec_load kexec_file_load reboot swapon "
    "swapoff syslog acct bpf perf_event_open userfaultfd keyctl add_key request_key quotactl "
    "io_uring_setup io_uring_enter io_uring_register iopl ioperm personality"
).split()
# What the template itself needs and its program processes must not have.
PROCESS_DENIED = "fork vfork clone clone3 pidfd_open pidfd_send_signal".split()

_WRITE_OPEN_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompFilter:
    """A compiled filter, ready to be loaded by any process forked after it was built."""

    def __init__(self, bpf: bytes) -> None:
        self._buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self._program = _SockFprog(len(bpf) // 8, ctypes.addressof(self._buffer))

    @classmethod
    def build(cls, denied_calls: Iterable[str], *, deny_write_opens: bool) -> SeccompFilter:
        """Raises ``RuntimeError`` (or ``ImportError``) where libseccomp is not installed."""
        import pyseccomp

        denied = pyseccomp.ERRNO(errno.EPERM)
        rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        rules.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
        for name in denied_calls:
            try:
                rules.add_rule(denied, name)
            except (OSError, ValueError):
                continue  # not a system call on this architecture or libseccomp version
        for call, flags_argument in (("open", 1), ("openat", 2)):
            for flag in _WRITE_OPEN_FLAGS if deny_write_opens else ():
                rules.add_rule(denied, call, pyseccomp.Arg(flags_argument, pyseccomp.MASKED_EQ, flag, flag))
        with tempfile.TemporaryFile() as exported:
            rules.export_bpf(exported)
            exported.seek(0)
            return cls(exported.read())

    def load(self) -> None:
        """Install the filter on this process for good; needs ``no_new_privs`` set first."""
        libc.prctl(libc.PR_SET_SECCOMP, libc.SECCOMP_MODE_FILTER, ctypes.byref(self._program))
