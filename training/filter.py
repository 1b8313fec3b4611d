"""The paper's quality filter: keep a program of thought only if running it gives the reference
answer. Also how a user cleans programs synthesised by a stronger model. A program's answer is read
as the solver reads it when it serves (``potcot.answers.program_answer``), so the filter keeps
exactly the programs that would have answered right."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

from potcot.answers import Grader, program_answer
from potcot.sandbox import ExecutionResult, Sandbox
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
        outcome = _outcome(record, result, grader)
        counts[outcome] += 1
        if outcome == KEPT:
            kept.append(record)
    return kept, FilterReport(dict(counts))


def _outcome(record: RationaleRecord, result: ExecutionResult, grader: Grader) -> str:
    """How one program ended: the sandbox's status when it failed, else whether its answer is right."""
    if not result.ok:
        return result.status.value
    answer = program_answer(result.answer) if result.answer is not None else None
    if answer is None:
        return NO_ANSWER
    return KEPT if grader.match(answer, record.answer) else WRONG_ANSWER
