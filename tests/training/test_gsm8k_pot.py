"""The GSM8K converter: a table of rationales and the programs they become, and the yield on a
sample of the training split."""

import pytest

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.training.filter import filter_programs
from potcot.training.gsm8k_pot import convert, program_of_thought
from potcot.training.records import read_jsonl
from tests.conftest import DATA_DIR

NATALIA = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."

CONVERSIONS = [
    (
        "annotations, names, earlier results by name",
        NATALIA,
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
        "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
        "clips_may = 48/2\nclips_altogether_april = 48+clips_may\nprint(clips_altogether_april)\n",
    ),
    (
        "an unannotated last step",
        "Amy has $100 and buys three dolls at $1 each.",
        "The cost of the dolls is 3 × $1 = $<<3*1=3>>3.\nAmy has $100 − $3 = $97 left.\n#### 97",
        "cost_dolls = 3*1\nleft = 100 - cost_dolls\nprint(left)\n",
    ),
    (
        "units between the numbers",
        "Jimmy makes 42 trips of 20 seconds.",
        "This takes 42 * 20 = <<42*20=840>>840 seconds.\n"
        "That is 840 seconds * 1 minute/ 60 seconds = 14 minutes filling the pool.\n#### 14",
        "seconds = 42*20\nminutes_filling_pool = seconds * 1 / 60\nprint(minutes_filling_pool)\n",
    ),
    (
        "implicit multiplication",
        "A hammerhead has 180/6 teeth.",
        "Hammerhead shark:180/6=<<180/6=30>>30\nGreat White:2(180+30)=420 teeth\n#### 420",
        "hammerhead_shark = 180/6\nteeth = 2*(180+hammerhead_shark)\nprint(teeth)\n",
    ),
    (
        "a calculation whose stated result is wrong is not a step",
        "q",
        "First 2 + 2 = <<2+2=4>>4 apples.\nThen 4 + 1 = 6 pears.\n#### 6",
        "apples = 2+2\nprint(apples)\n",
    ),
    ("no arithmetic at all", "q", "Let j be the length. Then 4j = 64, so j = 16.\n#### 16", None),
]


@pytest.mark.parametrize(
    ("question", "rationale", "program"), [case[1:] for case in CONVERSIONS], ids=[case[0] for case in CONVERSIONS]
)
def test_program_of_thought(question: str, rationale: str, program: str | None) -> None:
    assert program_of_thought(question, rationale) == program


def test_names_are_identifiers_and_unique() -> None:
    program = program_of_thought("q", "He earned 2*3=<<2*3=6>>6.\nHe earned 6*2=<<6*2=12>>12.\n#### 12")
    assert program == "earned = 2*3\nearned_2 = earned*2\nprint(earned_2)\n"


def test_yield_on_a_sample_of_the_training_split(sandbox: Sandbox) -> None:
    rows = read_jsonl(DATA_DIR / "gsm8k_train_sample.jsonl")
    records = convert(rows)
    with Grader(workers=1) as grader:
        kept, report = filter_programs(records, sandbox, grader)
    assert report.total == len(records) and sum(report.counts.values()) == report.total
    assert len(kept) == report.kept
    assert report.kept / len(rows) >= 0.95
