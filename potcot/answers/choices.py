"""Multiple choice: the option letters (A to Z, one range everywhere: prompts, protocol, datasets,
extraction and grading) and the option an answer stands for."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence

from potcot.answers.numbers import parse_number

CHOICE_LETTERS = string.ascii_uppercase

_TEXT_WRAPPED = re.compile(r"^\\text\{(?P<inner>[^{}]*)\}$")
# A letter on its own: ``B``, ``(b)``, ``B)``, ``B.``; or stated: ``The answer is B``, ``option (B)``.
_LETTER_ALONE = re.compile(r"^\(?(?P<letter>[A-Za-z])\)?[.:]?$")
_LETTER_STATED = re.compile(r"(?:answer is|option|choice):?\s*\(?(?P<letter>[A-Za-z])\)?\.?$", re.IGNORECASE)
# A letter followed by its option's text: ``(B) 42``, ``B. 42``, ``b) 42``, ``B: forty``, ``B 42``.
_LETTER_THEN_TEXT = re.compile(r"^(?:\((?P<paren>[A-Za-z])\)\s*|(?P<marked>[A-Za-z])[.:)]\s+|(?P<bare>[A-Z])\s+)\S")
# Option letters inside a chain of thought.
_LETTER_IN_TEXT = re.compile(r"\(([A-Z])\)|\b([A-Z])\)|^([A-Z])[.:]?$|\b(?:option|choice)\s+([A-Z])\b", re.IGNORECASE)
# Option values within this relative distance of each other are the same value.
_SAME_VALUE = 1e-6
# A numeric answer maps to the nearest option only if that option is this close and no other
# option is nearly as close: 3.333 maps to "10/3", 7 to nothing among 5 and 9.
_NEAREST_OPTION = 0.05


def option_letters(count: int) -> str:
    """The letters of a question's ``count`` options."""
    return CHOICE_LETTERS[:count]


def to_choice(answer: str | None, choices: Sequence[str]) -> str | None:
    """The option letter an answer stands for: a letter (``B``, ``(B)``, ``The answer is B``), an
    option's text, a letter followed by its text (``(B) 42``), or a number equal to (or,
    unambiguously, nearest to) an option's value. None when it stands for no option."""
    if answer is None or not choices:
        return None
    letters = option_letters(len(choices))
    text = _unwrapped(answer)
    letter = _letter(text, (_LETTER_ALONE, _LETTER_STATED), letters)
    if letter is not None:
        return letter
    normalized = _normalized(text)
    for option_letter, choice in zip(letters, choices, strict=False):
        if _normalized(choice) == normalized:
            return option_letter
    letter = _letter(text, (_LETTER_THEN_TEXT,), letters)
    if letter is not None:
        return letter
    return _nearest_option(parse_number(text), [parse_number(choice) for choice in choices], letters)


def last_letter(text: str, count: int) -> str | None:
    """The last option letter a chain of thought names (``(C)``, ``C)``, ``option C``) among a
    question's ``count`` options; letters of no option (the ``x`` of ``f(x)``) are passed over."""
    letters = option_letters(count)
    named = [next(group for group in match if group).upper() for match in _LETTER_IN_TEXT.findall(text)]
    in_range = [letter for letter in named if letter in letters]
    return in_range[-1] if in_range else None


def _unwrapped(answer: str) -> str:
    """An answer without surrounding space or a ``\\text{}`` around it."""
    text = answer.strip()
    wrapped = _TEXT_WRAPPED.match(text)
    return wrapped["inner"].strip() if wrapped else text


def _letter(text: str, patterns: tuple[re.Pattern[str], ...], letters: str) -> str | None:
    """The letter, upper case, that the first matching pattern finds, if it is one of ``letters``."""
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            letter = next(group for group in match.groupdict().values() if group).upper()
            return letter if letter in letters else None
    return None


def _nearest_option(value: float | None, options: list[float | None], letters: str) -> str | None:
    """The letter of the option whose value is nearest ``value``, if it is near and unambiguous."""
    if value is None:
        return None
    distances = sorted(
        (abs(option - value) / max(abs(option), abs(value), 1e-12), letter)
        for option, letter in zip(options, letters, strict=False)
        if option is not None
    )
    if not distances:
        return None
    best, letter = distances[0]
    runner_up = distances[1][0] if len(distances) > 1 else math.inf
    if best <= _SAME_VALUE or (best <= _NEAREST_OPTION and runner_up >= 2 * best):
        return letter
    return None


def _normalized(text: str) -> str:
    """Option text as compared: lower case, single spaces, no dollar signs or closing period."""
    return " ".join(text.lower().replace("$", "").split()).rstrip(".")
