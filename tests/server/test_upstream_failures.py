"""How the remote engine meets upstreams that fail: before the first token the request moves on;
after it, nothing is stitched. Each upstream here is a real HTTP server that plays a scripted
failure per request (dropping the connection mid-stream, ending without ``[DONE]``, answering 500),
in front of the engine alone and of the whole app. The same against real replicas killed mid-run
is in ``test_fleet.py``."""

from __future__ import annotations

import collections
import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from potcot.server.engines import EngineUnavailable, GenerationInterrupted, SamplingOptions
from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamHealth, UpstreamLimits
from potcot.server.prompts import ChatMessage, Prompt
from potcot.server.web.app import build_app
from potcot.server.web.settings import ServerSettings

MODEL = "flaky-model"
PIECES = ("Two plus two", " is", " \\boxed{4}.")
USAGE_TOKENS = 7
CHAT = Prompt(messages=(ChatMessage("user", "What is 2 + 2?"),))
OPTIONS = SamplingOptions(max_tokens=16, temperature=0.0)
LIMITS = UpstreamLimits(4, 4, 5.0)

COMPLETE = "complete"  # every piece, the usage, [DONE]
DROP = "drop"  # two pieces, then the connection is cut in the middle of the body
NO_DONE = "no-done"  # every piece and a well-formed end of the body, but no [DONE]
ERROR_500 = "error-500"  # the status line says the server failed
ERROR_EVENT = "error-event"  # two pieces, then an error event, as vLLM sends when the engine dies


def streamed_by(behaviour: str) -> tuple[str, ...]:
    """The pieces of text a behaviour sends before it fails, or in all."""
    return PIECES[:2] if behaviour in (DROP, ERROR_EVENT) else PIECES


class FlakyUpstream(http.server.ThreadingHTTPServer):
    """An OpenAI-compatible upstream that serves each generation request as the next behaviour of
    its script, and as ``COMPLETE`` once the script is used up."""

    def __init__(self, *script: str) -> None:
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        self.script = collections.deque(script)
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: the engine under test hangs up on purpose (a closed stream, a cancelled probe)."""

    def next_behaviour(self) -> str:
        self.requests += 1
        return self.script.popleft() if self.script else COMPLETE


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    server: FlakyUpstream
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = {"data": [{"id": MODEL, "max_model_len": 4096}]} if self.path == "/v1/models" else {}
        self._whole(200 if self.path in ("/v1/models", "/health") else 404, json.dumps(body))

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        behaviour = self.server.next_behaviour()
        if behaviour == ERROR_500:
            self._whole(500, json.dumps({"error": {"message": "the engine is gone", "code": 500}}))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in streamed_by(behaviour):
            self._chunk({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        if behaviour == DROP:
            self.close_connection = True
            return  # no terminating chunk: the body ends in the middle
        if behaviour == ERROR_EVENT:
            self._chunk({"error": {"message": "the engine died", "type": "InternalServerError", "code": 500}})
        else:
            self._chunk({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": USAGE_TOKENS}})
        if behaviour == COMPLETE:
            self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _chunk(self, event: dict[str, object]) -> None:
        self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _whole(self, status: int, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read what the engine made of the failures."""


Flaky = Callable[..., FlakyUpstream]


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    """Starts a ``FlakyUpstream`` with the script given, and stops them all after the test."""
    running: list[tuple[FlakyUpstream, threading.Thread]] = []

    def start(*script: str) -> FlakyUpstream:
        server = FlakyUpstream(*script)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def engine_on(*servers: FlakyUpstream) -> OpenAIEngine:
    """The engine as ``start`` builds it, without the health probes, whose timing would race the
    failures a test counts."""
    return OpenAIEngine([server.url for server in servers], MODEL, 4096, httpx.AsyncClient(), LIMITS)


@pytest.mark.anyio
async def test_a_failure_before_the_first_token_moves_on_to_the_next_upstream(flaky: Flaky) -> None:
    broken, sound = flaky(ERROR_500), flaky()
    engine = engine_on(broken, sound)
    try:
        generation = await engine.generate(CHAT, OPTIONS, "r-1")
    finally:
        await engine.close()
    assert generation.texts == ["".join(PIECES)]
    assert (broken.requests, sound.requests) == (1, 1)


@pytest.mark.anyio
async def test_an_unreachable_upstream_is_passed_over(flaky: Flaky) -> None:
    sound = flaky()
    gone = FlakyUpstream()
    gone.server_close()  # its port is closed: connections are refused
    engine = engine_on(gone, sound)
    try:
        generations = [await engine.generate(CHAT, OPTIONS, f"r-{index}") for index in range(4)]
    finally:
        await engine.close()
    assert [generation.texts for generation in generations] == [["".join(PIECES)]] * 4


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [DROP, NO_DONE, ERROR_EVENT])
async def test_a_failure_after_output_began_is_never_stitched_to_another_upstream(flaky: Flaky, failure: str) -> None:
    broken, sound = flaky(failure), flaky()
    engine = engine_on(broken, sound)
    try:
        with pytest.raises(GenerationInterrupted, match="mid-generation") as interrupted:
            await engine.generate(CHAT, OPTIONS, "r-1")
    finally:
        await engine.close()
    assert sound.requests == 0
    assert interrupted.value.completion_tokens >= 2  # the pieces it had streamed


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [DROP, NO_DONE, ERROR_EVENT])
async def test_a_generation_that_broke_off_is_begun_again_from_nothing(flaky: Flaky, failure: str) -> None:
    only = flaky(failure)
    engine = engine_on(only)
    shown: list[str] = []
    try:
        generation = await engine.generate_afresh(CHAT, OPTIONS, "r-1")
        with pytest.raises(GenerationInterrupted):  # text already shown cannot be taken back
            only.script.append(failure)
            await engine.generate_afresh(CHAT, OPTIONS, "r-2", shown.append)
    finally:
        await engine.close()
    assert generation.texts == ["".join(PIECES)]
    assert generation.wasted_tokens >= 2
    assert generation.completion_tokens == USAGE_TOKENS + generation.wasted_tokens
    assert shown == list(streamed_by(failure))


@pytest.mark.anyio
async def test_before_the_first_token_the_only_upstream_is_tried_again(flaky: Flaky) -> None:
    """A router whose replica died under the request before it streamed anything: the next try
    lands on a replica that is alive."""
    only = flaky(ERROR_500)
    engine = engine_on(only)
    try:
        generation = await engine.generate(CHAT, OPTIONS, "r-1")
    finally:
        await engine.close()
    assert generation.texts == ["".join(PIECES)]
    assert only.requests == 2


@pytest.mark.anyio
async def test_one_broken_request_does_not_make_the_only_upstream_unhealthy(flaky: Flaky) -> None:
    only = flaky(DROP)
    engine = engine_on(only)
    try:
        with pytest.raises(GenerationInterrupted):
            await engine.generate(CHAT, OPTIONS, "r-1")
        await engine.check_health()
        only.script.extend([ERROR_500] * UpstreamHealth.FAILURES_IN_A_ROW)
        with pytest.raises(EngineUnavailable, match="no upstream server could take the request"):
            await engine.generate(CHAT, OPTIONS, "r-2")  # every try failed
        with pytest.raises(EngineUnavailable, match="answered 500"):
            await engine.check_health()  # failures in a row do
        assert (await engine.generate(CHAT, OPTIONS, "r-3")).texts == ["".join(PIECES)]
        await engine.check_health()  # and a success heals
    finally:
        await engine.close()


HEALTH_EVENTS = [
    ("nothing known", [], True),
    ("one request failed", ["failed"], True),
    ("failures in a row", ["failed"] * UpstreamHealth.FAILURES_IN_A_ROW, False),
    ("failures broken by a success", ["failed", "failed", "succeeded", "failed", "failed"], True),
    ("a failed probe", ["probe failed"], False),
    ("a failed probe, then a request served", ["probe failed", "succeeded"], False),
    ("a passing probe after failures", [*["failed"] * UpstreamHealth.FAILURES_IN_A_ROW, "probe passed"], True),
]


@pytest.mark.parametrize(("events", "healthy"), [case[1:] for case in HEALTH_EVENTS], ids=[c[0] for c in HEALTH_EVENTS])
def test_health_comes_from_probes_and_failures_in_a_row(events: list[str], healthy: bool) -> None:
    health = UpstreamHealth("http://replica")
    for event in events:
        if event == "failed":
            health.failed(RuntimeError("connection reset"))
        elif event == "succeeded":
            health.succeeded()
        else:
            health.probed("/health answered 503" if event == "probe failed" else None)
    assert health.healthy is healthy


# --- through the app ---------------------------------------------------------------------------


@contextlib.contextmanager
def app_on(upstream: FlakyUpstream) -> Iterator[TestClient]:
    """The app as ``potcot serve --engine openai --upstream URL`` builds it, once it is ready."""
    settings = ServerSettings(engine="openai", upstream=[upstream.url], sandbox_workers=1)
    with TestClient(build_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client


CHAT_BODY = {"model": MODEL, "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 16}


def test_a_passthrough_that_broke_off_answers_502(flaky: Flaky) -> None:
    with app_on(flaky(DROP)) as client:
        response = client.post("/v1/chat/completions", json=CHAT_BODY)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "bad_gateway"
    assert "mid-generation" in response.json()["error"]["message"]


def test_a_streamed_passthrough_that_broke_off_ends_with_an_error_event(flaky: Flaky) -> None:
    with app_on(flaky(NO_DONE)) as client:
        response = client.post("/v1/chat/completions", json={**CHAT_BODY, "stream": True})
    assert response.status_code == 200
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert (error["code"], error["type"]) == (None, "bad_gateway")
    streamed = "".join(
        choice["delta"].get("content") or "" for event in events[:-2] for choice in json.loads(event)["choices"]
    )
    assert streamed == "".join(PIECES)  # what the upstream sent, once, and nothing after


def test_a_solve_whose_generation_broke_off_is_regenerated_and_counts_the_waste(
    flaky: Flaky,
) -> None:
    upstream = flaky(DROP)
    with app_on(upstream) as client:
        response = client.post("/solve", json={"question": "What is 2 + 2?", "strategy": "cot", "max_tokens": 16})
    assert response.status_code == 200, response.text
    solved = response.json()
    assert solved["answer"] == "4"
    assert solved["attempts"][0]["completion"] == "".join(PIECES)  # whole, not stitched
    assert solved["usage"]["wasted_tokens"] >= 2
    assert solved["usage"]["completion_tokens"] == USAGE_TOKENS + solved["usage"]["wasted_tokens"]
    assert upstream.requests == 2


def test_a_solve_whose_every_try_broke_off_answers_502(flaky: Flaky) -> None:
    with app_on(flaky(*[DROP] * 10)) as client:
        response = client.post("/solve", json={"question": "What is 2 + 2?", "strategy": "cot", "max_tokens": 16})
    assert response.status_code == 502, response.text
    assert "mid-generation" in response.json()["error"]["message"]
