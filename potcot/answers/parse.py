"""What a model's output states: the program in a program-of-thought completion, the value its
printed line gives, and the answer a chain of thought ends with. The parser half of the answers
library (Math-Verify's ``parse``); ``verify`` is the other half.

Small pure functions; each has a table of cases in ``tests/answers/test_parse.py``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from potcot.answers.choices import last_letter, to_choice
from potcot.answers.numbers import last_number

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_FENCE_LABELS = ("python", "py", "python3")
_CODE_NODES = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Call, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.For)
_ANSWER_IS = "answer is"
_SENTENCE_END = re.compile(r"\.\s")
# "<words> is|=|: <value>", where the words hold no brackets or quotes (so a printed dict or list
# is left whole).
_LABELLED_VALUE = re.compile(r"^[^\[\]{}()\"'=]*?(?:\bis\b\s*[:=]?|=|:(?=\s))\s*(?P<value>[^=]+?)\s*$", re.IGNORECASE)


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
    """Whether a text parses as Python and does something (an assignment, a call, a loop)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, _CODE_NODES) for node in ast.walk(tree))


def program_answer(printed: str, choices: Sequence[str] | None = None) -> str | None:
    """A program of thought's answer from the line it printed: the value in it, and for a
    multiple-choice question the option that value (or else the whole line) stands for. The solver
    and the training filter both judge programs by this."""
    answer = clean_program_answer(printed)
    if not choices:
        return answer
    return to_choice(answer, choices) or to_choice(printed, choices)


def chain_of_thought_answer(
    completion: str, choices: Sequence[str] | None = None, *, lenient: bool = True
) -> str | None:
    """A chain of thought's answer: what it ends with (``extract_answer``), as an option letter
    for a multiple-choice question."""
    answer = extract_answer(completion, choices, lenient=lenient)
    return to_choice(answer, choices) if choices else answer


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
    last number in the text, as MAmmoTH's evaluation did; strict extraction does not."""
    answer = last_boxed(completion) or _stated_answer(completion)
    if answer is None and choices:
        answer = last_letter(completion, len(choices))
    if answer is None and lenient:
        answer = last_number(completion)
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
