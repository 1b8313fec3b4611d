"""Running programs one after another inside a runner process, and judging after each whether
the process is still fit for the next one.

This code runs after the process has been confined (``sandbox.jail``). It captures output, finds
the answer, turns exceptions into statuses with short messages, and watches for anything a program
may have left behind: a runner stays in service only while every program it ran left the libraries
as it found them (``sandbox.state``), touched no library object (``ProgramGuards``), ran no code
RestrictedPython did not compile (``sandbox.audit``) and ended without hitting a limit or the policy.
"""

from __future__ import annotations

import dataclasses
import io
import resource
import sys
import time
import traceback
from typing import Any

from sandbox.audit import AuditMonitor
from sandbox.limits import SandboxLimits
from sandbox.restricted import (
    PROGRAM_FILENAME,
    CompiledProgram,
    CompileError,
    PolicyViolation,
    ProgramGuards,
    compile_program,
)
from sandbox.result import ExecutionResult, Status
from sandbox.state import library_state

_MAX_ERROR_CHARS = 300
# Endings after which a runner is not trusted with another program: a limit or the policy stopped
# the program part-way, possibly inside a library.
_RETIRING_STATUSES = frozenset({Status.FORBIDDEN, Status.MEMORY_EXCEEDED, Status.TIMEOUT, Status.CRASHED})
_MAX_PROGRAMS_PER_RUNNER = 10_000
CPU_SECONDS_PER_RUNNER = 300.0


class OutputLimitExceeded(BaseException):
    """Raised into a program that prints too much; a ``BaseException`` so ``except Exception``
    in the program does not swallow it."""


class CappedOutput(io.StringIO):
    """A text stream that refuses to grow past a limit and remembers that it was asked to."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.size = 0
        self.exceeded = False

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > self.limit:
            self.exceeded = True
            super().write(text[: max(0, self.limit - (self.size - len(text)))])
            self.size = self.limit
            raise OutputLimitExceeded(f"output exceeded {self.limit} characters")
        return super().write(text)


def last_printed_line(stdout: str) -> str | None:
    """The answer a program printed: its last non-empty line."""
    for line in reversed(stdout.splitlines()):
        if line.strip():
            return line.strip()
    return None


class ProgramRunner:
    """Runs programs in this process, one at a time."""

    def __init__(self, limits: SandboxLimits, monitor: AuditMonitor | None = None) -> None:
        self.limits = limits
        self._monitor = monitor
        self._programs_run = 0
        self._state = library_state()
        self._memory_ceiling_kb = _peak_rss_kb() + limits.memory_mb * 1024 // 4
        sys.setrecursionlimit(limits.recursion_limit)

    def run(self, code: str) -> tuple[ExecutionResult, bool]:
        """The program's result, and whether this process may run another program."""
        started = time.perf_counter()
        try:
            program = compile_program(code)
        except CompileError as error:
            return ExecutionResult(error.status, error=error.message, duration_s=time.perf_counter() - started), True
        guards = ProgramGuards()
        result = self._execute(program, guards)
        self._programs_run += 1
        reusable = (
            result.status not in _RETIRING_STATUSES
            and not guards.touched_library_state
            and not (self._monitor and self._monitor.alarmed)
            and library_state() == self._state
            and _peak_rss_kb() < self._memory_ceiling_kb
            and time.process_time() < CPU_SECONDS_PER_RUNNER
            and self._programs_run < _MAX_PROGRAMS_PER_RUNNER
        )
        return dataclasses.replace(result, duration_s=time.perf_counter() - started), reusable

    def _execute(self, program: CompiledProgram, guards: ProgramGuards) -> ExecutionResult:
        stdout = CappedOutput(self.limits.max_output_chars)
        sys.stdout, sys.stderr = stdout, CappedOutput(self.limits.max_output_chars)
        namespace = guards.namespace()
        if self._monitor:
            self._monitor.armed = True
        try:
            exec(program.body, namespace)
            value = eval(program.final_expression, namespace) if program.final_expression else None
            answer = _answer(stdout, value, namespace)
        except BaseException as error:  # noqa: BLE001 - every way a program can end is a status
            status, message = _classify(error)
            if stdout.exceeded:
                status = Status.OUTPUT_EXCEEDED
            return ExecutionResult(status, stdout=stdout.getvalue(), error=message)
        finally:
            if self._monitor:
                self._monitor.armed = False
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if stdout.exceeded:
            return ExecutionResult(Status.OUTPUT_EXCEEDED, stdout=stdout.getvalue(), error="output limit exceeded")
        return ExecutionResult(Status.OK, stdout=stdout.getvalue(), answer=answer)


def _peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _answer(stdout: CappedOutput, value: Any, namespace: dict[str, Any]) -> str | None:
    """Printed output wins; then a final bare expression; then ``solution()``, as PAL programs end."""
    printed = last_printed_line(stdout.getvalue())
    if printed is not None:
        return printed
    if value is None and callable(namespace.get("solution")):
        value = namespace["solution"]()
        printed = last_printed_line(stdout.getvalue())
        if printed is not None:
            return printed
    return None if value is None else str(value).strip() or None


def _classify(error: BaseException) -> tuple[Status, str]:
    if isinstance(error, OutputLimitExceeded):
        return Status.OUTPUT_EXCEEDED, str(error)
    refusal = _refusal(error)
    if refusal is not None:
        return Status.FORBIDDEN, _describe(refusal, "not allowed in the sandbox", line_of=error)
    if isinstance(error, MemoryError):
        return Status.MEMORY_EXCEEDED, _describe(error, "memory limit exceeded")
    if isinstance(error, (SystemExit, KeyboardInterrupt)):
        return Status.RUNTIME_ERROR, f"{type(error).__name__}: programs must not exit early"
    return Status.RUNTIME_ERROR, _describe(error, "")


def _refusal(error: BaseException) -> BaseException | None:
    """The sandbox's refusal behind an error, also when a library wrapped it in its own
    (numpy reports a refused unpickling as ``UnpicklingError``)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (PolicyViolation, PermissionError)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _describe(error: BaseException, fallback: str, line_of: BaseException | None = None) -> str:
    try:
        detail = str(error) or fallback
    except Exception:  # noqa: BLE001 - a program's exception may refuse to be printed
        detail = fallback
    message = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    line = _program_line(line_of or error)
    if line is not None:
        message = f"line {line}: {message}"
    return message[:_MAX_ERROR_CHARS]


def _program_line(error: BaseException) -> int | None:
    frames = traceback.extract_tb(error.__traceback__)
    lines = [frame.lineno for frame in frames if frame.filename == PROGRAM_FILENAME]
    return lines[-1] if lines else None
