"""The family's splits, drawn by seed, and what ``potcot data miniature`` writes from them.

Each problem has its own random generator, seeded by (seed, split, place, attempt), so a split is
the same on every machine and a larger training split begins with the smaller one's problems. A
problem whose question is already in the split, or in an earlier split, is drawn again: no test
question is a training question. Every program is run in the sandbox before anything is written;
one that does not print its problem's answer is a bug in a template, and stops the run.

The text kinds (``text_kinds``: multiple choice answered by a name or a word) are drawn into their
own splits, from their own generators, so adding them changed no arithmetic problem: their training
problems are chains of thought appended after the arithmetic records, their test split is a file of
its own, and the mixed test split is the arithmetic test split followed by the text one.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Protocol, TypeVar

from potcot.answers import parse_number, program_answer
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server.prompts import PromptStyle, Rationale, with_choices
from potcot.training.miniature.arithmetic import number
from potcot.training.miniature.templates import HELD_OUT, TRAIN, Template
from potcot.training.miniature.text_kinds import TEXT, ChoiceTemplate
from potcot.training.miniature.work import Work
from potcot.training.mix import MixConfig, mix
from potcot.training.records import RationaleRecord, write_jsonl
from potcot.training.tir import tir_record

SOURCE = "miniature"
TRAIN_SPLIT, TEST_SPLIT, HELD_OUT_SPLIT = "train", "test", "held_out_templates"
# The text kinds' splits, and the test split that mixes the kinds (the arithmetic test split, then the text one).
TEXT_TRAIN_SPLIT, TEXT_TEST_SPLIT, MIXED_SPLIT = "text_train", "text_test", "mixed_test"
# How many times one problem is drawn again before a split is declared too large for its templates.
_MAX_ATTEMPTS = 200


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    id: str
    template: str
    question: str
    answer: str
    chain_of_thought: str
    program: str


@dataclasses.dataclass(frozen=True, slots=True)
class ChoiceProblem:
    """A problem of a text kind: the bare question, its options and the right one's letter."""

    id: str
    template: str
    question: str
    choices: tuple[str, ...]
    answer: str
    chain_of_thought: str


class _Asked(Protocol):
    @property
    def question(self) -> str: ...


_P = TypeVar("_P", bound=_Asked)
# How a split writes one problem of a template: from its generator, with its id.
Writer = Callable[[random.Random, str], _P]


@dataclasses.dataclass(frozen=True)
class MiniatureConfig:
    seed: int = 0
    train: int = 30_000  # `potcot data miniature` and `potcot train miniature` draw as many
    test: int = 300  # each of the two arithmetic test splits
    style: PromptStyle = PromptStyle.ALPACA
    eval_fraction: float = 0.02
    # The text kinds: 4,500 training problems are 13% of the family's problems but 5% of its records
    # (one chain of thought each, against three rationales of an arithmetic problem), so the SFT's
    # fixed minutes lose about a twentieth of their arithmetic steps; 120 test problems (20 a kind)
    # make a quarter of the mixed test split.
    text_train: int = 4_500
    text_test: int = 120


def write_problem(template: Template, name: str, rng: random.Random, identifier: str) -> Problem:
    """One problem of a template, its two rationales written from the same steps."""
    work = Work(rng)
    question, answer = template(work)
    return Problem(
        identifier, name, question, number(answer.value), work.chain_of_thought(answer), work.program(answer, question)
    )


def write_choice_problem(template: ChoiceTemplate, name: str, rng: random.Random, identifier: str) -> ChoiceProblem:
    """One problem of a text kind."""
    asked = template(rng)
    return ChoiceProblem(identifier, name, asked.question, asked.choices, asked.answer, asked.chain_of_thought)


def draw_split(split: str, count: int, seed: int, taken: Iterable[str] = ()) -> list[Problem]:
    """``count`` problems, the templates in turn, none asking a question in ``taken`` or asked before."""
    templates = (HELD_OUT if split == HELD_OUT_SPLIT else TRAIN).items()
    writers = [(name, functools.partial(write_problem, template, name)) for name, template in templates]
    return _drawn(split, count, seed, taken, writers)


def draw_text_split(split: str, count: int, seed: int, taken: Iterable[str] = ()) -> list[ChoiceProblem]:
    """``count`` problems of the text kinds in turn, as ``draw_split`` draws the arithmetic ones;
    a question is the same question whatever its options' order."""
    writers = [(name, functools.partial(write_choice_problem, template, name)) for name, template in TEXT.items()]
    return _drawn(split, count, seed, taken, writers)


def _drawn(
    split: str, count: int, seed: int, taken: Iterable[str], writers: Sequence[tuple[str, Writer[_P]]]
) -> list[_P]:
    """The split's problems: each from its own generator, seeded by (seed, split, place, attempt),
    drawn again while its question was asked before."""
    seen, problems = set(taken), []
    for place in range(count):
        name, write = writers[place % len(writers)]
        for attempt in range(_MAX_ATTEMPTS):
            rng = random.Random(f"{SOURCE}:{seed}:{split}:{place}:{attempt}")
            problem = write(rng, f"{SOURCE}-{split}-{place:06d}")
            if problem.question not in seen:
                break
        else:
            raise ValueError(f"{split}: template {name} has no new question left after {_MAX_ATTEMPTS} draws")
        seen.add(problem.question)
        problems.append(problem)
    return problems


def draw_splits(config: MiniatureConfig) -> dict[str, list[Problem]]:
    train = draw_split(TRAIN_SPLIT, config.train, config.seed)
    test = draw_split(TEST_SPLIT, config.test, config.seed, (problem.question for problem in train))
    held_out = draw_split(HELD_OUT_SPLIT, config.test, config.seed)
    return {TRAIN_SPLIT: train, TEST_SPLIT: test, HELD_OUT_SPLIT: held_out}


def draw_text_splits(config: MiniatureConfig) -> dict[str, list[ChoiceProblem]]:
    """The text kinds' training and test splits, no test question a training one."""
    train = draw_text_split(TEXT_TRAIN_SPLIT, config.text_train, config.seed)
    test = draw_text_split(TEXT_TEST_SPLIT, config.text_test, config.seed, (problem.question for problem in train))
    return {TEXT_TRAIN_SPLIT: train, TEXT_TEST_SPLIT: test}


def printed_answer(result: ExecutionResult) -> str | None:
    """The answer a program printed, read as the solver reads it; None if it printed nothing."""
    printed = result.stdout.strip() if result.ok else ""
    return program_answer(printed.splitlines()[-1]) if printed else None


def same_number(stated: str | None, answer: str) -> bool:
    """Whether a printed answer is the reference: exactly, up to the float noise of a division."""
    value = parse_number(stated) if stated is not None else None
    return value is not None and abs(Fraction(value) - Fraction(answer)) <= Fraction(1, 10**6)


def run_programs(problems: Sequence[Problem], sandbox: Sandbox) -> list[ExecutionResult]:
    """Every program's run; a program that does not print its answer twice running (once could be
    a deadline missed on a loaded machine) is a template's bug."""
    results = sandbox.run_many([problem.program for problem in problems])
    for index, (problem, result) in enumerate(zip(problems, results, strict=True)):
        if not same_number(printed_answer(result), problem.answer):
            result = results[index] = sandbox.run(problem.program)
        if not same_number(printed_answer(result), problem.answer):
            raise ValueError(
                f"{problem.id} ({problem.template}): the program printed {result.stdout!r} "
                f"({result.status.value}: {result.error}), not {problem.answer}"
            )
    return results


def rationale_records(problems: Sequence[Problem], results: Sequence[ExecutionResult]) -> list[RationaleRecord]:
    """A chain of thought, a program and a tool-integrated rationale (with the program's real
    output) for every problem."""
    records = []
    for problem, result in zip(problems, results, strict=True):
        source = f"{SOURCE}/{problem.template}"
        cot = RationaleRecord(
            problem.id, problem.question, problem.answer, Rationale.COT, problem.chain_of_thought, source
        )
        pot = dataclasses.replace(cot, rationale=Rationale.POT, output=problem.program)
        records += [cot, pot, tir_record(pot, result)]
    return records


def choice_records(problems: Sequence[ChoiceProblem]) -> list[RationaleRecord]:
    """A chain of thought for each text problem, its question with the options as a prompt shows
    them; no program, as none of the family's style answers it (MathInstruct, too, had sources with
    chains of thought only)."""
    return [
        RationaleRecord(problem.id, with_choices(problem.question, problem.choices), problem.answer, Rationale.COT,
                        problem.chain_of_thought, f"{SOURCE}/{problem.template}")
        for problem in problems
    ]  # fmt: skip


def benchmark_row(problem: Problem | ChoiceProblem, split: str) -> dict[str, object]:
    """A problem in the benchmark JSONL format that ``potcot bench`` reads (a text kind's with its
    options, its answer their letter)."""
    choices = list(problem.choices) if isinstance(problem, ChoiceProblem) else None
    meta = {"template": problem.template, "split": split}
    return {"id": problem.id, "question": problem.question, "answer": problem.answer, "choices": choices,
            "source": SOURCE, "meta": meta}  # fmt: skip


def write_miniature(out: Path, config: MiniatureConfig, sandbox: Sandbox) -> dict[str, object]:
    """Write the family under ``out``; returns the manifest (also written as manifest.json):

    * ``records/{cot,pot,tir}.jsonl``: the training split as rationale records (``potcot data mix``
      input), the text kinds' chains of thought after the arithmetic ones in ``cot.jsonl``;
    * ``mix/train.jsonl`` and ``mix/eval.jsonl``: them mixed in ``config.style`` (``potcot train`` input);
    * ``benchmarks/miniature_{test,held_out_templates,text_test,mixed_test}.jsonl``.
    """
    splits, text = draw_splits(config), draw_text_splits(config)
    results = {split: run_programs(problems, sandbox) for split, problems in splits.items()}
    records = rationale_records(splits[TRAIN_SPLIT], results[TRAIN_SPLIT]) + choice_records(text[TEXT_TRAIN_SPLIT])
    files: dict[str, str] = {}
    for rationale in Rationale:
        path = out / "records" / f"{rationale.value}.jsonl"
        write_jsonl(path, [record for record in records if record.rationale is rationale])
        files[f"records_{rationale.value}"] = str(path)
    train, held_out, stats = mix(records, MixConfig(config.style, None, config.eval_fraction, config.seed))
    files["mix_train"], files["mix_eval"] = str(out / "mix" / "train.jsonl"), str(out / "mix" / "eval.jsonl")
    write_jsonl(Path(files["mix_train"]), train)
    write_jsonl(Path(files["mix_eval"]), held_out)
    files |= _write_benchmarks(out / "benchmarks", {**splits, **text})
    manifest = _manifest(config, {**splits, **text}, files, dataclasses.asdict(stats))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _write_benchmarks(folder: Path, splits: dict[str, list[Problem] | list[ChoiceProblem]]) -> dict[str, str]:
    """The test splits as benchmark files, and the split that mixes the kinds: the arithmetic test
    split's rows, then the text kinds' (each row keeps its own split in ``meta``)."""
    rows = {split: [benchmark_row(problem, split) for problem in splits[split]]
            for split in (TEST_SPLIT, HELD_OUT_SPLIT, TEXT_TEST_SPLIT)}  # fmt: skip
    rows[MIXED_SPLIT] = rows[TEST_SPLIT] + rows[TEXT_TEST_SPLIT]
    files = {}
    for split, split_rows in rows.items():
        files[split] = str(folder / f"{SOURCE}_{split}.jsonl")
        write_jsonl(Path(files[split]), split_rows)
    return files


def _manifest(
    config: MiniatureConfig,
    splits: dict[str, list[Problem] | list[ChoiceProblem]],
    files: dict[str, str],
    mixed: dict[str, int],
) -> dict[str, object]:
    """What was written and from what: enough to tell two generations apart, and to hash for a cache."""
    return {
        "seed": config.seed,
        "style": config.style.value,
        "items": {split: len(problems) for split, problems in splits.items()},
        "templates": {TRAIN_SPLIT: list(TRAIN), HELD_OUT_SPLIT: list(HELD_OUT), "text": list(TEXT)},
        "mix": mixed,
        "files": files,
    }
