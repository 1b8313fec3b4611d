"""The few C library calls the jail needs that Python 3.11's ``os`` module lacks."""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MADV_COLLAPSE = 25
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 1 << 14, 1 << 18
_CAPABILITY_VERSION_3 = 0x20080522


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilityData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _checked(result: int, what: str) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")
    return result


def prctl(option: int, *args: object) -> None:
    padded = (*args, 0, 0, 0, 0)[:4]
    _checked(_libc.prctl(option, *padded), f"prctl({option})")


def madvise(start: int, length: int, advice: int) -> None:
    _checked(_libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), advice), "madvise")


def unshare(flags: int) -> None:
    _checked(_libc.unshare(flags), "unshare")


def setns(fd: int, namespace_type: int) -> None:
    _checked(_libc.setns(fd, namespace_type), "setns")


def mount(source: str | None, target: str, filesystem: str | None, flags: int, data: str | None = None) -> None:
    def encoded(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    result = _libc.mount(encoded(source), encoded(target), encoded(filesystem), flags, encoded(data))
    _checked(result, f"mount({target})")


def sethostname(name: str) -> None:
    encoded = name.encode()
    _checked(_libc.sethostname(encoded, len(encoded)), "sethostname")


def drop_capabilities() -> None:
    """Empty this process's effective, permitted and inheritable capability sets for good."""
    header = _CapabilityHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapabilityData * 2)()
    _checked(_libc.capset(ctypes.byref(header), data), "capset")


def syscall(number: int, *args: object) -> int:
    return _checked(_libc.syscall(number, *args), f"syscall({number})")
