"""Hostile values at the protocol's door, with a scripted engine: every integer field bounded to what
the engines accept, OpenAI's fields that potcot does not implement refused by name, and text with
nothing visible in it refused like a blank one. Each refusal is a 400 in OpenAI's shape naming the
field, reached before the engine is, and the connection stays usable after it. Then what the options
potcot does implement (structured outputs, log-probabilities) ask of the engine, and the shape of
their answers."""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from potcot.server.engines import JsonOutput
from potcot.server.schema import SEED_MAX, SEED_MIN
from potcot.server.web.protocol import IGNORED_FIELDS, REFUSED_FIELDS
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import ScriptedEngine, client_for

MODEL = "scripted-model"
CONTEXT = 4096
SETTINGS = ServerSettings(sandbox_workers=1, max_generations_in_flight=4)
QUESTION = {"question": "What is six times seven?"}
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "What is six times seven?"}]}
COMPLETION = {"model": MODEL, "prompt": "1 + 1 ="}
BASES = {"/solve": QUESTION, "/v1/chat/completions": CHAT, "/v1/completions": COMPLETION}


@pytest.fixture(scope="module")
def engine() -> ScriptedEngine:
    return ScriptedEngine(max_model_len=CONTEXT)


@pytest.fixture(scope="module")
def client(engine: ScriptedEngine) -> Iterator[TestClient]:
    with client_for(engine, SETTINGS) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def programs(engine: ScriptedEngine) -> None:
    engine.completions[:] = ["```python\nprint(6 * 7)\n```"] * 4
    engine.options.clear()


def assert_refused(response, param: str, fragment: str = "") -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert error["code"] in (None, "unsupported_parameter", "context_length_exceeded")
    assert fragment in error["message"]


# (path, field, hostile value): what once reached vLLM's serializer (past 64 bits: a 500 that closed
# the connection) or the upstream unchecked, or a JSON value that is not an integer at all.
HOSTILE_INTEGERS = [
    (path, field, value)
    for path, fields in {
        "/solve": ["seed", "max_tokens"],
        "/v1/chat/completions": ["seed", "max_tokens", "max_completion_tokens", "n", "top_logprobs", "top_k"],
        "/v1/completions": ["seed", "max_tokens", "n", "logprobs", "best_of", "top_k", "min_tokens"],
    }.items()
    for field in fields
    for value in [2**64, -(2**63) - 1, 10**30, True, 1.5, "7"]
]


@pytest.mark.parametrize(("path", "field", "value"), HOSTILE_INTEGERS, ids=lambda v: repr(v)[:12])
def test_hostile_integers_are_refused_by_name(
    client: TestClient, engine: ScriptedEngine, path: str, field: str, value: object
) -> None:
    assert_refused(client.post(path, json={**BASES[path], field: value}), field)
    assert engine.options == []  # refused at the door: the engine never saw it
    assert client.post("/solve", json=QUESTION).status_code == 200


# (path, field, the largest value the field takes, what the engine is asked for).
AT_THE_BOUND = [
    ("/solve", "seed", SEED_MAX, "seed"),
    ("/solve", "seed", SEED_MIN, "seed"),
    ("/solve", "max_tokens", CONTEXT, "max_tokens"),
    ("/v1/chat/completions", "seed", SEED_MAX, "seed"),
    ("/v1/chat/completions", "max_tokens", CONTEXT, "max_tokens"),
    ("/v1/chat/completions", "max_completion_tokens", CONTEXT, "max_tokens"),
    ("/v1/chat/completions", "n", 16, "n"),
    ("/v1/completions", "seed", SEED_MIN, "seed"),
    ("/v1/completions", "max_tokens", CONTEXT, "max_tokens"),
    ("/v1/completions", "n", 16, "n"),
]


@pytest.mark.parametrize(("path", "field", "value", "option"), AT_THE_BOUND)
def test_values_at_the_bound_pass(
    client: TestClient, engine: ScriptedEngine, path: str, field: str, value: int, option: str
) -> None:
    response = client.post(path, json={**BASES[path], field: value})
    assert response.status_code == 200, response.text
    assert getattr(engine.options[0], option) == value


@pytest.mark.parametrize("path", list(BASES))
def test_a_budget_past_the_context_is_refused(client: TestClient, path: str) -> None:
    assert_refused(client.post(path, json={**BASES[path], "max_tokens": CONTEXT + 1}), "max_tokens", "context")
    assert_refused(client.post(path, json={**BASES[path], "max_tokens": 2**31}), "max_tokens", "less than or equal")


# Each unimplemented field with a value that asks for something it would not get.
ASKING = {
    "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
    "tool_choice": "required",
    "functions": [{"name": "add", "parameters": {"type": "object"}}],
    "function_call": {"name": "add"},
    "logit_bias": {"50256": -100},
    "prediction": {"type": "content", "content": "42"},
    "audio": {"voice": "alloy", "format": "wav"},
    "modalities": ["text", "audio"],
    "web_search_options": {"search_context_size": "low"},
    "moderation": {"model": "omni-moderation-latest"},
    "reasoning_effort": "high",
    "verbosity": "low",
    "best_of": 3,
    "suffix": " done.",
    "top_k": 5,
    "min_p": 0.1,
    "repetition_penalty": 1.2,
    "min_tokens": 4,
    "structured_outputs": {"json": {"type": "object"}},
    "guided_json": {"type": "object"},
    "guided_regex": "[0-9]+",
    "guided_choice": ["yes", "no"],
    "guided_grammar": 'root ::= "42"',
}
COMPLETION_ONLY = {"best_of", "suffix"}
CHAT_ONLY = {"tools", "tool_choice", "functions", "function_call"}
CHAT_ONLY |= {"prediction", "audio", "modalities", "web_search_options", "moderation", "reasoning_effort", "verbosity"}
UNIMPLEMENTED = [
    (path, field)
    for field in ASKING
    for path in ["/v1/chat/completions", "/v1/completions"]
    if field not in (COMPLETION_ONLY if path.endswith("chat/completions") else CHAT_ONLY)
]


def test_every_refused_field_has_a_row() -> None:
    assert set(ASKING) == set(REFUSED_FIELDS)


@pytest.mark.parametrize(("path", "field"), UNIMPLEMENTED)
def test_unimplemented_fields_are_refused_by_name(client: TestClient, path: str, field: str) -> None:
    assert_refused(client.post(path, json={**BASES[path], field: ASKING[field]}), field, "not supported")


@pytest.mark.parametrize(("path", "field"), UNIMPLEMENTED)
def test_unimplemented_fields_that_ask_for_nothing_pass(client: TestClient, path: str, field: str) -> None:
    for value in [None, *REFUSED_FIELDS[field]]:
        response = client.post(path, json={**BASES[path], field: value})
        assert response.status_code == 200, (value, response.text)


@pytest.mark.parametrize("field", sorted(IGNORED_FIELDS))
def test_bookkeeping_fields_are_ignored(client: TestClient, field: str) -> None:
    value = {"user": "u-1", "metadata": {"team": "a"}, "store": True, "service_tier": "auto"}.get(field, True)
    assert client.post("/v1/chat/completions", json={**CHAT, field: value}).status_code == 200


INVISIBLE = ["\x00", "\x00" * 50, " \x00\t\x01\x7f ", "\u200b\ufeff", "\x1b\r\n\x00"]


@pytest.mark.parametrize("text", INVISIBLE, ids=repr)
def test_text_with_nothing_visible_is_refused_like_blank(client: TestClient, engine: ScriptedEngine, text: str) -> None:
    assert_refused(client.post("/solve", json={"question": text}), "question")
    assert_refused(client.post("/solve", json={"question": "q", "choices": [text, "2"]}), "choices.0")
    hybrid = {"model": f"{MODEL}:hybrid", "messages": [{"role": "user", "content": text}]}
    assert_refused(client.post("/v1/chat/completions", json=hybrid), "messages", "user message")
    assert engine.options == []


def test_visible_text_around_control_characters_is_solved(client: TestClient) -> None:
    assert client.post("/solve", json={"question": "\x00What is six times seven?\x00"}).status_code == 200


ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
# response_format -> what the engine is asked for
RESPONSE_FORMATS = {
    "text": ({"type": "text"}, None),
    "JSON mode": ({"type": "json_object"}, JsonOutput()),
    "JSON schema": (
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True}},
        JsonOutput(schema=json.dumps(ANSWER_SCHEMA)),
    ),
}


@pytest.mark.parametrize(("response_format", "asked"), RESPONSE_FORMATS.values(), ids=list(RESPONSE_FORMATS))
def test_response_format_reaches_the_engine(
    client: TestClient, engine: ScriptedEngine, response_format: dict, asked: JsonOutput | None
) -> None:
    response = client.post("/v1/chat/completions", json={**CHAT, "response_format": response_format})
    assert response.status_code == 200, response.text
    assert engine.options[0].json_output == asked


MALFORMED_RESPONSE_FORMATS = {
    "unknown type": {"type": "yaml"},
    "schema type without a schema": {"type": "json_schema"},
    "a schema with JSON mode": {"type": "json_object", "json_schema": {"name": "a", "schema": {}}},
    "a schema that is not an object": {"type": "json_schema", "json_schema": {"name": "a", "schema": "int"}},
    "a name with spaces": {"type": "json_schema", "json_schema": {"name": "my answer", "schema": {}}},
}


@pytest.mark.parametrize("response_format", MALFORMED_RESPONSE_FORMATS.values(), ids=list(MALFORMED_RESPONSE_FORMATS))
def test_malformed_response_formats_are_refused(client: TestClient, response_format: dict) -> None:
    response = client.post("/v1/chat/completions", json={**CHAT, "response_format": response_format})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith("response_format")


def test_solving_models_refuse_json_output(client: TestClient) -> None:
    body = {**CHAT, "model": f"{MODEL}:hybrid", "response_format": {"type": "json_object"}}
    assert_refused(client.post("/v1/chat/completions", json=body), "response_format", "transcript")


# --- log-probabilities ---------------------------------------------------------------------------

# (path, the fields sent, what the engine is asked for: SamplingOptions.logprobs)
LOGPROBS_ASKED = {
    "chat: logprobs": ("/v1/chat/completions", {"logprobs": True}, 0),
    "chat: no alternatives": ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 0}, 0),
    "chat: the most alternatives": ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 20}, 20),
    "chat: logprobs false": ("/v1/chat/completions", {"logprobs": False}, None),
    "chat: nulls": ("/v1/chat/completions", {"logprobs": None, "top_logprobs": None}, None),
    "completions: the chosen token only": ("/v1/completions", {"logprobs": 0}, 0),
    "completions: the most alternatives": ("/v1/completions", {"logprobs": 5}, 5),
    "completions: null": ("/v1/completions", {"logprobs": None}, None),
}


@pytest.mark.parametrize(("path", "fields", "asked"), LOGPROBS_ASKED.values(), ids=list(LOGPROBS_ASKED))
def test_logprobs_reach_the_engine(
    client: TestClient, engine: ScriptedEngine, path: str, fields: dict, asked: int | None
) -> None:
    response = client.post(path, json={**BASES[path], **fields})
    assert response.status_code == 200, response.text
    assert engine.options[0].logprobs == asked


# (path, the fields sent, the field the 400 names)
LOGPROBS_REFUSED = {
    "alternatives without logprobs": ("/v1/chat/completions", {"top_logprobs": 2}, "top_logprobs"),
    "alternatives with logprobs false": (
        "/v1/chat/completions",
        {"logprobs": False, "top_logprobs": 0},
        "top_logprobs",
    ),
    "too many alternatives": ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    "negative alternatives": ("/v1/chat/completions", {"logprobs": True, "top_logprobs": -1}, "top_logprobs"),
    "chat: an integer for a boolean": ("/v1/chat/completions", {"logprobs": 1}, "logprobs"),
    "chat: a string for a boolean": ("/v1/chat/completions", {"logprobs": "true"}, "logprobs"),
    "completions: too many alternatives": ("/v1/completions", {"logprobs": 6}, "logprobs"),
    "completions: negative": ("/v1/completions", {"logprobs": -1}, "logprobs"),
    "completions: a boolean for a count": ("/v1/completions", {"logprobs": True}, "logprobs"),
    "a solving model": ("/v1/chat/completions", {"model": f"{MODEL}:hybrid", "logprobs": True}, "logprobs"),
    "a solving model, with alternatives": (
        "/v1/chat/completions",
        {"model": f"{MODEL}:hybrid", "logprobs": True, "top_logprobs": 2},
        "logprobs",
    ),
}


@pytest.mark.parametrize(("path", "fields", "param"), LOGPROBS_REFUSED.values(), ids=list(LOGPROBS_REFUSED))
def test_malformed_logprobs_are_refused_by_name(
    client: TestClient, engine: ScriptedEngine, path: str, fields: dict, param: str
) -> None:
    assert_refused(client.post(path, json={**BASES[path], **fields}), param)
    assert engine.options == []


def test_a_solving_model_without_logprobs_answers(client: TestClient) -> None:
    body = {**CHAT, "model": f"{MODEL}:hybrid", "logprobs": False}
    assert client.post("/v1/chat/completions", json=body).status_code == 200


ANSWER = "42 apples"


def events(response) -> list[dict]:
    """The JSON events of a streamed response, without the closing ``[DONE]``."""
    assert response.status_code == 200, response.text
    lines = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def chat_logprobs(choices: list[dict], key: str) -> tuple[str, list[dict]]:
    """The text and the token entries of chat choices, whole (``message``) or streamed (``delta``)."""
    text = "".join(choice[key].get("content") or "" for choice in choices)
    return text, [entry for choice in choices if choice.get("logprobs") for entry in choice["logprobs"]["content"]]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("alternatives", [0, 2])
def test_chat_logprobs_shape(client: TestClient, engine: ScriptedEngine, stream: bool, alternatives: int) -> None:
    engine.completions[:] = [ANSWER]
    body = {**CHAT, "logprobs": True, "top_logprobs": alternatives, "stream": stream}
    response = client.post("/v1/chat/completions", json=body)
    if stream:
        text, entries = chat_logprobs([c for e in events(response) for c in e["choices"]], "delta")
    else:
        text, entries = chat_logprobs(response.json()["choices"], "message")
    assert text == "".join(entry["token"] for entry in entries) == ANSWER
    for entry in entries:
        assert entry["logprob"] == -0.5 and entry["bytes"] == list(entry["token"].encode())
        assert [top["token"] for top in entry["top_logprobs"]] == [entry["token"], "alt1"][:alternatives]
        assert all(top["bytes"] == list(top["token"].encode()) for top in entry["top_logprobs"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_completion_logprobs_shape(client: TestClient, engine: ScriptedEngine, stream: bool) -> None:
    engine.completions[:] = [ANSWER]
    response = client.post("/v1/completions", json={**COMPLETION, "logprobs": 2, "stream": stream})
    choices = [c for e in events(response) for c in e["choices"]] if stream else response.json()["choices"]
    parts = [choice["logprobs"] for choice in choices if choice.get("logprobs")]
    tokens = [token for part in parts for token in part["tokens"]]
    assert "".join(tokens) == "".join(choice["text"] for choice in choices) == ANSWER
    assert [logprob for part in parts for logprob in part["token_logprobs"]] == [-0.5] * len(ANSWER)
    assert [top for part in parts for top in part["top_logprobs"]] == [{t: -0.5, "alt1": -1.0} for t in tokens]
    # Offsets count from the start of the choice's text, across stream chunks too.
    assert [offset for part in parts for offset in part["text_offset"]] == list(range(len(ANSWER)))


@pytest.mark.parametrize(("path", "base"), [("/v1/chat/completions", CHAT), ("/v1/completions", COMPLETION)])
def test_no_logprobs_unless_asked(client: TestClient, path: str, base: dict) -> None:
    for stream in (False, True):
        response = client.post(path, json={**base, "stream": stream})
        choices = [c for e in events(response) for c in e["choices"]] if stream else response.json()["choices"]
        assert choices and all(choice.get("logprobs") is None for choice in choices)  # streamed: left out
