"""Sandbox throughput: a fresh fork of a warm template per program, against a fresh interpreter per program.

    python -m potcot.benchmarks.performance.sandbox_throughput [--size 260] [--workers N] [--repeat 5]

Runs the GSM8K-style corpus of ``throughput_corpus.yaml`` (read by ``corpus``) through ``Sandbox``
(every program in a process of its own, forked from a template that imported the libraries once)
and, in the same run and at the same concurrency, through the baseline: ``python -c PROGRAM`` per program, with the same
libraries importable. Prints programs/s for both, their ratio, the pool's latency per program
when programs arrive one at a time, and where the pool's CPU time went: the programs' own
processes (fork aftermath, confining, compiling, running, exit), the templates (forking) and the
pool. Their sum bounds the rate any number of workers can reach on this machine's cores. Beside it,
the floor of the design: the CPU of a bare fork of the same templates (their libraries loaded and
their memory laid out as a template's) whose child exits at once, weighted as the corpus uses the
two kinds. Every pool result must be ``ok`` and agree with the baseline's printed answer, or the
benchmark fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import resource
import statistics
import subprocess
import sys
import time

from potcot.benchmarks.performance.corpus import THROUGHPUT, build_corpus, shapes
from potcot.sandbox import Sandbox
from potcot.sandbox.result import last_printed_line
from potcot.sandbox.template import TemplateKind

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A process laid out as a template of one kind, which forks children that exit at once and prints
# the CPU seconds, its own and its children's, that each fork cost.
_BARE_FORKS = """
import os, resource, sys
from potcot.sandbox import SandboxLimits
from potcot.sandbox.template import TemplateKind, preload, settle_memory
preload(TemplateKind(sys.argv[1]), SandboxLimits())
settle_memory()
def cpu():
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)
forks = int(sys.argv[2])
started = cpu()
for _ in range(forks):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print((cpu() - started) / forks)
"""


def fresh_interpreter(code: str) -> str | None:
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return last_printed_line(completed.stdout)


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of a process itself and of its children that it has waited for."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    own, children = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    return own / _CLOCK_TICKS, children / _CLOCK_TICKS


def cpu_split(sandbox: Sandbox) -> dict[str, float]:
    """CPU seconds so far of the pool (this process), the templates, and the programs' processes."""
    templates = [process_cpu_seconds(pid) for pid in sandbox.worker_pids]
    pool = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "program processes": sum(children for _, children in templates),
        "templates": sum(own for own, _ in templates),
        "pool": pool.ru_utime + pool.ru_stime,
    }


def bare_fork_cpu_seconds(kind: TemplateKind, forks: int = 400) -> float:
    """CPU seconds of one bare fork, and its child's exit, of a process laid out as a ``kind`` template."""
    command = [sys.executable, "-I", "-c", _BARE_FORKS, kind.value, str(forks)]
    return float(subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout)


def corpus_programs(size: int) -> list[str]:
    """The corpus's first ``size`` programs: its shapes in turn, as many rounds as it takes."""
    per_shape = -(-size // len(shapes(THROUGHPUT)))
    return [program.code for program in build_corpus(THROUGHPUT, per_shape)][:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=260, help="programs in the corpus, 200 to 260")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="programs run at once, by both")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the corpus for the pool's timing")
    args = parser.parse_args()

    corpus = corpus_programs(args.size)
    scientific = sum("numpy" in code or "sympy" in code for code in corpus)
    print(f"corpus: {len(corpus)} programs, {scientific} importing numpy or sympy; {args.workers} at a time")

    started = time.perf_counter()
    with Sandbox(args.workers) as sandbox:
        print(f"pool start-up: {time.perf_counter() - started:.2f} s (not counted below)")
        sandbox.run_many(corpus)
        cpu_before = cpu_split(sandbox)
        started = time.perf_counter()
        results = sandbox.run_many(corpus * args.repeat)
        pool_rate = len(results) / (time.perf_counter() - started)
        cpu = {part: (seconds - cpu_before[part]) / len(results) for part, seconds in cpu_split(sandbox).items()}
        latencies = []
        for code in corpus:
            started = time.perf_counter()
            sandbox.run(code)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.workers) as executor:
        baseline_answers = list(executor.map(fresh_interpreter, corpus))
    baseline_rate = len(corpus) / (time.perf_counter() - started)

    failed = [result for result in results if not result.ok]
    disagreements = sum(
        expected is not None and result.answer != expected
        for result, expected in zip(results, baseline_answers * args.repeat, strict=True)
    )
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"pool:     {pool_rate:8.1f} programs/s  ({len(results)} programs)")
    print(f"baseline: {baseline_rate:8.1f} programs/s  (fresh `python -c` per program)")
    print(f"ratio:    {pool_rate / baseline_rate:8.1f}x")
    print(
        f"latency, one program at a time: median {statistics.median(latencies) * 1000:.2f} ms, "
        f"p90 {quantiles[89] * 1000:.2f} ms, p99 {quantiles[98] * 1000:.2f} ms"
    )
    print(
        "CPU per program: "
        + ", ".join(f"{part} {seconds * 1000:.2f} ms" for part, seconds in cpu.items())
        + f"; at most {(os.cpu_count() or 1) / sum(cpu.values()):.0f} programs/s on {os.cpu_count()} cores"
    )
    kinds = [TemplateKind.for_program(code) for code in corpus]
    floors = {kind: bare_fork_cpu_seconds(kind) for kind in TemplateKind}
    floor = sum(floors[kind] for kind in kinds) / len(kinds)
    print(
        f"a bare fork of the same templates: {floor * 1000:.2f} ms CPU per program ("
        + ", ".join(f"{kind} {seconds * 1000:.2f} ms" for kind, seconds in floors.items())
        + f"); potcot's whole program costs {sum(cpu.values()) / floor:.1f}x that"
    )
    if failed or disagreements:
        sys.exit(f"FAILED: {len(failed)} programs not ok, {disagreements} answers differ from the baseline")


if __name__ == "__main__":
    main()
