"""The miniature's templates as data: a draw's expression reaches only arithmetic and the functions
it is given, a templates file is checked as it is read, and an entry writes the problem its steps
say, in the program and in the chain of thought."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from potcot.training.miniature.expressions import Expression
from potcot.training.miniature.templates import read_templates
from potcot.training.miniature.work import Work

TEMPLATES = """
train:
  boxes:
    draw:
      person: person()
      per: randint(3, 12)
      total: per * randint(2, 9) + 1
    ask: ["{person} packs {total} eggs in boxes of {per}. How many boxes?"]
    given: {total: count, per: per}
    steps:
      - "Every egg needs a place."
      - [answer, count, total ceil per, Boxes]
held_out:
  doubling:
    draw:
      start: randint(2, 9)
      times: randint(2, 4)
    ask: ["{start} doubles {times} times. How many?"]
    given: {start: count, times: time}
    variables: {current: count}
    code: |
      {current} = {start}
      for _ in range({times}):
          {current} = {current} * 2
    steps:
      - for: [step, 1, times]
        with: {value: start}
        do: [[value, value * 2, "After {step}"]]
    answer: [current, value]
"""


def test_an_expression_is_arithmetic_on_what_was_drawn_before_it() -> None:
    drawn = {"a": 7, "b": 3}
    assert Expression("(a * b // 2 + 1) * 10 - a % b").evaluate(drawn, {}) == 109
    assert Expression("a if b <= 3 else -a").evaluate(drawn, {}) == 7
    calls: list[int] = []
    assert Expression("f(1) + f(2) * f(3)").evaluate({}, {"f": lambda n: calls.append(n) or n}) == 7
    assert calls == [1, 2, 3]  # left to right, as Python: a draw's order is its generator's
    with pytest.raises(NameError, match="before it is drawn"):
        Expression("a + c").evaluate(drawn, {})


@pytest.mark.parametrize(
    "text", ["__import__('os')", "a.real", "a[0]", "(lambda: 1)()", "[a for a in b]", "f(x=1)", "a / b", "g()()", "a +"]
)
def test_an_expression_reaches_nothing_else(text: str) -> None:
    with pytest.raises(ValueError, match="a template's expression"):
        Expression(text)


def test_a_template_writes_its_steps_into_the_program_and_the_text() -> None:
    train, held_out = read_templates(TEMPLATES)
    drawn = train["boxes"].draw(Work(random.Random(0)))  # what the same generator draws first
    work = Work(random.Random(0))
    question, answer = train["boxes"](work)
    assert question == f"{drawn['person']} packs {drawn['total']} eggs in boxes of {drawn['per']}. How many boxes?"
    assert answer.value == -(-drawn["total"] // drawn["per"])
    assert work.steps[0] == "Every egg needs a place." and work.steps[1].startswith("Boxes: ")
    assert work.program(answer, question).startswith("import math\n")

    drawn = held_out["doubling"].draw(Work(random.Random(0)))
    work = Work(random.Random(0))
    question, answer = held_out["doubling"](work)
    assert answer.value == Fraction(drawn["start"] * 2 ** drawn["times"])
    assert [step.split(":")[0] for step in work.steps] == [f"After {step}" for step in range(1, drawn["times"] + 1)]
    assert work.program(answer, question).endswith(f"{answer.name} = {answer.name} * 2\nprint({answer.name})")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("ask:", "asks:"), "unknown fields"),
        (("randint(3, 12)", "choice(3, 12)"), r"calls \['choice'\]"),
        (("total ceil per", "total ^ per"), "the operations are"),
        (("    answer: [current, value]\n", ""), "no answer"),
    ],
)
def test_a_templates_file_is_checked_as_it_is_read(change: tuple[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        read_templates(TEMPLATES.replace(*change))
