"""A pre-loaded worker process and the runner processes it forks.

The worker imports the libraries once, warms them up and confines itself; it never runs a
program. Programs run in a *runner*: a fork of the worker, confined further by the jail, that
runs programs one after another for as long as each leaves it as it found it (see
``sandbox.runner``). The worker enforces every program's wall-clock deadline from outside the
runner, kills the runner on the deadline, and replaces any runner that timed out, died or may
have been changed by a program with a fresh fork of itself, which costs about a millisecond.

Started by ``sandbox.pool`` as ``python -m sandbox.worker LIMITS_JSON REQUEST_FD REPLY_FD``.
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import os
import select
import signal
import sys
import time
import warnings
from multiprocessing.connection import Connection

from sandbox.audit import AuditMonitor
from sandbox.jail import Jail, ProcessLimits, library_paths
from sandbox.limits import SandboxLimits
from sandbox.policy import PRELOADED_MODULES, WARMUP_PROGRAM
from sandbox.restricted import PROGRAM_FILENAME
from sandbox.result import ExecutionResult, Status
from sandbox.runner import CPU_SECONDS_PER_RUNNER, ProgramRunner

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_REPLY_OVERHEAD = 16_384  # JSON framing and error text around a program's stdout


class RunnerProcess:
    """The worker's handle on one runner: its pid and the three pipes to it."""

    def __init__(self, jail: Jail, limits: SandboxLimits, read_paths: list[str]) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self.alarm_fd, alarm_write = os.pipe()
        process_limits = ProcessLimits(
            address_space_bytes=_address_space() + limits.memory_mb * 2**20,
            cpu_seconds=math.ceil(CPU_SECONDS_PER_RUNNER + 2 * limits.timeout_s),
            open_files=limits.max_open_files,
        )
        self.pid = os.fork()
        if self.pid == 0:
            _runner_main(jail, limits, process_limits, read_paths, request_read, reply_write, alarm_write)
        for fd in (request_read, reply_write, alarm_write):
            os.close(fd)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self._process = os.pidfd_open(self.pid)
        self._reply_cap = 6 * limits.max_output_chars + _REPLY_OVERHEAD
        self._wait_status: int | None = None

    def execute(self, code: str, timeout_s: float) -> tuple[ExecutionResult, bool]:
        """Run one program: its result, and whether this runner may run another."""
        deadline = time.monotonic() + timeout_s
        try:
            self._requests.send_bytes(code.encode("utf-8", "surrogatepass"))
        except OSError:
            return self._ended(), False
        poller = select.poll()
        poller.register(self._replies.fileno(), select.POLLIN)
        poller.register(self._process, select.POLLIN)
        remaining = deadline - time.monotonic()
        events = dict(poller.poll(remaining * 1000)) if remaining > 0 else {}
        if not events:
            return ExecutionResult(Status.TIMEOUT, error=f"exceeded the {timeout_s:g} s time limit"), False
        if self._replies.fileno() not in events:
            return self._ended(), False
        try:
            reply = json.loads(self._replies.recv_bytes(self._reply_cap))
            reusable = reply.pop("reusable") is True
            result = ExecutionResult.from_dict(reply)
        except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError):
            return self._ended(), False
        return result, reusable and not self._alarm_raised()

    def _alarm_raised(self) -> bool:
        """The audit monitor's byte: written before any escape could run, so it cannot be hidden."""
        return bool(select.select([self.alarm_fd], [], [], 0)[0])

    def _ended(self) -> ExecutionResult:
        """Why a runner stopped without a reply."""
        self.kill()
        if os.WIFSIGNALED(self._wait_status):
            signal_number = os.WTERMSIG(self._wait_status)
            if signal_number == signal.SIGXCPU:
                return ExecutionResult(Status.TIMEOUT, error="exceeded the CPU time limit")
            return ExecutionResult(Status.CRASHED, error=f"process died with {signal.Signals(signal_number).name}")
        return ExecutionResult(Status.CRASHED, error="process ended without a readable result")

    def kill(self) -> None:
        if self._wait_status is not None:
            return
        try:
            signal.pidfd_send_signal(self._process, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, self._wait_status = os.waitpid(self.pid, 0)
        for connection in (self._requests, self._replies):
            connection.close()
        os.close(self._process)
        os.close(self.alarm_fd)


def _runner_main(
    jail: Jail,
    limits: SandboxLimits,
    process_limits: ProcessLimits,
    read_paths: list[str],
    request_fd: int,
    reply_fd: int,
    alarm_fd: int,
) -> None:
    """A runner's life: confine, then run programs until told to stop or unfit. Never returns."""
    try:
        replies = Connection(reply_fd, readable=False)
        try:
            jail.enter({request_fd, reply_fd, alarm_fd}, process_limits)
        except Exception as error:  # noqa: BLE001 - fail closed: never run a program unconfined
            failure = ExecutionResult(Status.CRASHED, error=f"could not confine the runner: {error}")
            replies.send_bytes(json.dumps({**failure.to_dict(), "reusable": False}).encode())
            return
        monitor = AuditMonitor(alarm_fd, PROGRAM_FILENAME, read_paths)
        sys.addaudithook(monitor)
        runner = ProgramRunner(limits, monitor)
        requests = Connection(request_fd, writable=False)
        reusable = True
        while reusable:
            code = requests.recv_bytes().decode("utf-8", "surrogatepass")
            result, reusable = runner.run(code)
            replies.send_bytes(json.dumps({**result.to_dict(), "reusable": reusable}).encode())
    finally:
        os._exit(0)


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * _PAGE_SIZE


class Worker:
    """Pre-loads the allowed libraries, proves them with the warm-up program, confines itself,
    and keeps one runner ready."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        for module in PRELOADED_MODULES:
            importlib.import_module(module)
        warmup, _ = ProgramRunner(limits).run(WARMUP_PROGRAM)
        if not warmup.ok:
            raise RuntimeError(f"the warm-up program failed: {warmup.error}")
        self._read_paths = library_paths(PRELOADED_MODULES)
        self.jail = Jail.prepare(self._read_paths)
        gc.collect()
        gc.freeze()  # shared pages stay shared: the runners' collectors leave them alone
        self._runner: RunnerProcess | None = None

    def run(self, code: str, timeout_s: float) -> ExecutionResult:
        runner = self._runner or self._new_runner()
        result, reusable = runner.execute(code, timeout_s)
        if not reusable:
            runner.kill()
            runner = None
        self._runner = runner
        return result

    def prepare_runner(self) -> None:
        """Fork the next runner ahead of time, while the parent reads the last reply."""
        if self._runner is None:
            self._runner = self._new_runner()

    def _new_runner(self) -> RunnerProcess:
        return RunnerProcess(self.jail, self.limits, self._read_paths)


def serve(worker: Worker, requests: Connection, replies: Connection) -> None:
    while True:
        worker.prepare_runner()
        try:
            request = json.loads(requests.recv_bytes())
        except EOFError:
            return
        result = worker.run(request["code"], request["timeout_s"])
        replies.send_bytes(json.dumps(result.to_dict()).encode())


def main() -> None:
    limits_json, request_fd, reply_fd = sys.argv[1:4]
    requests = Connection(int(request_fd), writable=False)
    replies = Connection(int(reply_fd), readable=False)
    warnings.simplefilter("ignore")
    limits = SandboxLimits(**json.loads(limits_json))
    try:
        worker = Worker(limits)
    except Exception as error:
        replies.send_bytes(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
        raise SystemExit(1) from error
    replies.send_bytes(json.dumps({"isolation": worker.jail.report.to_dict()}).encode())
    serve(worker, requests, replies)


if __name__ == "__main__":
    main()
