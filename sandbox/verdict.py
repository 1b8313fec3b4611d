"""A program's result, from what its process wrote and how it ended: the pool's judgement, which
takes nothing from the process that it can see for itself."""

from __future__ import annotations

import dataclasses
import os
import signal

from potcot.sandbox.limits import SandboxLimits, cpu_seconds_for
from potcot.sandbox.result import ExecutionResult, Status, last_printed_line
from potcot.sandbox.wire import MalformedReply, decode_reply


@dataclasses.dataclass(frozen=True)
class ProcessEnd:
    """How a program's process ended: its wait status, whether its deadline killed it and the CPU
    it used, as its template saw them, and the wall time the pool measured."""

    wait_status: int
    timed_out: bool
    cpu_seconds: float
    duration_s: float


def judge(reply: bytes | None, end: ProcessEnd, timeout_s: float, limits: SandboxLimits) -> ExecutionResult:
    """The result of a program whose process confined itself, then wrote ``reply`` (``None``
    when it grew past its cap). A reply counts only from a process that then exited normally: one
    still running when its deadline came timed out, whatever it had written. The answer is read from
    the output the reply carries, and the duration is the pool's."""
    failure = _failure(reply, end, timeout_s)
    if failure is not None:
        status, error = failure
        return ExecutionResult(status, error=error, duration_s=end.duration_s)
    try:
        decoded = decode_reply(reply or b"", limits)
    except MalformedReply as malformed:
        return ExecutionResult(Status.CRASHED, error=f"unreadable reply: {malformed}", duration_s=end.duration_s)
    answer = (last_printed_line(decoded.stdout) or decoded.value) if decoded.status is Status.OK else None
    return ExecutionResult(decoded.status, decoded.stdout, answer, decoded.error, end.duration_s)


def _failure(reply: bytes | None, end: ProcessEnd, timeout_s: float) -> tuple[Status, str] | None:
    """Why no reply counts, from how the process ended; None when it exited normally with one."""
    if end.timed_out:
        return Status.TIMEOUT, f"exceeded the {timeout_s:g} s time limit"
    if os.WIFSIGNALED(end.wait_status):
        number = os.WTERMSIG(end.wait_status)
        # Alone in its PID namespace a process ignores SIGXCPU, and the hard limit's SIGKILL ends it.
        if number == signal.SIGXCPU or (number == signal.SIGKILL and end.cpu_seconds >= cpu_seconds_for(timeout_s)):
            return Status.TIMEOUT, "exceeded the CPU time limit"
        return Status.CRASHED, f"process died with {_signal_name(number)}"
    if (code := os.waitstatus_to_exitcode(end.wait_status)) != 0:
        return Status.CRASHED, f"process exited with code {code}"
    if reply is None:
        return Status.CRASHED, "the process's reply exceeded its size limit"
    if not reply:
        return Status.CRASHED, "process ended without a readable result"
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
