"""Whether an answer is right: the grader half of the answers library (Math-Verify's ``verify``).

Cheap cases are decided here without sympy, in order: multiple choice (``choices.to_choice``),
numbers with a relative tolerance (``numbers.parse_number``: thousands separators, currency,
percentages, units, fractions, mixed numbers, scientific notation), equal text, booleans and
option labels.
Everything else (LaTeX, symbolic equality, equations, tuples, sets, intervals) needs Math-Verify's
``symbolic_match``, which ``Grader`` runs in a worker process bounded from outside. Inputs known to
hang sympy (huge exponents, power towers) and long predictions are compared as text only.

``Grading.MAMMOTH`` scores as the MAmmoTH paper did, so a run compares with its tables like for
like: an integer gold matches ``round(prediction)``; other numbers match within 4%.
"""

from __future__ import annotations

import enum
import logging
import math
import re
from collections.abc import Sequence

from potcot.answers.choices import to_choice
from potcot.answers.numbers import mixed_number_as_fraction, parse_number

_RELATIVE_TOLERANCE = 1e-4
_MAMMOTH_TOLERANCE = 0.04
# Longer answers are compared as text: sympy's work grows quickly with the size of its input.
_MAX_SYMBOLIC_CHARS = 400
_MAX_SYMBOLIC_REFERENCE_CHARS = 4000
# Inputs that make sympy compute for minutes or exhaust memory: exponents of six or more digits,
# power towers (an exponent that has an exponent), factorials of five or more digits.
_PATHOLOGICAL = re.compile(
    r"(\^|\*\*)\s*\{?\s*[-+]?\d{6,}"
    r"|\^\s*\{[^{}]*\^|\^\s*[\w.]+\s*\^|\*\*\s*[\w.(]+\s*\*\*"
    r"|\d{5,}\s*!"
)
_BOOLEANS = {"true": True, "yes": True, "false": False, "no": False}


class Grading(enum.StrEnum):
    STRICT = "strict"
    MAMMOTH = "mammoth"  # the paper's scoring: integers by rounding, other numbers within 4%


def cheap_verdict(
    prediction: str | None, reference: str, choices: Sequence[str] | None = None, grading: Grading = Grading.STRICT
) -> bool | None:
    """The verdict on ``prediction`` against the gold ``reference`` (a letter when ``choices`` are
    given) where it needs no sympy; None when only a symbolic comparison can tell."""
    prediction, reference = (prediction or "").strip(), reference.strip()
    if not prediction or not reference:
        return False
    if choices:
        return to_choice(prediction, choices) == reference.upper()
    gold, predicted = parse_number(reference), parse_number(prediction)
    if gold is not None and predicted is not None:  # before the text: "21/2" is not "2 1/2"
        return numbers_match(predicted, gold, reference, grading)
    if _normalized(prediction) == _normalized(reference):
        return True
    if reference.lower() in _BOOLEANS:
        return _BOOLEANS.get(prediction.lower().rstrip(".")) == _BOOLEANS[reference.lower()]
    if not symbolic_is_safe(prediction, reference):
        return False
    return None


def numbers_match(predicted: float, gold: float, reference: str, grading: Grading = Grading.STRICT) -> bool:
    """Numeric equality, with a relative tolerance (strict) or as MAmmoTH's evaluation scored it."""
    if grading is Grading.MAMMOTH:
        if gold == int(gold) and "." not in reference:
            return round(predicted) == gold
        return abs(predicted - gold) <= _MAMMOTH_TOLERANCE * abs(gold)
    return any(
        math.isclose(predicted, value, rel_tol=_RELATIVE_TOLERANCE, abs_tol=1e-9)
        for value in _readings(gold, reference)
    )


def _readings(value: float, text: str) -> tuple[float, ...]:
    """A gold percentage also matches its fraction, as graders of GSM8K-style answers allow."""
    return (value, value / 100) if "%" in text or "percent" in text else (value,)


def symbolic_is_safe(prediction: str, reference: str) -> bool:
    """Whether sympy may see these answers: none is known to hang it, none is too long."""
    if len(prediction) > _MAX_SYMBOLIC_CHARS or len(reference) > _MAX_SYMBOLIC_REFERENCE_CHARS:
        return False
    return not (_PATHOLOGICAL.search(prediction) or _PATHOLOGICAL.search(reference))


def _normalized(text: str) -> str:
    """Text as graders compare it: no spacing, no enclosing dollars or \\text{}, no \\left/\\right."""
    text = text.strip().strip("$").rstrip(".")
    if text.startswith("\\boxed{") and text.endswith("}"):
        text = text[len("\\boxed{") : -1]
    for remove in ("\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", " "):
        text = text.replace(remove, "")
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    return text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").lower()


def symbolic_match(prediction: str, reference: str) -> bool:
    """Math-Verify's comparison, with its SIGALRM timeouts off (they fail outside the main thread):
    the caller bounds it from outside. Both sides are read as LaTeX first (``$...$``), then as plain
    expressions; a mixed number as its fraction. Needs the ``bench`` extra; imported here, when a comparison runs."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns that its timeouts are off

    def read(text: str) -> list[object]:
        text = mixed_number_as_fraction(text) or text
        return parse(f"${text}$", parsing_timeout=None) or parse(text, parsing_timeout=None)

    gold, predicted = read(reference), read(prediction)
    return bool(gold and predicted and verify(gold, predicted, timeout_seconds=None))
