"""The resource limits every program runs under."""

from __future__ import annotations

import dataclasses
import math

# The wall-clock limit of one program, unless its caller sets another.
DEFAULT_TIMEOUT_S = 5.0


def cpu_seconds_for(timeout_s: float) -> int:
    """The CPU limit of a program with a wall-clock limit of ``timeout_s``: a backstop the kernel
    enforces, a second past the deadline the template enforces."""
    return math.ceil(timeout_s) + 1


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Per-program limits, enforced by the pool, the template process and the kernel, not by the program.

    ``memory_mb`` is the address space a program may add on top of its pre-loaded template, so the
    same setting means the same headroom whether or not numpy and sympy were loaded.
    """

    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = 1024
    max_output_chars: int = 65_536
    max_code_chars: int = 65_536
    recursion_limit: int = 3_000
    max_open_files: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.timeout_s <= 3600:
            raise ValueError(f"timeout_s must be in (0, 3600], got {self.timeout_s}")
        for name in ("memory_mb", "max_output_chars", "max_code_chars", "recursion_limit"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_open_files < 16:
            raise ValueError(f"max_open_files must be at least 16, got {self.max_open_files}")
