"""The front door under hostile clients: normal requests' latency without and with slow and
oversized clients beside them.

    python -m potcot.benchmarks.performance.front_door_load [--normal-clients 8] [--phase-s 6] [--slow-clients 32]

In one run, on 127.0.0.1 only: start a stub OpenAI-compatible upstream (this module, ``stub``:
it answers chat and text completions after a fixed short delay, and counts the requests it holds
at once) and ``potcot serve --engine openai --upstream STUB`` in front of it; send chat
completions from ``--normal-clients`` clients for ``--phase-s`` seconds alone, then again with
hostile clients beside them: bodies sent a byte a second (chunked, and a Content-Length never
filled), headers sent a byte a second, 300 MB chunked bodies, 60 MiB headers and lists of 10,000
prompts. Print the normal requests' p50 and p99 latency in both phases and their ratio (the
baseline is the first phase), and what the hostile clients got. Everything started is stopped.

    python -m potcot.benchmarks.performance.front_door_load stub --port PORT [--delay-s 0.05]

runs the stub alone (the front-door tests use it too).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from asyncio import StreamReader, StreamWriter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from starlette.types import Receive, Scope, Send

from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve

# One hostile client's move on an open connection; it says how the server answered.
Attack = Callable[[StreamReader, StreamWriter, float], Awaitable[str]]

STUB_MODEL = "stub-model"
CAPACITY = 16


# --- the stub upstream ------------------------------------------------------------------------


class StubUpstream:
    """A minimal ASGI app with the part of vLLM's OpenAI server potcot's remote engine uses:
    ``GET /v1/models``, ``GET /health``, streamed ``POST /v1/chat/completions`` and
    ``/v1/completions`` answered after ``delay_s``; ``GET /stats`` says how many generation
    requests it has held at once, at most."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.holding = 0
        self.most_held = 0
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/v1/models":
            await _json(send, {"object": "list", "data": [{"id": STUB_MODEL, "max_model_len": 4096}]})
        elif path == "/health":
            await _json(send, {"status": "ok"})
        elif path == "/stats":
            await _json(send, {"most_held": self.most_held, "served": self.served, "holding": self.holding})
        elif path in ("/v1/chat/completions", "/v1/completions"):
            await self._complete(path, receive, send)
        else:
            await _json(send, {"error": {"message": "not found"}}, 404)

    async def _complete(self, path: str, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        n = int(json.loads(body).get("n") or 1)
        self.holding += 1
        self.most_held = max(self.most_held, self.holding)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.holding -= 1
        self.served += 1
        chat = path == "/v1/chat/completions"
        events: list[dict[str, object]] = []
        for index in range(n):
            choice: dict[str, object] = {"index": index, "finish_reason": "stop"}
            choice.update({"delta": {"content": "The answer is 42."}} if chat else {"text": " 42"})
            events.append({"choices": [choice]})
        events.append({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 5}})
        payload = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _json(send: Send, value: object, status: int = 200) -> None:
    body = json.dumps(value).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def stub_command(port: int, delay_s: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "potcot.benchmarks.performance.front_door_load",
        "stub",
        "--port",
        str(port),
        "--delay-s",
        str(delay_s),
    ]


def run_stub(port: int, delay_s: float) -> None:
    import uvicorn

    uvicorn.run(StubUpstream(delay_s), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- clients ----------------------------------------------------------------------------------


async def normal_client(
    url: str, until: float, latencies: list[float], statuses: collections.Counter[int | str]
) -> None:
    body = {"model": STUB_MODEL, "messages": [{"role": "user", "content": "What is six times seven?"}]}
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                response = await client.post(url + "/v1/chat/completions", json=body)
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1


async def _status_of(reader: asyncio.StreamReader, timeout_s: float) -> str:
    try:
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    except (TimeoutError, ConnectionError):
        return "no answer"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


async def _hostile(name: str, url_port: int, until: float, outcomes: collections.Counter[str], attack: Attack) -> None:
    """Repeat one attack on fresh connections until the phase ends."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", url_port)
        except OSError:
            outcomes[f"{name}: refused connection"] += 1
            await asyncio.sleep(0.2)
            continue
        try:
            outcomes[f"{name}: {await attack(reader, writer, until)}"] += 1
        except (ConnectionError, OSError):
            outcomes[f"{name}: reset"] += 1
        finally:
            writer.close()


async def _answer_within(reader: asyncio.StreamReader, timeout_s: float) -> str | None:
    """The status the server answered with, "closed", or None if it said nothing yet."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    except TimeoutError:
        return None
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


async def _trickle(reader: StreamReader, writer: StreamWriter, until: float, data: bytes) -> str:
    """Send ``data`` a byte a second, until the server answers or closes."""
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        answer = await _answer_within(reader, 1.0)
        if answer is not None:
            return answer
        if time.monotonic() > until:
            return "phase over"
    return "sent all"


async def _trickle_chunked(reader: StreamReader, writer: StreamWriter, until: float) -> str:
    writer.write(
        b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return await _trickle(
        reader, writer, until, b"".join(b"1\r\n%c\r\n" % byte for byte in b'{"question": "' + b"1" * 300)
    )


async def _short_content_length(reader: StreamReader, writer: StreamWriter, until: float) -> str:
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"model\": ")  # fmt: skip
    await writer.drain()
    return await _status_of(reader, max(until - time.monotonic(), 0.1))


async def _trickle_headers(reader: StreamReader, writer: StreamWriter, until: float) -> str:
    return await _trickle(reader, writer, until, b"POST /solve HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 300)


async def _huge_chunked_body(reader: StreamReader, writer: StreamWriter, until: float) -> str:
    writer.write(
        b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n" % 2**20 + b"x" * 2**20 + b"\r\n"
    for _ in range(300):
        writer.write(chunk)
        await writer.drain()
        if _answered(reader):
            break
    return await _status_of(reader, 5.0)


def _answered(reader: StreamReader) -> bool:
    """Whether the server has answered or closed, without consuming its answer: asyncio offers no
    public way to ask whether bytes are waiting."""
    return bool(reader._buffer) or reader.at_eof()  # type: ignore[attr-defined]


async def _huge_header(reader: StreamReader, writer: StreamWriter, until: float) -> str:
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
    piece = b"a" * 2**20
    for _ in range(60):
        writer.write(piece)
        await writer.drain()
        if _answered(reader):
            break
    return await _status_of(reader, 5.0)


async def _many_prompts(reader: StreamReader, writer: StreamWriter, until: float) -> str:
    body = json.dumps({"model": STUB_MODEL, "prompt": ["1 + 1 ="] * 10_000}).encode()
    writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)  # fmt: skip
    await writer.drain()
    return await _status_of(reader, 10.0)


ATTACKS = {
    "chunked body, a byte a second": _trickle_chunked,
    "Content-Length never filled": _short_content_length,
    "headers, a byte a second": _trickle_headers,
    "300 MB chunked body": _huge_chunked_body,
    "60 MiB header": _huge_header,
    "10,000 prompts": _many_prompts,
}


async def hostile_clients(port: int, phase_s: float, slow_clients: int) -> dict[str, int]:
    until = time.monotonic() + phase_s
    outcomes: collections.Counter[str] = collections.Counter()
    counts = {"chunked body, a byte a second": slow_clients, "Content-Length never filled": slow_clients,
              "headers, a byte a second": slow_clients, "300 MB chunked body": 2, "60 MiB header": 2,
              "10,000 prompts": 2}  # fmt: skip
    tasks = [
        _hostile(name, port, until, outcomes, attack) for name, attack in ATTACKS.items() for _ in range(counts[name])
    ]
    await asyncio.wait_for(asyncio.gather(*tasks), phase_s + 30)
    return dict(outcomes)


def _hostile_process(
    port: int, phase_s: float, slow_clients: int, results: multiprocessing.Queue[dict[str, int]]
) -> None:
    results.put(asyncio.run(hostile_clients(port, phase_s, slow_clients)))


async def phase(
    url: str, port: int, args: argparse.Namespace, hostile: bool
) -> tuple[list[float], dict[int | str, int], dict[str, int]]:
    """Normal clients in this process; hostile ones, if any, in another, so that their own work
    does not slow the measuring event loop."""
    latencies: list[float] = []
    statuses: collections.Counter[int | str] = collections.Counter()
    outcomes: dict[str, int] = {}
    attackers = None
    if hostile:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        attackers = context.Process(target=_hostile_process, args=(port, args.phase_s + 1, args.slow_clients, queue))
        attackers.start()
        await asyncio.sleep(1)  # the hostile clients are connected before the measurement starts
    try:
        until = time.monotonic() + args.phase_s
        tasks = [normal_client(url, until, latencies, statuses) for _ in range(args.normal_clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), args.phase_s + 30)
        if attackers is not None:
            outcomes = await asyncio.to_thread(queue.get, True, 60)
    finally:
        if attackers is not None:
            attackers.join(10)
            if attackers.is_alive():
                attackers.kill()
                attackers.join()
    return latencies, dict(statuses), outcomes


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=["load", "stub"], default="load")
    parser.add_argument("--port", type=int, help="stub: the port to listen on")
    parser.add_argument("--delay-s", type=float, default=0.05, help="the stub's delay before each answer")
    parser.add_argument("--normal-clients", type=int, default=8)
    parser.add_argument("--slow-clients", type=int, default=16, help="of each slow kind")
    parser.add_argument("--phase-s", type=float, default=6.0, help="seconds of each phase")
    args = parser.parse_args(argv)
    if args.mode == "stub":
        run_stub(args.port, args.delay_s)
        return
    with tempfile.TemporaryDirectory(prefix="potcot-front-door-") as scratch:
        stub_port, port = free_port(), free_port()
        with ServerProcess(stub_command(stub_port, args.delay_s), stub_port, Path(scratch) / "stub.log") as stub:
            stub.wait_until_healthy(60)
            command = potcot_serve(port, "--engine", "openai", "--upstream", stub.url, "--max-generations-in-flight",
                                   str(CAPACITY), "--body-timeout-s", "3", "--header-timeout-s", "3",
                                   "--sandbox-workers", "1", "--log-level", "warning")  # fmt: skip
            with ServerProcess(command, port, Path(scratch) / "potcot.log") as server:
                server.wait_until_healthy(120)
                results = {}
                for hostile in (False, True):
                    results[hostile] = asyncio.run(phase(server.url, port, args, hostile))
    report(results)


def report(results: dict[bool, tuple[list[float], dict[int | str, int], dict[str, int]]]) -> None:
    rows = {}
    for hostile, (latencies, statuses, _) in results.items():
        label = "with hostile clients" if hostile else "alone"
        if not latencies:
            print(f"normal requests {label}: none succeeded; statuses {statuses}")
            return
        rows[hostile] = (percentile(latencies, 0.5), percentile(latencies, 0.99))
        print(f"normal requests {label:>21}: {len(latencies):5d} ok, p50 {rows[hostile][0] * 1000:7.1f} ms, "
              f"p99 {rows[hostile][1] * 1000:7.1f} ms, statuses {statuses}")  # fmt: skip
    print(f"ratio with/alone: p50 {rows[True][0] / rows[False][0]:.2f}x, p99 {rows[True][1] / rows[False][1]:.2f}x")
    print("hostile clients got:")
    for outcome, count in sorted(results[True][2].items()):
        print(f"  {count:5d}  {outcome}")
    print(f"(mean normal latency alone {statistics.mean(results[False][0]) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
