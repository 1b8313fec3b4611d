"""Server overhead: potcot's chat passthrough against vLLM's own OpenAI server, on the same model.

    python -m potcot.benchmarks.performance.server_overhead [--rounds 5] [--requests 64] [--concurrency 16]

In one run, for several rounds: start ``vllm serve`` (as a module), send it the chat requests, stop
it; start ``potcot serve`` with the same engine settings, send the same requests through its
passthrough, stop it (one server at a time: two CPU engines side by side starve each other; the order
alternates, so a drift of the machine's speed falls on both alike); print the
median of the rounds' throughput ratios with its spread. One measurement of each moves with the
machine's noise by more than the overhead being measured. Then time ``/solve`` one request at a time
and print its overhead beyond generation (client latency minus the generation time the server
reports): prompts, program extraction, the sandbox run, HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import openai

from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve, vllm_serve
from potcot.server.settings import EngineSettings

ENGINE_FLAGS = ("--max-model-len", "2048", "--gpu-memory-utilization", "0.3")
QUESTIONS = [
    f"A shop sells {price} pencils for ${cost}. How much do {count} pencils cost? Explain."
    for price, cost, count in [(3, 2, 12), (5, 4, 20), (2, 1, 9), (4, 3, 16), (6, 5, 30), (10, 7, 25), (8, 6, 40)]
] + [
    f"A train travels at {speed} km/h for {hours} hours. How far does it go? Reason step by step."
    for speed, hours in [(60, 3), (80, 2), (45, 4), (90, 5), (72, 6), (55, 2), (100, 3), (65, 7)]
]


@dataclasses.dataclass(frozen=True)
class ChatLoad:
    model: str
    requests: int
    concurrency: int
    max_tokens: int


async def chat_load(url: str, load: ChatLoad) -> tuple[float, int]:
    """Generated tokens per second for ``load.requests`` chat completions, ``load.concurrency`` at a time."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    slots = asyncio.Semaphore(load.concurrency)

    async def one(index: int) -> int:
        async with slots:
            completion = await client.chat.completions.create(
                model=load.model,
                messages=[{"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]}],
                max_tokens=load.max_tokens,
                temperature=0.7,
                seed=index,
            )
            return completion.usage.completion_tokens if completion.usage else 0

    started = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(index) for index in range(load.requests))))
    elapsed = time.perf_counter() - started
    await client.close()
    return tokens / elapsed, tokens


def solve_overheads(url: str, count: int) -> list[float]:
    """Per /solve request: client latency minus the generation time the server measured."""
    overheads = []
    with httpx.Client(timeout=600) as client:
        for index in range(count):
            body = {"question": QUESTIONS[index % len(QUESTIONS)], "max_tokens": 64}
            started = time.perf_counter()
            response = client.post(url + "/solve", json=body)
            latency = time.perf_counter() - started
            response.raise_for_status()
            overheads.append(latency - response.json()["timings"]["generation_s"])
    return overheads


def rate_of(command: list[str], port: int, log: Path, load: ChatLoad) -> float:
    """One server's generated tokens/s for ``load``, after a warm-up; the server is stopped after."""
    with ServerProcess(command, port, log) as server:
        server.wait_until_healthy()
        asyncio.run(chat_load(server.url, dataclasses.replace(load, requests=load.concurrency)))  # warm-up
        return asyncio.run(chat_load(server.url, load))[0]


def compare_rounds(
    servers: dict[str, tuple[list[str], int]], rounds: int, load: ChatLoad, logs: Path
) -> list[tuple[float, float]]:
    """(vLLM, potcot) generated tokens/s per round, one server alive at a time (two CPU engines
    side by side starve each other); odd rounds measure potcot first."""
    measured = []
    for round_index in range(rounds):
        order = ["vllm", "potcot"] if round_index % 2 == 0 else ["potcot", "vllm"]
        rates = {name: rate_of(*servers[name], logs / f"{name}-{round_index}.log", load) for name in order}
        measured.append((rates["vllm"], rates["potcot"]))
        print(f"round {round_index + 1}: vLLM {rates['vllm']:6.1f}, potcot {rates['potcot']:6.1f} tokens/s", flush=True)
    return measured


def report_ratio(measured: list[tuple[float, float]]) -> None:
    ratios = sorted(potcot / vllm for vllm, potcot in measured)
    print(f"vLLM's own server:   {statistics.median(rate for rate, _ in measured):7.1f} generated tokens/s (median)")
    print(f"potcot passthrough:  {statistics.median(rate for _, rate in measured):7.1f} generated tokens/s (median)")
    print(f"ratio:               {statistics.median(ratios):7.3f} (potcot / vLLM, median of {len(ratios)} rounds; "
          f"spread {ratios[0]:.3f} to {ratios[-1]:.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--solves", type=int, default=32)
    args = parser.parse_args()
    load = ChatLoad(EMBEDDED_MODEL_NAME, args.requests, args.concurrency, args.max_tokens)

    model_dir = str(embedded_model_dir(EngineSettings().cache_dir))
    logs = Path(tempfile.mkdtemp(prefix="potcot-bench-"))
    print(f"model: {EMBEDDED_MODEL_NAME}; {args.rounds} rounds of {args.requests} chat requests of "
          f"{args.max_tokens} tokens, {args.concurrency} at a time; server logs in {logs}")  # fmt: skip

    vllm_port, potcot_port = free_port(), free_port()
    # The settings potcot gives vLLM on CPU of its own accord.
    cpu_defaults = ("--enforce-eager", "--no-enable-chunked-prefill")
    vllm_flags = (*ENGINE_FLAGS, *cpu_defaults, "--served-model-name", EMBEDDED_MODEL_NAME)
    servers = {
        "vllm": (vllm_serve(vllm_port, model_dir, *vllm_flags), vllm_port),
        "potcot": (potcot_serve(potcot_port, *ENGINE_FLAGS), potcot_port),
    }
    measured = compare_rounds(servers, args.rounds, load, logs)
    with ServerProcess(*servers["potcot"], logs / "potcot-solve.log") as potcot:
        potcot.wait_until_healthy()
        overheads = solve_overheads(potcot.url, args.solves)

    report_ratio(measured)
    quantiles = statistics.quantiles(overheads, n=10)
    print(
        f"/solve overhead beyond generation, {len(overheads)} requests one at a time: "
        f"median {statistics.median(overheads) * 1000:.1f} ms, p90 {quantiles[8] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
