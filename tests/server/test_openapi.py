"""The OpenAPI document is the contract generated clients and schema-driven tests rely on: it must
say what the server really answers. Schemathesis generates requests from it, valid and invalid,
against the ASGI app with a scripted engine (no network), and checks every response against it:
no 5xx, only documented statuses and content types, bodies that match their schemas, invalid data
refused."""

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from potcot.server.engines import Engine
from potcot.server.settings import EngineSettings
from potcot.server.web.app import build_app
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import ScriptedEngine

SETTINGS = ServerSettings(sandbox_workers=1, max_generations_in_flight=64)


def scripted_app() -> FastAPI:
    engine = ScriptedEngine()
    # Never runs dry: every generation answers with a program that prints its answer.
    engine.completions = _Endless("```python\nprint(6 * 7)\n```")

    async def factory(_: EngineSettings) -> Engine:
        return engine

    return build_app(SETTINGS, factory)


class _Endless(list):
    def __init__(self, item: str) -> None:
        super().__init__([item])

    def pop(self, index: int = -1) -> str:
        return self[0]


APP = scripted_app()
# The document as the app serves it, read without starting the app: its lifespan (a sandbox, the
# engine) starts with the first generated request, not when the module is collected.
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(scripted_app()) as test_client:
        yield test_client


@schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_server_keeps_its_documented_contract(case: schemathesis.Case) -> None:
    # Positive data acceptance is left out: a request the schema allows can still be refused for what
    # no schema says, a model id that is not served (404) or a prompt past the context (400).
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_errors_are_documented_as_the_server_answers_them(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            for status, response in responses.items():
                if status != "200":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorResponse"
                    }, (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path in ["/solve", "/v1/chat/completions", "/v1/completions"]:
        assert {"400", "404", "413", "503", "default"} <= set(document["paths"][path]["post"]["responses"])
    for path in ["/v1/chat/completions", "/v1/completions"]:
        content = document["paths"][path]["post"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}
    assert set(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}


def test_errors_keep_their_headers(client: TestClient) -> None:
    not_allowed = client.get("/solve")
    assert (not_allowed.status_code, not_allowed.headers["allow"]) == (405, "POST")
    assert client.post("/health").headers["allow"] == "GET"
    assert client.delete("/v1/models").headers["allow"] == "GET"
    not_found = client.get("/v2/everything")
    assert not_found.status_code == 404 and "x-request-id" in not_found.headers
    too_large = client.post("/solve", content=b"x" * (9 * 2**20), headers={"content-type": "application/json"})
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] is None
