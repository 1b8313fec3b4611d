"""The state every program's process starts from: the template's own at start-up, set and checked in
each process before its program runs, whatever was done to the template since.

A fork inherits its parent's resource limits, nice value, scheduling policy, CPU affinity and I/O
priority. So whatever lowered a template's limits or pushed it to ``SCHED_IDLE`` would reach every
program forked after, and state is exactly what a process may lower for itself but never raise back
without privileges. Each process therefore sets all of it to the values the template had when the
pool started it, and reads it back; where that is refused (a hard limit lowered, a nice value
raised), the process refuses to run a program, and the pool replaces its template.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource

from potcot.sandbox import libc

RLIMITS = tuple(sorted({getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}))
_IOPRIO_WHO_PROCESS = 1
# ioprio_get and ioprio_set, which Python does not wrap: x86_64's numbers, and the generic table's.
_IOPRIO_CALLS = {"x86_64": (252, 251), "aarch64": (31, 30), "riscv64": (31, 30)}.get(platform.machine())


@dataclasses.dataclass(frozen=True)
class ProcessState:
    """What a process inherits from its parent and can change for itself."""

    limits: tuple[tuple[int, int, int], ...]  # (resource, soft, hard), for every resource
    nice: int
    policy: int
    priority: int
    affinity: frozenset[int]
    io_priority: int | None

    @classmethod
    def capture(cls) -> ProcessState:
        """This process's state now."""
        return cls(
            limits=tuple((kind, *resource.getrlimit(kind)) for kind in RLIMITS),
            nice=os.getpriority(os.PRIO_PROCESS, 0),
            policy=os.sched_getscheduler(0),
            priority=os.sched_getparam(0).sched_priority,
            affinity=frozenset(os.sched_getaffinity(0)),
            io_priority=_io_priority(),
        )

    def with_limits(self, overrides: dict[int, tuple[int, int]]) -> ProcessState:
        """This state with some limits replaced by ``(soft, hard)``."""
        limits = tuple((kind, *overrides.get(kind, (soft, hard))) for kind, soft, hard in self.limits)
        return dataclasses.replace(self, limits=limits)

    def enter(self) -> None:
        """Make this process's state this one, or raise ``OSError`` or ``RuntimeError``. Limits come
        first: the nice limit decides which nice values the process may take."""
        for kind, soft, hard in self.limits:
            resource.setrlimit(kind, (soft, hard))
        os.setpriority(os.PRIO_PROCESS, 0, self.nice)
        os.sched_setscheduler(0, self.policy, os.sched_param(self.priority))
        os.sched_setaffinity(0, self.affinity)
        if self.io_priority is not None and _IOPRIO_CALLS:
            libc.syscall(_IOPRIO_CALLS[1], _IOPRIO_WHO_PROCESS, 0, self.io_priority)
        actual = ProcessState.capture()
        if actual != self:
            names = [field.name for field in dataclasses.fields(self)]
            different = [name for name in names if getattr(actual, name) != getattr(self, name)]
            raise RuntimeError(f"the process's {', '.join(different)} could not be set")


def _io_priority() -> int | None:
    if _IOPRIO_CALLS is None:
        return None
    return libc.syscall(_IOPRIO_CALLS[0], _IOPRIO_WHO_PROCESS, 0)
