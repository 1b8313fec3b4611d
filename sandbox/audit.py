"""Noticing, from inside a runner, that a program ran code RestrictedPython did not compile.

Library functions can evaluate strings (``sympy.sympify``), unpickle (``numpy.load``) or call C
through ctypes. Python raises an audit event before each such action, and an audit hook cannot be
removed once added. The monitor writes one byte to the worker the moment it sees an event outside
what ordinary math programs cause, before the action proceeds, so code an escape runs cannot hide
it. The worker then discards the runner after the program: whatever the escape changed in that
process dies with it, and the next program starts from a fresh copy of the worker.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import CodeType

from sandbox.restricted import PolicyViolation

# What lazy imports and introspection inside numpy and sympy raise while running ordinary programs.
_BENIGN_EVENTS = frozenset(
    {"import", "os.listdir", "os.scandir", "marshal.loads", "builtins.id", "sys._getframe", "object.__getattr__"}
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Actions no math program needs: refused outright with a clear error, on top of the alarm. The
# kernel refuses them too (``sandbox.jail``); this turns a silent failure, such as ``os.system``
# returning 127, into a ``forbidden`` status.
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


class AuditMonitor:
    """An audit hook, armed only while a program runs."""

    def __init__(self, alarm_fd: int, program_filename: str, library_paths: Sequence[str]) -> None:
        self._alarm_fd = alarm_fd
        self._trusted_filenames = (program_filename, *library_paths)
        self.armed = False
        self.alarmed = False

    def __call__(self, event: str, args: tuple[object, ...]) -> None:
        if not self.armed or event in _BENIGN_EVENTS or self._is_benign(event, args):
            return
        if not self.alarmed:
            self.alarmed = True
            os.write(self._alarm_fd, b"!")
        if event == "open" or event.startswith(_REFUSED_EVENT_PREFIXES):
            raise PolicyViolation(f"{event} is not allowed in the sandbox")

    def _is_benign(self, event: str, args: tuple[object, ...]) -> bool:
        if event == "open":
            _, mode, flags = args
            return not (isinstance(mode, str) and any(c in mode for c in "wax+")) and not (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
        if event == "compile":
            return isinstance(args[1], str) and args[1].startswith(self._trusted_filenames)
        if event == "exec":
            code = args[0]
            return isinstance(code, CodeType) and code.co_filename.startswith(self._trusted_filenames)
        return False
