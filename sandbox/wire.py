"""The bytes between the pool and a program's process, in both directions.

The process that sends the reply has just run a hostile program, which may have written anything
to its pipe. So the reply is read as hostile input: one length-prefixed frame of fixed-layout
fields, every length checked against the caps before anything is decoded, nothing after the
frame, text decoded so that no invalid UTF-8 or lone surrogate survives. No JSON: a parser with
a nesting depth is one more thing a reply could exhaust.
"""

from __future__ import annotations

import math
import struct

from potcot.sandbox.limits import SandboxLimits
from potcot.sandbox.result import ExecutionResult, Status

MAX_ERROR_CHARS = 300
_LENGTH = struct.Struct("!I")
_REQUEST_HEAD = struct.Struct("!d")
_REPLY_HEAD = struct.Struct("!Bd")
_STATUSES = tuple(Status)
_ABSENT = 0xFFFFFFFF
_BYTES_PER_CHAR = 4  # UTF-8's longest encoding of one character


class MalformedReply(ValueError):
    """A reply that no honest program process writes."""


def encode_request(code: str, timeout_s: float) -> bytes:
    """What the pool writes to a program's process: the deadline, then the source."""
    return _REQUEST_HEAD.pack(timeout_s) + code.encode("utf-8", "surrogatepass")


def decode_request(data: bytes) -> tuple[str, float]:
    (timeout_s,) = _REQUEST_HEAD.unpack_from(data)
    return data[_REQUEST_HEAD.size :].decode("utf-8", "surrogatepass"), timeout_s


def encode_reply(result: ExecutionResult) -> bytes:
    body = _REPLY_HEAD.pack(_STATUSES.index(result.status), result.duration_s) + b"".join(
        _encode_field(text) for text in (result.stdout, result.answer, result.error)
    )
    return _LENGTH.pack(len(body)) + body


def _encode_field(text: str | None) -> bytes:
    if text is None:
        return _LENGTH.pack(_ABSENT)
    data = text.encode("utf-8", "backslashreplace")
    return _LENGTH.pack(len(data)) + data


def reply_size_cap(limits: SandboxLimits) -> int:
    """The most bytes an honest reply can take; the pool stops reading beyond it."""
    chars = 2 * limits.max_output_chars + MAX_ERROR_CHARS
    return 2 * _LENGTH.size + _REPLY_HEAD.size + 3 * _LENGTH.size + _BYTES_PER_CHAR * chars


def decode_reply(frame: bytes, limits: SandboxLimits) -> ExecutionResult:
    """The result a reply states, or ``MalformedReply`` for anything an honest process would not
    have sent: a wrong length, trailing bytes, an unknown status, a field past its cap, an answer
    on a failed run."""
    if len(frame) < _LENGTH.size or _LENGTH.unpack_from(frame)[0] != len(frame) - _LENGTH.size:
        raise MalformedReply("the reply's length prefix does not match its size")
    status_index, duration_s = _REPLY_HEAD.unpack_from(frame, _LENGTH.size)
    if status_index >= len(_STATUSES) or not (math.isfinite(duration_s) and duration_s >= 0):
        raise MalformedReply("the reply's status or duration is invalid")
    offset = _LENGTH.size + _REPLY_HEAD.size
    fields: list[str | None] = []
    for cap in (limits.max_output_chars, limits.max_output_chars, MAX_ERROR_CHARS):
        text, offset = _decode_field(frame, offset, cap)
        fields.append(text)
    if offset != len(frame):
        raise MalformedReply("bytes after the reply")
    stdout, answer, error = fields
    status = _STATUSES[status_index]
    if stdout is None or (answer is not None and status is not Status.OK):
        raise MalformedReply("the reply's fields contradict its status")
    return ExecutionResult(status, stdout, answer, error, duration_s)


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
