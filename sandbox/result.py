"""What running one program produced: the contract every caller of the sandbox relies on."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class Status(enum.StrEnum):
    """How a program ended. Anything but ``OK`` is a failed program of thought."""

    OK = "ok"
    SYNTAX_ERROR = "syntax_error"
    RUNTIME_ERROR = "runtime_error"
    FORBIDDEN = "forbidden"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    OUTPUT_EXCEEDED = "output_exceeded"
    CRASHED = "crashed"


@dataclasses.dataclass(frozen=True, slots=True)
class ExecutionResult:
    """The outcome of one program.

    ``answer`` is only set for ``ok`` runs: the last non-empty printed line or, when nothing was
    printed, the value of a final bare expression or of a ``solution()`` function. ``duration_s`` is
    the wall time from handing the program over to its process's end, as the pool measured it.
    """

    status: Status
    stdout: str = ""
    answer: str | None = None
    error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def last_printed_line(stdout: str) -> str | None:
    """The answer a program printed: its last non-empty line."""
    for line in reversed(stdout.splitlines()):
        if line.strip():
            return line.strip()
    return None
