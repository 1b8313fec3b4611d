"""The sandbox beside the executors people use for model-written programs, on the same programs, in one run.

    python -m potcot.benchmarks.performance.sandbox_peers [--per-shape 1] [--rounds 3] [--json PATH]

Four executors run the same programs of the fidelity corpus (``fidelity_corpus``: model-style GSM8K,
MATH and TheoremQA programs, a third importing numpy or sympy):

- ``potcot``: the sandbox, one worker per concurrent program;
- ``reused pool``: worker processes that imported numpy and sympy once and ``exec`` each program
  with its output redirected and a timeout, which is how Qwen2.5-Math's evaluation runs programs:
  the speed of not isolating at all;
- ``fresh python``: a new interpreter per program (``python -I -c``);
- ``bubblewrap``: a new interpreter per program under ``bwrap`` with every namespace unshared, the
  environment cleared and the root read-only: the common way to isolate a process (Debian package
  ``bubblewrap``; left out where it is missing).

Each round measures every executor one program at a time (latency: p50, p99) and two at a time
(programs/s, CPU per program: the whole process tree's, the executor's own processes included), the
executors' order rotating between rounds; ratios against potcot are computed within a round, then
their median and spread over rounds are printed. Beside them: potcot's CPU per program against a bare
fork of its templates (``sandbox_throughput``), the floor of its design, and which classes of the
sandbox tests' attacks each executor stops. Every executor's output must match a fresh interpreter's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from potcot.benchmarks.performance.corpus import FIDELITY, build_corpus
from potcot.benchmarks.performance.sandbox_throughput import bare_fork_cpu_seconds
from potcot.sandbox import Sandbox
from potcot.sandbox.template import TemplateKind

TIMEOUT_S = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_BWRAP = (
    "--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-all --as-pid-1 --die-with-parent --new-session "
    "--clearenv --setenv PATH /usr/bin:/bin"
).split()
Run = Callable[[str], str]
Factory = Callable[[], contextlib.AbstractContextManager[Run]]

# Which classes of the attacks in potcot's sandbox tests each executor stops, and the tests that hold
# them. A reused pool runs every program in the same processes with the server's environment, files
# and network; a fresh interpreter stops only what one program leaves for the next; bubblewrap as run
# here adds namespaces, a cleared environment and a read-only root, and nothing inside the process
# (no policy, no limits, no seccomp).
_EXECUTORS = ("potcot", "reused pool", "fresh python", "bubblewrap")
ATTACK_CLASSES: dict[str, tuple[str, tuple[bool, bool, bool, bool]]] = {
    "the host's environment (keys, tokens)": ("test_isolation.py §1", (True, False, False, True)),
    "the host's files": ("test_isolation.py §1, test_containment.py", (True, False, False, False)),
    "what one program leaves for the next": ("test_isolation.py §3, test_pool.py", (True, False, True, True)),
    "spying on later programs": ("test_isolation.py §4", (True, False, True, True)),
    "naming other processes (signal, limit, time)": ("test_process_reach.py §1", (True, False, False, True)),
    "System V IPC shared with the host": ("test_process_reach.py §2", (True, False, False, True)),
    "the network": ("test_containment.py", (True, False, False, True)),
    "writing files": ("test_containment.py", (True, False, False, True)),
    "starting processes": ("test_containment.py, test_jail.py", (True, False, False, False)),
    "memory and output bombs": ("test_containment.py", (True, False, False, False)),
}


def _exec_with_captured_output(code: str) -> str:
    """A reused pool's worker: run the program in this process, as Qwen2.5-Math's executor does."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "<program>", "exec"), {"__name__": "__main__"})
    return output.getvalue()


def _warm_worker() -> None:
    import numpy  # noqa: F401 - a worker imports the libraries once, as a warm executor does
    import sympy  # noqa: F401


@contextlib.contextmanager
def reused_pool(workers: int) -> Iterator[Run]:
    with concurrent.futures.ProcessPoolExecutor(workers, initializer=_warm_worker) as pool:
        list(pool.map(_warm_worker_probe, range(workers)))
        yield lambda code: pool.submit(_exec_with_captured_output, code).result(timeout=TIMEOUT_S)


def _warm_worker_probe(_: int) -> None:
    time.sleep(0.05)  # every worker started and warm before the clock starts


@contextlib.contextmanager
def potcot_pool(workers: int) -> Iterator[Run]:
    with Sandbox(workers) as sandbox:
        yield lambda code: sandbox.run(code, timeout=TIMEOUT_S).stdout


@contextlib.contextmanager
def fresh_interpreters(prefix: list[str]) -> Iterator[Run]:
    def run(code: str) -> str:
        command = [*prefix, sys.executable, "-I", "-c", code]
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout

    yield run


def executors(workers: int) -> dict[str, Factory]:
    found: dict[str, Factory] = {
        "potcot": lambda: potcot_pool(workers),
        "reused pool": lambda: reused_pool(workers),
        "fresh python": lambda: fresh_interpreters([]),
    }
    bwrap = shutil.which("bwrap")
    if bwrap:
        found["bubblewrap"] = lambda: fresh_interpreters([bwrap, *_BWRAP, *_interpreter_binds()])
    return found


def _interpreter_binds() -> list[str]:
    """The interpreter and its environment, bound again over the empty /tmp, where a clone (and
    its virtual environment) may live."""
    return [arg for prefix in {sys.prefix, sys.base_prefix} for arg in ("--ro-bind", prefix, prefix)]


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and every process below it, live or reaped: a live one's own and
    its reaped children's from /proc, the reaped ones of this process from ``getrusage``."""
    total = sum(
        u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )
    return total + sum(own + reaped for own, reaped in _descendants_cpu(os.getpid()))


def _descendants_cpu(root: int) -> Iterator[tuple[float, float]]:
    children: dict[int, list[tuple[int, float, float]]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own, reaped = (
            (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS,
            (int(fields[13]) + int(fields[14])) / _CLOCK_TICKS,
        )
        children.setdefault(int(fields[1]), []).append((int(entry), own, reaped))
    stack = [root]
    while stack:
        for pid, own, reaped in children.get(stack.pop(), []):
            stack.append(pid)
            yield own, reaped


def latencies(run: Run, codes: list[str]) -> list[float]:
    """Each program's wall time, one at a time."""
    times = []
    for code in codes:
        started = time.perf_counter()
        run(code)
        times.append(time.perf_counter() - started)
    return times


def throughput(run: Run, codes: list[str], workers: int) -> tuple[float, float, list[str]]:
    """Programs/s and CPU seconds per program with ``workers`` in flight, and what each printed."""
    cpu_before, started = tree_cpu_seconds(), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as threads:
        outputs = list(threads.map(run, codes))
    elapsed, cpu = time.perf_counter() - started, tree_cpu_seconds() - cpu_before
    return len(codes) / elapsed, cpu / len(codes), outputs


def measure_round(
    factories: dict[str, Factory], codes: list[str], workers: int
) -> tuple[dict[str, dict[str, float]], dict[str, list[str]]]:
    figures, outputs = {}, {}
    for name, factory in factories.items():
        with factory() as run:
            run(codes[0])
            times = latencies(run, codes)
            rate, cpu, outputs[name] = throughput(run, codes, workers)
        quantiles = statistics.quantiles(times, n=100)
        figures[name] = {
            "programs_per_s": rate,
            "cpu_ms": cpu * 1000,
            "p50_ms": quantiles[49] * 1000,
            "p99_ms": quantiles[98] * 1000,
        }
    return figures, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-shape", type=int, default=1, help="programs of each of the corpus's 85 shapes, 1 to 4")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the executors' order rotating")
    parser.add_argument("--workers", type=int, default=2, help="programs in flight for the throughput")
    parser.add_argument("--json", type=Path, default=None, help="write every round's figures here")
    args = parser.parse_args()
    codes = [program.code for program in build_corpus(FIDELITY, args.per_shape)]
    factories = executors(args.workers)
    print(f"{len(codes)} programs of the fidelity corpus; executors: {', '.join(factories)}; {args.rounds} rounds")
    if "bubblewrap" not in factories:
        print("bubblewrap left out: `bwrap` is not installed (Debian: apt-get install bubblewrap)")
    rounds, disagreements = [], 0
    for number in range(args.rounds):
        order = list(factories)[number % len(factories) :] + list(factories)[: number % len(factories)]
        figures, outputs = measure_round({name: factories[name] for name in order}, codes, args.workers)
        reference = outputs["fresh python"]
        disagreements += sum(outputs[name] != reference for name in outputs if name != "fresh python")
        rounds.append(figures)
        print(f"round {number + 1}: " + ", ".join(f"{name} {f['programs_per_s']:.1f}/s" for name, f in figures.items()))
    report(rounds, factories)
    floor_ms, potcot_ms = _floor_ms(codes), _median(rounds, "potcot", "cpu_ms")
    print(f"potcot's CPU per program: {potcot_ms:.2f} ms against {floor_ms:.2f} ms for a bare fork of its templates "
          f"({potcot_ms / floor_ms:.1f}x)")  # fmt: skip
    print_attack_table(list(factories))
    if args.json:
        args.json.write_text(json.dumps({"programs": len(codes), "rounds": rounds, "bare_fork_ms": floor_ms}, indent=2))
    if disagreements:
        sys.exit(f"FAILED: {disagreements} executor outputs differ from a fresh interpreter's")


def _floor_ms(codes: list[str]) -> float:
    kinds = [TemplateKind.for_program(code) for code in codes]
    floors = {kind: bare_fork_cpu_seconds(kind) for kind in set(kinds)}
    return sum(floors[kind] for kind in kinds) / len(kinds) * 1000


def _median(rounds: list[dict[str, dict[str, float]]], name: str, figure: str) -> float:
    return statistics.median(round_[name][figure] for round_ in rounds)


def report(rounds: list[dict[str, dict[str, float]]], factories: dict[str, Any]) -> None:
    """Per executor: medians over rounds, and ratios to potcot computed within each round."""
    print(f"{'executor':14s} {'programs/s':>11s} {'vs potcot':>18s} {'CPU/program':>12s} {'p50':>9s} {'p99':>9s}")
    for name in factories:
        ratios = [round_[name]["programs_per_s"] / round_["potcot"]["programs_per_s"] for round_ in rounds]
        spread = f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        print(
            f"{name:14s} {_median(rounds, name, 'programs_per_s'):11.1f} {spread:>18s} "
            f"{_median(rounds, name, 'cpu_ms'):9.2f} ms {_median(rounds, name, 'p50_ms'):6.2f} ms "
            f"{_median(rounds, name, 'p99_ms'):6.2f} ms"
        )


def print_attack_table(names: list[str]) -> None:
    print("\nattack classes stopped (from potcot's sandbox tests):")
    print(f"{'':52s} " + " ".join(f"{name:>12s}" for name in names))
    for attack, (where, stopped_by) in ATTACK_CLASSES.items():
        stopped = dict(zip(_EXECUTORS, stopped_by, strict=True))
        marks = " ".join(f"{'yes' if stopped[name] else 'no':>12s}" for name in names)
        print(f"{attack:52s} {marks}   ({where})")


if __name__ == "__main__":
    main()
