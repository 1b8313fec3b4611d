"""The miniature's text kinds (issue 32, the claim's other half): multiple-choice questions whose
options are names or words, each kind's chain of thought naming the right option as potcot's answer
extraction reads it, no printed number standing for an option (so a program's answer falls back);
their splits drawn beside the arithmetic ones without changing a byte of those; the mixed split;
and the summary's words for which half of the claim a run shows."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from potcot.answers import chain_of_thought_answer, program_answer
from potcot.benchmarks.datasets import load_dataset
from potcot.sandbox import Sandbox
from potcot.server.prompts import PromptStyle, Rationale, chain_of_thought
from potcot.server.schema import SolveParameters
from potcot.server.settings import SolverSettings
from potcot.server.solver import Strategy
from potcot.training.miniature import claims
from potcot.training.miniature.pipeline import ALL_SPLITS, MiniatureRun, run_miniature
from potcot.training.miniature.splits import (
    HELD_OUT_SPLIT,
    MIXED_SPLIT,
    TEST_SPLIT,
    TEXT_TEST_SPLIT,
    TEXT_TRAIN_SPLIT,
    TRAIN_SPLIT,
    ChoiceProblem,
    MiniatureConfig,
    choice_records,
    draw_splits,
    draw_text_splits,
    write_miniature,
)
from potcot.training.miniature.text_kinds import TEXT, read_text_templates
from potcot.training.records import read_records

# One problem of each kind, drawn from random.Random(f"table:{kind}"): question, options, letter, text.
KINDS = [
    ("who_has_more", "Olga collects 4 candles. Grace collects 2 candles. Who has collected more candles?",
     ("Grace", "Olga", "Vera", "Maya"), "B",
     "Olga has 4 and Grace has 2.\n4 is more than 2, so Olga has more.\nOlga is option (B).\nThe answer is B."),
    ("who_has_fewer", "Who has fewer marbles: Marco, who has 7, or Umar, who has 14?",
     ("Umar", "Marco", "Nico", "Esther"), "B",
     "Marco has 7 and Umar has 14.\n7 is less than 14, so Marco has fewer.\nMarco is option (B).\nThe answer is B."),
    ("what_is_bought", "At the market, Bruno spends $10 on each of 5 shells. What does Bruno spend the money on?",
     ("cards", "books", "notebooks", "shells"), "D",
     "Bruno buys 5 shells.\nSo Bruno buys shells.\nshells is option (D).\nThe answer is D."),
    ("who_receives", "Kira gets 36 marbles from Felix. Who receives the marbles?",
     ("Felix", "Kira", "Elena", "Marco"), "B",
     "Felix gives the marbles to Kira.\nSo Kira receives them.\nKira is option (B).\nThe answer is B."),
    ("tallest_of_three", "Hana is taller than Ximena, and Ximena is taller than Jamal. Who is the tallest?",
     ("Umar", "Jamal", "Hana", "Ximena"), "C",
     "From tallest to shortest: Hana, Ximena, Jamal.\nSo Hana is the tallest.\nHana is option (C).\nThe answer is C."),
    ("shortest_of_three", "Kofi is shorter than Ben, and Ben is shorter than Juno. Who is the shortest?",
     ("Ines", "Ben", "Juno", "Kofi"), "D",
     "From tallest to shortest: Juno, Ben, Kofi.\nSo Kofi is the shortest.\nKofi is option (D).\nThe answer is D."),
]  # fmt: skip


def test_the_table_has_every_kind() -> None:
    assert [row[0] for row in KINDS] == list(TEXT)


@pytest.mark.parametrize(("kind", "question", "options", "letter", "text"), KINDS, ids=[row[0] for row in KINDS])
def test_a_kind_writes_its_question_options_letter_and_chain_of_thought(
    kind: str, question: str, options: tuple[str, ...], letter: str, text: str
) -> None:
    asked = TEXT[kind](random.Random(f"table:{kind}"))
    assert (asked.question, asked.choices, asked.answer, asked.chain_of_thought) == (question, options, letter, text)
    assert asked.chain_of_thought.endswith(f"\nThe answer is {letter}.")
    assert chain_of_thought_answer(asked.chain_of_thought, asked.choices, lenient=False) == letter
    assert asked.prompt_question == f"{question}\nAnswer Choices: " + " ".join(
        f"({chr(ord('A') + index)}) {option}" for index, option in enumerate(options)
    )


def _people_in(question: str, options: tuple[str, ...]) -> list[str]:
    """The options a question names, in the order it names them."""
    return sorted((option for option in options if option in question), key=question.index)


def _holder(question: str, options: tuple[str, ...], pick: Callable[[list[int]], int]) -> str:
    """Who holds the number ``pick`` chooses of the two the question states, in the order stated."""
    numbers = [int(number) for number in re.findall(r"\d+", question)]
    return _people_in(question, options)[numbers.index(pick(numbers))]


def _receiver(question: str, options: tuple[str, ...]) -> str:
    match = re.search(r"to (\w+)\.|(\w+) gets|hands (\w+)|(\w+) is given", question)
    assert match is not None, question
    return next(group for group in match.groups() if group)


def _extreme(question: str, tallest: bool) -> str:
    """The tallest or shortest of three, from the question's pairs, whatever their wording."""
    taller: set[tuple[str, str]] = set()
    for a, relation, b in re.findall(r"(\w+) is (taller|shorter) than (\w+)", question):
        taller.add((a, b) if relation == "taller" else (b, a))
    for a, b in re.findall(r"(\w+) is shorter than \w+ but taller than (\w+)", question):
        taller.add((a, b))
    names = {name for pair in taller for name in pair}
    side = 1 if tallest else 0
    return next(name for name in names if all(pair[side] != name for pair in taller))


# How the right option follows from each kind's question, read independently of the template.
TRUTH: dict[str, Callable[[str, tuple[str, ...]], str]] = {
    "who_has_more": lambda question, options: _holder(question, options, max),
    "who_has_fewer": lambda question, options: _holder(question, options, min),
    "what_is_bought": lambda question, options: next(o for o in options if re.search(rf"\b{o}\b", question)),
    "who_receives": _receiver,
    "tallest_of_three": lambda question, options: _extreme(question, tallest=True),
    "shortest_of_three": lambda question, options: _extreme(question, tallest=False),
}


@pytest.mark.parametrize("kind", list(TEXT))
def test_the_right_option_is_what_the_question_says(kind: str) -> None:
    letters = set()
    for seed in range(200):
        asked = TEXT[kind](random.Random(f"truth:{kind}:{seed}"))
        right = asked.choices[ord(asked.answer) - ord("A")]
        assert TRUTH[kind](asked.question, asked.choices) == right, asked
        assert chain_of_thought_answer(asked.chain_of_thought, asked.choices, lenient=False) == asked.answer
        letters.add(asked.answer)
    assert letters == {"A", "B", "C", "D"}  # the options are shuffled: no letter is the answer's


@pytest.mark.parametrize("printed", ["42", "7.5", "x = 3", "Total: 1200", "-4"])
def test_a_printed_number_stands_for_no_option_so_the_hybrid_falls_back(printed: str) -> None:
    for problem in draw_text_splits(MiniatureConfig(text_train=60, text_test=0))[TEXT_TRAIN_SPLIT]:
        assert program_answer(printed, problem.choices) is None, problem
        assert program_answer(problem.choices[0], problem.choices) == "A"  # the option's text would count


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("    answer: taller\n", "    answer: taller\n    program: x\n"), "unknown fields"),
        (("options: [taller, shorter]", "options: [taller]"), "1 options"),
        (("options: [taller, shorter]", "options: [taller, nobody]"), r"\['nobody'\] are not drawn"),
        (("people(2)", "names(2)"), r"calls \['names'\]"),
    ],
)
def test_a_text_templates_file_is_checked_as_it_is_read(change: tuple[str, str], error: str) -> None:
    text = """
text:
  taller:
    draw:
      taller, shorter: people(2)
    ask: ["{taller} is taller than {shorter}. Who is taller?"]
    options: [taller, shorter]
    answer: taller
    steps: ["{taller} is taller."]
"""
    assert list(read_text_templates(text)) == ["taller"]
    with pytest.raises(ValueError, match=error):
        read_text_templates(text.replace(*change))


# The splits.
def _digest(problems: list[Any]) -> str:
    return hashlib.sha256(json.dumps([dataclasses.astuple(problem) for problem in problems]).encode()).hexdigest()[:16]


def test_the_arithmetic_splits_are_as_before_the_text_kinds() -> None:
    """Digests of the arithmetic splits as the family drew them before the text kinds (the full-size
    files matched main's byte for byte: docs/training.md, the text kinds)."""
    splits = draw_splits(MiniatureConfig(seed=0, train=200, test=30, text_train=50, text_test=10))
    assert {split: _digest(problems) for split, problems in splits.items()} == {
        TRAIN_SPLIT: "08edc1094fcbe08e",
        TEST_SPLIT: "22d66dc1878adb1c",
        HELD_OUT_SPLIT: "be58dba2e3bd28ff",
    }


def test_text_splits_are_seeded_and_share_no_question() -> None:
    config = MiniatureConfig(seed=2, text_train=120, text_test=30)
    text = draw_text_splits(config)
    assert text == draw_text_splits(config)
    assert text[TEXT_TRAIN_SPLIT][:60] == draw_text_splits(dataclasses.replace(config, text_train=60))[TEXT_TRAIN_SPLIT]
    assert not {p.question for p in text[TEXT_TRAIN_SPLIT]} & {p.question for p in text[TEXT_TEST_SPLIT]}
    assert [p.template for p in text[TEXT_TEST_SPLIT][: len(TEXT)]] == list(TEXT)


def test_a_text_problem_is_a_chain_of_thought_record_of_the_question_with_its_options() -> None:
    problem = ChoiceProblem("miniature-text_train-000000", "who_receives", "Ava gives 3 cards to Ben. Who receives "
                            "the cards?", ("Ben", "Ava"), "A", "Ben is option (A).\nThe answer is A.")  # fmt: skip
    (record,) = choice_records([problem])
    assert (record.rationale, record.answer, record.source) == (Rationale.COT, "A", "miniature/who_receives")
    # The record's instruction is the prompt the solver asks the question with, options and all.
    assert (
        chain_of_thought(record.question, PromptStyle.ALPACA).text
        == chain_of_thought(problem.question, PromptStyle.ALPACA, problem.choices).text
    )


@pytest.fixture(scope="module")
def with_and_without(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> tuple[Path, Path]:
    """The family written without the text kinds and with them, from the same seed."""
    without, with_text = tmp_path_factory.mktemp("without"), tmp_path_factory.mktemp("with")
    config = MiniatureConfig(seed=0, train=60, test=12, text_train=0, text_test=0)
    write_miniature(without, config, sandbox)
    write_miniature(with_text, dataclasses.replace(config, text_train=40, text_test=12), sandbox)
    return without, with_text


def test_the_text_kinds_change_no_arithmetic_file_and_append_to_the_others(with_and_without: tuple[Path, Path]) -> None:
    without, with_text = with_and_without
    for name in ("benchmarks/miniature_test.jsonl", "benchmarks/miniature_held_out_templates.jsonl",
                 "records/pot.jsonl", "records/tir.jsonl"):  # fmt: skip
        assert (without / name).read_bytes() == (with_text / name).read_bytes(), name
    for name, added in (("records/cot.jsonl", 40), ("mix/train.jsonl", None), ("mix/eval.jsonl", None)):
        before, after = (folder.joinpath(name).read_text(encoding="utf-8").splitlines() for folder in with_and_without)
        assert after[: len(before)] == before, name
        assert added is None or len(after) == len(before) + added
    records = list(read_records(with_text / "records" / "cot.jsonl"))[60:]
    assert {record.source.split("/")[1] for record in records} == set(TEXT)
    assert all("\nAnswer Choices: (A) " in record.question for record in records)


def test_the_mixed_split_is_the_arithmetic_test_split_then_the_text_one(with_and_without: tuple[Path, Path]) -> None:
    folder = with_and_without[1] / "benchmarks"
    lines = {split: (folder / f"miniature_{split}.jsonl").read_text(encoding="utf-8").splitlines()
             for split in (TEST_SPLIT, TEXT_TEST_SPLIT, MIXED_SPLIT)}  # fmt: skip
    assert lines[MIXED_SPLIT] == lines[TEST_SPLIT] + lines[TEXT_TEST_SPLIT]
    mixed = load_dataset(str(folder / f"miniature_{MIXED_SPLIT}.jsonl"))
    assert (len(mixed.items), mixed.skipped) == (24, ())
    assert [item.choices is None for item in mixed.items] == [True] * 12 + [False] * 12
    assert all(item.answer in "ABCD" for item in mixed.items[12:])


# The summary's words.
ARITHMETIC = {"cot": 0.02, "pot": 0.99, "hybrid": 0.99}
TEXT_KINDS = {"cot": 0.60, "pot": 0.0, "hybrid": 0.58}
ITEMS = {TEST_SPLIT: 300, TEXT_TEST_SPLIT: 100}


def test_the_mixed_split_is_weighted_by_items() -> None:
    mixed = claims.mixed_accuracies({TEST_SPLIT: ARITHMETIC, TEXT_TEST_SPLIT: TEXT_KINDS}, ITEMS)
    assert mixed == pytest.approx({"cot": 0.165, "pot": 0.7425, "hybrid": 0.8875})


CLAIMS = [
    ("both halves", ARITHMETIC, TEXT_KINDS, True, True),
    ("a copier whose text kinds stay at the floor", ARITHMETIC, {"cot": 0.1, "pot": 0.0, "hybrid": 0.0}, True, False),
    ("programs that do not copy", {"cot": 0.02, "pot": 0.12, "hybrid": 0.13}, TEXT_KINDS, False, True),
    ("nothing learnt", {"cot": 0.0, "pot": 0.01, "hybrid": 0.01}, {"cot": 0.25, "pot": 0.0, "hybrid": 0.25}, False,
     False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("arithmetic", "text", "programs", "mixing"), [c[1:] for c in CLAIMS], ids=[c[0] for c in CLAIMS]
)
def test_the_summary_says_which_half_of_the_claim_a_run_shows(
    arithmetic: dict[str, float], text: dict[str, float], programs: bool, mixing: bool
) -> None:
    splits: dict[str, dict[str, float]] = {TEST_SPLIT: arithmetic, TEXT_TEST_SPLIT: text}
    splits[MIXED_SPLIT] = claims.mixed_accuracies(splits, ITEMS)
    said = claims.claims(splits)
    assert (said["programs over text"]["shown"], said["mixing beats both"]["shown"]) == (programs, mixing)
    for claim, shown in (("programs over text", programs), ("mixing beats both", mixing)):
        assert said[claim]["says"].startswith(f"{claim}: {'shown' if shown else 'not shown'} on ")


def test_the_claim_lines_state_their_figures() -> None:
    splits = {TEST_SPLIT: ARITHMETIC, TEXT_TEST_SPLIT: TEXT_KINDS}
    said = claims.claims({**splits, MIXED_SPLIT: claims.mixed_accuracies(splits, ITEMS)})
    assert said["programs over text"]["says"] == (
        "programs over text: shown on test: pot 0.990, cot 0.020 (shown when pot >= cot + 0.30)"
    )
    assert said["mixing beats both"]["says"] == (
        "mixing beats both: shown on mixed_test: hybrid 0.887, pot 0.743, cot 0.165 (shown when hybrid >= "
        "max(pot, cot) + 0.02); the text kinds' cot 0.600 (target 0.30: shown)"
    )
    assert said["mixing beats both"]["text_cot_target_met"] is True


def test_a_half_without_its_strategies_is_not_measured() -> None:
    said = claims.claims({TEST_SPLIT: {"cot": 0.0, "pot": 0.9}, MIXED_SPLIT: {"cot": 0.2, "pot": 0.7}})
    assert said["programs over text"]["shown"] is True
    assert said["mixing beats both"] == {
        "shown": None,
        "split": None,
        "says": "mixing beats both: not measured (the run has no pot, cot and hybrid on the mixed split)",
    }


def test_the_markdown_summary_has_the_claim_lines_and_every_split() -> None:
    splits = {TEST_SPLIT: ARITHMETIC, TEXT_TEST_SPLIT: TEXT_KINDS}
    splits[MIXED_SPLIT] = claims.mixed_accuracies(splits, ITEMS)
    text = claims.summary_markdown(splits, {**ITEMS, MIXED_SPLIT: 400}, claims.claims(splits))
    assert "* programs over text: shown on test" in text and "* mixing beats both: shown on mixed_test" in text
    assert "| split | items | cot | pot | hybrid |" in text
    assert "| mixed_test | 400 | 0.165 | 0.743 | 0.887 |" in text


def fake_benchmark(accuracy: dict[str, dict[str, float]]) -> Callable[..., dict[str, Any]]:
    """A benchmark step that reports the given accuracies, and writes the files the real one does."""

    def benchmark(
        settings: SolverSettings, datasets: list[Path], solves: list[SolveParameters], out: Path, concurrency: int
    ) -> dict[str, Any]:
        out.mkdir(parents=True)
        (out / "summary.md").write_text("the benchmark's table\n", encoding="utf-8")
        (out / "accuracy.png").write_bytes(b"png")
        rows = [{"dataset": path.name.removesuffix(".jsonl"), "strategy": solve.strategy.value, "items":
                 len(path.read_text(encoding="utf-8").splitlines()),
                 "accuracy": accuracy[path.name.removesuffix(".jsonl")][solve.strategy.value]}
                for path in datasets for solve in solves]  # fmt: skip
        return {"rows": rows}

    return benchmark


def test_the_pipeline_reckons_the_mixed_split_and_says_the_claim(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model"
    checkpoint.mkdir()
    (checkpoint / "trained.json").write_text('{"train_minutes": 16.0}\n', encoding="utf-8")
    (checkpoint / "loss.png").write_bytes(b"png")
    accuracy = {"miniature_test": ARITHMETIC, "miniature_held_out_templates": dict.fromkeys(ARITHMETIC, 0.01),
                "miniature_text_test": TEXT_KINDS}  # fmt: skip
    data = MiniatureConfig(train=20, test=6, text_train=12, text_test=2)
    run = MiniatureRun(tmp_path / "run", tmp_path / "cache", data, splits=ALL_SPLITS, checkpoint=checkpoint)
    run = dataclasses.replace(run, strategies=(Strategy.COT, Strategy.POT, Strategy.HYBRID))
    summary = run_miniature(run, fake_benchmark(accuracy))
    assert summary["items"] == {TEST_SPLIT: 6, HELD_OUT_SPLIT: 6, TEXT_TEST_SPLIT: 2, MIXED_SPLIT: 8}
    assert summary["splits"][MIXED_SPLIT] == pytest.approx({"cot": 0.165, "pot": 0.7425, "hybrid": 0.8875})
    assert [claim["shown"] for claim in summary["claims"].values()] == [True, True]
    assert json.loads((run.out / "summary.json").read_text(encoding="utf-8")) == summary
    markdown = (run.out / "summary.md").read_text(encoding="utf-8")
    assert markdown.startswith("# The paper's claim in miniature\n\n* programs over text: shown")
    assert markdown.endswith("## The benchmark\n\nthe benchmark's table\n")
