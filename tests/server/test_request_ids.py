"""``X-Request-Id``, with scripted engines: a client's id comes back on every response (errors and
streams too), bounded and printable, but never becomes the engine's request id, so two requests
that carry the same one still get their own answers."""

import logging
import re
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from potcot.server.engines import Engine, GenerationChunk, SamplingOptions
from potcot.server.prompts import Prompt
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import KeyedByIdEngine, ScriptedEngine
from tests.server.scripted import client_for as scripted_client

MODEL = "scripted-model"
SETTINGS = ServerSettings(sandbox_workers=1, max_generations_in_flight=4)
CLIENT_ID = "trace-7f3a"
GENERATED = re.compile(r"[0-9a-f]{32}")


def client_for(engine: Engine, settings: ServerSettings = SETTINGS) -> TestClient:
    """A client that sees the server's 500s as responses: the request id must be on them too."""
    return scripted_client(engine, settings, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def engine() -> ScriptedEngine:
    return ScriptedEngine(*["```python\nprint(6 * 7)\n```"] * 100)


@pytest.fixture(scope="module")
def client(engine: ScriptedEngine) -> Iterator[TestClient]:
    with client_for(engine) as test_client:
        yield test_client


CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = [
    ("solve", "POST", "/solve", {"question": "What is six times seven?"}, 200),
    ("models", "GET", "/v1/models", None, 200),
    ("health", "GET", "/health", None, 200),
    ("invalid body", "POST", "/solve", {"strategy": "pot"}, 400),
    ("unknown model", "POST", "/v1/chat/completions", {**CHAT, "model": "gpt-9"}, 404),
    ("unknown path", "GET", "/v2/everything", None, 404),
    ("wrong method", "GET", "/solve", None, 405),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), [r[1:] for r in RESPONSES], ids=[r[0] for r in RESPONSES]
)
def test_the_client_id_is_echoed(client: TestClient, method: str, path: str, body: object, status: int) -> None:
    response = client.request(method, path, json=body, headers={"X-Request-Id": CLIENT_ID})
    assert response.status_code == status
    assert response.headers["x-request-id"] == CLIENT_ID


def test_echoed_on_a_refusal_before_any_route(client: TestClient) -> None:
    response = client.post(
        "/solve", content=b"x" * (9 * 2**20), headers={"content-type": "application/json", "X-Request-Id": CLIENT_ID}
    )
    assert response.status_code == 413 and response.headers["x-request-id"] == CLIENT_ID


def test_echoed_on_a_401() -> None:
    with client_for(ScriptedEngine(), ServerSettings(sandbox_workers=1, api_key=["k"])) as keyed:
        response = keyed.get("/v1/models", headers={"X-Request-Id": CLIENT_ID})
    assert response.status_code == 401 and response.headers["x-request-id"] == CLIENT_ID


def test_echoed_on_a_stream(client: TestClient) -> None:
    body = {**CHAT, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body, headers={"X-Request-Id": CLIENT_ID}) as response:
        assert response.status_code == 200 and response.headers["x-request-id"] == CLIENT_ID
        assert list(response.iter_lines())[-2] == "data: [DONE]"


class BrokenEngine(ScriptedEngine):
    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        raise RuntimeError("a bug")
        yield


def test_echoed_and_logged_on_an_unexpected_error(caplog: pytest.LogCaptureFixture) -> None:
    with client_for(BrokenEngine()) as broken, caplog.at_level(logging.ERROR, logger="potcot.server.web.app"):
        response = broken.post(
            "/v1/completions", json={"model": MODEL, "prompt": "x"}, headers={"X-Request-Id": CLIENT_ID}
        )
    assert response.status_code == 500 and response.json()["error"]["type"] == "internal_server_error"
    assert response.headers["x-request-id"] == CLIENT_ID
    assert f"X-Request-Id {CLIENT_ID}" in caplog.text


INVALID = [
    ("too long", "a" * 129),
    ("a space", "two words"),
    ("a tab", "a\tb"),
    ("a control character", "a\x7fb"),
    ("not ASCII", "café"),
    ("empty", ""),
]


@pytest.mark.parametrize("value", [v[1] for v in INVALID], ids=[v[0] for v in INVALID])
def test_an_invalid_id_is_replaced_by_one_of_the_servers(client: TestClient, value: str) -> None:
    response = client.get("/health", headers={"X-Request-Id": value.encode("latin-1")})
    assert GENERATED.fullmatch(response.headers["x-request-id"])
    assert len(response.headers.get_list("x-request-id")) == 1


def test_the_longest_valid_id_is_kept(client: TestClient) -> None:
    longest = "~" + "a" * 126 + "!"
    assert client.get("/health", headers={"X-Request-Id": longest}).headers["x-request-id"] == longest


def test_without_an_id_each_response_gets_a_fresh_one(client: TestClient) -> None:
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(GENERATED.fullmatch(value) for value in ids)


def test_the_engine_never_sees_the_client_id(client: TestClient, engine: ScriptedEngine) -> None:
    before = len(engine.request_ids)
    for _ in range(2):
        client.post("/solve", json={"question": "q", "strategy": "pot"}, headers={"X-Request-Id": CLIENT_ID})
    ids = engine.request_ids[before:]
    assert len(ids) == len(set(ids)) == 2
    assert all(CLIENT_ID not in request_id for request_id in ids)


REQUESTS = [
    ("chat", "/v1/chat/completions", lambda q: {"model": MODEL, "messages": [{"role": "user", "content": q}]}),
    ("completions", "/v1/completions", lambda q: {"model": MODEL, "prompt": q}),
]


def answer_of(path: str, body: dict) -> str:
    choice = body["choices"][0]
    return choice["message"]["content"] if path == "/v1/chat/completions" else choice["text"]


@pytest.mark.parametrize(("path", "make_body"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS])
def test_concurrent_requests_with_one_id_get_their_own_answers(path: str, make_body) -> None:
    answers = {"Spell one.": "one", "Spell two.": "two"}
    engine = KeyedByIdEngine(answers, expected=len(answers))
    with client_for(engine) as client, ThreadPoolExecutor(len(answers)) as pool:
        futures = {
            question: pool.submit(client.post, path, json=make_body(question), headers={"X-Request-Id": "same"})
            for question in answers
        }
        responses = {question: future.result(timeout=60) for question, future in futures.items()}
    for question, response in responses.items():
        assert response.status_code == 200, response.text
        assert answer_of(path, response.json()) == answers[question]
        assert response.headers["x-request-id"] == "same"
    assert len(set(engine.request_ids)) == len(answers) and "same" not in engine.request_ids
