"""The bytes between the pool and a program's process, in both directions.

The process first writes one byte that says whether it confined itself (``CONFINED``), or the
byte ``NOT_CONFINED`` and why not; a process that never confined itself never read its program, so
the pool can run that program elsewhere. What follows ``CONFINED`` was written after a hostile
program ran, so it is read as hostile input: one length-prefixed frame of fixed-layout fields,
every length checked against the caps before anything is decoded, nothing after the frame, text
decoded so that no invalid UTF-8 or lone surrogate survives, and no field the pool can work out
for itself: it measures the duration, and it reads the answer from the printed output. No JSON: a
parser with a nesting depth is one more thing a reply could exhaust.
"""

from __future__ import annotations

import dataclasses
import struct

from potcot.sandbox.limits import SandboxLimits
from potcot.sandbox.result import Status, last_printed_line

MAX_ERROR_CHARS = 300
CONFINED = b"\x06"
NOT_CONFINED = b"\x15"
_LENGTH = struct.Struct("!I")
_REQUEST_HEAD = struct.Struct("!d")
_REPLY_HEAD = struct.Struct("!B")
_STATUSES = tuple(Status)
_ABSENT = 0xFFFFFFFF
_BYTES_PER_CHAR = 4  # UTF-8's longest encoding of one character


class MalformedReply(ValueError):
    """A reply that no honest program process writes."""


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """What a program's process reports: how the program ended, what it printed, the value it ended
    with when it printed nothing (a final bare expression, or ``solution()``), and the error."""

    status: Status
    stdout: str = ""
    value: str | None = None
    error: str | None = None


def encode_request(code: str, timeout_s: float) -> bytes:
    """What the pool writes to a program's process: the deadline, then the source."""
    return _REQUEST_HEAD.pack(timeout_s) + code.encode("utf-8", "surrogatepass")


def decode_request(data: bytes) -> tuple[str, float]:
    (timeout_s,) = _REQUEST_HEAD.unpack_from(data)
    return data[_REQUEST_HEAD.size :].decode("utf-8", "surrogatepass"), timeout_s


def encode_not_confined(reason: str) -> bytes:
    return NOT_CONFINED + reason[:MAX_ERROR_CHARS].encode("utf-8", "backslashreplace")


def split_confinement(written: bytes | None) -> tuple[str | None, bytes | None]:
    """Why a process did not confine itself (None when it did), and what it wrote after saying it
    did. ``None`` stands for more than an honest process writes, which only a program can."""
    if written is None or written.startswith(CONFINED):
        return None, written and written[len(CONFINED) :]
    if written.startswith(NOT_CONFINED):
        return written[len(NOT_CONFINED) :].decode("utf-8", "backslashreplace")[:MAX_ERROR_CHARS], b""
    return "it ended before it could", b""


def encode_reply(reply: Reply) -> bytes:
    body = _REPLY_HEAD.pack(_STATUSES.index(reply.status)) + b"".join(
        _encode_field(text) for text in (reply.stdout, reply.value, reply.error)
    )
    return _LENGTH.pack(len(body)) + body


def _encode_field(text: str | None) -> bytes:
    if text is None:
        return _LENGTH.pack(_ABSENT)
    data = text.encode("utf-8", "backslashreplace")
    return _LENGTH.pack(len(data)) + data


def reply_size_cap(limits: SandboxLimits) -> int:
    """The most bytes an honest process writes, marker included; the pool stops reading beyond it."""
    chars = 2 * limits.max_output_chars + MAX_ERROR_CHARS
    return len(CONFINED) + _LENGTH.size + _REPLY_HEAD.size + 3 * _LENGTH.size + _BYTES_PER_CHAR * chars


def decode_reply(frame: bytes, limits: SandboxLimits) -> Reply:
    """The reply a frame states, or ``MalformedReply`` for anything an honest process would not
    have sent: a wrong length, trailing bytes, an unknown status, a field past its cap, an error on
    an ``ok`` or none on a failure, a value on a failure or beside a printed line."""
    if len(frame) < _LENGTH.size or _LENGTH.unpack_from(frame)[0] != len(frame) - _LENGTH.size:
        raise MalformedReply("the reply's length prefix does not match its size")
    (status_index,) = _REPLY_HEAD.unpack_from(frame, _LENGTH.size)
    if status_index >= len(_STATUSES):
        raise MalformedReply("the reply's status is invalid")
    offset = _LENGTH.size + _REPLY_HEAD.size
    fields: list[str | None] = []
    for cap in (limits.max_output_chars, limits.max_output_chars, MAX_ERROR_CHARS):
        text, offset = _decode_field(frame, offset, cap)
        fields.append(text)
    if offset != len(frame):
        raise MalformedReply("bytes after the reply")
    stdout, value, error = fields
    status = _STATUSES[status_index]
    if stdout is None or (status is Status.OK) != (error is None):
        raise MalformedReply("the reply's fields contradict its status")
    if value is not None and (status is not Status.OK or last_printed_line(stdout) is not None):
        raise MalformedReply("the reply's value contradicts its status or its output")
    return Reply(status, stdout, value, error)


def _decode_field(frame: bytes, offset: int, cap_chars: int) -> tuple[str | None, int]:
    if offset + _LENGTH.size > len(frame):
        raise MalformedReply("the reply ends inside a field")
    (size,) = _LENGTH.unpack_from(frame, offset)
    offset += _LENGTH.size
    if size == _ABSENT:
        return None, offset
    if size > _BYTES_PER_CHAR * cap_chars or offset + size > len(frame):
        raise MalformedReply("a field of the reply is longer than its cap")
    text = frame[offset : offset + size].decode("utf-8", "backslashreplace")
    if len(text) > cap_chars:
        raise MalformedReply("a field of the reply is longer than its cap")
    return text, offset + size
