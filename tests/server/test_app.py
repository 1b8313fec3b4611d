"""The HTTP layer with a scripted engine: error shapes, admission control, loading, metrics.
The same endpoints against the real engine are in ``test_integration.py``."""

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Iterator

import pytest
from fastapi.testclient import TestClient

from potcot.server.engines import ChoiceDelta, Engine, EngineUnavailable, GenerationChunk, SamplingOptions
from potcot.server.prompts import Prompt
from potcot.server.settings import EngineSettings
from potcot.server.web.app import build_app
from potcot.server.web.settings import ServerSettings
from tests.server.openai_spec import assert_valid
from tests.server.scripted import ScriptedEngine, client_for

MODEL = "scripted-model"
SETTINGS = ServerSettings(sandbox_workers=1, max_generations_in_flight=1)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with client_for(ScriptedEngine(*["```python\nprint(6 * 7)\n```"] * 20), SETTINGS) as test_client:
        yield test_client


def assert_error(response, status: int, fragment: str) -> None:
    """An error in OpenAI's shape, as its published schema has it: ``code`` one of OpenAI's codes
    (``model_not_found``) or null, never the HTTP status."""
    assert response.status_code == status, response.text
    assert_valid(response.json(), "ErrorResponse")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == ("model_not_found" if "does not exist" in error["message"] else error["code"])
    assert not isinstance(error["code"], int)
    assert fragment in error["message"]


BAD_REQUESTS = [
    ("malformed JSON", "/solve", b"{not json", 400, "not valid JSON"),
    ("empty body", "/solve", b"", 400, "body"),
    ("missing question", "/solve", {"strategy": "pot"}, 400, "question: Field required"),
    ("blank question", "/solve", {"question": "   "}, 400, "question: String should have at least 1 character"),
    ("question of the wrong type", "/solve", {"question": ["a"]}, 400, "question"),
    ("unknown strategy", "/solve", {"question": "q", "strategy": "magic"}, 400, "strategy"),
    ("one choice", "/solve", {"question": "q", "choices": ["1"]}, 400, "choices"),
    ("negative temperature", "/solve", {"question": "q", "temperature": -1}, 400, "temperature"),
    ("zero max_tokens", "/solve", {"question": "q", "max_tokens": 0}, 400, "max_tokens"),
    ("strategy id on /solve", "/solve", {"question": "q", "model": f"{MODEL}:hybrid"}, 400, "plain model id"),
    ("unknown model on /solve", "/solve", {"question": "q", "model": "gpt-9"}, 404, "does not exist"),
    (
        "unknown model",
        "/v1/chat/completions",
        {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
        404,
        "'gpt-9' does not exist",
    ),
    ("no messages", "/v1/chat/completions", {"model": MODEL, "messages": []}, 400, "messages"),
    (
        "bad role",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]},
        400,
        "role",
    ),
    (
        "temperature above 2",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "temperature": 3},
        400,
        "temperature",
    ),
    (
        "top_p of 0",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "top_p": 0},
        400,
        "top_p",
    ),
    (
        "n above 16",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "n": 17},
        400,
        "n",
    ),
    (
        "five stop sequences",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]},
        400,
        "stop",
    ),
    (
        "hybrid with n=2",
        "/v1/chat/completions",
        {"model": f"{MODEL}:hybrid", "messages": [{"role": "user", "content": "hi"}], "n": 2},
        400,
        "n must be 1",
    ),
    (
        "hybrid without a user message",
        "/v1/chat/completions",
        {"model": f"{MODEL}:hybrid", "messages": [{"role": "system", "content": "be nice"}]},
        400,
        "user message",
    ),
    ("hybrid id on completions", "/v1/completions", {"model": f"{MODEL}:pot", "prompt": "1+1="}, 400, "chat"),
    (
        "streaming two prompts",
        "/v1/completions",
        {"model": MODEL, "prompt": ["a", "b"], "stream": True},
        400,
        "single prompt",
    ),
    ("prompt too long", "/v1/completions", {"model": MODEL, "prompt": "x" * 5000}, 400, "longer than"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"), [b[1:] for b in BAD_REQUESTS], ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_requests_get_openai_errors(
    client: TestClient, path: str, body: object, status: int, fragment: str
) -> None:
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert_error(response, status, fragment)
    assert client.post("/solve", json={"question": "still fine?"}).status_code == 200


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v2/everything"), 404, "Not Found")
    assert_error(client.get("/solve"), 405, "Method Not Allowed")


def test_oversized_body_is_refused(client: TestClient) -> None:
    response = client.post("/solve", content=b"x" * (9 * 2**20), headers={"content-type": "application/json"})
    assert_error(response, 413, "MiB")


def test_solve_and_metrics(client: TestClient) -> None:
    response = client.post("/solve", json={"question": "What is six times seven?"})
    assert response.status_code == 200
    body = response.json()
    assert (body["answer"], body["answered_by"], body["requested_strategy"]) == ("42", "pot", "hybrid")
    metrics = client.get("/metrics").text
    assert 'potcot_solves_total{outcome="pot",strategy="hybrid"} 1.0' in metrics
    assert 'potcot_requests_total{endpoint="/solve",status="200"} 1.0' in metrics
    assert 'potcot_sandbox_run_seconds_count{status="ok"} 1.0' in metrics
    assert "potcot_generated_tokens_total" in metrics and "potcot_requests_in_flight 0.0" in metrics
    assert "potcot_sandbox_programs_waiting 0.0" in metrics


def test_overload_is_refused_at_once_with_retry_after() -> None:
    engine = ScriptedEngine("```python\nprint(1)\n```", "```python\nprint(2)\n```")
    engine.release.clear()
    with client_for(engine, SETTINGS) as client:
        first: dict[str, object] = {}
        waiting = threading.Thread(target=lambda: first.update(response=client.post("/solve", json={"question": "q"})))
        waiting.start()
        while "potcot_requests_in_flight 1.0" not in client.get("/metrics").text:
            pass
        refused = client.post("/solve", json={"question": "again"})
        assert_error(refused, 503, "at capacity")
        assert refused.headers["retry-after"] == "1"
        client.portal.call(engine.release.set)
        waiting.join()
        assert first["response"].status_code == 200


def test_health_waits_for_the_engine() -> None:
    loaded = asyncio.Event()
    engine = ScriptedEngine()

    async def slow_factory(_: EngineSettings) -> Engine:
        await loaded.wait()
        return engine

    with TestClient(build_app(SETTINGS, slow_factory)) as client:
        assert_error(client.get("/health"), 503, "still loading")
        assert_error(client.post("/solve", json={"question": "q"}), 503, "still loading")
        client.portal.call(loaded.set)
        while client.get("/health").status_code != 200:
            pass
        assert client.get("/v1/models").json()["data"][0]["id"] == MODEL


def test_engine_that_fails_to_load_is_reported() -> None:
    failed = threading.Event()

    async def broken_factory(_: EngineSettings) -> Engine:
        raise RuntimeError("no weights here")

    app = build_app(SETTINGS, broken_factory, on_load_failure=failed.set)
    with TestClient(app) as client:
        assert failed.wait(10)
        assert_error(client.get("/health"), 503, "no weights here")
    assert app.state.runtime.failure == "the engine failed to load: no weights here"


class _OneFailsOneWaits(ScriptedEngine):
    """Fails the prompt "fail" once the prompt "wait" is generating, and records whether the
    waiting generation was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()
        self.cancelled = False

    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        if prompt.text == "fail":
            await self.waiting.wait()
            raise EngineUnavailable("the upstream went away")
        self.waiting.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        yield GenerationChunk((ChoiceDelta(0, "late", "stop"),), prompt_tokens=1, completion_tokens=1)


def test_a_failed_prompt_cancels_the_other_generations_of_its_request() -> None:
    engine = _OneFailsOneWaits()
    settings = ServerSettings(sandbox_workers=1, max_generations_in_flight=4)
    with client_for(engine, settings) as test_client:
        response = test_client.post("/v1/completions", json={"model": MODEL, "prompt": ["wait", "fail"]})
        assert_error(response, 503, "the upstream went away")
        deadline = time.monotonic() + 5  # while the server runs: its shutdown would cancel anything
        while not engine.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.cancelled
