"""The front door under hostile clients: small raw-socket clients against a real uvicorn server
configured as ``potcot serve`` configures it (``tests.server.front_door_server``, on the scripted
engine), and the remote engine's own bounds in front of a stub upstream. Every client and server
here is bounded in time and stopped after its test."""

from __future__ import annotations

import concurrent.futures
import json
import re
import select
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from potcot.benchmarks.performance.front_door_load import STUB_MODEL, stub_command
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve

ROOT = Path(__file__).resolve().parents[2]
CAPACITY = 4
BODY_TIMEOUT_S = 2
HEADER_TIMEOUT_S = 2
SOCKET_TIMEOUT_S = 15  # the bound of every wait on a hostile client's socket
SOLVE = {"question": "What is six times seven?"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    port = free_port()
    command = [sys.executable, "-m", "tests.server.front_door_server", str(port),
               "--max-generations-in-flight", str(CAPACITY), "--body-timeout-s", str(BODY_TIMEOUT_S),
               "--header-timeout-s", str(HEADER_TIMEOUT_S)]  # fmt: skip
    log = tmp_path_factory.mktemp("front-door") / "server.log"
    with ServerProcess(command, port, log, env={"PYTHONPATH": str(ROOT)}) as process:
        yield process.wait_until_healthy(120)


def connect(server: ServerProcess) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
    return client


def response_of(client: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the one response on ``client`` (which the server closes)."""
    data = b""
    while True:
        try:
            piece = client.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        if length and len(body) >= int(length.group(1)):
            break
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head.split()[1]), json.loads(body) if body else {}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def in_flight(server: ServerProcess) -> float:
    metrics = httpx.get(server.url + "/metrics", timeout=5).text
    return float(re.search(r"^potcot_requests_in_flight (\S+)$", metrics, re.M).group(1))


def assert_solves(server: ServerProcess) -> None:
    response = httpx.post(server.url + "/solve", json=SOLVE, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == "42"


def test_slow_chunked_bodies_hold_no_capacity(server: ServerProcess) -> None:
    """20 clients (5x the capacity) start a chunked body and send one byte of it: a normal
    solve and a chat completion still succeed beside them, and each slow client gets 408."""
    slow = [connect(server) for _ in range(5 * CAPACITY)]
    try:
        for client in slow:
            client.sendall(b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")  # fmt: skip
        assert_solves(server)
        chat = {"model": "scripted-model", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(server.url + "/v1/chat/completions", json=chat, timeout=10).status_code == 200
        for client in slow:
            status, body = response_of(client)
            assert status == 408 and "did not arrive within" in body["error"]["message"]
    finally:
        for client in slow:
            client.close()


def test_content_length_never_filled_gets_408_and_frees_its_slot(server: ServerProcess) -> None:
    short = [connect(server) for _ in range(CAPACITY)]
    try:
        for client in short:
            client.sendall(b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{\"question\": ")  # fmt: skip
        assert_solves(server)  # they hold no slot while their bodies are missing
        for client in short:
            status, body = response_of(client)
            assert status == 408, body
            assert body["error"]["code"] is None  # OpenAI's codes are strings; the status says 408
        assert in_flight(server) == 0
        assert_solves(server)
    finally:
        for client in short:
            client.close()


def test_chunked_300_mb_body_gets_413_without_being_read(server: ServerProcess) -> None:
    before = rss_kib(server.process.pid)
    client = connect(server)
    sent = 0
    try:
        client.sendall(b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        chunk = b"%x\r\n" % 2**20 + b"x" * 2**20 + b"\r\n"
        deadline = time.monotonic() + SOCKET_TIMEOUT_S
        while sent < 300 * 2**20 and time.monotonic() < deadline:
            readable, _, _ = select.select([client], [], [], 0)
            if readable:
                break
            try:
                client.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, body = response_of(client)
    finally:
        client.close()
    assert status == 413 and "8 MiB" in body["error"]["message"]
    assert sent < 64 * 2**20  # the server stopped reading just past 8 MiB (plus socket buffers)
    assert rss_kib(server.process.pid) - before < 100 * 1024
    assert_solves(server)


def test_60_mib_header_is_refused_while_health_answers(server: ServerProcess) -> None:
    def hostile() -> int:
        client = connect(server)
        try:
            client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
            piece = b"a" * 2**20
            for _ in range(60):
                if select.select([client], [], [], 0)[0]:
                    break
                try:
                    client.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):
                    break
            return response_of(client)[0]
        finally:
            client.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        refused = pool.submit(hostile)
        for _ in range(5):
            assert httpx.get(server.url + "/health", timeout=2).status_code == 200
        assert refused.result(timeout=SOCKET_TIMEOUT_S) == 431


def test_headers_sent_slowly_get_408(server: ServerProcess) -> None:
    client = connect(server)
    try:
        client.sendall(b"POST /solve HTTP/1.1\r\nHost: x\r\n")  # and the rest never
        status, body = response_of(client)
    finally:
        client.close()
    assert status == 408 and "headers did not arrive" in body["error"]["message"]


def test_too_many_header_fields_get_431(server: ServerProcess) -> None:
    headers = {f"x-filler-{i}": "1" for i in range(150)}
    response = httpx.get(server.url + "/health", headers=headers, timeout=5)
    assert response.status_code == 431
    assert "header fields" in response.json()["error"]["message"]


def test_10000_prompts_get_a_400_naming_the_bound(server: ServerProcess) -> None:
    body = {"model": "scripted-model", "prompt": ["1 + 1 ="] * 10_000}
    response = httpx.post(server.url + "/v1/completions", json=body, timeout=10)
    assert response.status_code == 400
    assert "at most 64 generations (prompts x n)" in response.json()["error"]["message"]
    assert "10000" in response.json()["error"]["message"]
    two_by_n = {"model": "scripted-model", "prompt": ["a"] * 5, "n": 16}
    assert "asks for 80" in httpx.post(server.url + "/v1/completions", json=two_by_n, timeout=10).text


def test_weights_count_against_capacity(server: ServerProcess) -> None:
    """Capacity 4: a request of 3 prompts in flight leaves room for 1 generation, not 2."""
    url = server.url
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        heavy = pool.submit(
            httpx.post, url + "/v1/completions", json={"model": "scripted-model", "prompt": ["sleep:3"] * 3}, timeout=20
        )
        deadline = time.monotonic() + 10
        while in_flight(server) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        two = httpx.post(url + "/v1/completions", json={"model": "scripted-model", "prompt": ["a", "b"]}, timeout=10)
        assert two.status_code == 503 and two.headers["retry-after"] == "1", two.text
        chat_n2 = {"model": "scripted-model", "messages": [{"role": "user", "content": "hi"}], "n": 2}
        assert httpx.post(url + "/v1/chat/completions", json=chat_n2, timeout=10).status_code == 503
        hybrid = httpx.post(url + "/solve", json=SOLVE, timeout=10)  # PoT, then perhaps CoT: 2
        assert hybrid.status_code == 503
        pot = httpx.post(url + "/solve", json={**SOLVE, "strategy": "pot"}, timeout=10)
        assert pot.status_code == 200, pot.text
        assert heavy.result(timeout=20).status_code == 200
    # Heavier than the whole capacity, but within the bound of a request: served alone.
    five = httpx.post(url + "/v1/completions", json={"model": "scripted-model", "prompt": ["a"] * 5}, timeout=10)
    assert five.status_code == 200 and len(five.json()["choices"]) == 5


# --- the remote engine's own bounds ------------------------------------------------------------

UPSTREAM_CONNECTIONS = 4
UPSTREAM_QUEUED = 60  # a request of 64 prompts just fits: 4 sent, 60 waiting


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    scratch = tmp_path_factory.mktemp("remote")
    stub_port, port = free_port(), free_port()
    with ServerProcess(stub_command(stub_port, 0.4), stub_port, scratch / "stub.log") as stub:
        stub.wait_until_healthy(60)
        bounds = (
            "--upstream-max-connections",
            str(UPSTREAM_CONNECTIONS),
            "--upstream-max-queued",
            str(UPSTREAM_QUEUED),
        )
        command = potcot_serve(port, "--engine", "openai", "--upstream", stub.url, "--sandbox-workers", "1", *bounds,
                               "--log-level", "warning")  # fmt: skip
        with ServerProcess(command, port, scratch / "potcot.log") as server:
            yield stub, server.wait_until_healthy(120)


def test_remote_engine_bounds_its_connections_and_health_answers(remote: tuple[ServerProcess, ServerProcess]) -> None:
    """64 prompts through 4 upstream connections take a while; /health answers throughout,
    the upstream never holds more than 4 at once, and a request that overflows the queue is
    refused at once with 503 (32 more prompts overflow it for the first 8 rounds of 0.4 s)."""
    stub, server = remote
    body = {"model": STUB_MODEL, "prompt": ["1 + 1 ="] * 64}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        large = pool.submit(httpx.post, server.url + "/v1/completions", json=body, timeout=60)
        deadline = time.monotonic() + 10
        while httpx.get(stub.url + "/stats", timeout=5).json()["holding"] < UPSTREAM_CONNECTIONS:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        overflow = httpx.post(server.url + "/v1/completions", json={**body, "prompt": ["x"] * 32}, timeout=10)
        assert overflow.status_code == 503, overflow.text
        for _ in range(5):
            assert httpx.get(server.url + "/health", timeout=2).status_code == 200
        response = large.result(timeout=60)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 64
    assert httpx.get(stub.url + "/stats", timeout=5).json()["most_held"] == UPSTREAM_CONNECTIONS
