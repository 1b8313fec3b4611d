"""Through ``--engine openai`` the completions surface of vLLM passes to the upstream vLLM: token-id
prompts, ``echo`` with the prompt's log-probabilities, and the tokenizer endpoints (``/tokenize``,
``/detokenize``, ``/tokenizer_info``), which the upstream answers with its own tokenizer. The
upstream here is a fake vLLM, served in process over httpx's ASGI transport, that records what it
is asked; the app in front is the one ``potcot serve`` builds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.testclient import TestClient

from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamLimits
from potcot.server.web.settings import ServerSettings
from tests.server.openai_spec import assert_valid
from tests.server.scripted import client_for

MODEL = "vllm-model"
UPSTREAM = "http://upstream.test"
VOCABULARY = 49_152
IDS = [16, 1019, 216]  # "1 + 1" by the fake tokenizer
PROMPT_TOKENS = ["1", " +", " 1"]
PROMPT_LOGPROBS = {
    "tokens": PROMPT_TOKENS,
    "token_logprobs": [None, -1.5, -0.25],
    "top_logprobs": [None, {" +": -1.5, " -": -2.0}, {" 1": -0.25}],
    "text_offset": [0, 1, 3],
}
GENERATED = {"tokens": [" ="], "token_logprobs": [-0.5], "top_logprobs": [{" =": -0.5}], "text_offset": [0]}
TOKENIZER_INFO = {"tokenizer_class": "GPT2TokenizerFast", "eos_token": "<|im_end|>", "model_max_length": 8192}


class FakeVllm:
    """vLLM's OpenAI server as far as the remote engine reaches: it records each request, as
    ``(path, body)``, answers a streamed completion with one token ``" ="``, an echo with
    ``max_tokens`` 0 with the prompt's log-probabilities, and the tokenizer endpoints as vLLM's."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.app = FastAPI()
        self.app.get("/v1/models")(self.models)
        self.app.get("/tokenizer_info")(self.tokenizer_info)
        self.app.post("/v1/completions")(self.completions)
        self.app.post("/tokenize")(self.tokenize)
        self.app.post("/detokenize")(self.detokenize)

    async def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "max_model_len": 4096}]}

    async def tokenizer_info(self) -> dict[str, Any]:
        return TOKENIZER_INFO

    async def _body(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        self.received.append((request.url.path, body))
        return body

    async def completions(self, request: Request) -> Any:
        body = await self._body(request)
        if not body.get("stream"):
            choice = {"index": 0, "text": "1 + 1", "finish_reason": "length", "logprobs": PROMPT_LOGPROBS}
            return {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}
        events = [
            {"choices": [{"index": 0, "text": " =", "finish_reason": None, "logprobs": GENERATED}]},
            {"choices": [{"index": 0, "text": "", "finish_reason": "length"}]},
            {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
        ]
        stream = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        return StreamingResponse(iter([stream]), media_type="text/event-stream")

    async def tokenize(self, request: Request) -> Any:
        body = await self._body(request)
        if body.get("model") != MODEL:
            return JSONResponse({"error": {"message": "The model does not exist.", "code": 404}}, status_code=404)
        strings = PROMPT_TOKENS if body.get("return_token_strs") else None
        return {"count": 3, "max_model_len": 4096, "tokens": IDS, "token_strs": strings}

    async def detokenize(self, request: Request) -> Any:
        body = await self._body(request)
        if max(body["tokens"]) >= VOCABULARY:
            message = f"Token id {max(body['tokens'])} is out of vocabulary"
            return JSONResponse({"error": {"message": message, "code": 400}}, status_code=400)
        return {"prompt": "1 + 1"}


@pytest.fixture
def upstream() -> FakeVllm:
    return FakeVllm()


@pytest.fixture
def client(upstream: FakeVllm) -> Iterator[TestClient]:
    transport = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream.app))
    engine = OpenAIEngine([UPSTREAM], MODEL, 4096, transport, UpstreamLimits(2, 2, 5.0))
    with client_for(engine, ServerSettings(sandbox_workers=1)) as test_client:
        yield test_client


def test_token_ids_with_echo_and_logprobs_pass_to_the_upstream(client: TestClient, upstream: FakeVllm) -> None:
    """What lm-evaluation-harness asks to score an option: the upstream is asked for the prompt's
    log-probabilities (``echo`` with ``max_tokens`` 0) and for the generation, on the token ids as
    they came, and for the ids read back as text."""
    body = {"model": MODEL, "prompt": [IDS], "echo": True, "logprobs": 1, "max_tokens": 1}
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 200, response.text
    assert_valid(response.json(), "CreateCompletionResponse", "echo")
    choice = response.json()["choices"][0]
    assert choice["text"] == "1 + 1 ="
    assert choice["logprobs"]["tokens"] == [*PROMPT_TOKENS, " ="]
    assert choice["logprobs"]["token_logprobs"] == [None, -1.5, -0.25, -0.5]
    assert choice["logprobs"]["top_logprobs"] == [None, {" +": -1.5}, {" 1": -0.25}, {" =": -0.5}]
    asked = {path: [b for p, b in upstream.received if p == path] for path in ("/detokenize", "/v1/completions")}
    assert asked["/detokenize"] == [{"model": MODEL, "tokens": IDS}]
    echo, generation = asked["/v1/completions"]
    fields = ("prompt", "echo", "max_tokens", "logprobs", "stream")
    assert [echo.get(field) for field in fields] == [IDS, True, 0, 1, False]
    assert [generation.get(field) for field in fields] == [IDS, None, 1, 1, True]


def test_the_prompt_alone_is_the_upstreams_echo(client: TestClient) -> None:
    body = {"model": MODEL, "prompt": IDS, "echo": True, "logprobs": 1, "max_tokens": 0}
    choice = client.post("/v1/completions", json=body).json()["choices"][0]
    assert (choice["text"], choice["finish_reason"]) == ("1 + 1", "length")
    assert choice["logprobs"]["tokens"] == PROMPT_TOKENS


def test_tokenize_passes_to_the_upstream(client: TestClient, upstream: FakeVllm) -> None:
    text = client.post("/tokenize", json={"model": MODEL, "prompt": "1 + 1", "return_token_strs": True})
    assert text.json() == {"count": 3, "max_model_len": 4096, "tokens": IDS, "token_strs": PROMPT_TOKENS}
    chat = {"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "1 + 1"}]}
    assert client.post("/tokenize", json=chat).json()["tokens"] == IDS
    assert upstream.received == [
        ("/tokenize", {"model": MODEL, "add_special_tokens": True, "return_token_strs": True, "prompt": "1 + 1"}),
        (
            "/tokenize",
            {
                "model": MODEL,
                "add_special_tokens": False,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1 + 1"}],
                "add_generation_prompt": True,
            },
        ),
    ]


def test_detokenize_and_tokenizer_info_pass_to_the_upstream(client: TestClient, upstream: FakeVllm) -> None:
    assert client.post("/detokenize", json={"model": MODEL, "tokens": IDS}).json() == {"prompt": "1 + 1"}
    assert upstream.received == [("/detokenize", {"model": MODEL, "tokens": IDS})]
    assert client.get("/tokenizer_info").json() == TOKENIZER_INFO


def test_an_upstream_refusal_is_the_clients(client: TestClient, upstream: FakeVllm) -> None:
    """A 4xx from the upstream is the request's own fault: it comes back with the upstream's status
    and message, in OpenAI's error shape, and no other upstream is tried."""
    refused = client.post("/detokenize", json={"tokens": [1, 10**6]})
    assert refused.status_code == 400, refused.text
    assert_valid(refused.json(), "ErrorResponse")
    assert "Token id 1000000 is out of vocabulary" in refused.json()["error"]["message"]
    assert len(upstream.received) == 1
