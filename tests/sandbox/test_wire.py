"""What the pool accepts from a program's process: well-formed replies only, judged by how the
process ended. Pure functions, so every malformed reply a hostile program could write is a row."""

import signal
import struct

import pytest

from potcot.sandbox import ExecutionResult, SandboxLimits, Status
from potcot.sandbox.pool import judge
from potcot.sandbox.wire import MalformedReply, decode_reply, decode_request, encode_reply, encode_request

LIMITS = SandboxLimits(max_output_chars=100)
EXITED = 0  # the wait status of a process that exited with code 0; code N is N << 8
OK = ExecutionResult(Status.OK, stdout="4\n", answer="4", duration_s=0.01)


def frame(body: bytes) -> bytes:
    return struct.pack("!I", len(body)) + body


def field(data: bytes | None) -> bytes:
    return struct.pack("!I", 0xFFFFFFFF) if data is None else struct.pack("!I", len(data)) + data


def body(
    status: int = 0,
    duration: float = 0.0,
    stdout: bytes | None = b"",
    answer: bytes | None = None,
    error: bytes | None = None,
) -> bytes:
    return struct.pack("!Bd", status, duration) + field(stdout) + field(answer) + field(error)


ROUND_TRIPS = [
    OK,
    ExecutionResult(Status.RUNTIME_ERROR, stdout="partial\n", error="line 1: ZeroDivisionError: division by zero"),
    ExecutionResult(Status.OK, stdout="", answer=None),
    ExecutionResult(Status.OK, stdout="π ≈ 3.14\n", answer="π ≈ 3.14"),
    ExecutionResult(Status.OUTPUT_EXCEEDED, stdout="x" * 100, error="output limit exceeded"),
]


@pytest.mark.parametrize("result", ROUND_TRIPS, ids=lambda result: result.status.value)
def test_honest_replies_round_trip(result: ExecutionResult) -> None:
    assert decode_reply(encode_reply(result), LIMITS) == result


def test_lone_surrogates_arrive_escaped() -> None:
    decoded = decode_reply(encode_reply(ExecutionResult(Status.OK, stdout="a\ud800b\n", answer="a\ud800b")), LIMITS)
    assert (decoded.stdout, decoded.answer) == ("a\\ud800b\n", "a\\ud800b")


MALFORMED = {
    "empty length": b"\x00\x00",
    "length larger than the frame": struct.pack("!I", 1000) + body(),
    "length smaller than the frame": struct.pack("!I", 3) + body(),
    "bytes after the frame": frame(body()) + b"!",
    "unknown status": frame(body(status=200)),
    "negative duration": frame(body(duration=-1.0)),
    "infinite duration": frame(body(duration=float("inf"))),
    "NaN duration": frame(body(duration=float("nan"))),
    "stdout past its cap": frame(body(stdout=b"x" * 101)),
    "answer past its cap": frame(body(stdout=b"", answer=b"y" * 101)),
    "error past its cap": frame(body(status=2, error=b"e" * 301)),
    "missing stdout": frame(body(stdout=None)),
    "answer on a failed run": frame(body(status=2, answer=b"42", error=b"boom")),
    "field longer than the frame": frame(struct.pack("!Bd", 0, 0.0) + struct.pack("!I", 50) + b"x"),
    "truncated fields": frame(struct.pack("!Bd", 0, 0.0) + field(b"")),
    "JSON instead of a frame": b'{"status": "ok", "stdout": "42", "answer": "42"}',
    "deeply nested JSON": b"[" * 100_000,
}


@pytest.mark.parametrize("reply", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_replies_are_refused(reply: bytes) -> None:
    with pytest.raises(MalformedReply):
        decode_reply(reply, LIMITS)


def test_invalid_utf8_is_escaped_not_trusted() -> None:
    decoded = decode_reply(frame(body(stdout=b"\xff\xfe1\n", answer=b"1")), LIMITS)
    assert decoded.stdout == "\\xff\\xfe1\n"


def test_request_round_trip() -> None:
    assert decode_request(encode_request("print('\ud800')", 2.5)) == ("print('\ud800')", 2.5)


KILLED = signal.SIGKILL
VERDICTS = {
    # (reply, wait status, timed out) -> (status, error)
    "an honest reply": (encode_reply(OK), EXITED, False, (Status.OK, None)),
    "a reply, then the deadline": (encode_reply(OK), KILLED, True, (Status.TIMEOUT, "exceeded the 2 s time limit")),
    "a reply, then killed": (encode_reply(OK), KILLED, False, (Status.CRASHED, "process died with SIGKILL")),
    "a reply, then SIGXCPU": (encode_reply(OK), signal.SIGXCPU, False, (Status.TIMEOUT, "exceeded the CPU time limit")),
    "a reply, then a non-zero exit": (encode_reply(OK), 3 << 8, False, (Status.CRASHED, "process exited with code 3")),
    "no reply": (b"", EXITED, False, (Status.CRASHED, "process ended without a readable result")),
    "a reply past the size cap": (None, EXITED, False, (Status.CRASHED, "the process's reply exceeded its size limit")),
    "a malformed reply": (b"garbage", EXITED, False, (Status.CRASHED, "unreadable reply")),
}


@pytest.mark.parametrize(("reply", "wait_status", "timed_out", "expected"), VERDICTS.values(), ids=list(VERDICTS))
def test_judge(reply: bytes | None, wait_status: int, timed_out: bool, expected: tuple) -> None:
    result = judge(reply, wait_status, timed_out, 2.0, LIMITS)
    assert result.status == expected[0]
    assert (result.error or "").startswith(expected[1] or "")
    assert result.answer == (OK.answer if expected[0] is Status.OK else None)
