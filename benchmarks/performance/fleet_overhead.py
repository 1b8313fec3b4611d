"""The fleet's cost and its cache: potcot → vllm-router → 2 replicas against potcot → 1 replica.

    python -m potcot.benchmarks.performance.fleet_overhead [--questions 24] [--concurrency 8] [--strategy tir]

In one run, on this machine and the embedded model, one topology at a time (two CPU engines side by
side starve each other, so each topology has the machine to itself):

1. potcot in front of one vLLM replica, directly (``--upstream REPLICA``): the baseline;
2. the fleet, potcot → vllm-router (``cache_aware``) → two replicas;
3. the same fleet with the router's ``round_robin`` policy.

Each drives the same ``/solve`` requests (GSM8K questions, ``concurrency`` at a time) and prints
solves/s and p50/p99 latency, and the prefix-cache hit rate its replicas report (vLLM's
``prefix_cache_hits`` over ``prefix_cache_queries``, in tokens). Then the ratios: the fleet's
throughput against the single replica (on 2 cores two replicas share the same cores, so this shows
the router's and the second engine's overhead, not a speed-up), and the hit rates of cache-aware
routing against round-robin: a tool-integrated solve's rounds, and a question's program and chain of
thought, share their beginnings, and only a router that sends them to one replica finds them cached.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from potcot.benchmarks.datasets import load_dataset
from potcot.server.embedded import model_to_serve
from potcot.server.fleet.local import CPU_REPLICA_FLAGS, Fleet, FleetSpec
from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve, vllm_serve
from potcot.server.settings import EngineSettings

_COUNTER = r"^vllm:prefix_cache_{}_total\{{[^}}]*\}} (\S+)$"


@dataclasses.dataclass(frozen=True)
class Load:
    bodies: list[dict[str, object]]
    concurrency: int


@dataclasses.dataclass(frozen=True)
class Measured:
    solves_per_s: float
    p50_s: float
    p99_s: float
    hit_rate: float


async def drive(url: str, load: Load) -> tuple[float, list[float]]:
    """Solves/s and each solve's latency, ``load.concurrency`` at a time; every solve must succeed."""
    slots = asyncio.Semaphore(load.concurrency)
    async with httpx.AsyncClient(timeout=900) as client:

        async def one(body: dict[str, object]) -> float:
            async with slots:
                started = time.perf_counter()
                response = await client.post(url + "/solve", json=body)
                response.raise_for_status()
                return time.perf_counter() - started

        started = time.perf_counter()
        latencies = await asyncio.gather(*(one(body) for body in load.bodies))
        return len(load.bodies) / (time.perf_counter() - started), list(latencies)


def prefix_cache(replica_urls: list[str]) -> tuple[float, float]:
    """(hit tokens, queried tokens) summed over the replicas."""
    hits = queries = 0.0
    for url in replica_urls:
        metrics = httpx.get(url + "/metrics", timeout=10).text
        hits += sum(map(float, re.findall(_COUNTER.format("hits"), metrics, re.M)))
        queries += sum(map(float, re.findall(_COUNTER.format("queries"), metrics, re.M)))
    return hits, queries


def measure(url: str, replica_urls: list[str], load: Load) -> Measured:
    asyncio.run(drive(url, dataclasses.replace(load, bodies=load.bodies[: load.concurrency])))  # warm-up
    hits_before, queries_before = prefix_cache(replica_urls)
    rate, latencies = asyncio.run(drive(url, load))
    hits, queries = prefix_cache(replica_urls)
    percentiles = statistics.quantiles(latencies, n=100)
    hit_rate = (hits - hits_before) / max(queries - queries_before, 1.0)
    return Measured(rate, statistics.median(latencies), percentiles[98], hit_rate)


def single_replica(spec: FleetSpec, load: Load) -> Measured:
    """potcot straight in front of one replica: what the fleet is measured against."""
    replica_port, port = free_port(), free_port()
    flags = ("--served-model-name", spec.served_model_name, "--max-model-len", str(spec.max_model_len))
    replica_command = vllm_serve(replica_port, spec.model, *flags, *spec.replica_flags)
    with ServerProcess(replica_command, replica_port, spec.log_dir / "single-replica.log") as replica:
        replica.wait_until_healthy()
        front = potcot_serve(port, "--engine", "openai", "--upstream", replica.url, *spec.potcot_flags)
        with ServerProcess(front, port, spec.log_dir / "single-potcot.log") as potcot:
            potcot.wait_until_healthy()
            return measure(potcot.url, [replica.url], load)


def fleet(spec: FleetSpec, load: Load) -> Measured:
    with Fleet(spec) as running:
        return measure(running.url, running.replica_urls, load)


def report(name: str, measured: Measured) -> None:
    print(
        f"{name:34s} {measured.solves_per_s:6.3f} solves/s  p50 {measured.p50_s:6.2f} s  "
        f"p99 {measured.p99_s:6.2f} s  prefix-cache hits {100 * measured.hit_rate:5.1f}%",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--strategy", default="tir", choices=["hybrid", "pot", "cot", "tir", "vote"])
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    items = load_dataset("gsm8k").items[: args.questions]
    bodies: list[dict[str, object]] = [
        {"question": item.question, "strategy": args.strategy, "max_tokens": args.max_tokens, "seed": index}
        for index, item in enumerate(items)
    ]
    load = Load(bodies, args.concurrency)
    model, name = model_to_serve(None, EngineSettings().cache_dir)
    logs = Path(tempfile.mkdtemp(prefix="potcot-fleet-bench-"))
    spec = FleetSpec(model, name, logs, replicas=2, potcot_flags=("--sandbox-workers", "1"))
    print(f"{len(bodies)} GSM8K questions, {args.strategy}, {args.max_tokens} tokens, {args.concurrency} at a time; "
          f"replica flags {' '.join(CPU_REPLICA_FLAGS)}; logs in {logs}", flush=True)  # fmt: skip

    single = single_replica(spec, load)
    report("potcot -> 1 replica", single)
    cache_aware = fleet(spec, load)
    report("potcot -> router -> 2 (cache_aware)", cache_aware)
    round_robin = fleet(dataclasses.replace(spec, policy="round_robin"), load)
    report("potcot -> router -> 2 (round_robin)", round_robin)
    print(f"fleet / single replica, solves/s:  {cache_aware.solves_per_s / single.solves_per_s:6.3f}")
    print(f"fleet / single replica, p50:       {cache_aware.p50_s / single.p50_s:6.3f}")
    print(f"prefix-cache hit rate, cache_aware / round_robin: "
          f"{cache_aware.hit_rate / max(round_robin.hit_rate, 1e-9):6.2f}x "
          f"({100 * cache_aware.hit_rate:.1f}% against {100 * round_robin.hit_rate:.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
