"""One request, one solve: the same ``/solve`` fields, through every way of solving, reach the solver
as the same options. ``/solve`` is the reference; a chat solving id carries the fields chat can say;
``potcot solve`` builds them in this process and sends them through a server (``--url``), and so does
``potcot bench``, with the choices from the dataset's row. Through a server, what is sent is the
request's fields and no more, so the server's own defaults decide the rest."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from potcot.benchmarks.client import HttpSolver
from potcot.benchmarks.commands import BenchCommand
from potcot.benchmarks.datasets import Item
from potcot.benchmarks.local import LocalSolver
from potcot.sandbox import Sandbox
from potcot.server.prompts import PromptStyle
from potcot.server.settings import SolverSettings
from potcot.server.solver import SolveOptions, Solver
from potcot.server.web.commands import SolveCommand
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import ScriptedEngine, client_for

QUESTION = "What is 6 times 7?"
SERVER = "http://potcot"
# What a chat request can say of a solve; its other fields are the server's defaults.
CHAT_FIELDS = {"strategy", "max_tokens", "temperature", "seed"}

REQUESTS: list[dict[str, Any]] = [
    {},
    {"strategy": "vote"},
    {"strategy": "vote", "max_tokens": 64, "temperature": 0.3, "seed": 5},
    {"strategy": "vote", "samples": 3, "seed": 5, "temperature": 0.0},
    {"strategy": "tir", "max_rounds": 2, "max_tokens": 64},
    {"strategy": "tir", "race": True, "temperature": 1.5},
    {"strategy": "hybrid", "race": True},
    {"strategy": "pot", "race": False, "seed": 1},
    {"strategy": "cot", "choices": ["12", "42", "54"]},
]


def flags(request: dict[str, Any]) -> list[str]:
    """The request as the commands' flags: ``--max-rounds 2``, ``--race`` or ``--no-race``, and
    ``--choices`` once per option."""
    args = []
    for name, value in request.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{name}")
        elif isinstance(value, list):
            args += [part for option in value for part in (flag, option)]
        else:
            args += [flag, str(value)]
    return args


@pytest.fixture(scope="module")
def server() -> Iterator[TestClient]:
    with client_for(ScriptedEngine(), ServerSettings(sandbox_workers=1)) as test_client:
        yield test_client


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> list[SolveOptions]:
    """The options the solver receives, in turn, whichever way it is reached; solving in this
    process uses a scripted engine instead of loading a model."""
    options_received: list[SolveOptions] = []
    solve = Solver.solve

    async def recording(self: Solver, question: str, options: SolveOptions, *args: Any) -> Any:
        options_received.append(options)
        return await solve(self, question, options, *args)

    @contextlib.asynccontextmanager
    async def scripted_solver(settings: SolverSettings) -> AsyncIterator[Solver]:
        yield Solver(ScriptedEngine(), sandbox, PromptStyle.CHAT, program_timeout_s=2.0)

    monkeypatch.setattr(Solver, "solve", recording)
    monkeypatch.setattr("potcot.server.inprocess.local_solver", scripted_solver)
    monkeypatch.setattr("potcot.benchmarks.local.local_solver", scripted_solver)
    return options_received


def forwarding(server: TestClient, sent: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """An HTTP transport's handler that records each body and hands it to ``server``."""

    def forward(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        reply = server.post(request.url.path, content=request.content, headers={"content-type": "application/json"})
        return httpx.Response(reply.status_code, content=reply.content)

    return forward


def through_chat(server: TestClient, request: dict[str, Any]) -> None:
    fields = {name: value for name, value in request.items() if name != "strategy"}
    model = f"scripted-model:{request.get('strategy', 'hybrid')}"
    body = {"model": model, "messages": [{"role": "user", "content": QUESTION}], **fields}
    assert server.post("/v1/chat/completions", json=body).status_code == 200


def potcot_solve(server: TestClient, request: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``potcot solve`` in this process, then through the server; what it sent the server."""
    SolveCommand(_cli_parse_args=[QUESTION, *flags(request)]).cli_cmd()
    sent: list[Any] = []
    client = httpx.Client(transport=httpx.MockTransport(forwarding(server, sent)))
    monkeypatch.setattr("potcot.server.web.commands.httpx.post", lambda url, **kwargs: client.post(url, **kwargs))
    SolveCommand(_cli_parse_args=[QUESTION, "--url", SERVER, *flags(request)]).cli_cmd()
    return sent


async def potcot_bench(server: TestClient, request: dict[str, Any]) -> list[Any]:
    """A question of ``potcot bench`` in this process, then through the server; what it sent."""
    choices = request.get("choices")
    item = Item("1", QUESTION, "42", tuple(choices) if choices else None)
    run = flags({name: value for name, value in request.items() if name != "choices"})
    local = BenchCommand(_cli_parse_args=run)
    async with LocalSolver.start(local) as solver:
        await solver.solve(item, local._config())
    sent: list[Any] = []
    transport = httpx.MockTransport(forwarding(server, sent))
    async with httpx.AsyncClient(transport=transport) as client:
        await HttpSolver(SERVER, client).solve(item, BenchCommand(_cli_parse_args=["--url", SERVER, *run])._config())
    return sent


@pytest.mark.parametrize("request_fields", REQUESTS, ids=lambda fields: ",".join(fields) or "defaults")
def test_one_request_is_one_solve_every_way(
    request_fields: dict[str, Any],
    server: TestClient,
    received: list[SolveOptions],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert server.post("/solve", json={"question": QUESTION, **request_fields}).status_code == 200
    ways = ["/solve"]
    if request_fields.keys() <= CHAT_FIELDS:
        through_chat(server, request_fields)
        ways.append("chat")
    solve_sent = potcot_solve(server, request_fields, monkeypatch)
    bench_sent = asyncio.run(potcot_bench(server, request_fields))
    ways += ["potcot solve", "potcot solve --url", "potcot bench", "potcot bench --url"]
    assert dict(zip(ways, received, strict=True)) == dict.fromkeys(ways, received[0])
    assert solve_sent == bench_sent == [{"question": QUESTION, **request_fields}]
