"""``/solve`` under load against vLLM's own server alone: open-loop Poisson arrivals at rising rates.

    python -m potcot.benchmarks.performance.solve_load [--rates 0.5 1 2 4] [--requests 24] [--rounds 2]

For each round, one server at a time (two CPU engines side by side starve each other; the order
alternates between rounds): ``vllm serve`` answering chat completions with the chain-of-thought
prompt potcot sends (the same messages, ``max_tokens`` and greedy decoding: the same work), then
``potcot serve`` answering ``/solve`` with ``cot`` and with ``hybrid``. At each rate, requests arrive
as a Poisson process whatever the server's progress (open loop), up to ``--requests`` of them or
``--seconds``; each one's latency is measured from its arrival. Prints, per server and workload and
rate, the achieved throughput (answers/s), p50 and p99 latency and failures; then the throughput
each reaches while its p99 stays within ``--p99-bound``, and the ratio potcot/vLLM for ``cot``,
computed within each round, with its median and spread. ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from potcot.benchmarks.datasets import load_dataset
from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve, vllm_serve
from potcot.server.prompts import PromptStyle, chain_of_thought
from potcot.server.settings import EngineSettings

ENGINE_FLAGS = ("--max-model-len", "2048", "--gpu-memory-utilization", "0.3")
# What potcot gives vLLM on CPU of its own accord, so that both engines run alike.
CPU_DEFAULTS = ("--enforce-eager", "--no-enable-chunked-prefill")
Send = Callable[[httpx.AsyncClient, str], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Load:
    rates: tuple[float, ...]
    requests: int
    seconds: float
    max_tokens: int
    p99_bound_s: float


@dataclasses.dataclass(frozen=True)
class Step:
    """One workload at one offered rate: what arrived, what was answered, and how long each took."""

    offered: float
    throughput: float
    p50_s: float
    p99_s: float
    failures: int


def vllm_cot(url: str, max_tokens: int) -> Send:
    """A chat completion with the chain-of-thought prompt potcot's ``cot`` sends (chat style)."""

    async def send(client: httpx.AsyncClient, question: str) -> None:
        prompt = chain_of_thought(question, PromptStyle.CHAT)
        messages = [{"role": message.role, "content": message.content} for message in prompt.messages or ()]
        body = {"model": EMBEDDED_MODEL_NAME, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
        (await client.post(url + "/v1/chat/completions", json=body)).raise_for_status()

    return send


def potcot_solve(url: str, strategy: str, max_tokens: int) -> Send:
    async def send(client: httpx.AsyncClient, question: str) -> None:
        body = {"question": question, "strategy": strategy, "max_tokens": max_tokens}
        (await client.post(url + "/solve", json=body)).raise_for_status()

    return send


async def open_loop(send: Send, questions: list[str], rate: float, load: Load, seed: int) -> Step:
    """Requests at Poisson arrivals of ``rate`` per second, each sent at its time whatever came
    back before: the latency a user sees at that load, queueing included."""
    arrivals = random.Random(seed)
    latencies: list[float] = []
    failures = 0
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=None)) as client:

        async def one(question: str, at: float) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, at - (time.perf_counter() - started)))
            sent = time.perf_counter()
            try:
                await send(client, question)
                latencies.append(time.perf_counter() - sent)
            except httpx.HTTPError:
                failures += 1

        times: list[float] = []
        at = 0.0
        while len(times) < load.requests and at < load.seconds:
            times.append(at)
            at += arrivals.expovariate(rate)
        started = time.perf_counter()
        await asyncio.gather(*(one(questions[index % len(questions)], t) for index, t in enumerate(times)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Step(rate, len(latencies) / elapsed, statistics.median(ordered), p99, failures)


Workloads = dict[str, Callable[[str], Send]]


def measure(server: ServerProcess, workloads: Workloads, questions: list[str], load: Load) -> dict[str, list[Step]]:
    """Start one server, warm it up, run each workload at every rate, stop it."""
    with server:
        server.wait_until_healthy()
        steps: dict[str, list[Step]] = {}
        for name, workload in workloads.items():
            send = workload(server.url)
            asyncio.run(open_loop(send, questions, 1.0, dataclasses.replace(load, requests=2), seed=0))  # warm-up
            steps[name] = [
                asyncio.run(open_loop(send, questions, rate, load, seed=index)) for index, rate in enumerate(load.rates)
            ]
            for step in steps[name]:
                print(f"  {name:14s} {describe(step)}", flush=True)
        return steps


def describe(step: Step) -> str:
    return (
        f"offered {step.offered:5.2f}/s: {step.throughput:5.2f} answers/s, "
        f"p50 {step.p50_s:6.2f} s, p99 {step.p99_s:6.2f} s, {step.failures} failed"
    )


def within_bound(steps: list[Step], bound_s: float) -> float:
    """The most answers/s a workload reached at a rate where its p99 stayed within the bound."""
    return max((step.throughput for step in steps if step.p99_s <= bound_s and not step.failures), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0], help="offered requests/s")
    parser.add_argument("--requests", type=int, default=24, help="the most requests at each rate")
    parser.add_argument("--seconds", type=float, default=60.0, help="the longest arrival window at each rate")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--p99-bound", type=float, default=30.0, help="seconds: the latency bound for the ratio")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load = Load(tuple(args.rates), args.requests, args.seconds, args.max_tokens, args.p99_bound)
    questions = [item.question for item in load_dataset("gsm8k").items[:64]]
    logs = Path(tempfile.mkdtemp(prefix="potcot-load-"))
    model_dir = str(embedded_model_dir(EngineSettings().cache_dir))
    vllm_port, potcot_port = free_port(), free_port()
    vllm_flags = (*ENGINE_FLAGS, *CPU_DEFAULTS, "--served-model-name", EMBEDDED_MODEL_NAME)
    commands = {
        "vllm": (vllm_serve(vllm_port, model_dir, *vllm_flags), vllm_port),
        "potcot": (potcot_serve(potcot_port, *ENGINE_FLAGS), potcot_port),
    }
    workloads: dict[str, Workloads] = {
        "vllm": {"vllm cot": lambda url: vllm_cot(url, load.max_tokens)},
        "potcot": {
            "potcot cot": lambda url: potcot_solve(url, "cot", load.max_tokens),
            "potcot hybrid": lambda url: potcot_solve(url, "hybrid", load.max_tokens),
        },
    }
    print(f"model {EMBEDDED_MODEL_NAME}; rates {load.rates}/s, at most {load.requests} requests or {load.seconds:g} s "
          f"each, {load.max_tokens} tokens; p99 bound {load.p99_bound_s:g} s; logs in {logs}")  # fmt: skip
    rounds = []
    for index in range(args.rounds):
        order = ["vllm", "potcot"] if index % 2 == 0 else ["potcot", "vllm"]
        print(f"round {index + 1}", flush=True)
        steps: dict[str, list[Step]] = {}
        for name in order:
            command, port = commands[name]
            server = ServerProcess(command, port, logs / f"{name}-{index}.log")
            steps |= measure(server, workloads[name], questions, load)
        rounds.append(steps)
    report(rounds, load)
    if args.json:
        figures = [{name: [dataclasses.asdict(step) for step in steps] for name, steps in r.items()} for r in rounds]
        args.json.write_text(json.dumps(figures, indent=2))


def report(rounds: list[dict[str, list[Step]]], load: Load) -> None:
    print(f"\nanswers/s within a p99 of {load.p99_bound_s:g} s, per round: ")
    for name in rounds[0]:
        print(f"  {name:14s} " + ", ".join(f"{within_bound(steps[name], load.p99_bound_s):.3f}" for steps in rounds))
    ratios = [
        within_bound(steps["potcot cot"], load.p99_bound_s) / within_bound(steps["vllm cot"], load.p99_bound_s)
        for steps in rounds
        if within_bound(steps["vllm cot"], load.p99_bound_s) > 0
    ]
    if ratios:
        print(f"potcot cot / vLLM cot: {statistics.median(ratios):.3f} (median of {len(ratios)} rounds; "
              f"spread {min(ratios):.3f} to {max(ratios):.3f})")  # fmt: skip
    else:
        print("potcot cot / vLLM cot: no rate kept vLLM's p99 within the bound; raise --p99-bound or lower --rates")


if __name__ == "__main__":
    main()
