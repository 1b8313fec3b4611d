"""The template process: imports the libraries once and forks one process per program.

The template never receives a program, a program's output or anything else of a user's: it is told
only "run one, with this deadline". It then hands the pool the two pipe ends of a process it forked
and confined ahead of time, forks the next one, and waits for the first to end, killing it at its
deadline. The pool writes the program into that process and reads its reply directly. So every
program starts from the same pristine copy of the template, and nothing one program did, read or
changed can exist in the process the next one runs in.

Templates come in two kinds (``TemplateKind``): the symbolic one also loads sympy and mpmath, which
make it several times larger and so its forks slower; a program that names neither forks from the
numeric one. Started by ``sandbox.pool`` as ``python -I -m potcot.sandbox.template KIND LIMITS_JSON
CONTROL_FD``, with an empty environment and no descriptor but its control socket; before importing
anything it enters namespaces of its own under a small holder process (``sandbox.namespaces``), and
its first report carries the pid the pool knows it by.
"""

from __future__ import annotations

import dataclasses
import enum
import gc
import importlib
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time
import warnings

from potcot.sandbox import libc
from potcot.sandbox.guards import harden_libraries
from potcot.sandbox.jail import Jail, ProcessLimits, TemplateIsolation, library_paths
from potcot.sandbox.limits import SandboxLimits
from potcot.sandbox.policy import PRELOADED_MODULES, SYMBOLIC_MODULES, SYMBOLIC_WARMUP_PROGRAM, WARMUP_PROGRAM
from potcot.sandbox.result import Status
from potcot.sandbox.runner import program_process, run_program

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_HUGE_PAGE_SIZE = 2 * 2**20
# The CPU limit a process is forked with, before it has read its own deadline and lowered it.
_MAX_CPU_SECONDS = 3601

# The control protocol, one message per datagram. Pool to template: a deadline. Template to pool:
# the pid of the process that will run the program, with its request and reply pipe ends attached;
# then, once it has ended, its wait status, whether the deadline killed it, and its CPU seconds.
DISPATCH = struct.Struct("!d")
HANDOVER = struct.Struct("!i")
ENDED = struct.Struct("!i?d")


_NAMES_A_SYMBOLIC_MODULE = re.compile(r"\b(?:" + "|".join(sorted(SYMBOLIC_MODULES)) + r")\b")


class TemplateKind(enum.StrEnum):
    """Which libraries a template has loaded before it forks."""

    NUMERIC = "numeric"
    SYMBOLIC = "symbolic"

    @classmethod
    def for_program(cls, code: str) -> TemplateKind:
        """The kind a program should fork from. A program can only reach a module by naming it in an
        import, so one that never names a symbolic module is served by the numeric kind; naming one
        anywhere, even in a comment, costs only speed."""
        return cls.SYMBOLIC if _NAMES_A_SYMBOLIC_MODULE.search(code) else cls.NUMERIC

    @property
    def modules(self) -> tuple[str, ...]:
        return (*PRELOADED_MODULES, *sorted(SYMBOLIC_MODULES)) if self is TemplateKind.SYMBOLIC else PRELOADED_MODULES

    @property
    def warmup_programs(self) -> tuple[str, ...]:
        return (WARMUP_PROGRAM, SYMBOLIC_WARMUP_PROGRAM) if self is TemplateKind.SYMBOLIC else (WARMUP_PROGRAM,)


@dataclasses.dataclass
class _ProgramProcess:
    """The template's side of one forked process: its pid, and the pipe ends meant for the pool."""

    pid: int
    pidfd: int
    request_write: int
    reply_read: int

    def wait(self, deadline: float) -> tuple[int, bool, float]:
        """Its wait status, whether it had to be killed at ``deadline``, and the CPU it used."""
        remaining = deadline - time.monotonic()
        timed_out = remaining <= 0 or not select.select([self.pidfd], [], [], remaining)[0]
        if timed_out:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        _, status, usage = os.wait4(self.pid, 0)
        os.close(self.pidfd)
        return status, timed_out, usage.ru_utime + usage.ru_stime


class Template:
    """Pre-loads the allowed libraries, proves them with the warm-up program, confines itself,
    and keeps one confined process ready for the next program."""

    def __init__(self, kind: TemplateKind, limits: SandboxLimits, isolation: TemplateIsolation) -> None:
        self.limits = limits
        preload(kind, limits)
        self.jail = Jail.prepare(isolation)
        settle_memory()
        self._statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)  # /proc is hidden once sealed
        self.jail.seal()
        self._spare: _ProgramProcess | None = None

    def serve(self, control: socket.socket) -> None:
        """Run programs for the pool until it closes the control socket."""
        self._spare = self._fork()
        while message := control.recv(DISPATCH.size):
            (timeout_s,) = DISPATCH.unpack(message)
            deadline = time.monotonic() + timeout_s
            process = self._spare or self._fork()
            self._spare = None
            pipe_ends = [process.request_write, process.reply_read]
            socket.send_fds(control, [HANDOVER.pack(process.pid)], pipe_ends)
            for fd in pipe_ends:
                os.close(fd)
            self._spare = self._fork()
            control.send(ENDED.pack(*process.wait(deadline)))

    def _address_space(self) -> int:
        return int(os.pread(self._statm, 128, 0).split()[0]) * _PAGE_SIZE

    def _fork(self) -> _ProgramProcess:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        process_limits = ProcessLimits(
            address_space_bytes=self._address_space() + self.limits.memory_mb * 2**20,
            cpu_seconds=_MAX_CPU_SECONDS,
            open_files=self.limits.max_open_files,
        )
        pid = self.jail.fork()
        if pid == 0:
            program_process(self.jail, self.limits, process_limits, request_read, reply_write)
        os.close(request_read)
        os.close(reply_write)
        return _ProgramProcess(pid, os.pidfd_open(pid), request_write, reply_read)


def preload(kind: TemplateKind, limits: SandboxLimits) -> None:
    """Import what programs of ``kind`` need, harden it, and prove it with the warm-up programs,
    which also pull in the lazily imported parts that every fork should share."""
    for module in kind.modules:
        importlib.import_module(module)
    harden_libraries()
    for program in kind.warmup_programs:
        warmup = run_program(program, limits)
        if warmup.status is not Status.OK:
            raise RuntimeError(f"the warm-up program failed: {warmup.error}")


def settle_memory() -> None:
    """Lay this process's memory out for forking: the collector's work done and its objects frozen,
    so that the forked processes' collectors leave the shared pages alone, then huge pages."""
    gc.collect()
    gc.freeze()
    collapse_into_huge_pages()


def collapse_into_huge_pages() -> int:
    """Move this process's anonymous memory onto huge pages where the kernel can (Linux 6.1 and
    later; elsewhere nothing changes), and return how many bytes moved.

    A fork copies one page-table entry per page and an exit drops them all again: on huge pages
    that is one entry per 2 MiB rather than 512, which makes forking the symbolic template a third
    cheaper. A process that then writes to such a page still copies only the 4 KiB it wrote.
    """
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    collapsed = 0
    for fields in regions:
        backing = fields[5] if len(fields) > 5 else ""
        if "w" not in fields[1] or backing not in ("", "[heap]"):
            continue
        low, high = (int(bound, 16) for bound in fields[0].split("-"))
        start, end = -(-low // _HUGE_PAGE_SIZE) * _HUGE_PAGE_SIZE, high // _HUGE_PAGE_SIZE * _HUGE_PAGE_SIZE
        if end <= start:
            continue
        try:
            libc.madvise(start, end - start, libc.MADV_COLLAPSE)
        except OSError:
            continue  # an older kernel, or a region it will not collapse: it stays as it was
        collapsed += end - start
    return collapsed


def main() -> None:
    kind, limits_json, control_fd = sys.argv[1:4]
    control = socket.socket(fileno=int(control_fd))
    warnings.simplefilter("ignore")
    try:
        # What a program's process may read, the same for every kind: the symbolic one's libraries.
        isolation = TemplateIsolation.begin(library_paths(TemplateKind.SYMBOLIC.modules))
        # /proc is the pool's (until the template hides it): there this process has the pid the
        # pool knows it by, whatever its own namespace calls it.
        pid = int(os.readlink("/proc/self"))
        template = Template(TemplateKind(kind), SandboxLimits(**json.loads(limits_json)), isolation)
    except Exception as error:
        control.send(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
        raise SystemExit(1) from error
    control.send(json.dumps({"isolation": template.jail.report.to_dict(), "pid": pid}).encode())
    template.serve(control)


if __name__ == "__main__":
    main()
