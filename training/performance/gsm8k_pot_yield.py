"""Yield of the GSM8K program-of-thought converter on the whole training split.

    python -m potcot.training.performance.gsm8k_pot_yield [--input gsm8k-train]

Converts every rationale (``training.gsm8k_pot``), runs the programs in the sandbox, and counts the
rows whose program prints the gold answer (``potcot.answers``). For comparison, it also counts
the rows where simply taking the value of the last calculator annotation gives the gold answer.
Exits non-zero below 95%.
"""

from __future__ import annotations

import argparse
import re
import sys

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.server.settings import EngineSettings
from potcot.training.filter import filter_programs
from potcot.training.gsm8k_pot import convert
from potcot.training.inputs import read_input

_LAST_ANNOTATION = re.compile(r"<<[^<>=]*=([^<>]*)>>")
REQUIRED_YIELD = 0.95


def last_annotation_agrees(row: dict[str, object], grader: Grader) -> bool:
    meta = row.get("meta")
    annotations = _LAST_ANNOTATION.findall(str(meta.get("solution", "")) if isinstance(meta, dict) else "")
    return bool(annotations) and grader.match(annotations[-1], str(row["answer"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="gsm8k-train", help="a JSONL file, or the name of training data")
    args = parser.parse_args()
    rows = read_input(args.input, EngineSettings(engine="vllm").cache_dir)
    records = convert(rows)
    with Sandbox() as sandbox, Grader() as grader:
        _, report = filter_programs(records, sandbox, grader)
        baseline = sum(last_annotation_agrees(row, grader) for row in rows)
    share = report.kept / len(rows)
    print(f"{len(rows)} GSM8K training rows; {len(records)} gave a program")
    print(f"program prints the gold answer: {report.kept} ({100 * share:.1f}%)")
    print(f"last calculator annotation is the gold answer: {baseline} ({100 * baseline / len(rows):.1f}%)")
    print("programs by outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))
    if share < REQUIRED_YIELD:
        sys.exit(f"FAILED: yield {share:.3f} is below {REQUIRED_YIELD}")


if __name__ == "__main__":
    main()
