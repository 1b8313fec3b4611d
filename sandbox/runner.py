"""Running one program in the process it was forked for, and that process's short life.

A program's process is forked from the template (``sandbox.template``) and confined (``sandbox.jail``)
before it reads its program; it runs that one program, writes one reply and exits. Nothing here
decides whether the process may be trusted again: it never is, and the pool checks its reply
(``sandbox.verdict``). This module captures output, finds the value a program ends with when it
prints nothing, and turns every way a program can end into a status with a short message.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import traceback
from typing import Any

from potcot.sandbox.audit import AuditMonitor
from potcot.sandbox.guards import ProgramGuards
from potcot.sandbox.jail import Jail, ProcessLimits
from potcot.sandbox.limits import SandboxLimits, cpu_seconds_for
from potcot.sandbox.restricted import PROGRAM_FILENAME, CompileError, PolicyViolation, compile_program
from potcot.sandbox.result import Status, last_printed_line
from potcot.sandbox.wire import (
    CONFINED,
    MAX_ERROR_CHARS,
    Reply,
    decode_request,
    encode_not_confined,
    encode_reply,
)


class OutputLimitExceeded(BaseException):
    """Raised into a program that prints too much; a ``BaseException`` so ``except Exception``
    in the program does not swallow it."""


class CappedOutput(io.StringIO):
    """A text stream that refuses to grow past a limit and remembers that it was asked to.

    Lone surrogates (``print(chr(0xd800))``) are escaped as they are written, so that what is
    counted is what the reply carries, and the reply is always valid UTF-8.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.size = 0
        self.exceeded = False

    def write(self, text: str) -> int:
        text = printable(text)
        self.size += len(text)
        if self.size > self.limit:
            self.exceeded = True
            super().write(text[: max(0, self.limit - (self.size - len(text)))])
            self.size = self.limit
            raise OutputLimitExceeded(f"output exceeded {self.limit} characters")
        return super().write(text)


def printable(text: str) -> str:
    """``text`` with lone surrogates written as escapes, which UTF-8 (and so JSON) can carry."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def program_process(
    jail: Jail, limits: SandboxLimits, process_limits: ProcessLimits, request_fd: int, reply_fd: int
) -> None:
    """A freshly forked process's whole life: confine, say so, read the program, run it, reply, exit.

    Never returns. Fails closed: a process that could not be confined says why and exits without
    reading its program, which the pool then runs on a new template.
    """
    try:
        try:
            jail.enter({request_fd, reply_fd}, process_limits)
        except Exception as error:  # noqa: BLE001 - any failure to confine means no program runs
            _write(reply_fd, encode_not_confined(f"{type(error).__name__}: {error}"))
            return
        _write(reply_fd, CONFINED)
        code, timeout_s = decode_request(_read_to_end(request_fd))
        cpu_seconds = cpu_seconds_for(timeout_s)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        monitor = AuditMonitor()
        sys.addaudithook(monitor)
        _write(reply_fd, encode_reply(run_program(code, limits, monitor)))
    finally:
        os._exit(0)


def _read_to_end(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def run_program(code: str, limits: SandboxLimits, monitor: AuditMonitor | None = None) -> Reply:
    """Compile and run one program in this process; never raises for anything the program does."""
    sys.setrecursionlimit(limits.recursion_limit)
    try:
        program = compile_program(code)
    except CompileError as refused:
        return Reply(refused.status, error=printable(refused.message)[:MAX_ERROR_CHARS])
    stdout = CappedOutput(limits.max_output_chars)
    sys.stdout, sys.stderr = stdout, CappedOutput(limits.max_output_chars)
    namespace = ProgramGuards().namespace()
    if monitor:
        monitor.armed = True
    try:
        exec(program.body, namespace)
        value = eval(program.final_expression, namespace) if program.final_expression else None
        value = _value(stdout, value, namespace)
        status, error = _judge_output(stdout, value, limits)
    except BaseException as raised:  # noqa: BLE001 - every way a program can end is a status
        status, error = _classify(raised)
        value = None
        if stdout.exceeded:
            status = Status.OUTPUT_EXCEEDED
    finally:
        if monitor:
            monitor.armed = False
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return Reply(status, stdout.getvalue(), value if status is Status.OK else None, error)


def _judge_output(stdout: CappedOutput, value: str | None, limits: SandboxLimits) -> tuple[Status, str | None]:
    if stdout.exceeded:
        return Status.OUTPUT_EXCEEDED, "output limit exceeded"
    if value is not None and len(value) > limits.max_output_chars:
        return (
            Status.OUTPUT_EXCEEDED,
            f"answer has {len(value):,} characters; the limit is {limits.max_output_chars:,}",
        )
    return Status.OK, None


def _value(stdout: CappedOutput, value: Any, namespace: dict[str, Any]) -> str | None:
    """What the program ended with when it printed nothing: a final bare expression, then
    ``solution()``, as PAL programs end. A printed line is the answer, and the pool reads it."""
    if last_printed_line(stdout.getvalue()) is not None:
        return None
    if value is None and callable(namespace.get("solution")):
        value = namespace["solution"]()
        if last_printed_line(stdout.getvalue()) is not None:
            return None
    if value is None:
        return None
    return printable(str(value).strip()) or None


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
    return printable(message)[:MAX_ERROR_CHARS]


def _program_line(error: BaseException) -> int | None:
    frames = traceback.extract_tb(error.__traceback__)
    lines = [frame.lineno for frame in frames if frame.filename == PROGRAM_FILENAME]
    return lines[-1] if lines else None
