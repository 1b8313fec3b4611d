"""The worker processes that bound symbolic comparisons: each comparison runs in a worker, and a
worker that takes longer than ``COMPARISON_TIMEOUT_S`` is killed and replaced. Math-Verify's own
timeouts use SIGALRM, which fails outside the main thread, and some sympy parses hang regardless.

Workers are fresh interpreters (``potcot.answers.worker``) started with ``subprocess`` and spoken
to in JSON lines over pipes, so a pool works from any thread, in a threaded server, and from a
plain script without an ``if __name__ == "__main__"`` guard. They start on first use.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
import weakref

from potcot.sandbox.pool import allow_listed_environment

logger = logging.getLogger(__name__)

COMPARISON_TIMEOUT_S = 5.0
# Importing sympy and Math-Verify in a fresh interpreter; on a loaded machine it can take seconds.
START_TIMEOUT_S = 120.0
_CLOSE_TIMEOUT_S = 2.0
_IDLE_POLL_S = 1.0  # how often a caller waiting for a free worker checks that the pool is open
_MAX_REPLY_BYTES = 1024
WORKER_COMMAND = (sys.executable, "-I", "-m", "potcot.answers.worker")


class WorkerLost(RuntimeError):
    """A worker that took too long, died, or replied nonsense; it is no use any more."""


class _Worker:
    """One worker process and the reply bytes read from it so far. Used by one thread at a time."""

    def __init__(self) -> None:
        # sympy's parser evaluates the text it reads, and the text is a model's: nothing of the
        # host's environment goes into the worker.
        self.process = subprocess.Popen(
            WORKER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            env=allow_listed_environment(),
        )
        self._unread = b""
        self._ready = False

    def compare(self, prediction: str, reference: str, timeout_s: float) -> bool:
        """The worker's verdict; ``WorkerLost`` when it has none within ``timeout_s``."""
        if not self._ready:
            self._ready = self._read_reply(START_TIMEOUT_S).get("ready") is True
            if not self._ready:
                raise WorkerLost("the worker did not start")
        request = json.dumps({"prediction": prediction, "reference": reference}).encode() + b"\n"
        try:
            self.process.stdin.write(request)  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
        except OSError as error:
            raise WorkerLost(f"cannot write to the worker: {error}") from None
        return self._read_reply(timeout_s).get("match") is True

    def _read_reply(self, timeout_s: float) -> dict[str, object]:
        """The next JSON line from the worker, waited for at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        output = self.process.stdout.fileno()  # type: ignore[union-attr]
        while b"\n" not in self._unread:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([output], [], [], remaining)[0]:
                raise WorkerLost(f"no reply within {timeout_s} s")
            chunk = os.read(output, _MAX_REPLY_BYTES)
            if not chunk or len(self._unread) + len(chunk) > _MAX_REPLY_BYTES:
                raise WorkerLost("the worker died or replied too much")
            self._unread += chunk
        line, _, self._unread = self._unread.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            raise WorkerLost("the worker's reply is not JSON") from None
        if not isinstance(reply, dict):
            raise WorkerLost("the worker's reply is not an object")
        return reply

    def kill(self) -> None:
        self.process.kill()
        self._reap()

    def close(self) -> None:
        """End of input: the worker exits; killed if it does not, soon."""
        try:
            self.process.stdin.close()  # type: ignore[union-attr]
            self.process.wait(_CLOSE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
        self._reap()

    def _reap(self) -> None:
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class ComparisonPool:
    """Up to ``size`` workers, started as comparisons need them. Thread-safe."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a comparison pool needs at least one worker")
        self._size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._finalizer = weakref.finalize(self, _close_all, self._workers)

    def compare(self, prediction: str, reference: str) -> bool:
        """``symbolic_match(prediction, reference)`` in a worker: False when it takes longer than
        ``COMPARISON_TIMEOUT_S`` (the worker is then killed and replaced) or fails."""
        worker = self._take()
        try:
            verdict = worker.compare(prediction, reference, COMPARISON_TIMEOUT_S)
        except (WorkerLost, OSError, ValueError) as error:  # ValueError: the pool closed its pipes meanwhile
            logger.warning("a symbolic comparison gave no verdict (%s); counted as no match", error)
            self._replace(worker)
            return False
        self._give_back(worker)
        return verdict

    def close(self) -> None:
        """Stop every worker. Comparisons still running end as no match."""
        with self._lock:
            self._closed = True
            self._finalizer()

    def _take(self) -> _Worker:
        """An idle worker, a new one while there are fewer than ``size``, or else the next one freed."""
        with self._lock:
            self._check_open()
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                if len(self._workers) < self._size:
                    return self._started()
        while True:
            try:
                return self._idle.get(timeout=_IDLE_POLL_S)
            except queue.Empty:
                self._check_open()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the comparison pool is closed")

    def _started(self) -> _Worker:
        worker = _Worker()
        self._workers.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            if not self._closed:
                self._idle.put(self._started())

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.put(worker)
                return
        worker.close()


def _close_all(workers: set[_Worker]) -> None:
    """Close every worker; at exit too, for a pool nobody closed."""
    for worker in list(workers):
        worker.close()
    workers.clear()
