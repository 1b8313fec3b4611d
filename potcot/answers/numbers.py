"""Numbers as answers write them, read in one place: ``72``, ``$1,200``, ``12.5%``, ``3/4``,
``2 1/2``, ``1.5e3``, ``1.5 \\times 10^{3}``, ``18 apples``. Grading, option mapping and the
last-number fallback of chain-of-thought extraction all read numbers here, so they never disagree
about what a number is.
"""

from __future__ import annotations

import math
import re

_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
_CURRENCY = r"(?:[$€£¥]|\\\$|Rs\.?|USD|INR)\s*"
# Exponents are at most three digits: larger ones are no plain number (and would overflow a float).
_EXPONENT = (
    r"(?:[eE](?P<e>[-+]?\d{1,3})"
    r"|\s*(?:\\times|\\cdot|×|\*)\s*10\s*(?:\^|\*\*)\s*(?P<power>\{\s*[-+]?\d{1,3}\s*\}|[-+]?\d{1,3}))"
)
_VALUE = (
    rf"(?P<sign>[-+])?\s*(?P<value>"
    rf"(?:(?P<whole>\d+)\s+)?(?P<numerator>\d+)\s*/\s*(?P<denominator>\d+)"
    rf"|(?P<mantissa>{_DIGITS}){_EXPONENT}?)"
)
_NUMBER = re.compile(
    rf"^(?P<negative>-)?\s*(?:{_CURRENCY})?{_VALUE}\s*(?P<percent>\\?%|percent)?\s*(?:[a-zA-Z][a-zA-Z .]*)?$"
)
# A number inside a text: a fraction or a decimal, in scientific notation as one number (``1.5e3``);
# not the exponent of a power (the ``2`` of ``cm^2``, ``x**2``), nor the tail of a longer number.
_NUMBER_IN_TEXT = re.compile(rf"(?<![\d.^])(?<!\^\{{)(?<!\*\*)-?(?:{_DIGITS})(?:/\d+|[eE][-+]?\d{{1,3}}(?!\d))?")
# Longer text is no plain number; the cap also bounds the regular expression's work.
_MAX_NUMBER_CHARS = 100


def parse_number(text: str) -> float | None:
    """The value of an answer that is one number, with its currency, percent sign or unit words
    around it (``12.5%`` is 12.5: whether a percentage also means its fraction is the grader's
    call). None for anything else, and for values a float cannot hold."""
    match = _number_match(text)
    if match is None:
        return None
    value = _fraction_value(match) if match["denominator"] else _decimal_value(match)
    if value is None or not math.isfinite(value):
        return None
    negative = (match["negative"] is not None) != (match["sign"] == "-")
    return -value if negative else value


def plain_number(text: str) -> str | None:
    """An answer that is one number (as ``parse_number`` reads it) as that number alone, written
    as it was but without currency, percent sign, unit words or thousands separators: ``$1,200``
    gives ``1200``, ``-\\$0.50`` gives ``-0.50``, ``18 apples`` gives ``18``, ``12.5%`` gives
    ``12.5`` (as ``parse_number`` and MAmmoTH's evaluation read it), while ``450.00``, ``2 1/2``
    and ``1.5e3`` stay as written. None for anything else."""
    match = _number_match(text)
    if match is None or parse_number(text) is None:
        return None
    negative = (match["negative"] is not None) != (match["sign"] == "-")
    return f"{'-' if negative else ''}{match['value'].replace(',', '')}"


def mixed_number_as_fraction(text: str) -> str | None:
    """A mixed number as the fraction it is (``2 1/2`` as ``5/2``), for sympy, which reads the
    space as a product; None for any other text."""
    match = _number_match(text)
    if match is None or not match["whole"] or int(match["denominator"]) == 0:
        return None
    negative = (match["negative"] is not None) != (match["sign"] == "-")
    denominator = int(match["denominator"])
    numerator = int(match["whole"]) * denominator + int(match["numerator"])
    return f"{'-' if negative else ''}{numerator}/{denominator}"


def _number_match(text: str) -> re.Match[str] | None:
    """The parts of a text that is one number, or None."""
    text = text.strip().rstrip(".")
    return _NUMBER.match(text) if len(text) <= _MAX_NUMBER_CHARS else None


def _fraction_value(match: re.Match[str]) -> float | None:
    """``3/4`` or the mixed number ``2 1/2``; None for a zero denominator."""
    denominator = int(match["denominator"])
    if denominator == 0:
        return None
    return int(match["whole"] or 0) + int(match["numerator"]) / denominator


def _decimal_value(match: re.Match[str]) -> float:
    """A decimal with thousands separators, in scientific notation when it has an exponent."""
    exponent = match["e"] or (match["power"] or "0").strip("{} ")
    return float(f"{match['mantissa'].replace(',', '')}e{exponent}")


def last_number(text: str) -> str | None:
    """The last number written in a text, as written but without thousands separators: the answer
    MAmmoTH's evaluation falls back to when a chain of thought states none, and the value of a
    printed sentence (``You have $100 to spend``). Exponents of powers are no number the text
    states (``25 cm^2`` gives ``25``)."""
    numbers = _NUMBER_IN_TEXT.findall(text)
    return numbers[-1].replace(",", "") if numbers else None
