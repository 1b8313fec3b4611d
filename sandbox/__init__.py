"""Run untrusted, model-written Python programs and report how they ended.

    with Sandbox() as sandbox:
        result = sandbox.run("print(48 / 2)")
        result.status, result.answer  # ("ok", "24.0")

Defence in depth: RestrictedPython compilation with guards and an import allow-list
(``sandbox.restricted``, ``sandbox.guards``, ``sandbox.policy``), then each program in a process of
its own, forked from a pre-loaded template that never sees a program (``sandbox.template``), alone
in its PID and IPC namespaces (``sandbox.namespaces``) under a seccomp allow-list
(``sandbox.seccomp``), Landlock and limits (``sandbox.jail``), from a clean state
(``sandbox.state``), with a wall-clock deadline enforced from outside, an empty environment, and a
reply the pool checks rather than trusts (``sandbox.wire``, ``sandbox.verdict``). Knows nothing of
models or HTTP.
"""

from typing import TYPE_CHECKING

from potcot.sandbox.jail import IsolationReport
from potcot.sandbox.limits import SandboxLimits
from potcot.sandbox.result import ExecutionResult, Status

if TYPE_CHECKING:
    from potcot.sandbox.pool import Sandbox, SandboxError

__all__ = ["ExecutionResult", "IsolationReport", "Sandbox", "SandboxError", "SandboxLimits", "Status"]


def __getattr__(name: str) -> object:
    """The pool loads on first use. A template process imports this package too (it runs
    ``potcot.sandbox.template``), and every module it holds is memory each fork copies and each
    program's process may touch: threads, asyncio and subprocess, which only the pool needs, would
    cost every program a tenth more time (docs/experiments/2026-12-sandbox-throughput.md)."""
    if name in ("Sandbox", "SandboxError"):
        from potcot.sandbox import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
