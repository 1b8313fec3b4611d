"""The miniature family: deterministic splits that never share a question, programs that print their
answer in the sandbox, chains of thought whose every equation is true and whose stated answer is the
answer, tool-integrated records with the real output, and benchmark files ``potcot bench`` reads."""

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from pydantic_settings import CliApp

from potcot.answers import chain_of_thought_answer, last_boxed
from potcot.benchmarks.datasets import load_dataset
from potcot.benchmarks.local import run_solves
from potcot.sandbox import Sandbox
from potcot.server.prompts import Rationale
from potcot.training.commands import TrainCommand
from potcot.training.miniature.arithmetic import long_division, number, place_values, product, written
from potcot.training.miniature.pipeline import MiniatureRun, run_miniature
from potcot.training.miniature.splits import (
    HELD_OUT_SPLIT,
    TEST_SPLIT,
    TEXT_TEST_SPLIT,
    TRAIN_SPLIT,
    MiniatureConfig,
    Problem,
    draw_split,
    draw_splits,
    draw_text_splits,
    printed_answer,
    rationale_records,
    run_programs,
    same_number,
    write_miniature,
)
from potcot.training.miniature.templates import HELD_OUT, TRAIN
from potcot.training.miniature.work import Quantity, in_question_order
from potcot.training.records import read_records

POTCOT = str(Path(sys.executable).with_name("potcot"))
CONFIG = MiniatureConfig(seed=0, train=2000, test=300)
_NUMBER = r"\d+(?:\.\d+)?"
_EXPRESSION = rf"{_NUMBER}(?:\s*[-+*/]\s*{_NUMBER})*"
_CHAIN = re.compile(rf"(?<![\w.]){_EXPRESSION}(?:\s*=\s*{_EXPRESSION})+")


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Problem]]:
    return draw_splits(CONFIG)


@pytest.fixture(scope="module")
def written_out(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Path:
    out = tmp_path_factory.mktemp("miniature")
    write_miniature(out, MiniatureConfig(seed=1, train=120, test=60, text_train=30, text_test=12), sandbox)
    return out


def equations(text: str) -> list[str]:
    """Every chain of equalities in a text (``a * b = c + d = e``)."""
    return [match.group(0) for match in _CHAIN.finditer(text)]


def value(expression: str) -> Fraction:
    """An expression of numbers and + - * / evaluated exactly."""
    exact = re.sub(_NUMBER, lambda match: f"Fraction('{match.group(0)}')", expression)
    return eval(exact, {"__builtins__": {}, "Fraction": Fraction})  # test-only: the text is ours


def holds(chain: str) -> bool:
    return len({value(side) for side in chain.split("=")}) == 1


def sample(splits: dict[str, list[Problem]], per_split: int) -> list[Problem]:
    """The first problems of each split: the templates go in turn, so every template is in it."""
    return [problem for problems in splits.values() for problem in problems[:per_split]]


# Worked arithmetic, one table per writer.
PRODUCTS = [
    ("times table", 7, 8, "7 * 8 = 56"),
    ("large by small", 347, 6, "347 * 6 = 300 * 6 + 40 * 6 + 7 * 6 = 1800 + 240 + 42 = 2082"),
    ("small by large", 6, 347, "6 * 347 = 6 * 300 + 6 * 40 + 6 * 7 = 1800 + 240 + 42 = 2082"),
    ("two large", 23, 47, "23 * 47 = 23 * 40 + 23 * 7 = 920 + 161 = 1081"),
    ("one place value", 300, 6, "300 * 6 = 1800"),
    ("a zero digit", 105, 4, "105 * 4 = 100 * 4 + 5 * 4 = 400 + 20 = 420"),
]


@pytest.mark.parametrize(("a", "b", "text"), [p[1:] for p in PRODUCTS], ids=[p[0] for p in PRODUCTS])
def test_product(a: int, b: int, text: str) -> None:
    assert product(Fraction(a), Fraction(b)) == text


DIVISIONS = [
    ("small quotient", 50, 6, ("", 8, 2)),
    ("by place value", 2082, 6, ("2082 / 6: 6 * 300 = 1800, 2082 - 1800 = 282; 6 * 40 = 240, 282 - 240 = 42; "
                                 "6 * 7 = 42, 42 - 42 = 0; so the quotient is 300 + 40 + 7 = 347. ", 347, 0)),
    ("with a remainder", 71, 3, ("71 / 3: 3 * 20 = 60, 71 - 60 = 11; 3 * 3 = 9, 11 - 9 = 2; "
                                 "so the quotient is 20 + 3 = 23. ", 23, 2)),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "expected"), [d[1:] for d in DIVISIONS], ids=[d[0] for d in DIVISIONS])
def test_long_division(a: int, b: int, expected: tuple[str, int, int]) -> None:
    assert long_division(a, b) == expected


OPERATIONS = [
    ("boxes needed", 51, "ceil", 8, "51 = 8 * 6 + 3, so 6 + 1 = 7"),
    ("boxes exactly full", 48, "ceil", 8, "48 = 8 * 6 + 0, so 6"),
    ("full sets", 50, "//", 6, "50 = 6 * 8 + 2, so 8"),
    ("leftovers", 50, "%", 6, "50 = 6 * 8 + 2, so 2 is left over"),
    ("percent", 28, "pct", 30, "28 * 30 = 840, and 840 / 100 = 8.4"),
    ("sum", 19, "+", 23, "19 + 23 = 42"),
]


@pytest.mark.parametrize(("a", "op", "b", "text"), [o[1:] for o in OPERATIONS], ids=[o[0] for o in OPERATIONS])
def test_written(a: int, op: str, b: int, text: str) -> None:
    assert written(Fraction(a), op, Fraction(b)) == text


@pytest.mark.parametrize(
    ("value_", "text"), [(Fraction(12), "12"), (Fraction(49, 4), "12.25"), (Fraction(-3, 2), "-1.5")]
)
def test_number(value_: Fraction, text: str) -> None:
    assert number(value_) == text


@pytest.mark.parametrize(("whole", "parts"), [(347, [300, 40, 7]), (1005, [1000, 5]), (0, [0])])
def test_place_values(whole: int, parts: list[int]) -> None:
    assert place_values(whole) == parts


# The family's shape.
def test_templates_are_many_and_held_out_ones_are_new() -> None:
    assert len(TRAIN) >= 40
    assert len(HELD_OUT) >= 8
    assert not set(TRAIN) & set(HELD_OUT)


def test_same_seed_same_problems_and_a_larger_split_extends_a_smaller() -> None:
    assert draw_split(TRAIN_SPLIT, 300, seed=3) == draw_split(TRAIN_SPLIT, 300, seed=3)
    assert draw_split(TRAIN_SPLIT, 300, seed=3) == draw_split(TRAIN_SPLIT, 600, seed=3)[:300]
    assert draw_split(TRAIN_SPLIT, 300, seed=3) != draw_split(TRAIN_SPLIT, 300, seed=4)


def test_splits_share_no_question_and_held_out_templates_are_never_trained(splits: dict[str, list[Problem]]) -> None:
    train_questions = {problem.question for problem in splits[TRAIN_SPLIT]}
    assert len(train_questions) == CONFIG.train
    assert not train_questions & {problem.question for problem in splits[TEST_SPLIT]}
    assert {problem.template for problem in splits[TEST_SPLIT]} == set(TRAIN)
    assert {problem.template for problem in splits[HELD_OUT_SPLIT]} == set(HELD_OUT)
    assert len(splits[TEST_SPLIT]) == len(splits[HELD_OUT_SPLIT]) == CONFIG.test


def test_variable_names_vary_within_a_template(splits: dict[str, list[Problem]]) -> None:
    for name in TRAIN:
        first_names = {p.program.split(" = ")[0] for p in splits[TRAIN_SPLIT] if p.template == name}
        assert len(first_names) >= 8, name


def test_operands_mix_times_table_facts_and_place_value_work(splits: dict[str, list[Problem]]) -> None:
    texts = [problem.chain_of_thought for problem in splits[TRAIN_SPLIT]]
    worked = sum(1 for text in texts if " + " in text and re.search(r"\d+0 \* \d", text)) / len(texts)
    assert 0.15 < worked < 0.85


# The rationales.
def test_every_chain_of_thought_states_the_answer(splits: dict[str, list[Problem]]) -> None:
    wrong = [p.id for problems in splits.values() for p in problems if chain_of_thought_answer(
        p.chain_of_thought, lenient=False) != p.answer]  # fmt: skip
    assert wrong == []


def test_every_equation_in_a_chain_of_thought_is_true(splits: dict[str, list[Problem]]) -> None:
    for problem in (p for problems in splits.values() for p in problems):
        chains = equations(problem.chain_of_thought)
        assert sum(chain.count("=") for chain in chains) == problem.chain_of_thought.count("="), problem.id
        assert all(holds(chain) for chain in chains), (problem.id, [c for c in chains if not holds(c)])


@pytest.mark.parametrize("chain", ["3 + 4 = 8", "23 * 47 = 23 * 40 + 23 * 7 = 920 + 161 = 1082"])
def test_the_equation_check_catches_a_wrong_step(chain: str) -> None:
    assert equations(f"Step: {chain}.") == [chain]
    assert not holds(chain)


def test_every_program_prints_its_answer(splits: dict[str, list[Problem]], sandbox: Sandbox) -> None:
    problems = sample(splits, 70)
    results = sandbox.run_many([problem.program for problem in problems])
    wrong = [(p.id, r.stdout, r.error) for p, r in zip(problems, results, strict=True)
             if not same_number(printed_answer(r), p.answer)]  # fmt: skip
    assert wrong == []


def test_every_program_states_the_question_s_numbers_in_its_order(splits: dict[str, list[Problem]]) -> None:
    """The opening assignments copy the question's numbers left to right; a constant of the
    program's own (a loop's counter at 0) may follow them, never come between."""
    for problem in (p for problems in splits.values() for p in problems):
        literals = re.findall(rf"^\w+ = ({_NUMBER})$", problem.program, flags=re.MULTILINE)
        places = [re.search(rf"(?<![\d.]){re.escape(figure)}(?!\d|\.\d)", problem.question) for figure in literals]
        stated = [place.start() for place in places if place]
        assert places[: len(stated)] == [place for place in places if place], (problem.id, literals)
        assert stated == sorted(stated) or len(set(literals)) < len(literals), problem.id


QUESTION_ORDERS = [
    ("as the template met them", "3 pens at $12 each", [3, 12], [3, 12]),
    ("the wording put the price first", "Pens cost $12 each. Ava buys 3.", [3, 12], [12, 3]),
    ("a number inside another is not it", "312 beads and 12 more", [12, 312], [312, 12]),
    ("a repeated number takes its next place", "5 bags, 7 jars, 5 boxes", [5, 5, 7], [5, 7, 5]),
    ("one the question does not write goes last", "9 cards", [Fraction(1, 2), 9], [9, Fraction(1, 2)]),
]


@pytest.mark.parametrize(("question", "values", "ordered"), [row[1:] for row in QUESTION_ORDERS],
                         ids=[row[0] for row in QUESTION_ORDERS])  # fmt: skip
def test_in_question_order(question: str, values: list[Fraction | int], ordered: list[Fraction | int]) -> None:
    givens = [Quantity(f"v{index}", Fraction(value_)) for index, value_ in enumerate(values)]
    assert [given.value for given in in_question_order(givens, question)] == ordered


SAME_NUMBERS = [
    ("float of a whole division", "11.0", "11", True),
    ("float noise", "12.350000000000001", "12.35", True),
    ("another number", "12.4", "12.35", False),
    ("nothing printed", None, "3", False),
    ("not a number", "Tuesday", "3", False),
]


@pytest.mark.parametrize(("printed", "answer", "same"), [s[1:] for s in SAME_NUMBERS], ids=[s[0] for s in SAME_NUMBERS])
def test_same_number(printed: str | None, answer: str, same: bool) -> None:
    assert same_number(printed, answer) is same


def test_a_program_that_misses_its_answer_stops_the_run(sandbox: Sandbox) -> None:
    problems = [Problem("ok", "t", "q", "4", "The answer is 4.", "print(4)"),
                Problem("bug", "t", "q", "5", "The answer is 5.", "x = 2\nprint(x + x)")]  # fmt: skip
    with pytest.raises(ValueError, match=r"bug \(t\): the program printed '4\\n' \(ok: None\), not 5"):
        run_programs(problems, sandbox)


def test_tool_integrated_output_is_the_real_output(splits: dict[str, list[Problem]], sandbox: Sandbox) -> None:
    problems = splits[TRAIN_SPLIT][: len(TRAIN)]
    results = sandbox.run_many([problem.program for problem in problems])
    tir = [record for record in rationale_records(problems, results) if record.rationale is Rationale.TIR]
    for record, problem, result in zip(tir, problems, results, strict=True):
        assert f"```python\n{problem.program}\n```\n```output\n{result.stdout.strip()}\n```\n" in record.output
        assert same_number(last_boxed(record.output), problem.answer), record.id


# What `potcot data miniature` writes.
def test_benchmark_files_load_as_datasets(written_out: Path) -> None:
    for split, template_names in ((TEST_SPLIT, TRAIN), (HELD_OUT_SPLIT, HELD_OUT)):
        path = written_out / "benchmarks" / f"miniature_{split}.jsonl"
        dataset = load_dataset(str(path))
        assert (dataset.name, len(dataset.items), dataset.skipped) == (f"miniature_{split}", 60, ())
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert {row["meta"]["template"] for row in rows} <= set(template_names)


def test_records_and_mix_hold_three_rationales_per_problem(written_out: Path) -> None:
    """Three per arithmetic problem, and a chain of thought for each text kind's, after them."""
    for rationale in Rationale:
        records = list(read_records(written_out / "records" / f"{rationale.value}.jsonl"))
        assert len(records) == (150 if rationale is Rationale.COT else 120)
        assert {record.rationale for record in records} == {rationale}
    mixed = [json.loads(line) for name in ("train", "eval") for line in (written_out / "mix" / f"{name}.jsonl").open()]
    assert len(mixed) == 390
    assert {row["source"].rsplit("/", 1)[1] for row in mixed} == {"cot", "pot", "tir"}
    manifest = json.loads((written_out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["items"] == {TRAIN_SPLIT: 120, TEST_SPLIT: 60, HELD_OUT_SPLIT: 60, "text_train": 30,
                                 "text_test": 12}  # fmt: skip


def test_the_command_writes_the_family(tmp_path: Path) -> None:
    args = ["data", "miniature", "--out", str(tmp_path), "--train", "50", "--test", "10", "--workers", "1",
            "--text-train", "12", "--text-test", "6"]  # fmt: skip
    completed = subprocess.run([POTCOT, *args], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert (
        "train 50, test 10, held_out_templates 10 problems, text kinds text_train 12, text_test 6" in completed.stdout
    )
    written = load_dataset(str(tmp_path / "benchmarks" / "miniature_test.jsonl")).items
    here = draw_splits(MiniatureConfig(train=50, test=10))[TEST_SPLIT]  # another process, the same problems
    assert [(item.id, item.question, item.answer) for item in written] == [(p.id, p.question, p.answer) for p in here]
    text = load_dataset(str(tmp_path / "benchmarks" / "miniature_text_test.jsonl")).items
    drawn = draw_text_splits(MiniatureConfig(text_train=12, text_test=6))[TEXT_TEST_SPLIT]
    assert [(item.id, item.question, item.choices) for item in text] == [(p.id, p.question, p.choices) for p in drawn]


def test_a_given_checkpoint_without_its_training_record_is_refused_before_the_data(tmp_path: Path) -> None:
    run = MiniatureRun(out=tmp_path / "run", cache_dir=tmp_path, data=MiniatureConfig(), checkpoint=tmp_path)
    with pytest.raises(ValueError, match=r"no trained\.json"):
        run_miniature(run, run_solves)
    assert not run.out.exists()


def test_train_miniature_without_the_command_s_benchmark_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no benchmark was given"):
        CliApp.run(TrainCommand, cli_args=["miniature", "--out", str(tmp_path / "run"), "--checkpoint", str(tmp_path)])
