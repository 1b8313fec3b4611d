"""Run untrusted, model-written Python programs and report how they ended.

    with Sandbox() as sandbox:
        result = sandbox.run("print(48 / 2)")
        result.status, result.answer  # ("ok", "24.0")

Defence in depth: RestrictedPython compilation with guards and an import allow-list
(``sandbox.restricted``, ``sandbox.guards``, ``sandbox.policy``), then each program in a process of
its own, forked from a pre-loaded template that never sees a program (``sandbox.template``), under
kernel limits (``sandbox.jail``), with a wall-clock deadline enforced from outside, an empty
environment, and a reply the pool checks rather than trusts (``sandbox.wire``). Knows nothing of
models or HTTP.
"""

from potcot.sandbox.jail import IsolationReport
from potcot.sandbox.limits import SandboxLimits
from potcot.sandbox.pool import Sandbox, SandboxError
from potcot.sandbox.result import ExecutionResult, Status

__all__ = ["ExecutionResult", "IsolationReport", "Sandbox", "SandboxError", "SandboxLimits", "Status"]
