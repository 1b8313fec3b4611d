"""The paper's quality filter: keep a program of thought only if running it gives the reference
answer. Also how a user cleans programs synthesised by a stronger model."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

from potcot.benchmarks.grading import Grader
from potcot.sandbox import Sandbox
from potcot.training.records import RationaleRecord

KEPT = "kept"
WRONG_ANSWER = "wrong_answer"
NO_ANSWER = "no_answer"


@dataclasses.dataclass(frozen=True)
class FilterReport:
    """How every program ended: ``kept``, ``wrong_answer``, ``no_answer``, or the sandbox status."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def kept(self) -> int:
        return self.counts.get(KEPT, 0)


def filter_programs(
    records: Sequence[RationaleRecord], sandbox: Sandbox, grader: Grader
) -> tuple[list[RationaleRecord], FilterReport]:
    results = sandbox.run_many([record.output for record in records])
    kept: list[RationaleRecord] = []
    counts: collections.Counter[str] = collections.Counter()
    for record, result in zip(records, results, strict=True):
        if not result.ok:
            counts[result.status.value] += 1
        elif result.answer is None:
            counts[NO_ANSWER] += 1
        elif grader.match(result.answer, record.answer):
            counts[KEPT] += 1
            kept.append(record)
        else:
            counts[WRONG_ANSWER] += 1
    return kept, FilterReport(dict(counts))
