"""The sandbox's public face: a pool of pre-loaded workers that runs programs concurrently.

``max_workers`` programs run at once, one per worker. A worker that dies or stops answering is
killed and replaced, and the program it held gets a ``crashed`` or ``timeout`` result; the pool
keeps serving.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable
from multiprocessing.connection import Connection
from types import TracebackType

from sandbox.jail import IsolationReport
from sandbox.limits import SandboxLimits
from sandbox.result import ExecutionResult, Status

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0
# Beyond a program's own deadline, which its worker enforces: compiling, forking and reporting.
_REPLY_GRACE_S = 5.0
_WORKER_ENVIRONMENT = {
    # One thread per worker: forking a multi-threaded process is unsafe, and the pool already
    # uses every core.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONSAFEPATH": "1",
}


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start), as opposed to a program failing."""


class _WorkerLost(Exception):
    def __init__(self, result: ExecutionResult) -> None:
        super().__init__(result.error)
        self.result = result


class _WorkerProcess:
    """The parent's handle on one worker process and the two pipes to it."""

    def __init__(self, limits: SandboxLimits) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sandbox.worker",
                    json.dumps(dataclasses.asdict(limits)),
                    str(request_read),
                    str(reply_write),
                ],
                pass_fds=(request_read, reply_write),
                env={**os.environ, **_WORKER_ENVIRONMENT},
                cwd="/",
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self.pid = self._process.pid
        self.isolation: IsolationReport | None = None

    def wait_ready(self, timeout_s: float = _START_TIMEOUT_S) -> IsolationReport:
        if self.isolation is None:
            if not self._replies.poll(timeout_s):
                self.kill()
                raise SandboxError(f"sandbox worker did not start within {timeout_s:g} s")
            try:
                message = json.loads(self._replies.recv_bytes())
            except (EOFError, OSError):
                message = {"error": f"exited with code {self._process.wait()}"}
            if "error" in message:
                self.kill()
                raise SandboxError(f"sandbox worker failed to start: {message['error']}")
            self.isolation = IsolationReport.from_dict(message["isolation"])
        return self.isolation

    def execute(self, code: str, timeout_s: float) -> ExecutionResult:
        try:
            self.wait_ready()
            self._requests.send_bytes(json.dumps({"code": code, "timeout_s": timeout_s}).encode())
            if not self._replies.poll(timeout_s + _REPLY_GRACE_S):
                raise _WorkerLost(ExecutionResult(Status.TIMEOUT, error=f"exceeded the {timeout_s:g} s time limit"))
            return ExecutionResult.from_dict(json.loads(self._replies.recv_bytes()))
        except (EOFError, OSError, ValueError, SandboxError) as error:
            raise _WorkerLost(ExecutionResult(Status.CRASHED, error=f"sandbox worker lost: {error}")) from error

    def kill(self) -> None:
        for connection in (self._requests, self._replies):
            connection.close()
        if self._process.poll() is None:
            os.killpg(self._process.pid, 9)
        self._process.wait()


class Sandbox:
    """Runs untrusted programs; see ``sandbox`` for what each program may and may not do.

    Thread-safe: ``run`` may be called from many threads at once, and ``arun`` from an event loop.
    """

    def __init__(self, max_workers: int | None = None, *, limits: SandboxLimits | None = None) -> None:
        self.max_workers = (os.cpu_count() or 1) if max_workers is None else max_workers
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers}")
        self.limits = limits or SandboxLimits()
        self._idle: queue.SimpleQueue[_WorkerProcess] = queue.SimpleQueue()
        self._workers: set[_WorkerProcess] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._executor = concurrent.futures.ThreadPoolExecutor(self.max_workers, thread_name_prefix="sandbox")
        try:
            for _ in range(self.max_workers):
                self._idle.put(self._start_worker())
            reports = [worker.wait_ready() for worker in list(self._workers)]
        except BaseException:
            self.close()
            raise
        self.isolation = reports[0]
        logger.info("sandbox ready: %d workers; isolation: %s", self.max_workers, ", ".join(self.isolation.active))
        for layer, reason in self.isolation.missing.items():
            logger.warning("sandbox isolation layer %r unavailable: %s", layer, reason)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers, for monitoring."""
        with self._lock:
            return [worker.pid for worker in self._workers]

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run one program and report how it ended. Never raises for anything the program does."""
        timeout_s = self._timeout(timeout)
        rejected = self._screen(code)
        if rejected is not None:
            return rejected
        if self._closed:
            raise SandboxError("the sandbox is closed")
        worker = self._idle.get()
        try:
            return worker.execute(code, timeout_s)
        except _WorkerLost as lost:
            logger.warning("replacing a sandbox worker: %s", lost)
            self._retire(worker)
            worker = self._start_worker()
            return lost.result
        finally:
            self._idle.put(worker)

    def run_many(self, codes: Iterable[str], timeout: float | None = None) -> list[ExecutionResult]:
        """Run programs concurrently; results come back in the order of ``codes``."""
        return list(self._executor.map(functools.partial(self.run, timeout=timeout), codes))

    async def arun(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """``run`` for asyncio callers: the event loop stays free while the program runs."""
        return await asyncio.wrap_future(self._executor.submit(self.run, code, timeout))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _timeout(self, timeout: float | None) -> float:
        if timeout is None:
            return self.limits.timeout_s
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
            raise ValueError(f"timeout must be a number of seconds in (0, 3600], got {timeout!r}")
        return float(timeout)

    def _screen(self, code: object) -> ExecutionResult | None:
        """Refuse, before any worker sees it, input that is not a program."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if len(code) > self.limits.max_code_chars:
            return ExecutionResult(
                Status.FORBIDDEN,
                error=f"program has {len(code):,} characters; the limit is {self.limits.max_code_chars:,}",
            )
        if "\x00" in code:
            return ExecutionResult(Status.SYNTAX_ERROR, error="program contains NUL characters")
        return None

    def _start_worker(self) -> _WorkerProcess:
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            worker = _WorkerProcess(self.limits)
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _WorkerProcess) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.kill()
