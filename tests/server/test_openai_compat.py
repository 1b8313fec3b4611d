"""OpenAI compatibility with a scripted engine: every shape potcot answers, errors included, checked
against OpenAI's published schemas (``tests/server/openai_spec``), and the surface clients expect:
``GET /v1/models/{model}``, ``developer`` messages, ``stream_options`` only with ``stream``, union
errors in one sentence, CORS when configured, vLLM's tokenizer endpoints, token-id prompts and
``echo``, and what solving ids say of their attempts. The same against the real engine is in
``test_openai_live.py``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from potcot.server.engines import ChoiceDelta, EngineUnavailable, GenerationChunk, SamplingOptions
from potcot.server.prompts import Prompt
from potcot.server.web.protocol import IGNORED_FIELDS, REFUSED_FIELDS
from potcot.server.web.protocol_openai import ChatCompletionRequest, ChatMessageIn, CompletionRequest
from potcot.server.web.settings import ServerSettings
from tests.server.openai_spec import assert_valid, request_fields
from tests.server.scripted import ScriptedEngine, client_for

MODEL = "scripted-model"
SETTINGS = ServerSettings(sandbox_workers=1, max_generations_in_flight=16)
PROGRAM = "```python\nprint(6 * 7)\n```"
USER = [{"role": "user", "content": "What is six times seven?"}]
CHAT = {"model": MODEL, "messages": USER}
COMPLETION = {"model": MODEL, "prompt": "1 + 1 ="}


@pytest.fixture(scope="module")
def engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture(scope="module")
def client(engine: ScriptedEngine) -> Iterator[TestClient]:
    with client_for(engine, SETTINGS) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def scripted(engine: ScriptedEngine) -> None:
    engine.completions[:] = [PROGRAM] * 8
    engine.finish_reasons.clear()
    engine.prompts.clear()
    engine.options.clear()


def events(response) -> list[dict]:
    """The JSON events of a streamed response, without the closing ``[DONE]``."""
    assert response.status_code == 200, response.text
    lines = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


# --- every shape, against OpenAI's schemas ------------------------------------------------------------

CHAT_BODIES = {
    "plain": {},
    "n=2, stop, seed": {"n": 2, "stop": ["\n\n", "Q:"], "seed": 3, "temperature": 0.5},
    "logprobs": {"logprobs": True, "top_logprobs": 2},
    "JSON schema": {
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    },
    "developer message": {"messages": [{"role": "developer", "content": "Be brief."}, *USER]},
}


@pytest.mark.parametrize("fields", CHAT_BODIES.values(), ids=list(CHAT_BODIES))
def test_chat_completions_match_the_schema(client: TestClient, fields: dict) -> None:
    body = ok(client.post("/v1/chat/completions", json={**CHAT, **fields}))
    assert_valid(body, "CreateChatCompletionResponse")
    assert all(choice["message"]["refusal"] is None for choice in body["choices"])
    assert all(choice["logprobs"] is None or choice["logprobs"]["refusal"] is None for choice in body["choices"])


@pytest.mark.parametrize("usage", [False, True], ids=["no usage", "usage chunk"])
@pytest.mark.parametrize("fields", CHAT_BODIES.values(), ids=list(CHAT_BODIES))
def test_chat_chunks_match_the_schema(client: TestClient, fields: dict, usage: bool) -> None:
    options = {"stream_options": {"include_usage": True}} if usage else {}
    chunks = events(client.post("/v1/chat/completions", json={**CHAT, **fields, "stream": True, **options}))
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert all("finish_reason" in choice and "logprobs" in choice for choice in chunk["choices"])
        assert ("usage" in chunk) == usage  # null until the last, and only when asked for
    assert [choice["finish_reason"] for chunk in chunks for choice in chunk["choices"]][-1] == "stop"
    if usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
        assert all(chunk["usage"] is None for chunk in chunks[:-1])


@pytest.mark.parametrize("strategy", ["hybrid", "cot", "vote"])
def test_solving_ids_match_the_schema(client: TestClient, strategy: str) -> None:
    body = {**CHAT, "model": f"{MODEL}:{strategy}", "max_tokens": 64}
    assert_valid(ok(client.post("/v1/chat/completions", json=body)), "CreateChatCompletionResponse")
    streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
    for chunk in events(client.post("/v1/chat/completions", json=streamed)):
        assert_valid(chunk, "CreateChatCompletionStreamResponse")


COMPLETION_BODIES = {
    "plain": ({}, ()),
    "two prompts, n=2": ({"prompt": ["a", "b"], "n": 2}, ()),
    "logprobs": ({"logprobs": 2}, ()),
    "token ids": ({"prompt": [49, 32, 43]}, ()),
    "lists of token ids, two prompts": ({"prompt": [[49, 32], [50]]}, ()),
    "echo": ({"echo": True}, ()),
    "echo with logprobs": ({"echo": True, "logprobs": 1, "max_tokens": 1}, ("echo",)),
    "echo of the prompt alone": ({"echo": True, "logprobs": 1, "max_tokens": 0}, ("echo",)),
}


@pytest.mark.parametrize(("fields", "errata"), COMPLETION_BODIES.values(), ids=list(COMPLETION_BODIES))
def test_completions_match_the_schema(client: TestClient, fields: dict, errata: tuple[str, ...]) -> None:
    assert_valid(ok(client.post("/v1/completions", json={**COMPLETION, **fields})), "CreateCompletionResponse", *errata)


# A stream takes one prompt.
STREAMED_COMPLETIONS = {name: body for name, body in COMPLETION_BODIES.items() if "prompts" not in name}


@pytest.mark.parametrize("usage", [False, True], ids=["no usage", "usage chunk"])
@pytest.mark.parametrize(("fields", "errata"), STREAMED_COMPLETIONS.values(), ids=list(STREAMED_COMPLETIONS))
def test_completion_chunks_match_the_schema(
    client: TestClient, fields: dict, errata: tuple[str, ...], usage: bool
) -> None:
    options = {"stream_options": {"include_usage": True}} if usage else {}
    chunks = events(client.post("/v1/completions", json={**COMPLETION, **fields, "stream": True, **options}))
    for chunk in chunks:
        assert_valid(chunk, "CreateCompletionResponse", "streamed", *errata)
        assert all("finish_reason" in choice and "logprobs" in choice for choice in chunk["choices"])
    # Usage in the last chunk only: the schema has no null for it.
    assert ["usage" in chunk for chunk in chunks] == [False] * (len(chunks) - usage) + [True] * usage


def test_models_match_the_schema(client: TestClient) -> None:
    listed = ok(client.get("/v1/models"))
    assert_valid(listed, "ListModelsResponse")
    for card in listed["data"]:
        single = ok(client.get(f"/v1/models/{card['id']}"))
        assert_valid(single, "Model")
        assert {**single, "created": card["created"]} == card


ERRORS = {
    "unknown model": ("POST", "/v1/chat/completions", {**CHAT, "model": "gpt-9"}, 404, "model_not_found"),
    "unknown model card": ("GET", "/v1/models/gpt-9", None, 404, "model_not_found"),
    "a refused field": ("POST", "/v1/chat/completions", {**CHAT, "tools": [{"type": "function"}]}, 400, None),
    "a budget past the context": ("POST", "/v1/completions", {**COMPLETION, "max_tokens": 5000}, 400, None),
    "a wrong type": ("POST", "/v1/completions", {**COMPLETION, "prompt": 5}, 400, None),
    "malformed JSON": ("POST", "/v1/completions", b"{", 400, None),
    "an unknown path": ("GET", "/v1/everything", None, 404, None),
    "a method the path lacks": ("DELETE", "/v1/models", None, 405, None),
}


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), ERRORS.values(), ids=list(ERRORS))
def test_errors_match_the_schema(
    client: TestClient, method: str, path: str, body: object, status: int, code: str | None
) -> None:
    content = body if isinstance(body, bytes) else None
    response = client.request(
        method, path, json=None if content else body, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert_valid(response.json(), "ErrorResponse")
    if code is not None:
        assert response.json()["error"]["code"] == code
    refused = response.json()["error"]
    if "tools" in refused["message"]:
        assert (refused["param"], refused["code"]) == ("tools", "unsupported_parameter")


class _FailsMidStream(ScriptedEngine):
    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        yield GenerationChunk((ChoiceDelta(0, "Six"),), prompt_tokens=3, completion_tokens=1)
        await asyncio.sleep(0)
        raise EngineUnavailable("the engine went away")


@pytest.mark.parametrize(("path", "body"), [("/v1/chat/completions", CHAT), ("/v1/completions", COMPLETION)])
def test_an_error_event_matches_the_schema(path: str, body: dict) -> None:
    with client_for(_FailsMidStream(), SETTINGS) as failing:
        chunks = events(failing.post(path, json={**body, "stream": True}))
    assert_valid(chunks[-1], "ErrorResponse")
    assert chunks[-1]["error"]["type"] == "service_unavailable"


# --- every request field, as docs/api.md lists it -----------------------------------------------------

API_REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
REQUESTS = {"CreateChatCompletionRequest": ChatCompletionRequest, "CreateCompletionRequest": CompletionRequest}


def documented_fields() -> dict[str, str]:
    """The request fields of docs/api.md's table, each with how potcot treats it (its third column)."""
    section = API_REFERENCE.read_text().split("### Request fields", 1)[1].split("\n### ", 1)[0]
    treatment = {}
    for row in re.findall(r"^\| (`.+?) \|.*?\| (\w+) \|", section, flags=re.MULTILINE):
        treatment |= dict.fromkeys(re.findall(r"`(\w+)`", row[0]), row[1])
    return treatment


@pytest.mark.parametrize(("schema", "model"), REQUESTS.items(), ids=list(REQUESTS))
def test_every_openai_request_field_is_served_refused_or_advisory(schema: str, model: type) -> None:
    """Nothing OpenAI defines is accepted and silently dropped: each field of its request schema is
    declared by potcot's request model (honoured, passed to the engine, or refused) or advisory."""
    assert request_fields(schema) - set(model.model_fields) - IGNORED_FIELDS == set()


@pytest.mark.parametrize("role", ["System", "Developer", "User", "Assistant"])
def test_every_field_of_a_message_is_served_refused_or_advisory(role: str) -> None:
    assert request_fields(f"ChatCompletionRequest{role}Message") <= set(ChatMessageIn.model_fields)


@pytest.mark.parametrize(
    ("message", "param"),
    [
        (
            {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function"}]},
            "messages.1.tool_calls",
        ),
        ({"role": "tool", "content": "42", "tool_call_id": "1"}, "messages.1.role"),
    ],
    ids=["a replayed tool call", "a tool's reply"],
)
def test_tool_messages_are_refused_by_name(client: TestClient, message: dict, param: str) -> None:
    response = client.post("/v1/chat/completions", json={**CHAT, "messages": [*USER, message]})
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    with_nothing = {"role": "assistant", "content": "42", "tool_calls": [], "refusal": None, "name": "a"}
    ok(client.post("/v1/chat/completions", json={**CHAT, "messages": [*USER, with_nothing, *USER]}))


@pytest.mark.parametrize(("schema", "model"), REQUESTS.items(), ids=list(REQUESTS))
def test_the_api_reference_lists_every_request_field(schema: str, model: type) -> None:
    treatment = documented_fields()
    assert request_fields(schema) | set(model.model_fields) <= set(treatment)
    assert {treatment[field] for field in treatment if field in REFUSED_FIELDS} == {"refused"}
    assert {treatment[field] for field in IGNORED_FIELDS} == {"advisory"}
    assert set(treatment.values()) == {"honoured", "passed", "refused", "advisory"}


# --- the surface clients expect -----------------------------------------------------------------------


def test_a_model_card_by_id(client: TestClient) -> None:
    card = ok(client.get(f"/v1/models/{MODEL}:hybrid"))
    assert (card["id"], card["object"], card["owned_by"]) == (f"{MODEL}:hybrid", "model", "potcot")
    assert client.get("/v1/models/").status_code == 404
    metrics = client.get("/metrics").text
    assert 'endpoint="/v1/models/{model}"' in metrics and f'endpoint="/v1/models/{MODEL}' not in metrics


def test_developer_messages_are_system_messages(client: TestClient, engine: ScriptedEngine) -> None:
    developer = [{"role": "developer", "content": "Be brief."}, *USER]
    ok(client.post("/v1/chat/completions", json={**CHAT, "messages": developer}))
    assert [message.role for message in engine.prompts[-1].messages or ()] == ["system", "user"]
    tokenized = ok(client.post("/tokenize", json={"messages": developer}))
    system = ok(client.post("/tokenize", json={"messages": [{**developer[0], "role": "system"}, *USER]}))
    assert tokenized == system


@pytest.mark.parametrize("stream", [False, None], ids=["stream false", "no stream"])
def test_stream_options_without_a_stream_are_refused(client: TestClient, engine: ScriptedEngine, stream) -> None:
    for path, body in [("/v1/chat/completions", CHAT), ("/v1/completions", COMPLETION)]:
        fields = {"stream_options": {"include_usage": True}} | ({} if stream is None else {"stream": stream})
        response = client.post(path, json={**body, **fields})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "stream_options"
        assert "stream: true" in response.json()["error"]["message"]
        ok(client.post(path, json={**body, "stream_options": None}))
    assert len(engine.options) == 2  # only the requests whose stream_options were null reached the engine


UNIONS = {
    "a number for a prompt": (
        "/v1/completions",
        {**COMPLETION, "prompt": 5},
        "prompt",
        "prompt: must be a string, an array of strings, an array of token ids (integers from 0), "
        "or an array of such arrays",
    ),
    "a mixed prompt": ("/v1/completions", {**COMPLETION, "prompt": ["a", 1]}, "prompt", "prompt: must be a string"),
    "a negative token id": ("/v1/completions", {**COMPLETION, "prompt": [3, -1]}, "prompt", "integers from 0"),
    "a number for stop": (
        "/v1/chat/completions",
        {**CHAT, "stop": 7},
        "stop",
        "stop: must be a string, an array of at most 4 strings, or null",
    ),
    "an image part": (
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        "messages.0.content",
        "messages.0.content: must be a string or an array of text parts",
    ),
}


@pytest.mark.parametrize(("path", "body", "param", "message"), UNIONS.values(), ids=list(UNIONS))
def test_union_errors_name_the_field_and_what_it_accepts(
    client: TestClient, path: str, body: dict, param: str, message: str
) -> None:
    error = client.post(path, json=body).json()["error"]
    assert error["param"] == param
    assert error["message"].startswith(f"{param}: must be ") and message in error["message"]
    assert ";" not in error["message"] and "list[" not in error["message"]  # one sentence, no branches


CORS = ServerSettings(
    sandbox_workers=1, allowed_origins=["https://ui.example"], allow_credentials=True, api_key=["sk-cors"]
)
PREFLIGHT = {
    "Origin": "https://ui.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_cors_when_configured() -> None:
    with client_for(ScriptedEngine(PROGRAM), CORS) as browser:
        preflight = browser.options("/v1/chat/completions", headers=PREFLIGHT)
        assert preflight.status_code == 200, preflight.text  # no key: a preflight carries none
        assert preflight.headers["access-control-allow-origin"] == "https://ui.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        refused = browser.post("/v1/chat/completions", json=CHAT, headers={"Origin": "https://ui.example"})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://ui.example"
        served = browser.post(
            "/v1/chat/completions",
            json=CHAT,
            headers={"Origin": "https://ui.example", "Authorization": "Bearer sk-cors"},
        )
        assert served.status_code == 200 and served.headers["access-control-allow-origin"] == "https://ui.example"
        other = browser.options("/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


def test_no_cors_by_default(client: TestClient) -> None:
    assert client.options("/v1/chat/completions", headers=PREFLIGHT).status_code == 405
    plain = client.get("/v1/models", headers={"Origin": "https://ui.example"})
    assert "access-control-allow-origin" not in plain.headers


# --- vLLM's tokenizer endpoints -----------------------------------------------------------------------


def test_tokenize_and_detokenize(client: TestClient) -> None:
    tokens = ok(client.post("/tokenize", json={"prompt": "1 + 1", "return_token_strs": True}))
    assert tokens == {"count": 5, "max_model_len": 4096, "tokens": [49, 32, 43, 32, 49], "token_strs": list("1 + 1")}
    assert ok(client.post("/tokenize", json={"model": MODEL, "prompt": "ab"}))["token_strs"] is None
    chat = ok(client.post("/tokenize", json={"messages": USER, "add_generation_prompt": False}))
    assert chat["count"] == len(USER[0]["content"])
    assert ok(client.post("/detokenize", json={"tokens": tokens["tokens"]})) == {"prompt": "1 + 1"}


def test_tokenizer_info(client: TestClient) -> None:
    info = ok(client.get("/tokenizer_info"))
    assert info["tokenizer_class"] == "ScriptedTokenizer" and "eos_token" in info


TOKENIZE_REFUSED = {
    "neither prompt nor messages": ("/tokenize", {}, 400, "body"),
    "both": ("/tokenize", {"prompt": "a", "messages": USER}, 400, "body"),
    "an unknown model": ("/tokenize", {"model": "gpt-9", "prompt": "a"}, 404, "model"),
    "a template of the client's": ("/tokenize", {"messages": USER, "chat_template": "{{ x }}"}, 400, "chat_template"),
    "an id past the vocabulary": ("/detokenize", {"tokens": [1, 10**6]}, 400, None),
    "a negative id": ("/detokenize", {"tokens": [-1]}, 400, "tokens.0"),
}


@pytest.mark.parametrize(("path", "body", "status", "param"), TOKENIZE_REFUSED.values(), ids=list(TOKENIZE_REFUSED))
def test_tokenizer_endpoints_refuse_by_name(
    client: TestClient, path: str, body: dict, status: int, param: str | None
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert_valid(response.json(), "ErrorResponse")
    assert response.json()["error"]["param"] == param


# --- /v1/completions as vLLM serves it ----------------------------------------------------------------


def test_token_id_prompts(client: TestClient, engine: ScriptedEngine) -> None:
    body = ok(client.post("/v1/completions", json={**COMPLETION, "prompt": [[49, 43], [50]], "max_tokens": 4}))
    assert [prompt.token_ids for prompt in engine.prompts] == [(49, 43), (50,)]
    assert [choice["index"] for choice in body["choices"]] == [0, 1]
    ok(client.post("/v1/completions", json={**COMPLETION, "prompt": [49, 43]}))
    assert engine.prompts[-1].token_ids == (49, 43)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("max_tokens", [0, 1, 16])
def test_echo_with_logprobs_is_the_prompt_then_the_completion(
    client: TestClient, engine: ScriptedEngine, stream: bool, max_tokens: int
) -> None:
    """As lm-evaluation-harness asks for a log-likelihood: the prompt's tokens, the first with no
    log-probability, then the completion's; with ``max_tokens`` 0, the prompt alone."""
    engine.completions[:] = ["42"]
    fields = {"prompt": [[49, 32, 43]], "echo": True, "logprobs": 1, "max_tokens": max_tokens, "stream": stream}
    response = client.post("/v1/completions", json={**COMPLETION, **fields})
    choices = [c for e in events(response) for c in e["choices"]] if stream else ok(response)["choices"]
    text = "".join(choice["text"] for choice in choices)
    logprobs = {
        key: [v for c in choices if c["logprobs"] for v in c["logprobs"][key]]
        for key in ("tokens", "token_logprobs", "top_logprobs", "text_offset")
    }
    assert text == ("1 +" if max_tokens == 0 else "1 +42")
    assert "".join(logprobs["tokens"]) == text
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert logprobs["token_logprobs"][1:] == [-0.5] * (len(text) - 1)
    assert logprobs["text_offset"] == list(range(len(text)))
    assert all(
        top == {token: -0.5} for token, top in zip(logprobs["tokens"][1:], logprobs["top_logprobs"][1:], strict=True)
    )
    assert choices[-1]["finish_reason"] == ("length" if max_tokens == 0 else "stop")
    assert engine.options[-1].prompt_logprobs == 1 and engine.options[-1].max_tokens == max(max_tokens, 1)


def test_echo_without_logprobs(client: TestClient) -> None:
    body = ok(client.post("/v1/completions", json={**COMPLETION, "echo": True}))
    assert body["choices"][0]["text"] == "1 + 1 =" + PROGRAM and body["choices"][0]["logprobs"] is None


def test_max_tokens_zero_needs_echo(client: TestClient, engine: ScriptedEngine) -> None:
    response = client.post("/v1/completions", json={**COMPLETION, "max_tokens": 0})
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_tokens"
    assert engine.options == []


# --- solving ids --------------------------------------------------------------------------------------

# (what each attempt writes, how each ends, the finish_reason of the reply)
FINISHES = {
    "a program that answered": ([PROGRAM], ["stop"], "stop"),
    "a cut program that still answered": ([PROGRAM], ["length"], "length"),
    "a cut program, then a whole chain of thought": (
        ["```python\nprint(", "The answer is 42."],
        ["length", "stop"],
        "stop",
    ),
    "both cut": (["```python\nprint(", "6 times 7 is"], ["length", "length"], "length"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(("completions", "reasons", "finish"), FINISHES.values(), ids=list(FINISHES))
def test_a_solve_finishes_as_the_attempt_that_decided_it(
    client: TestClient, engine: ScriptedEngine, completions: list[str], reasons: list[str], finish: str, stream: bool
) -> None:
    engine.completions[:], engine.finish_reasons[:] = completions, reasons
    body = {**CHAT, "model": f"{MODEL}:hybrid", "max_tokens": 32, "stream": stream}
    response = client.post("/v1/chat/completions", json=body)
    choices = [c for e in events(response) for c in e["choices"]] if stream else ok(response)["choices"]
    assert choices[-1]["finish_reason"] == finish


def test_a_solve_honours_stop_in_every_attempt_and_counts_them_all(client: TestClient, engine: ScriptedEngine) -> None:
    engine.completions[:] = ["no program here", "The answer is 42."]
    body = {**CHAT, "model": f"{MODEL}:hybrid", "stop": ["\n\nQ:"], "max_tokens": 32}
    reply = ok(client.post("/v1/chat/completions", json=body))
    assert [options.stop for options in engine.options] == [("\n\nQ:",), ("\n\nQ:",)]
    assert [options.max_tokens for options in engine.options] == [32, 32]  # each attempt's own bound
    attempts = reply["solve"]["attempts"]
    assert len(attempts) == 2
    assert reply["usage"]["completion_tokens"] == sum(len(attempt["completion"]) for attempt in attempts)
    assert reply["usage"]["prompt_tokens"] == 7 * 2
