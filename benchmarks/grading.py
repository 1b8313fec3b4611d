"""Deciding whether an extracted answer is right.

Cheap cases are decided here, in order: multiple choice (a letter, ``(B)``, or the option's text),
booleans and option labels, plain numbers with a relative tolerance (thousands separators,
currency, percentages, units). Everything else (LaTeX, symbolic equality, equations, tuples, sets,
intervals) goes to Math-Verify, in a worker process that is killed if one comparison takes too long:
Math-Verify's own timeouts use SIGALRM, which fails outside the main thread, and some sympy
parses hang regardless. Inputs known to hang sympy (huge exponents, power towers) are compared as
text only.

``grading="mammoth"`` scores as the MAmmoTH paper did, so a run compares with its tables like for
like: an integer gold matches ``round(prediction)``; other numbers match within 4%.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from types import TracebackType

from pebble import ProcessPool

COMPARISON_TIMEOUT_S = 5.0
_RELATIVE_TOLERANCE = 1e-4
_MAMMOTH_TOLERANCE = 0.04
_MAX_SYMBOLIC_CHARS = 400

_LETTERS = "ABCDEFGHIJ"
_LETTER = re.compile(r"^\(?([A-Ja-j])\)?[.:]?$|^\\text\{\(?([A-Ja-j])\)?\}$|answer is:?\s*\(?([A-Ja-j])\)?\.?$")
_NUMBER = re.compile(
    r"^(?:[$€£]|\\\$)?\s*(?P<number>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+)"
    r"\s*(?P<percent>\\?%|percent)?\s*(?:[a-zA-Z][a-zA-Z .]*)?$"
)
_FRACTION = re.compile(r"^(?P<sign>-)?(?P<numerator>\d+)\s*/\s*(?P<denominator>\d+)$")
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
    MAMMOTH = "mammoth"


class Grader:
    """Grades answers; owns the worker processes for symbolic comparisons. Thread-safe."""

    def __init__(self, grading: Grading = Grading.STRICT, workers: int | None = None) -> None:
        self.grading = grading
        # Forked from a clean server process rather than from this one, which may run vLLM's threads.
        context = multiprocessing.get_context("forkserver")
        self._pool = ProcessPool(max_workers=workers or os.cpu_count() or 1, initializer=_quiet_worker, context=context)

    def match(self, prediction: str | None, reference: str, choices: Sequence[str] | None = None) -> bool:
        prediction, reference = (prediction or "").strip(), reference.strip()
        if not prediction or not reference:
            return False
        if choices:
            return _choice_letter(prediction, choices) == reference.upper()
        decided = _decide_cheaply(prediction, reference, self.grading)
        if decided is not None:
            return decided
        if _PATHOLOGICAL.search(prediction) or _PATHOLOGICAL.search(reference) or len(prediction) > _MAX_SYMBOLIC_CHARS:
            return _normalized(prediction) == _normalized(reference)
        return self.match_symbolically(prediction, reference)

    def match_symbolically(self, prediction: str, reference: str) -> bool:
        """Math-Verify's verdict, from a worker that is replaced if it takes too long."""
        future = self._pool.schedule(symbolic_match, (prediction, reference), timeout=COMPARISON_TIMEOUT_S)
        try:
            return future.result()
        except (FutureTimeout, Exception):  # noqa: BLE001 - a comparison that fails or hangs is no match
            return False

    def close(self) -> None:
        self._pool.stop()
        self._pool.join()

    def __enter__(self) -> Grader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


@functools.cache
def _default_grader() -> Grader:
    return Grader()


def answers_match(prediction: str | None, reference: str, choices: Sequence[str] | None = None) -> bool:
    """Whether ``prediction`` is a right answer to a question whose gold answer is ``reference``
    (a letter, when ``choices`` are given). Strict grading; callable from any thread."""
    return _default_grader().match(prediction, reference, choices)


def _decide_cheaply(prediction: str, reference: str, grading: Grading) -> bool | None:
    """A verdict without sympy, or None when the answers need symbolic comparison."""
    if _normalized(prediction) == _normalized(reference):
        return True
    if reference.lower() in _BOOLEANS:
        return _BOOLEANS.get(prediction.lower().rstrip(".")) == _BOOLEANS[reference.lower()]
    gold, predicted = plain_number(reference), plain_number(prediction)
    if gold is None or predicted is None:
        return None
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


def plain_number(text: str) -> float | None:
    """The number in ``72``, ``$1,200``, ``12.5%``, ``3/4`` or ``18 apples``; None for anything else."""
    text = text.strip().rstrip(".")
    fraction = _FRACTION.match(text)
    if fraction:
        denominator = int(fraction["denominator"])
        sign = -1 if fraction["sign"] else 1
        return sign * int(fraction["numerator"]) / denominator if denominator else None
    match = _NUMBER.match(text)
    if match is None:
        return None
    return float(match["number"].replace(",", ""))


def _choice_letter(prediction: str, choices: Sequence[str]) -> str | None:
    letters = _LETTERS[: len(choices)]
    match = _LETTER.search(prediction.strip())
    if match:
        letter = next(group for group in match.groups() if group).upper()
        return letter if letter in letters else None
    normalized = _normalized(prediction)
    for letter, choice in zip(letters, choices, strict=False):
        if _normalized(choice) == normalized:
            return letter
    value = plain_number(prediction)
    if value is None:
        return None
    equal = [letter for letter, choice in zip(letters, choices, strict=False) if plain_number(choice) == value]
    return equal[0] if len(equal) == 1 else None


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
    """Math-Verify's comparison, with its SIGALRM timeouts off: the caller bounds it from outside.
    Both sides are read as LaTeX first (``$...$``), then as plain expressions."""
    from math_verify import parse, verify

    def read(text: str) -> list[object]:
        return parse(f"${text}$", parsing_timeout=None) or parse(text, parsing_timeout=None)  # type: ignore[arg-type]

    gold, predicted = read(reference), read(prediction)
    return bool(gold and predicted and verify(gold, predicted, timeout_seconds=None))  # type: ignore[arg-type]


def _quiet_worker() -> None:
    """Math-Verify warns once per process that its timeouts are off; here that is by design."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
