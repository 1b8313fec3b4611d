"""A worker process for symbolic comparisons, started by ``potcot.answers.pool`` as
``python -I -m potcot.answers.worker``: a fresh interpreter, so it re-imports nothing of the program
that started it (multiprocessing's spawn and forkserver re-import the caller's main module, and
fork is unsafe in threaded servers).

Protocol, one JSON object per line: it says ``{"ready": true}`` once Math-Verify is imported, then
answers each ``{"prediction": ..., "reference": ...}`` on standard input with ``{"match": bool}``.
It exits at the end of its input, or when the process that started it is gone.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import BinaryIO

from potcot.answers.verify import symbolic_match

_PARENT_POLL_S = 1.0


def main() -> None:
    """Serve comparisons until standard input ends."""
    replies = _protocol_output()
    _exit_with_parent(os.getppid())
    symbolic_match("1", "1")  # import Math-Verify and sympy before saying ready
    _reply(replies, {"ready": True})
    for line in sys.stdin.buffer:
        _reply(replies, {"match": _compare(line)})


def _protocol_output() -> BinaryIO:
    """The replies' own stream: standard output, which from now on goes to standard error, so
    that nothing a library prints can be mistaken for a reply."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return replies


def _compare(line: bytes) -> bool:
    """One request's verdict; a request that cannot be read or compared is no match."""
    try:
        request = json.loads(line)
        return symbolic_match(str(request["prediction"]), str(request["reference"]))
    except Exception:  # noqa: BLE001 - whatever Math-Verify or sympy raise, the answers do not match
        return False


def _reply(replies: BinaryIO, message: dict[str, bool]) -> None:
    replies.write(json.dumps(message).encode() + b"\n")
    replies.flush()


def _exit_with_parent(parent: int) -> None:
    """End this process when its parent dies, even in the middle of a comparison that hangs."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
