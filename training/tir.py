"""Tool-integrated reasoning (TIR) records from programs of thought, in the format Qwen2.5-Math's
TIR models write and potcot's ``tir`` strategy serves: a line of reasoning, the program in a
```python block, the program's output in an ```output block, and the final answer boxed::

    Let's compute this with a program.
    ```python
    print(2 + 2)
    ```
    ```output
    4
    ```
    The answer is $\\boxed{4}$.

At serving time potcot writes the output block itself, from the sandbox; so here the output block is
what the sandbox really printed for the program, and the boxed answer is what the solver reads from
that output (``potcot.answers.program_answer``), which the execution filter has checked against the
reference. Nothing in a record is written by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from potcot.answers import Grader, program_answer
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server.prompts import TIR_OUTPUT_FENCE, Rationale
from potcot.training.filter import KEPT, FilterReport, judge_programs
from potcot.training.records import RationaleRecord

# The reasoning before the code block: short, since the program carries the steps.
REASONING = "Let's compute this with a program."
# A program kept by the filter whose answer was a final expression's value: it printed nothing that
# an output block could show, so it has no tool-integrated record.
NO_OUTPUT = "no_output"


def tir_record(record: RationaleRecord, result: ExecutionResult) -> RationaleRecord:
    """The tool-integrated rationale of a program of thought, given what running it gave. The boxed
    answer is read from the printed output, so a record never states more than its output shows."""
    if record.rationale is not Rationale.POT:
        raise ValueError(f"{record.id}: a {record.rationale.value} record is not a program of thought")
    printed = result.stdout.strip() if result.ok else ""
    answer = program_answer(printed.splitlines()[-1]) if printed else None
    if answer is None:
        raise ValueError(f"{record.id}: the program printed no answer ({result.status.value})")
    output = (
        f"{REASONING}\n```python\n{record.output.strip()}\n```\n"
        f"{TIR_OUTPUT_FENCE}\n{printed}\n```\n"
        f"The answer is $\\boxed{{{answer}}}$."
    )
    return dataclasses.replace(record, rationale=Rationale.TIR, output=output)


def tir_records(
    records: Sequence[RationaleRecord], sandbox: Sandbox, grader: Grader
) -> tuple[list[RationaleRecord], FilterReport]:
    """Run every program again and keep, as a tool-integrated record, each one the execution filter
    accepts from this run and that printed its answer. Running again rather than trusting an earlier
    filter's verdict means the output block is the output of the run that was judged."""
    not_programs = [record.id for record in records if record.rationale is not Rationale.POT]
    if not_programs:
        raise ValueError(f"{len(not_programs)} records are not programs of thought, e.g. {not_programs[0]!r}")
    written: list[RationaleRecord] = []
    outcomes: list[str] = []
    for judgement in judge_programs(records, sandbox, grader):
        outcome = judgement.outcome
        if outcome == KEPT and not judgement.result.stdout.strip():
            outcome = NO_OUTPUT
        if outcome == KEPT:
            written.append(tir_record(judgement.record, judgement.result))
        outcomes.append(outcome)
    return written, FilterReport.of(outcomes)
