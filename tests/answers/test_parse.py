"""Tables for the parser: what a completion or a program's output states, one table per behaviour."""

import pytest

from potcot.answers import (
    chain_of_thought_answer,
    clean_program_answer,
    extract_answer,
    extract_program,
    last_boxed,
    program_answer,
)

PROGRAMS = [
    ("fenced python", "Here:\n```python\nx = 2\nprint(x)\n```\nDone.", "x = 2\nprint(x)"),
    ("fenced py", "```py\nprint(1)\n```", "print(1)"),
    ("python before plain", "```\n42\n```\n```python\nprint(42)\n```", "print(42)"),
    ("plain fence with code", "```\ntotal = 3 * 4\nprint(total)\n```", "total = 3 * 4\nprint(total)"),
    ("unterminated fence", "```python\nprint(7)\n", "print(7)"),
    (
        "bare code (MAmmoTH)",
        "apples = 10\neaten = 3\nprint(apples - eaten)",
        "apples = 10\neaten = 3\nprint(apples - eaten)",
    ),
    ("bare code then prose", "x = 5\nprint(x)\nThis prints five.", "x = 5\nprint(x)"),
    ("prose only", "The answer is 5.", None),
    ("a lone word", "Hello", None),
    ("empty", "", None),
    ("broken fenced code is still the program", "```python\nprint(1\n```", "print(1"),
]


@pytest.mark.parametrize(("completion", "program"), [p[1:] for p in PROGRAMS], ids=[p[0] for p in PROGRAMS])
def test_extract_program(completion: str, program: str | None) -> None:
    assert extract_program(completion) == program


ANSWERS = [
    ("the answer is", "She has 3 + 4 = 7 apples. The answer is 7.", None, True, "7"),
    ("last answer is wins", "The answer is 3. Wait, the answer is 5.", None, True, "5"),
    ("answer is with colon and bold", "So the answer is: **$18**.", None, True, "$18"),
    ("boxed", "Thus $x = \\boxed{\\frac{1}{2}}$.", None, True, "\\frac{1}{2}"),
    ("nested boxed", "\\boxed{\\sqrt{2}+{1}}", None, True, "\\sqrt{2}+{1}"),
    ("lenient last number", "First 3, then 4, finally 12,000", None, True, "12000"),
    ("strict finds nothing", "First 3, then 4", None, False, None),
    ("choice letter", "Comparing the options, (C) is right.", ["1", "2", "3"], True, "C"),
    ("choice in answer phrase", "The answer is (B).", ["1", "2"], True, "(B)"),
    ("nothing", "I do not know.", None, True, None),
]


@pytest.mark.parametrize(
    ("text", "choices", "lenient", "answer"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_extract_answer(text: str, choices: list[str] | None, lenient: bool, answer: str | None) -> None:
    assert extract_answer(text, choices, lenient=lenient) == answer


@pytest.mark.parametrize(("text", "boxed"), [("\\boxed{5}", "5"), ("no box", None), ("\\boxed{unclosed", None)])
def test_last_boxed(text: str, boxed: str | None) -> None:
    assert last_boxed(text) == boxed


# What a program's printed line states, one table per behaviour.
PROGRAM_ANSWERS = {
    "a label goes": [
        ("Total number of clips: 2400", "2400"),
        ("Total: 2400", "2400"),
        ("The answer is 18.", "18"),
        ("The answer is: 42", "42"),
        ("Result is = 7", "7"),
        ("Answer: 3/4", "3/4"),
        ("Result: 1.5e3", "1.5e3"),
        ("Note: the answer is 42", "42"),
        ("The answer is $\\frac{3}{4}$", "\\frac{3}{4}"),
        ("The solution is x = 2, y = 5", "x = 2, y = 5"),
        ("Solution: {x: 2, y: 8}", "{x: 2, y: 8}"),
    ],
    "the value after the last =": [
        ("x = 5", "5"),
        ("2 + 3 = 5", "5"),
        ("12 * 7 = 84", "84"),
        ("Total = 2 + 3 = 5", "5"),
        ("f(2) = 5", "5"),
        ("Step 2: x = 5", "5"),
        ("Number of apples = 12", "12"),
    ],
    "a number alone": [
        ("$1,200", "1200"),
        ("The total cost is $18.50.", "18.50"),
        ("Eliza's earnings for this week: $450.00", "450.00"),
        ("-\\$0.50", "-0.50"),
        ("Discount: 25%", "25"),
        ("x = 5 cm", "5"),
        ("18 apples", "18"),
        ("The answer is 2 1/2", "2 1/2"),
    ],
    "a sentence's last number": [
        ("You have $100 to spend", "100"),
        ("The train travels 120 km in 2 hours, so its speed is 60 km/h", "60"),
        ("There are 5 apples", "5"),
        ("The temperature is -4.5 degrees", "-4.5"),
        ("The area is 25 cm^2", "25"),
        ("The speed of light is about 3e8 m/s", "3e8"),
    ],
    "a clean value stays": [
        ("2400", "2400"),
        ("18.0", "18.0"),
        ("1/2", "1/2"),
        ("-3", "-3"),
        ("\\frac{3}{4}", "\\frac{3}{4}"),
        ("\\sqrt{2}", "\\sqrt{2}"),
        ("[-2, 2]", "[-2, 2]"),
        ("(1, 3]", "(1, 3]"),
        ("(-oo, 2)", "(-oo, 2)"),
        ("{x: 2, y: 8}", "{x: 2, y: 8}"),
        ("{'a': 1}", "{'a': 1}"),
        ("{'apples': 3}", "{'apples': 3}"),
        ("x = 2, y = 5", "x = 2, y = 5"),
        ("x = 2 and y = 5", "x = 2 and y = 5"),
        ("x >= 2", "x >= 2"),
        ("3*sqrt(2)", "3*sqrt(2)"),
        ("2*pi", "2*pi"),
        ("x**2 + 2*x + 1", "x**2 + 2*x + 1"),
        ("Eq(x, 2)", "Eq(x, 2)"),
        ("Interval.open(1, 3)", "Interval.open(1, 3)"),
        ("True", "True"),
        ("Tuesday", "Tuesday"),
        ("yes", "yes"),
    ],
    "nothing": [("", None), ("**", None)],
}


@pytest.mark.parametrize(
    ("line", "answer"),
    [case for cases in PROGRAM_ANSWERS.values() for case in cases],
    ids=[f"{behaviour}: {line}" for behaviour, cases in PROGRAM_ANSWERS.items() for line, _ in cases],
)
def test_clean_program_answer(line: str, answer: str | None) -> None:
    assert clean_program_answer(line) == answer


def test_a_long_line_is_read_whole() -> None:
    line = "You have $100 to spend, " * 50
    assert clean_program_answer(line) == line.strip()


PROGRAM_ANSWERS_FOR_QUESTIONS = [
    ("a value", "Total: 2400", None, "2400"),
    ("a value, multiple choice", "Total: 15.0", ["12", "15", "18"], "B"),
    ("a letter printed", "The answer is (C)", ["12", "15", "18"], "C"),
    ("a letter and its text printed", "(B) 15", ["12", "15", "18"], "B"),
    ("the whole line is the option", "x = 5, y = 6", ["x = 5, y = 6", "x = 6, y = 5"], "A"),
    ("a value of no option", "100", ["1", "2", "3"], None),
    ("a letter past J", "Z", [str(n) for n in range(26)], "Z"),
    ("nothing but emphasis", "**", None, None),
]


@pytest.mark.parametrize(
    ("printed", "choices", "answer"),
    [p[1:] for p in PROGRAM_ANSWERS_FOR_QUESTIONS],
    ids=[p[0] for p in PROGRAM_ANSWERS_FOR_QUESTIONS],
)
def test_program_answer(printed: str, choices: list[str] | None, answer: str | None) -> None:
    assert program_answer(printed, choices) == answer


CHAIN_ANSWERS = [
    ("stated", "So the answer is 7.", None, True, "7"),
    ("last number, lenient", "It comes to 7 in all", None, True, "7"),
    ("last number, strict", "It comes to 7 in all", None, False, None),
    ("letter stated", "The answer is (B).", ["12", "15"], True, "B"),
    ("value stated, mapped to its letter", "The answer is 15.", ["12", "15"], True, "B"),
    ("letter and text stated", "The answer is (B) 15.", ["12", "15"], True, "B"),
    ("strict does not map the last number", "It is 15, I think", ["12", "15"], False, None),
    ("f(x) is no option", "Option (B) it is, since f(x) grows", ["12", "15"], True, "B"),
    ("a letter past J", "Comparing them all, (K) is right.", [str(n) for n in range(12)], True, "K"),
]


@pytest.mark.parametrize(
    ("text", "choices", "lenient", "answer"), [a[1:] for a in CHAIN_ANSWERS], ids=[a[0] for a in CHAIN_ANSWERS]
)
def test_chain_of_thought_answer(text: str, choices: list[str] | None, lenient: bool, answer: str | None) -> None:
    assert chain_of_thought_answer(text, choices, lenient=lenient) == answer
