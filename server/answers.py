"""Reading what a model wrote: the program in a program-of-thought completion, the answer at the
end of a chain of thought, and the option a multiple-choice answer stands for.

Small pure functions; each has a table of cases in ``tests/server/test_answers.py``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence

from potcot.server.prompts import CHOICE_LETTERS

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_FENCE_LABELS = ("python", "py", "python3")
_CODE_NODES = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Call, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.For)
_ANSWER_IS = "answer is"
_SENTENCE_END = re.compile(r"\.\s")
# "<words> is|=|: <value>", where the words hold no brackets or quotes (so a printed dict or list
# is left whole).
_LABELLED_VALUE = re.compile(r"^[^\[\]{}()\"'=]*?(?:\bis\b|=|:(?=\s))\s*(?P<value>[^=]+?)\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_CHOICE = re.compile(r"\(([A-J])\)|\b([A-J])\)|^([A-J])[.:]?$|\b(?:option|choice)\s+([A-J])\b", re.IGNORECASE)
# Option values within this relative distance of each other are the same value.
_SAME_VALUE = 1e-6
# A program's numeric answer maps to the nearest option only if that option is this close and no
# other option is nearly as close: 3.333 maps to "10/3", 7 to nothing among 5 and 9.
_NEAREST_OPTION = 0.05


def extract_program(completion: str) -> str | None:
    """The program in a completion: its first ```python block, else its first plain fenced block
    that is Python, else the longest opening run of lines that parses as Python code (MAmmoTH's
    checkpoints answer with bare code). None when there is no program."""
    blocks = [(label.lower(), body.strip("\n")) for label, body in _FENCE.findall(completion)]
    for label, body in blocks:
        if label in _PYTHON_FENCE_LABELS and body.strip():
            return body
    for label, body in blocks:
        if not label and _is_code(body):
            return body
    lines = completion.strip().splitlines()
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        if _is_code(candidate):
            return candidate
    return None


def _is_code(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, _CODE_NODES) for node in ast.walk(tree))


def clean_program_answer(line: str) -> str | None:
    """The value in a program's last printed line: ``Total: 2400`` gives ``2400``, ``x = 5``
    gives ``5``, ``The answer is 18.`` gives ``18``; a line that is only a value stays as it is
    (``{x: 2, y: 8}``, ``[-2, 2]``)."""
    answer = line.strip()
    match = _LABELLED_VALUE.match(answer)
    if match:
        answer = match.group("value")
    return clean_answer(answer)


def extract_answer(completion: str, choices: Sequence[str] | None = None, *, lenient: bool = True) -> str | None:
    """The answer a chain of thought ends with: its last ``\\boxed{}``, else what follows its last
    "The answer is", else (multiple choice) its last option letter. ``lenient`` falls back to the
    last number in the text, as MAmmoTH's evaluation did."""
    answer = last_boxed(completion) or _stated_answer(completion)
    if answer is None and choices:
        letters = [next(group for group in match if group) for match in _CHOICE.findall(completion)]
        answer = letters[-1].upper() if letters else None
    if answer is None and lenient:
        numbers = _NUMBER.findall(completion)
        answer = numbers[-1].replace(",", "") if numbers else None
    return answer or None


def _stated_answer(text: str) -> str | None:
    """What follows the last "answer is", up to the end of its sentence."""
    start = text.lower().rfind(_ANSWER_IS)
    if start < 0:
        return None
    rest = text[start + len(_ANSWER_IS) :].lstrip(" :")
    return clean_answer(_SENTENCE_END.split(rest, maxsplit=1)[0])


def last_boxed(text: str) -> str | None:
    """The contents of the last ``\\boxed{...}``, braces balanced."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for index in range(begin, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            if depth == 0:
                return text[begin:index].strip() or None
            depth -= 1
    return None


def clean_answer(text: str) -> str | None:
    """An answer phrase as a bare answer: first line, no markdown emphasis, no closing period,
    no enclosing dollar signs of inline math."""
    answer, previous = (text.strip().splitlines()[0] if text.strip() else ""), None
    while answer != previous:
        previous, answer = answer, answer.strip().strip("*").rstrip(".")
    if len(answer) > 1 and answer.startswith("$") and answer.endswith("$"):
        answer = answer.strip("$").strip()
    return answer or None


def to_choice(answer: str | None, choices: Sequence[str]) -> str | None:
    """The option letter an answer stands for: a letter itself (``B``, ``(B)``, ``B)``), an
    option's text, or a number equal to (or, unambiguously, nearest to) an option's value."""
    if answer is None or not choices:
        return None
    letters = CHOICE_LETTERS[: len(choices)]
    stripped = answer.strip().strip("()").rstrip(").:").strip()
    if len(stripped) == 1 and stripped.upper() in letters:
        return stripped.upper()
    normalized = _normalize(answer)
    for letter, choice in zip(letters, choices, strict=False):
        if _normalize(choice) == normalized:
            return letter
    return _nearest_option(_number(answer), [_number(choice) for choice in choices], letters)


def _nearest_option(value: float | None, options: list[float | None], letters: str) -> str | None:
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


def _normalize(text: str) -> str:
    return " ".join(text.lower().replace("$", "").split()).rstrip(".")


def _number(text: str) -> float | None:
    """The single number in an answer or option (``$1,200``, ``3/4``, ``12.5%``), if it has one."""
    numbers = _NUMBER.findall(text.replace(" ", ""))
    if len(numbers) != 1:
        return None
    numerator, _, denominator = numbers[0].replace(",", "").partition("/")
    try:
        value = float(numerator) / float(denominator) if denominator else float(numerator)
    except (ValueError, ZeroDivisionError):
        return None
    return value
