"""Landlock: the Linux security module that lets an unprivileged process give up file, network
and signal access for itself and everything it runs.

Spoken through its three system calls (include/uapi/linux/landlock.h). The ``landlock`` package on
PyPI is an alpha that covers file rights only; network rules (ABI 4) and scoping (ABI 6) are what
stop a program that escaped RestrictedPython from connecting out or signalling its template.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable

from potcot.sandbox import libc

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

# The only accesses a rule grants: everything else is denied beneath every path.
_READ_FILE = 1 << 2
_READ_DIR = 1 << 3
_ALL_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is missing or disabled."""
    try:
        return libc.syscall(_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    except OSError as error:
        if error.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def read_only_ruleset(abi: int, paths: Iterable[str]) -> int:
    """A ruleset that allows reading ``paths`` and nothing else: no writes anywhere, no TCP
    (ABI 4+), no signals or abstract sockets outside the domain (ABI 6+). Returns its fd."""
    attr = _RulesetAttr(
        handled_access_fs=_ALL_FS_BY_ABI[max(level for level in _ALL_FS_BY_ABI if level <= abi)],
        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    try:
        for path in paths:
            _allow_read(ruleset, path)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def _allow_read(ruleset: int, path: str) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        access = _READ_FILE | _READ_DIR if os.path.isdir(path) else _READ_FILE
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(fd)


def restrict_self(ruleset: int) -> None:
    """Enter the ruleset's domain for good; needs ``no_new_privs`` set first."""
    libc.syscall(_RESTRICT_SELF, ruleset, 0)
