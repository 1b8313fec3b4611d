"""Is the benchmark client the bottleneck? And how fast does grading go?

    python -m potcot.benchmarks.performance.client_throughput [--questions 64] [--concurrency 16] [--data-dir DIR]

In one run, against one ``potcot serve`` (the embedded model): a bare load generator sends the
questions to ``/solve``, ``concurrency`` at a time, and nothing else; then the benchmark client
runs the same questions at the same concurrency, grading them and writing results as it goes.
Prints both questions/s and their ratio (the client should be within 10% of the load generator).
Then grades the gold answers of the whole MATH test set against reformatted copies of themselves,
as the client grades and with Math-Verify forced on every item,
(``\\frac{a}{b}`` as ``a/b``, integers as ``N.0``, the rest inside ``\\boxed{}``) and prints items/s.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from potcot.answers import Grader
from potcot.benchmarks.client import BenchConfig, HttpSolver, run_benchmark, solve_request
from potcot.benchmarks.datasets import load_dataset
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve
from potcot.server.schema import SolveParameters
from potcot.server.solver import Strategy

_FRACTION = re.compile(r"^\\d?frac\{(-?\d+)\}\{(\d+)\}$")


async def load_generator(url: str, config: BenchConfig, questions: int) -> float:
    """Questions/s with nothing but HTTP: no grading, no files, no progress bar."""
    items = load_dataset(config.datasets[0], config.data_dir).items[:questions]
    slots = asyncio.Semaphore(config.concurrency)
    async with httpx.AsyncClient(timeout=600) as client:

        async def one(index: int) -> None:
            async with slots:
                response = await client.post(url + "/solve", json=solve_request(items[index], config).body())
                response.raise_for_status()

        await asyncio.gather(*(one(index) for index in range(min(len(items), config.concurrency))))  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(len(items))))
        return len(items) / (time.perf_counter() - started)


async def benchmark_client(url: str, config: BenchConfig, grader: Grader) -> float:
    async with httpx.AsyncClient(timeout=600) as client:
        solver = HttpSolver(url, client)
        await solver.check()
        started = time.perf_counter()
        summary = await run_benchmark(config, solver, grader)
        elapsed = time.perf_counter() - started
    return sum(row["items"] for row in summary["rows"]) / elapsed


def reformatted(gold: str) -> str:
    """The same answer written differently."""
    if re.fullmatch(r"-?\d+", gold):
        return f"{gold}.0"
    fraction = _FRACTION.match(gold.replace("\\dfrac", "\\frac"))
    if fraction:
        return f"{fraction[1]}/{fraction[2]}"
    return f"\\boxed{{{gold}}}"


def grading_throughput(golds: list[str], compare: Callable[[str, str], bool]) -> tuple[float, float]:
    """Items/s, and the share judged equal, of ``compare(reformatted(gold), gold)`` over ``golds``."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2 * (os.cpu_count() or 1)) as threads:
        verdicts = list(threads.map(lambda gold: compare(reformatted(gold), gold), golds))
    return len(golds) / (time.perf_counter() - started), sum(verdicts) / len(verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the shipped suite")
    args = parser.parse_args()

    logs = Path(tempfile.mkdtemp(prefix="potcot-client-"))
    config = BenchConfig(
        datasets=("gsm8k",),
        out=logs / "run",
        solve=SolveParameters(strategy=Strategy.COT, max_tokens=args.max_tokens, seed=0),
        limit=args.questions,
        concurrency=args.concurrency,
        data_dir=args.data_dir,
    )
    port = free_port()
    with Grader() as grader:
        with ServerProcess(potcot_serve(port, "--max-model-len", "2048"), port, logs / "server.log") as server:
            server.wait_until_healthy()
            generator_rate = asyncio.run(load_generator(server.url, config, args.questions))
            client_rate = asyncio.run(benchmark_client(server.url, config, grader))
        print(f"{args.questions} GSM8K questions, cot, {args.max_tokens} tokens, {args.concurrency} at a time:")
        print(f"load generator:    {generator_rate:6.2f} questions/s (HTTP only)")
        print(f"benchmark client:  {client_rate:6.2f} questions/s (grading and writing results)")
        print(f"ratio:             {client_rate / generator_rate:6.3f} (client / load generator)")
        golds = [item.answer for item in load_dataset("math", args.data_dir).items]
        print(f"grading {len(golds)} MATH gold answers against reformatted copies:")
        for name, compare in (
            ("as the client grades", grader.match),
            ("Math-Verify on every item", grader.match_symbolically),
        ):
            rate, agreed = grading_throughput(golds, compare)
            print(f"  {name + ':':27s} {rate:8.1f} items/s, {100 * agreed:.1f}% judged equal")


if __name__ == "__main__":
    main()
