"""The paper's quality filter: keep a program of thought only if running it gives the reference
answer. Also how a user cleans programs synthesised by a stronger model. A program's answer is read
as the solver reads it when it serves (``potcot.answers.program_answer``), so the filter keeps
exactly the programs that would have answered right.

``judge_programs`` is the one judge: the filter keeps what it accepts, and tool-integrated records
(``training.tir``) are built from what it accepts, with the output of the very run it judged."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Sequence

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

    @classmethod
    def of(cls, outcomes: Iterable[str]) -> FilterReport:
        return cls(dict(collections.Counter(outcomes)))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def kept(self) -> int:
        return self.counts.get(KEPT, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Judgement:
    """One program, what running it gave, and how it ended (an outcome of ``FilterReport``)."""

    record: RationaleRecord
    result: ExecutionResult
    outcome: str


def filter_programs(
    records: Sequence[RationaleRecord], sandbox: Sandbox, grader: Grader
) -> tuple[list[RationaleRecord], FilterReport]:
    judgements = judge_programs(records, sandbox, grader)
    kept = [judgement.record for judgement in judgements if judgement.outcome == KEPT]
    return kept, FilterReport.of(judgement.outcome for judgement in judgements)


def judge_programs(records: Sequence[RationaleRecord], sandbox: Sandbox, grader: Grader) -> list[Judgement]:
    """Run every program in one batch (``run_many`` keeps all sandbox workers busy) and judge each,
    keeping its result: whoever builds on a judgement sees the output that was judged."""
    results = sandbox.run_many([record.output for record in records])
    return [
        Judgement(record, result, judge(record, result, grader))
        for record, result in zip(records, results, strict=True)
    ]


def judge(record: RationaleRecord, result: ExecutionResult, grader: Grader) -> str:
    """How one program ended: the sandbox's status when it failed, else whether its answer is right."""
    if not result.ok:
        return result.status.value
    answer = program_answer(result.answer) if result.answer is not None else None
    if answer is None:
        return NO_ANSWER
    return KEPT if grader.match(answer, record.answer) else WRONG_ANSWER
