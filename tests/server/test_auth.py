"""API keys at the door, with a scripted engine: every endpoint but ``GET /health`` and
``GET /metrics`` refuses a request without a configured key, in OpenAI's error shape, before any
route (or the 404 of an unknown path) runs. The same against a real server is in
``test_integration.py``."""

import base64
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from potcot.server.web.serve import is_loopback, log_access_policy
from potcot.server.web.settings import HttpSettings, ServerSettings
from tests.server.scripted import ScriptedEngine, client_for

MODEL = "scripted-model"
KEY = "sk-potcot-0123456789abcdef"
OTHER_KEY = "sk-second-team-key"
SETTINGS = ServerSettings(sandbox_workers=1, max_generations_in_flight=4, api_key=[KEY, OTHER_KEY])
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "What is six times seven?"}]}

PROTECTED = [
    ("POST", "/solve", {"question": "What is six times seven?"}),
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/chat/completions", {**CHAT, "stream": True}),
    ("POST", "/v1/chat/completions", {**CHAT, "model": f"{MODEL}:hybrid", "stream": True}),
    ("POST", "/v1/completions", {"model": MODEL, "prompt": "1 + 1 ="}),
    ("GET", "/v1/models", None),
    ("GET", f"/v1/models/{MODEL}", None),
    ("POST", "/tokenize", {"prompt": "1 + 1 ="}),
    ("POST", "/detokenize", {"tokens": [49, 43, 49]}),
    ("GET", "/tokenizer_info", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
]
# Without a key these must not tell what they are: an unknown path, a method the path lacks.
PROBES = [("GET", "/v2/everything", None, 404), ("POST", "/health", None, 405), ("GET", "/solve", None, 405)]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def one_character_off(key: str) -> str:
    return key[:-1] + chr(ord(key[-1]) + 1)


BAD_CREDENTIALS = [
    ("no header", {}),
    ("wrong key", bearer("sk-not-the-key")),
    ("one character off", bearer(one_character_off(KEY))),
    ("first character off", bearer(one_character_off(KEY[::-1])[::-1])),
    ("a prefix of the key", bearer(KEY[:-1])),
    ("the key and more", bearer(KEY + "0")),
    ("both keys at once", bearer(f"{KEY},{OTHER_KEY}")),
    ("Basic scheme", {"Authorization": "Basic " + base64.b64encode(f"user:{KEY}".encode()).decode()}),
    ("the key under Basic", {"Authorization": f"Basic {KEY}"}),
    ("no scheme", {"Authorization": KEY}),
    ("Bearer without a key", {"Authorization": "Bearer"}),
    ("empty header", {"Authorization": ""}),
    ("the key in another header", {"X-Api-Key": KEY}),
]


@pytest.fixture(scope="module")
def engine() -> ScriptedEngine:
    return ScriptedEngine(*["```python\nprint(6 * 7)\n```"] * 200)


@pytest.fixture(scope="module")
def client(engine: ScriptedEngine) -> Iterator[TestClient]:
    with client_for(engine, SETTINGS) as test_client:
        yield test_client


def call(client: TestClient, method: str, path: str, body: object, headers: dict[str, str]):
    return client.request(method, path, json=body, headers=headers)


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": {
            "message": "Unauthorized: send a valid API key as 'Authorization: Bearer KEY'",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    assert KEY not in response.text and OTHER_KEY not in response.text


@pytest.mark.parametrize("credentials", [c[1] for c in BAD_CREDENTIALS], ids=[c[0] for c in BAD_CREDENTIALS])
@pytest.mark.parametrize(
    ("method", "path", "body"), [r[:3] for r in PROTECTED + PROBES], ids=[f"{r[0]} {r[1]}" for r in PROTECTED + PROBES]
)
def test_refused_without_a_valid_key(
    client: TestClient, engine: ScriptedEngine, method: str, path: str, body: object, credentials: dict[str, str]
) -> None:
    asked = len(engine.prompts)
    assert_unauthorized(call(client, method, path, body, credentials))
    assert len(engine.prompts) == asked, "the engine ran for a request without a key"


@pytest.mark.parametrize("key", [KEY, OTHER_KEY], ids=["first key", "second key"])
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[f"{r[0]} {r[1]}" for r in PROTECTED])
def test_served_with_any_configured_key(client: TestClient, method: str, path: str, body: object, key: str) -> None:
    response = call(client, method, path, body, bearer(key))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "path", "body", "status"), PROBES, ids=[f"{r[0]} {r[1]}" for r in PROBES])
def test_probes_with_a_key_get_their_usual_answer(
    client: TestClient, method: str, path: str, body: object, status: int
) -> None:
    assert call(client, method, path, body, bearer(KEY)).status_code == status


def test_the_scheme_is_case_insensitive(client: TestClient) -> None:
    assert client.get("/v1/models", headers={"Authorization": f"bearer {KEY}"}).status_code == 200
    assert client.get("/v1/models", headers={"Authorization": f"BEARER  {KEY}"}).status_code == 200


def test_health_and_metrics_are_open_and_count_refusals(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert_unauthorized(client.get("/v2/probe"))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'potcot_requests_total{endpoint="other",status="401"}' in metrics.text


def test_streaming_chat_with_a_key(client: TestClient) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=bearer(OTHER_KEY)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert '"role":"assistant"' in events[0] and '"usage"' in events[-2]


@pytest.mark.parametrize(
    ("environment", "keys"),
    [("k1", ["k1"]), ("k1,k2", ["k1", "k2"]), (" k1 , k2 ", ["k1", "k2"])],
    ids=["one key", "two keys", "spaces around commas"],
)
def test_one_variable_holds_one_key_or_several(
    monkeypatch: pytest.MonkeyPatch, environment: str, keys: list[str]
) -> None:
    monkeypatch.setenv("POTCOT_API_KEY", environment)
    assert [key.get_secret_value() for key in HttpSettings().api_key] == keys


def test_the_flag_repeats() -> None:
    settings = HttpSettings(_cli_parse_args=["--api-key", "k1", "--api-key", "k2"])
    assert [key.get_secret_value() for key in settings.api_key] == ["k1", "k2"]


@pytest.mark.parametrize("environment", ["", "k1,", "k1,,k2", " "])
def test_an_empty_key_is_refused(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setenv("POTCOT_API_KEY", environment)
    with pytest.raises(ValidationError, match="must not be empty"):
        HttpSettings()


def test_keys_are_masked_wherever_settings_are_shown() -> None:
    for shown in (repr(SETTINGS), str(SETTINGS), SETTINGS.model_dump_json(), str(SETTINGS.model_dump())):
        assert KEY not in shown and OTHER_KEY not in shown


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.7", False), ("potcot.internal", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def records(caplog: pytest.LogCaptureFixture, settings: HttpSettings) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="potcot.server.web.serve"):
        log_access_policy(settings)
    return [record for record in caplog.records if record.name == "potcot.server.web.serve"]


def test_open_to_the_network_without_a_key_is_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    logged = records(caplog, HttpSettings(host="0.0.0.0", port=8000))
    assert len(logged) >= 5 and all(record.levelno == logging.WARNING for record in logged)
    text = "\n".join(record.getMessage() for record in logged)
    assert "0.0.0.0:8000 WITHOUT AN API KEY" in text
    assert "run programs in its sandbox" in text
    assert "--api-key" in text and "POTCOT_API_KEY" in text


def test_loopback_without_a_key_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    logged = records(caplog, HttpSettings(host="127.0.0.1"))
    assert [record.levelno for record in logged] == [logging.INFO]


def test_with_keys_only_their_number_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = records(caplog, HttpSettings(host="0.0.0.0", api_key=[KEY, OTHER_KEY]))
    assert [record.levelno for record in logged] == [logging.INFO]
    assert "2 API key(s)" in logged[0].getMessage()
    assert KEY not in caplog.text and OTHER_KEY not in caplog.text
