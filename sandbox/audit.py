"""Refusing, from inside a program's process, the actions no math program needs.

Library functions can evaluate strings (``sympy.sympify``), unpickle (``numpy.load``) or reach the
operating system. Python raises an audit event before each such action; this hook turns the ones a
math program never needs into a ``forbidden`` status with a clear message, where the kernel's
refusal (``sandbox.jail``) would often be silent (``os.system`` returning 127). It is a courtesy,
not a boundary: code that escaped RestrictedPython can remove nothing from the kernel layers, and
the process dies after its one program whatever the hook saw.
"""

from __future__ import annotations

import os

from potcot.sandbox.restricted import PolicyViolation

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_REFUSED_EVENT_PREFIXES = (
    "os.",
    "subprocess.",
    "socket.",
    "ctypes.",
    "pty.",
    "shutil.",
    "fcntl.",
    "mmap.",
    "resource.",
    "signal.",
    "sys.addaudithook",
    "sys.settrace",
    "sys.setprofile",
    "pickle.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "sqlite3.",
    "webbrowser.",
    "glob.",
    "tempfile.",
)
# What lazy imports and introspection inside numpy and sympy raise while running ordinary programs.
_ALLOWED_OS_EVENTS = frozenset({"os.listdir", "os.scandir"})


class AuditMonitor:
    """An audit hook, armed only while a program runs."""

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, event: str, args: tuple[object, ...]) -> None:
        if not self.armed or event in _ALLOWED_OS_EVENTS:
            return
        if (event == "open" and _opens_for_writing(args)) or event.startswith(_REFUSED_EVENT_PREFIXES):
            raise PolicyViolation(f"{event} is not allowed in the sandbox")


def _opens_for_writing(args: tuple[object, ...]) -> bool:
    _, mode, flags = args
    return (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
    )
