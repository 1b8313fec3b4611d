"""The sandbox's public face: a pool of template processes that runs programs concurrently.

``max_workers`` programs run at once, one per template. Each program runs in a process of its own,
forked from a template for it alone (``sandbox.template``); the pool writes the program into that
process and reads its reply itself, trusting nothing in it that it can check (``sandbox.wire``,
``sandbox.verdict``). A template serves only once a canary program ran in one of its processes. A
template that dies or stops answering is killed and replaced, and the program it held gets a
``crashed`` or ``timeout`` result; one whose process could not confine itself is replaced too, and
the program, which that process never read, runs on the replacement. The pool keeps serving.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import logging
import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from types import TracebackType

from potcot.sandbox.jail import IsolationReport
from potcot.sandbox.limits import SandboxLimits
from potcot.sandbox.result import ExecutionResult, Status
from potcot.sandbox.template import DISPATCH, ENDED, HANDOVER, TemplateKind
from potcot.sandbox.verdict import ProcessEnd, judge
from potcot.sandbox.wire import encode_request, reply_size_cap, split_confinement

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0
# Run by every template before its first program: its process must confine itself and answer this.
_CANARY_PROGRAM, _CANARY_ANSWER = "print(6 * 7)", "42"
# Beyond a program's own deadline, which its template enforces: forking, writing and reporting.
_REPLY_GRACE_S = 5.0
# The whole environment of a template and its processes: no variable of the server's but these,
# which carry no secret. One thread per process: forking a multi-threaded process is unsafe, and
# the pool already uses every core.
_PASSED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_FIXED_VARIABLES = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Isolated mode: no PYTHON* variable, user site or working directory decides what the template imports.
_TEMPLATE_COMMAND = (sys.executable, "-I", "-B", "-m", "potcot.sandbox.template")


class SandboxError(RuntimeError):
    """The sandbox itself failed (a template could not start), as opposed to a program failing."""


class _TemplateLost(Exception):
    """A template failed; ``program_started`` says whether a process had received the program."""

    def __init__(self, message: str, *, program_started: bool) -> None:
        super().__init__(message)
        self.program_started = program_started


def allow_listed_environment() -> dict[str, str]:
    """What a process that reads untrusted input starts with (a template; the answers library's
    comparison workers): an allow-list, never the server's own environment."""
    passed = {name: os.environ[name] for name in _PASSED_VARIABLES if name in os.environ}
    return {**passed, **_FIXED_VARIABLES}


class _TemplateProcess:
    """The pool's handle on one template process and its control socket."""

    def __init__(self, kind: TemplateKind, limits: SandboxLimits) -> None:
        self.kind = kind
        self.limits = limits
        self._control, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with template_end:
            self._process = subprocess.Popen(
                [*_TEMPLATE_COMMAND, kind, json.dumps(dataclasses.asdict(limits)), str(template_end.fileno())],
                pass_fds=(template_end.fileno(),),
                env=allow_listed_environment(),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.template_pid: int | None = None
        self.isolation: IsolationReport | None = None

    def wait_ready(self, timeout_s: float = _START_TIMEOUT_S) -> IsolationReport:
        """Wait for the template's start-up report, then run the canary: a template serves programs
        only once one of its processes confined itself and ran a program as it should."""
        if self.isolation is None:
            self._control.settimeout(timeout_s)
            try:
                message = json.loads(self._control.recv(1 << 16) or b'{"error": "exited"}')
            except (OSError, ValueError) as error:
                message = {"error": f"no word from it ({error})"}
            if "error" in message:
                self.kill()
                raise SandboxError(f"sandbox template failed to start: {message['error']}")
            self.template_pid = int(message["pid"])
            self._check_canary()
            self.isolation = IsolationReport.from_dict(message["isolation"])
        return self.isolation

    def _check_canary(self) -> None:
        try:
            result = self._run(_CANARY_PROGRAM, _START_TIMEOUT_S)
        except _TemplateLost as lost:
            result = ExecutionResult(Status.CRASHED, error=str(lost))
        if (result.status, result.answer) != (Status.OK, _CANARY_ANSWER):
            self.kill()
            raise SandboxError(f"sandbox template failed its canary program: {result.status} {result.error}")

    def execute(self, code: str, timeout_s: float) -> ExecutionResult:
        """Run one program in a fresh process of this template's; raises ``_TemplateLost`` when
        the template itself failed, or its process could not confine itself."""
        try:
            self.wait_ready()
        except SandboxError as error:
            raise _TemplateLost(f"sandbox template lost: {error}", program_started=False) from error
        return self._run(code, timeout_s)

    def _run(self, code: str, timeout_s: float) -> ExecutionResult:
        deadline = time.monotonic() + timeout_s + _REPLY_GRACE_S
        request_fd, reply_fd = self._hand_over(timeout_s)
        started = time.monotonic()
        try:
            written = _exchange(
                request_fd, reply_fd, encode_request(code, timeout_s), reply_size_cap(self.limits), deadline
            )
            self._control.settimeout(max(deadline - time.monotonic(), 0.001))
            wait_status, timed_out, cpu_seconds = ENDED.unpack(self._control.recv(ENDED.size))
        except (OSError, struct.error) as error:
            raise _TemplateLost(f"sandbox template lost: {error}", program_started=True) from error
        except BaseException:
            self.kill()  # mid-exchange, the control protocol is out of step: never use this template again
            raise
        end = ProcessEnd(wait_status, timed_out, cpu_seconds, time.monotonic() - started)
        refusal, reply = split_confinement(written)
        if refusal is not None:
            raise _TemplateLost(
                f"a process of the {self.kind} template could not confine itself: {refusal}", program_started=False
            )
        return judge(reply, end, timeout_s, self.limits)

    def _hand_over(self, timeout_s: float) -> tuple[int, int]:
        """The request and reply pipes of a process ready for the program."""
        try:
            self._control.settimeout(_REPLY_GRACE_S)
            self._control.send(DISPATCH.pack(timeout_s))
            handover, fds, _, _ = socket.recv_fds(self._control, HANDOVER.size, 2)
        except OSError as error:
            raise _TemplateLost(f"sandbox template lost: {error}", program_started=False) from error
        if len(fds) != 2 or len(handover) != HANDOVER.size:
            for fd in fds:
                os.close(fd)
            raise _TemplateLost("sandbox template handed over no process", program_started=False)
        return fds[0], fds[1]

    def kill(self) -> None:
        self._control.close()
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()


class _Worker:
    """Runs one program at a time, forked from whichever of its templates the program needs, and
    replaces a template that fails. A program that had not reached a process when its template
    failed is retried once on the replacement, so the program is not charged for the template."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        self.templates: dict[TemplateKind, _TemplateProcess] = {}
        self._lock = threading.Lock()
        self._closed = False
        try:
            for kind in TemplateKind:
                self.templates[kind] = _TemplateProcess(kind, limits)
        except BaseException:
            self.kill()
            raise

    def wait_ready(self) -> IsolationReport:
        return [template.wait_ready() for template in self.templates.values()][-1]

    def execute(self, code: str, timeout_s: float) -> ExecutionResult:
        kind = TemplateKind.for_program(code)
        try:
            return self._execute_on(kind, code, timeout_s)
        except _TemplateLost as lost:
            if lost.program_started:
                return ExecutionResult(Status.CRASHED, error=str(lost))
        try:
            return self._execute_on(kind, code, timeout_s)
        except _TemplateLost as lost:
            return ExecutionResult(Status.CRASHED, error=str(lost))

    def _execute_on(self, kind: TemplateKind, code: str, timeout_s: float) -> ExecutionResult:
        template = self._template(kind)
        try:
            return template.execute(code, timeout_s)
        except _TemplateLost as lost:
            logger.warning("replacing a sandbox template: %s", lost)
            self._replace(template)
            raise

    def kill(self) -> None:
        with self._lock:
            self._closed = True
            templates = list(self.templates.values())
        for template in templates:
            template.kill()

    def _template(self, kind: TemplateKind) -> _TemplateProcess:
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            return self.templates[kind]

    def _replace(self, template: _TemplateProcess) -> None:
        template.kill()
        with self._lock:
            if not self._closed:
                self.templates[template.kind] = _TemplateProcess(template.kind, self.limits)


def _exchange(request_fd: int, reply_fd: int, request: bytes, cap: int, deadline: float) -> bytes | None:
    """Write the request into a program's process and read its whole reply: ``None`` when the
    reply grows past ``cap`` bytes. The reply ends when the process closes its end or dies."""
    try:
        try:
            with open(request_fd, "wb") as requests:
                requests.write(request)
        except BrokenPipeError:
            pass  # the process ended before reading; how it ended says why
        return _read_reply(reply_fd, cap, deadline)
    finally:
        os.close(reply_fd)


def _read_reply(reply_fd: int, cap: int, deadline: float) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while (remaining := deadline - time.monotonic()) > 0 and select.select([reply_fd], [], [], remaining)[0]:
        chunk = os.read(reply_fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    raise OSError("the program's process outlived its deadline")


class Sandbox:
    """Runs untrusted programs; see ``sandbox`` for what each program may and may not do.

    Thread-safe: ``run`` may be called from many threads at once, and ``arun`` from an event loop.
    """

    def __init__(self, max_workers: int | None = None, *, limits: SandboxLimits | None = None) -> None:
        self.max_workers = (os.cpu_count() or 1) if max_workers is None else max_workers
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers}")
        self.limits = limits or SandboxLimits()
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._closed = False
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(self.max_workers, thread_name_prefix="sandbox")
        try:
            for _ in range(self.max_workers):
                self._workers.append(_Worker(self.limits))
            reports = [worker.wait_ready() for worker in self._workers]
        except BaseException:
            self.close()
            raise
        for worker in self._workers:
            self._idle.put(worker)
        self.isolation = reports[0]
        logger.info("sandbox ready: %d workers; isolation: %s", self.max_workers, ", ".join(self.isolation.active))
        for layer, reason in self.isolation.missing.items():
            logger.warning("sandbox isolation layer %r unavailable: %s", layer, reason)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live template processes, for monitoring. Each template process runs
        under a small holder that waits for it (``sandbox.namespaces``); this is the template's own."""
        templates = [template for worker in self._workers for template in list(worker.templates.values())]
        return [template.template_pid for template in templates if template.template_pid is not None]

    @property
    def programs_waiting(self) -> int:
        """Programs asked for that no worker has taken yet: the sandbox's queue, the figure that
        says a server needs more cores (more replicas) for its programs."""
        return max(0, self._in_flight - self.max_workers)

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run one program and report how it ended. Never raises for anything the program does."""
        with self._counted():
            return self._run(code, timeout)

    def _run(self, code: str, timeout: float | None) -> ExecutionResult:
        timeout_s = self._timeout(timeout)
        rejected = self._screen(code)
        if rejected is not None:
            return rejected
        if self._closed:
            raise SandboxError("the sandbox is closed")
        worker = self._idle.get()
        try:
            return worker.execute(code, timeout_s)
        finally:
            self._idle.put(worker)

    def run_many(self, codes: Iterable[str], timeout: float | None = None) -> list[ExecutionResult]:
        """Run programs concurrently; results come back in the order of ``codes``."""
        return list(self._executor.map(functools.partial(self.run, timeout=timeout), codes))

    async def arun(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """``run`` for asyncio callers: the event loop stays free while the program runs."""
        with self._counted():
            return await asyncio.wrap_future(self._executor.submit(self._run, code, timeout))

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in self._workers:
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
        """Refuse, before any template sees it, input that is not a program."""
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
