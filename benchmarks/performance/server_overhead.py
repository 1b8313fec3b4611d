"""Server overhead: potcot's chat passthrough against vLLM's own OpenAI server, on the same model.

    python -m potcot.benchmarks.performance.server_overhead [--requests 64] [--concurrency 16] [--max-tokens 128]

In one run: start ``vllm serve`` (as a module), send the same chat requests at the same
concurrency, stop it; start ``potcot serve`` with the same engine settings, send them again
through the passthrough; print both throughputs (generated tokens/s) and their ratio. Then time
``/solve`` one request at a time and print its overhead beyond generation (client latency minus
the generation time the server reports): prompts, program extraction, the sandbox run, HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import openai

from potcot.benchmarks.performance.servers import ServerProcess, free_port, potcot_serve, vllm_serve
from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
from potcot.server.settings import ServerSettings

ENGINE_FLAGS = ("--max-model-len", "2048", "--gpu-memory-utilization", "0.3")
QUESTIONS = [
    f"A shop sells {price} pencils for ${cost}. How much do {count} pencils cost? Explain."
    for price, cost, count in [(3, 2, 12), (5, 4, 20), (2, 1, 9), (4, 3, 16), (6, 5, 30), (10, 7, 25), (8, 6, 40)]
] + [
    f"A train travels at {speed} km/h for {hours} hours. How far does it go? Reason step by step."
    for speed, hours in [(60, 3), (80, 2), (45, 4), (90, 5), (72, 6), (55, 2), (100, 3), (65, 7)]
]


async def chat_load(url: str, model: str, requests: int, concurrency: int, max_tokens: int) -> tuple[float, int]:
    """Generated tokens per second for ``requests`` chat completions, ``concurrency`` at a time."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> int:
        async with slots:
            completion = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]}],
                max_tokens=max_tokens,
                temperature=0.7,
                seed=index,
            )
            return completion.usage.completion_tokens

    await asyncio.gather(*(one(index) for index in range(concurrency)))  # warm-up
    started = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(index) for index in range(requests))))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--solves", type=int, default=32)
    args = parser.parse_args()

    model_dir = str(embedded_model_dir(ServerSettings().cache_dir))
    logs = Path(tempfile.mkdtemp(prefix="potcot-bench-"))
    print(f"model: {EMBEDDED_MODEL_NAME}; {args.requests} chat requests of {args.max_tokens} tokens, "
          f"{args.concurrency} at a time; server logs in {logs}")  # fmt: skip

    port = free_port()
    vllm_flags = (*ENGINE_FLAGS, "--enforce-eager", "--served-model-name", EMBEDDED_MODEL_NAME)
    with ServerProcess(vllm_serve(port, model_dir, *vllm_flags), port, logs / "vllm.log") as vllm:
        vllm.wait_until_healthy()
        vllm_rate, vllm_tokens = asyncio.run(
            chat_load(vllm.url, EMBEDDED_MODEL_NAME, args.requests, args.concurrency, args.max_tokens)
        )

    port = free_port()
    with ServerProcess(potcot_serve(port, *ENGINE_FLAGS), port, logs / "potcot.log") as potcot:
        potcot.wait_until_healthy()
        potcot_rate, potcot_tokens = asyncio.run(
            chat_load(potcot.url, EMBEDDED_MODEL_NAME, args.requests, args.concurrency, args.max_tokens)
        )
        overheads = solve_overheads(potcot.url, args.solves)

    print(f"vLLM's own server:   {vllm_rate:7.1f} generated tokens/s ({vllm_tokens} tokens)")
    print(f"potcot passthrough:  {potcot_rate:7.1f} generated tokens/s ({potcot_tokens} tokens)")
    print(f"ratio:               {potcot_rate / vllm_rate:7.3f} (potcot / vLLM)")
    quantiles = statistics.quantiles(overheads, n=10)
    print(
        f"/solve overhead beyond generation, {len(overheads)} requests one at a time: "
        f"median {statistics.median(overheads) * 1000:.1f} ms, p90 {quantiles[8] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
