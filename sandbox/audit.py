"""Refusing, from inside a program's process, the actions no math program needs.

Library functions can evaluate strings (``sympy.sympify``), unpickle (``numpy.load``) or reach the
operating system. Python raises an audit event before each such action; this hook turns the ones a
math program never needs into a ``forbidden`` status with a clear message, where the kernel's
refusal (``sandbox.jail``) would often be silent (``os.system`` returning 127). It is a courtesy,
not a boundary: code that escaped RestrictedPython can remove nothing from the kernel layers, and
the process dies after its one program whatever the hook saw.

The interpreter also audits some attribute accesses, whoever makes them: ``object.__getattr__``
for a function's ``__code__`` and ``__defaults__``, a generator's or traceback's frame;
``object.__setattr__`` for a function's ``__code__`` and defaults and a class's ``__name__``,
``__module__``, ``__bases__`` and ``__doc__``. Ordinary programs cause most of them through the
libraries (``inspect`` reads ``__code__`` when ``dataclasses`` writes a class's ``__doc__``;
``namedtuple`` writes its class's ``__module__`` and its ``__new__``'s defaults;
``typing.NamedTuple`` writes ``__bases__``; ``warnings`` reads frames), so the hook refuses only
the two that none does, and that a library helper would make on the program's behalf: grafting
code onto a function (``functools.update_wrapper(f, g, assigned=('__code__',))``), and relabelling
a library class as the program's, which would make its instances and private attributes the
program's to write (``sandbox.ownership``).
"""

from __future__ import annotations

import os
import sys

from potcot.sandbox.restricted import PROGRAM_MODULE, PolicyViolation

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
        if event == "object.__setattr__":
            refusal = attribute_write_refusal(*args)
            if refusal is not None:
                raise PolicyViolation(refusal)


def _opens_for_writing(args: tuple[object, ...]) -> bool:
    _, mode, flags = args
    return (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
    )


def attribute_write_refusal(target: object, name: object, value: object) -> str | None:
    """Why the interpreter's audited write ``target.name = value`` may not happen, or None."""
    if name == "__code__":
        return f"setting the code of {_dotted_name(target)} is not allowed: a function's code is its own"
    if name == "__module__" and value == PROGRAM_MODULE and _is_library_class(target):
        return f"relabelling the library class {_dotted_name(target)} as the program's is not allowed"
    return None


def _is_library_class(target: object) -> bool:
    """Whether ``target`` is a library's class: one that a module other than the program's calls
    by its name (``fractions.Fraction``), as opposed to one a library just made for the program
    (``namedtuple`` relabels the classes it makes as the caller's)."""
    if not isinstance(target, type) or target.__module__ == PROGRAM_MODULE:
        return False
    found: object = sys.modules.get(target.__module__)
    for part in target.__qualname__.split("."):
        namespace = getattr(found, "__dict__", None)
        found = namespace.get(part) if namespace is not None else None
    return found is target


def _dotted_name(target: object) -> str:
    return f"{getattr(target, '__module__', None)}.{getattr(target, '__qualname__', type(target).__name__)}"
