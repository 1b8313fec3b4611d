"""The family's splits, drawn by seed, and what ``potcot data miniature`` writes from them.

Each problem has its own random generator, seeded by (seed, split, place, attempt), so a split is
the same on every machine and a larger training split begins with the smaller one's problems. A
problem whose question is already in the split, or in an earlier split, is drawn again: no test
question is a training question. Every program is run in the sandbox before anything is written;
one that does not print its problem's answer is a bug in a template, and stops the run.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

from potcot.answers import parse_number, program_answer
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server.prompts import PromptStyle, Rationale
from potcot.training.miniature.arithmetic import number
from potcot.training.miniature.templates import HELD_OUT, TRAIN, Template
from potcot.training.miniature.work import Work
from potcot.training.mix import MixConfig, mix
from potcot.training.records import RationaleRecord, write_jsonl
from potcot.training.tir import tir_record

SOURCE = "miniature"
TRAIN_SPLIT, TEST_SPLIT, HELD_OUT_SPLIT = "train", "test", "held_out_templates"
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


@dataclasses.dataclass(frozen=True)
class MiniatureConfig:
    seed: int = 0
    train: int = 30_000  # `potcot data miniature` and `potcot train miniature` draw as many
    test: int = 300  # each of the two test splits
    style: PromptStyle = PromptStyle.ALPACA
    eval_fraction: float = 0.02


def write_problem(template: Template, name: str, rng: random.Random, identifier: str) -> Problem:
    """One problem of a template, its two rationales written from the same steps."""
    work = Work(rng)
    question, answer = template(work)
    return Problem(
        identifier, name, question, number(answer.value), work.chain_of_thought(answer), work.program(answer, question)
    )


def draw_split(split: str, count: int, seed: int, taken: Iterable[str] = ()) -> list[Problem]:
    """``count`` problems, the templates in turn, none asking a question in ``taken`` or asked before."""
    templates = list((HELD_OUT if split == HELD_OUT_SPLIT else TRAIN).items())
    seen, problems = set(taken), []
    for place in range(count):
        name, template = templates[place % len(templates)]
        for attempt in range(_MAX_ATTEMPTS):
            rng = random.Random(f"{SOURCE}:{seed}:{split}:{place}:{attempt}")
            problem = write_problem(template, name, rng, f"{SOURCE}-{split}-{place:06d}")
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


def benchmark_row(problem: Problem, split: str) -> dict[str, object]:
    """A problem in the benchmark JSONL format that ``potcot bench`` reads."""
    meta = {"template": problem.template, "split": split}
    return {"id": problem.id, "question": problem.question, "answer": problem.answer, "choices": None,
            "source": SOURCE, "meta": meta}  # fmt: skip


def write_miniature(out: Path, config: MiniatureConfig, sandbox: Sandbox) -> dict[str, object]:
    """Write the family under ``out``; returns the manifest (also written as manifest.json):

    * ``records/{cot,pot,tir}.jsonl``: the training split as rationale records (``potcot data mix`` input);
    * ``mix/train.jsonl`` and ``mix/eval.jsonl``: them mixed in ``config.style`` (``potcot train`` input);
    * ``benchmarks/miniature_test.jsonl`` and ``benchmarks/miniature_held_out_templates.jsonl``.
    """
    splits = draw_splits(config)
    results = {split: run_programs(problems, sandbox) for split, problems in splits.items()}
    records = rationale_records(splits[TRAIN_SPLIT], results[TRAIN_SPLIT])
    files: dict[str, str] = {}
    for rationale in Rationale:
        path = out / "records" / f"{rationale.value}.jsonl"
        write_jsonl(path, [record for record in records if record.rationale is rationale])
        files[f"records_{rationale.value}"] = str(path)
    train, held_out, stats = mix(records, MixConfig(config.style, None, config.eval_fraction, config.seed))
    files["mix_train"], files["mix_eval"] = str(out / "mix" / "train.jsonl"), str(out / "mix" / "eval.jsonl")
    write_jsonl(Path(files["mix_train"]), train)
    write_jsonl(Path(files["mix_eval"]), held_out)
    for split in (TEST_SPLIT, HELD_OUT_SPLIT):
        path = out / "benchmarks" / f"{SOURCE}_{split}.jsonl"
        write_jsonl(path, [benchmark_row(problem, split) for problem in splits[split]])
        files[split] = str(path)
    manifest = _manifest(config, splits, files, dataclasses.asdict(stats))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _manifest(
    config: MiniatureConfig, splits: dict[str, list[Problem]], files: dict[str, str], mixed: dict[str, int]
) -> dict[str, object]:
    """What was written and from what: enough to tell two generations apart, and to hash for a cache."""
    return {
        "seed": config.seed,
        "style": config.style.value,
        "items": {split: len(problems) for split, problems in splits.items()},
        "templates": {TRAIN_SPLIT: list(TRAIN), HELD_OUT_SPLIT: list(HELD_OUT)},
        "mix": mixed,
        "files": files,
    }
