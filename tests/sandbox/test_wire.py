"""What the pool accepts from a program's process: well-formed replies only, judged by how the
process ended, with what the pool can see for itself taken from nowhere else. Pure functions, so
every malformed reply a hostile program could write is a row."""

import signal
import struct

import pytest

from potcot.sandbox import SandboxLimits, Status
from potcot.sandbox.verdict import ProcessEnd, judge
from potcot.sandbox.wire import (
    CONFINED,
    MalformedReply,
    Reply,
    decode_reply,
    decode_request,
    encode_not_confined,
    encode_reply,
    encode_request,
    split_confinement,
)

LIMITS = SandboxLimits(max_output_chars=100)
EXITED = 0  # the wait status of a process that exited with code 0; code N is N << 8
OK = Reply(Status.OK, stdout="4\n")


def frame(body: bytes) -> bytes:
    return struct.pack("!I", len(body)) + body


def field(data: bytes | None) -> bytes:
    return struct.pack("!I", 0xFFFFFFFF) if data is None else struct.pack("!I", len(data)) + data


def body(status: int = 0, stdout: bytes | None = b"", value: bytes | None = None, error: bytes | None = None) -> bytes:
    return struct.pack("!B", status) + field(stdout) + field(value) + field(error)


ROUND_TRIPS = [
    OK,
    Reply(Status.RUNTIME_ERROR, stdout="partial\n", error="line 1: ZeroDivisionError: division by zero"),
    Reply(Status.OK, stdout=""),
    Reply(Status.OK, stdout="", value="42"),
    Reply(Status.OK, stdout="π ≈ 3.14\n"),
    Reply(Status.OUTPUT_EXCEEDED, stdout="x" * 100, error="output limit exceeded"),
]


@pytest.mark.parametrize("reply", ROUND_TRIPS, ids=lambda reply: reply.status.value)
def test_honest_replies_round_trip(reply: Reply) -> None:
    assert decode_reply(encode_reply(reply), LIMITS) == reply


def test_lone_surrogates_arrive_escaped() -> None:
    decoded = decode_reply(encode_reply(Reply(Status.OK, stdout="a\ud800b\n")), LIMITS)
    assert decoded.stdout == "a\\ud800b\n"


MALFORMED = {
    "empty length": b"\x00\x00",
    "length larger than the frame": struct.pack("!I", 1000) + body(),
    "length smaller than the frame": struct.pack("!I", 3) + body(),
    "bytes after the frame": frame(body()) + b"!",
    "unknown status": frame(body(status=200)),
    "stdout past its cap": frame(body(stdout=b"x" * 101)),
    "value past its cap": frame(body(stdout=b"", value=b"y" * 101)),
    "error past its cap": frame(body(status=2, error=b"e" * 301)),
    "missing stdout": frame(body(stdout=None)),
    "a value on a failed run": frame(body(status=2, value=b"42", error=b"boom")),
    "a value beside a printed line": frame(body(stdout=b"41\n", value=b"42")),
    "an error on an ok": frame(body(error=b"boom")),
    "a failure without an error": frame(body(status=2)),
    "field longer than the frame": frame(struct.pack("!B", 0) + struct.pack("!I", 50) + b"x"),
    "truncated fields": frame(struct.pack("!B", 0) + field(b"")),
    "JSON instead of a frame": b'{"status": "ok", "stdout": "42", "answer": "42"}',
    "deeply nested JSON": b"[" * 100_000,
}


@pytest.mark.parametrize("reply", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_replies_are_refused(reply: bytes) -> None:
    with pytest.raises(MalformedReply):
        decode_reply(reply, LIMITS)


def test_invalid_utf8_is_escaped_not_trusted() -> None:
    decoded = decode_reply(frame(body(stdout=b"\xff\xfe1\n")), LIMITS)
    assert decoded.stdout == "\\xff\\xfe1\n"


def test_request_round_trip() -> None:
    assert decode_request(encode_request("print('\ud800')", 2.5)) == ("print('\ud800')", 2.5)


CONFINEMENTS = {
    # what a process wrote -> (why it did not confine itself, what follows)
    "confined, then a reply": (CONFINED + b"frame", (None, b"frame")),
    "confined, then past the cap": (None, (None, None)),
    "confined, then nothing": (CONFINED, (None, b"")),
    "refused to confine": (encode_not_confined("OSError: nice"), ("OSError: nice", b"")),
    "ended before it could": (b"", ("it ended before it could", b"")),
    "wrote something else first": (b"\x00frame", ("it ended before it could", b"")),
}


@pytest.mark.parametrize(("written", "expected"), CONFINEMENTS.values(), ids=list(CONFINEMENTS))
def test_split_confinement(written: bytes | None, expected: tuple[str | None, bytes | None]) -> None:
    assert split_confinement(written) == expected


def ended(wait_status: int = EXITED, timed_out: bool = False, cpu_seconds: float = 0.01) -> ProcessEnd:
    return ProcessEnd(wait_status, timed_out, cpu_seconds, duration_s=0.25)


KILLED = signal.SIGKILL
VERDICTS = {
    # (reply, how its process ended) -> (status, error)
    "an honest reply": (encode_reply(OK), ended(), (Status.OK, None)),
    "a reply, then the deadline": (encode_reply(OK), ended(KILLED, True), (Status.TIMEOUT, "exceeded the 2 s time")),
    "a reply, then killed": (encode_reply(OK), ended(KILLED), (Status.CRASHED, "process died with SIGKILL")),
    "killed at the CPU limit": (encode_reply(OK), ended(KILLED, cpu_seconds=3.0), (Status.TIMEOUT, "exceeded the CPU")),
    "a reply, then SIGXCPU": (encode_reply(OK), ended(signal.SIGXCPU), (Status.TIMEOUT, "exceeded the CPU time limit")),
    "a reply, then a non-zero exit": (encode_reply(OK), ended(3 << 8), (Status.CRASHED, "process exited with code 3")),
    "no reply": (b"", ended(), (Status.CRASHED, "process ended without a readable result")),
    "a reply past the size cap": (None, ended(), (Status.CRASHED, "the process's reply exceeded its size limit")),
    "a malformed reply": (b"garbage", ended(), (Status.CRASHED, "unreadable reply")),
}


@pytest.mark.parametrize(("reply", "end", "expected"), VERDICTS.values(), ids=list(VERDICTS))
def test_judge(reply: bytes | None, end: ProcessEnd, expected: tuple[Status, str | None]) -> None:
    result = judge(reply, end, 2.0, LIMITS)
    assert result.status == expected[0]
    assert (result.error or "").startswith(expected[1] or "")
    assert result.answer == ("4" if expected[0] is Status.OK else None)
    assert result.duration_s == 0.25  # the pool's own measure, whatever the process said


ANSWERS = {
    # what a program printed and the value it ended with -> its answer
    "the last printed line": (Reply(Status.OK, stdout="step 1\n 5 \n\n"), "5"),
    "a value when nothing was printed": (Reply(Status.OK, stdout=" \n", value="7"), "7"),
    "neither": (Reply(Status.OK, stdout=""), None),
    "none for a failure": (Reply(Status.RUNTIME_ERROR, stdout="5\n", error="boom"), None),
}


@pytest.mark.parametrize(("reply", "answer"), ANSWERS.values(), ids=list(ANSWERS))
def test_the_answer_is_read_from_the_output(reply: Reply, answer: str | None) -> None:
    assert judge(encode_reply(reply), ended(), 2.0, LIMITS).answer == answer
