"""Sandbox fidelity: ordinary math programs print in the sandbox what they print in CPython.

    python -m potcot.benchmarks.performance.sandbox_fidelity [--per-shape 4] [--workers N] [--target 0.99]

Runs every program of the fidelity corpus (``fidelity_corpus.yaml``, read by ``corpus``) through
``Sandbox.run_many`` and, in the same run and at the same concurrency, through plain CPython (a
fresh ``python -c PROGRAM`` per program), then compares their stdout. Prints the number of
programs, the share whose stdout is the same, and a line for each mismatch: its index and shape,
the sandbox's status and error, and the first line that differs. Exits non-zero when the share is
below the target.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time
from itertools import zip_longest

from potcot.benchmarks.performance.corpus import FIDELITY, CorpusProgram, build_corpus, shapes
from potcot.sandbox import ExecutionResult, Sandbox


def cpython_stdout(code: str) -> str:
    """What ``code`` prints when plain CPython runs it as a script."""
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    return completed.stdout


def first_difference(expected: str, actual: str) -> str:
    """The first line where the sandbox's stdout departs from CPython's."""
    pairs = zip_longest(expected.splitlines(), actual.splitlines())
    for number, (wanted, got) in enumerate(pairs, start=1):
        if wanted != got:
            return f"line {number}: CPython {wanted!r}, sandbox {got!r}"
    return "the same lines, different line endings"


def mismatch_line(index: int, program: CorpusProgram, result: ExecutionResult, expected: str) -> str:
    error = f" ({result.error})" if result.error else ""
    return f"  #{index} {program.shape}: {result.status}{error}; {first_difference(expected, result.stdout)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-shape", type=int, default=4, help="programs of each shape, 1 to 4 (4: 340 programs)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="programs run at once, by both")
    parser.add_argument("--target", type=float, default=0.99, help="share of programs that must print the same")
    args = parser.parse_args()

    corpus = build_corpus(FIDELITY, args.per_shape)
    codes = [program.code for program in corpus]
    print(f"corpus: {len(corpus)} programs of {len(shapes(FIDELITY))} shapes; {args.workers} at a time")

    started = time.perf_counter()
    with Sandbox(args.workers) as sandbox:
        results = sandbox.run_many(codes)
    sandbox_s = time.perf_counter() - started
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.workers) as executor:
        expected = list(executor.map(cpython_stdout, codes))
    cpython_s = time.perf_counter() - started

    mismatches = [
        mismatch_line(index, program, result, wanted)
        for index, (program, result, wanted) in enumerate(zip(corpus, results, expected, strict=True))
        if result.stdout != wanted
    ]
    share = 1 - len(mismatches) / len(corpus)
    print(f"programs: {len(corpus)}")
    print(f"same stdout: {share:.1%} ({len(corpus) - len(mismatches)} of {len(corpus)}; target {args.target:.0%})")
    print(f"wall time: sandbox {sandbox_s:.1f} s (with start-up), CPython {cpython_s:.1f} s")
    for line in mismatches:
        print(line)
    if share < args.target:
        sys.exit(f"FAILED: {share:.1%} of programs print the same, below the {args.target:.0%} target")


if __name__ == "__main__":
    main()
