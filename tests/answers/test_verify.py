"""Grading, as a table of (prediction, gold, choices, expected) in the answer formats of the suite's
datasets: matches and near-misses for each."""

import time

import pytest

from potcot.answers import Grader, Grading, cheap_verdict

MC3 = ["12", "15", "18"]
AQUA = ["22", "24", "26", "28", "30"]
MMLU = ["0", "1", "2", "3"]
WORDS = ["the function is even", "the function is odd", "neither"]
LETTERS_26 = [str(n) for n in range(26)]

CASES = [
    # gsm8k / svamp / simuleq / mathematics: integers and decimals
    ("72", "72", None, True),
    ("72.0", "72", None, True),
    ("72.00", "72", None, True),
    ("$72", "72", None, True),
    ("72 dollars", "72", None, True),
    ("72 clips", "72", None, True),
    ("72.", "72", None, True),
    ("1,200", "1200", None, True),
    ("1200", "1200", None, True),
    ("$1,200.00", "1200", None, True),
    ("18000", "18000", None, True),
    ("-21", "-21", None, True),
    ("+5", "5", None, True),
    ("0.45", "0.45", None, True),
    (".45", "0.45", None, True),
    ("262.5", "262.5", None, True),
    ("583.3333", "583.3333", None, True),
    ("583.33333333", "583.3333", None, True),
    ("2.12", "2.12", None, True),
    ("71", "72", None, False),
    ("72.5", "72", None, False),
    ("720", "72", None, False),
    ("7.2", "72", None, False),
    ("-72", "72", None, False),
    ("583.3", "583.3333", None, True),  # within the relative tolerance of 1e-4
    ("583.0", "583.3333", None, False),
    ("0.46", "0.45", None, False),
    ("12 3 0", "12 3 0", None, True),
    ("12 0 3", "12 3 0", None, False),
    ("[2, 3]", "[2, 3]", None, True),
    ("-20*x", "-20*x", None, True),
    ("-20x", "-20*x", None, True),
    ("20*x", "-20*x", None, False),
    # percentages
    ("25%", "25", None, True),
    ("25", "25%", None, True),
    ("0.25", "25%", None, True),
    ("25 percent", "25", None, True),
    ("100\\%", "100\\%", None, True),
    ("100", "100\\%", None, True),
    ("26%", "25%", None, False),
    # fractions and mixed numbers
    ("1/2", "\\frac{1}{2}", None, True),
    ("0.5", "\\frac{1}{2}", None, True),
    ("\\frac{1}{2}", "\\frac{1}{2}", None, True),
    ("\\dfrac{1}{2}", "\\frac{1}{2}", None, True),
    ("\\tfrac12", "\\frac{1}{2}", None, True),
    ("2/4", "\\frac{1}{2}", None, True),
    ("1/3", "\\frac{1}{2}", None, False),
    ("0.33", "\\frac{1}{3}", None, False),
    ("0.333333333", "\\frac{1}{3}", None, True),
    ("\\frac 34", "\\frac 34", None, True),
    ("3/4", "\\frac 34", None, True),
    ("\\frac32", "\\frac{3}{2}", None, True),
    ("1.5", "\\frac32", None, True),
    ("3\\frac{1}{2}", "\\frac{7}{2}", None, True),
    ("7/2", "3\\frac{1}{2}", None, True),
    ("-\\frac{5}{7}", "-\\frac{5}{7}", None, True),
    ("\\frac{5}{7}", "-\\frac{5}{7}", None, False),
    ("-5/7", "-\\frac{5}{7}", None, True),
    ("\\frac{137}{111}", "\\frac{137}{111}", None, True),
    ("\\frac{137}{112}", "\\frac{137}{111}", None, False),
    ("\\frac{3x^2}{2}", "\\frac{3x^2}{2}", None, True),
    ("1.5x^2", "\\frac{3x^2}{2}", None, True),
    ("3x^2", "\\frac{3x^2}{2}", None, False),
    ("2 1/2", "5/2", None, True),
    ("2 1/2", "2.5", None, True),
    ("2 1/2", "\\frac{5}{2}", None, True),
    ("-2 1/2", "-2.5", None, True),
    ("2 1/3", "2.5", None, False),
    ("21/2", "2 1/2", None, False),
    # scientific notation
    ("1.5e3", "1500", None, True),
    ("1.5E+3", "1500", None, True),
    ("1.5 \\times 10^{3}", "1500", None, True),
    ("1.5\\cdot10^3", "1500", None, True),
    ("1500", "1.5 \\times 10^{3}", None, True),
    ("2.5e-3", "0.0025", None, True),
    ("6.02 \\times 10^{23}", "6.02e23", None, True),
    ("1.5e4", "1500", None, False),
    ("1.5 \\times 10^{2}", "1500", None, False),
    # roots and symbolic equality
    ("\\sqrt{8}", "2\\sqrt{2}", None, True),
    ("2\\sqrt{2}", "2 \\sqrt{2}", None, True),
    ("2*sqrt(2)", "2\\sqrt{2}", None, True),
    ("\\sqrt{2}", "2\\sqrt{2}", None, False),
    ("\\sqrt{74}", "\\sqrt{74}", None, True),
    ("8.602325267", "\\sqrt{74}", None, True),
    ("8.6", "\\sqrt{74}", None, False),
    ("\\frac{\\sqrt{6}}{3}", "\\frac{\\sqrt{6}}{3}", None, True),
    ("\\sqrt{6}/3", "\\frac{\\sqrt{6}}{3}", None, True),
    ("\\sqrt{\\frac{2}{3}}", "\\frac{\\sqrt{6}}{3}", None, True),
    ("\\frac{5\\sqrt{3}}{3}", "\\frac{5\\sqrt{3}}{3}", None, True),
    ("\\frac{5}{\\sqrt{3}}", "\\frac{5\\sqrt{3}}{3}", None, True),
    ("\\sqrt{5} - 1", "\\sqrt{5} - 1", None, True),
    ("-1 + \\sqrt{5}", "\\sqrt{5} - 1", None, True),
    ("\\sqrt{5} + 1", "\\sqrt{5} - 1", None, False),
    ("2 + \\sqrt{3}", "2 + \\sqrt{3}", None, True),
    ("33\\sqrt{30}", "33\\sqrt{30}", None, True),
    ("2004 \\sqrt{2} - 2003", "2004 \\sqrt{2} - 2003", None, True),
    # pi, degrees, units, currency in LaTeX
    ("\\pi", "\\pi", None, True),
    ("3.14159265", "\\pi", None, True),
    ("3.14", "\\pi", None, False),
    ("-\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", None, True),
    ("-\\pi/6", "-\\frac{\\pi}{6}", None, True),
    ("\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", None, False),
    ("\\frac{\\pi^2}{6}", "\\frac{\\pi^2}{6}", None, True),
    ("90^\\circ", "90^\\circ", None, True),
    ("90", "90^\\circ", None, True),
    ("90 degrees", "90", None, True),
    ("89", "90^\\circ", None, False),
    ("135", "135\\text{ square feet}", None, True),
    ("135 square feet", "135\\text{ square feet}", None, True),
    ("25", "25 \\, \\text{km}", None, True),
    ("-0.50", "-\\$0.50", None, True),
    ("-\\$0.50", "-\\$0.50", None, True),
    ("0.50", "-\\$0.50", None, False),
    ("15000", "\\$15,\\!000", None, True),
    ("\\$15,\\!000", "\\$15,\\!000", None, True),
    ("75075", "75,\\!075", None, True),
    ("75,075", "75,\\!075", None, True),
    ("75,076", "75,\\!075", None, False),
    # \boxed and \text
    ("\\boxed{5}", "5", None, True),
    ("\\text{neither}", "\\text{neither}", None, True),
    ("neither", "\\text{neither}", None, True),
    ("odd", "\\text{neither}", None, False),
    ("\\text{(P)}", "\\text{(P)}", None, True),
    ("P", "\\text{(P)}", None, True),
    ("\\text{A,C,F}", "\\text{A,C,F}", None, True),
    ("A, C, F", "\\text{A,C,F}", None, True),
    # complex numbers
    ("-2 + 7i", "-2 + 7i", None, True),
    ("7i - 2", "-2 + 7i", None, True),
    ("-2 - 7i", "-2 + 7i", None, False),
    ("\\frac{7}{5} + \\frac{1}{5} i", "\\frac{7}{5} + \\frac{1}{5} i.", None, True),
    # equations
    ("x = 3", "3", None, True),
    ("3", "x=3", None, True),
    ("x=3", "x = 3", None, True),
    ("y = 2x + 1", "y = 2x + 1", None, True),
    ("y = 1 + 2x", "y = 2x + 1", None, True),
    ("x = 4", "3", None, False),
    # tuples, points, lists, sets, several answers
    ("(3,-3)", "(3,-3)", None, True),
    ("(3, -3)", "(3,-3)", None, True),
    ("(-3, 3)", "(3,-3)", None, False),
    ("(-5/2, -5/2)", "\\left(-\\tfrac52, -\\tfrac52\\right)", None, True),
    ("(-2.5, -2.5)", "\\left(-\\tfrac52, -\\tfrac52\\right)", None, True),
    (
        "\\left( 3, \\frac{11 \\pi}{8}, \\frac{4 \\pi}{5} \\right)",
        "\\left( 3, \\frac{11 \\pi}{8}, \\frac{4 \\pi}{5} \\right)",
        None,
        True,
    ),
    ("[0, 5]", "[0, 5]", None, True),
    ("[0,5]", "[0, 5]", None, True),
    ("[0, 4]", "[0, 5]", None, False),
    ("\\{1, 2\\}", "\\{2, 1\\}", None, True),
    ("\\frac{3}{4}, -\\frac{3}{4}", "\\frac{3}{4}, -\\frac{3}{4}", None, True),
    ("-\\frac{3}{4}, \\frac{3}{4}", "\\frac{3}{4}, -\\frac{3}{4}", None, True),
    ("\\frac{3}{4}", "\\frac{3}{4}, -\\frac{3}{4}", None, False),
    ("4, -2 + 3i, -2 - 3i", "4, -2 + 3i, -2 - 3i", None, True),
    # intervals
    ("(-\\infty,-7) \\cup (1,2)", "(-\\infty,-7) \\cup (1,2)", None, True),
    ("(-\\infty, -7) \\cup (1, 2)", "(-\\infty,-7) \\cup (1,2)", None, True),
    ("(-\\infty,-7] \\cup (1,2)", "(-\\infty,-7) \\cup (1,2)", None, False),
    ("[2, \\infty)", "[2,\\infty)", None, True),
    ("(2, \\infty)", "[2,\\infty)", None, False),
    # matrices and vectors
    (
        "\\begin{pmatrix} 3 & 2 \\\\ 0 & -7 \\end{pmatrix}",
        "\\begin{pmatrix} 3 & 2 \\\\ 0 & -7 \\end{pmatrix}",
        None,
        True,
    ),
    (
        "\\begin{pmatrix} 3 & 2 \\\\ 0 & 7 \\end{pmatrix}",
        "\\begin{pmatrix} 3 & 2 \\\\ 0 & -7 \\end{pmatrix}",
        None,
        False,
    ),
    # factored polynomials
    ("7(x+3)(x-3)", "7(x+3) (x-3)", None, True),
    ("7x^2 - 63", "7(x+3) (x-3)", None, True),
    ("7(x+3)(x+3)", "7(x+3) (x-3)", None, False),
    # bases
    ("1200_7", "1200_7", None, True),
    ("42_7", "42_7", None, True),
    ("43_7", "42_7", None, False),
    # theoremqa: floats, booleans, options, lists
    ("0.01234567", "0.01234567", None, True),
    ("0.0123", "0.01234567", None, False),
    ("-0.3789", "-0.3789", None, True),
    ("33389.35", "33389.35", None, True),
    ("33389.4", "33389.35", None, True),
    ("33390", "33389.35", None, True),
    ("33400", "33389.35", None, False),
    ("True", "True", None, True),
    ("true", "True", None, True),
    ("yes", "True", None, True),
    ("False", "True", None, False),
    ("no", "False", None, True),
    ("(c)", "(c)", None, True),
    ("c", "(c)", None, True),
    ("(b)", "(c)", None, False),
    ("[0, 5]", "[0, 5]", None, True),
    # numglue words
    ("October", "October", None, True),
    ("october", "October", None, True),
    ("November", "October", None, False),
    # multiple choice: aqua, sat, mmlu, numglue type 3
    ("B", "B", MC3, True),
    ("(B)", "B", MC3, True),
    ("B)", "B", MC3, True),
    ("b", "B", MC3, True),
    ("The answer is B", "B", MC3, True),
    ("\\text{(B)}", "B", MC3, True),
    ("15", "B", MC3, True),
    ("15.0", "B", MC3, True),
    ("C", "B", MC3, False),
    ("18", "B", MC3, False),
    ("16", "B", MC3, False),
    ("D", "D", AQUA, True),
    ("28", "D", AQUA, True),
    ("E", "D", AQUA, False),
    ("F", "D", AQUA, False),
    ("A", "A", MMLU, True),
    ("0", "A", MMLU, True),
    ("1", "A", MMLU, False),
    ("the function is odd", "B", WORDS, True),
    ("neither", "C", WORDS, True),
    ("odd", "B", WORDS, False),
    # an option letter followed by its text; letters past J
    ("(B) 15", "B", MC3, True),
    ("B. 15", "B", MC3, True),
    ("B: fifteen", "B", MC3, True),
    ("(C) 18", "B", MC3, False),
    ("K", "K", LETTERS_26, True),
    ("(Z) 25", "Z", LETTERS_26, True),
    ("25", "Z", LETTERS_26, True),
    ("Y", "Z", LETTERS_26, False),
    # nothing
    (None, "72", None, False),
    ("", "72", None, False),
    ("   ", "72", None, False),
    ("no idea", "72", None, False),
    ("72", "", None, False),
]


@pytest.fixture(scope="module")
def grader() -> Grader:
    with Grader() as strict:
        yield strict


@pytest.mark.parametrize(("prediction", "gold", "choices", "expected"), CASES)
def test_answers_match(
    grader: Grader, prediction: str | None, gold: str, choices: list[str] | None, expected: bool
) -> None:
    assert grader.match(prediction, gold, choices) is expected


def test_the_table_is_large_and_balanced() -> None:
    assert len(CASES) >= 150
    assert 0.35 < sum(expected for *_, expected in CASES) / len(CASES) < 0.75


CHEAP = [
    ("scientific notation", "1.5e3", "1500", None, True),
    ("scientific notation in LaTeX", "1.5 \\times 10^{3}", "1500", None, True),
    ("scientific notation, other exponent", "1.5e4", "1500", None, False),
    ("mixed number and fraction", "2 1/2", "5/2", None, True),
    ("mixed number and decimal", "2 1/2", "2.5", None, True),
    ("letter and its text", "(B) 15", "B", MC3, True),
    ("a power tower is compared as text", "9^9^9^9", "7", None, False),
    ("an over-long prediction is compared as text", "x + " * 200 + "1", "x + 1", None, False),
    ("symbolic: left to Math-Verify", "\\sqrt{8}", "2\\sqrt{2}", None, None),
]


@pytest.mark.parametrize(
    ("prediction", "gold", "choices", "verdict"), [c[1:] for c in CHEAP], ids=[c[0] for c in CHEAP]
)
def test_decided_without_sympy(prediction: str, gold: str, choices: list[str] | None, verdict: bool | None) -> None:
    assert cheap_verdict(prediction, gold, choices) is verdict


MAMMOTH = [
    ("72.4", "72", True),  # an integer gold matches round(prediction)
    ("72.6", "72", False),
    ("0.0123", "0.01234567", True),  # within 4%
    ("1.03", "1.0", True),
    ("1.05", "1.0", False),
    ("\\frac{1}{2}", "\\frac{1}{2}", True),
]


@pytest.mark.parametrize(("prediction", "gold", "expected"), MAMMOTH)
def test_mammoth_grading(prediction: str, gold: str, expected: bool) -> None:
    with Grader(Grading.MAMMOTH, workers=1) as lenient:
        assert lenient.match(prediction, gold) is expected


@pytest.mark.parametrize("prediction", ["2^{10^{10^{10}}}", "10^{99999999}", "9^9^9^9", "100000!", "2**99999999"])
def test_pathological_inputs_do_not_hang(grader: Grader, prediction: str) -> None:
    started = time.monotonic()
    assert grader.match(prediction, "7") is False
    assert time.monotonic() - started < 1
