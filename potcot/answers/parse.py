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
from potcot.answers.numbers import last_number, plain_number

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CLOSED_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_FENCE_LABELS = ("python", "py", "python3")
_CODE_NODES = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Call, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.For)
_ANSWER_IS = "answer is"
_SENTENCE_END = re.compile(r"\.\s")
# A printed line longer than this is data (a long list or expression), not a sentence stating a
# value: it is read whole. The cap also bounds the work of the scans below.
_MAX_PROGRAM_LINE_CHARS = 1000
# The words that label a line's value: "<words> is", "<words> is:", "<words>: ". Letters only, so
# an equation, a calculation or a printed dict or list has no label.
_LABEL = re.compile(r"^[^\W\d_](?:[^\W\d_]|['’ .\-])*?(?:\bis\b\s*[:=]?|:(?=\s))\s*", re.IGNORECASE)
# An equals sign that states a value, not one of ``==``, ``<=``, ``>=``, ``!=``, ``:=``.
_EQUALS = re.compile(r"(?<![<>!=:])=(?!=)")
# What joins the equations of a system: ``x = 2, y = 5``, ``x = 2 and y = 5``.
_JOINER = re.compile(r"[,;]|\band\b|\bor\b", re.IGNORECASE)
# A word of prose: two letters or more, and no LaTeX command (``\frac``), function or method
# (``sqrt(``, ``Interval.open``).
_WORD = re.compile(r"(?<![\\\w])[^\W\d_]{2,}(?![\w(.])")
# Words sympy prints as values.
_MATH_NAMES = frozenset({"pi", "oo", "zoo", "nan", "inf"})
_OPENERS, _CLOSERS = "([{", ")]}"


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
    """The value a program's printed line states, read as MAmmoTH's evaluation read program output.
    Labels go (``Total: 2400`` gives ``2400``, ``The answer is 18.`` gives ``18``), and so does what
    precedes the last ``=`` (``x = 5`` and ``2 + 3 = 5`` give ``5``); a number is written alone
    (``$1,200`` gives ``1200``); a sentence gives its last number (``You have $100 to spend`` gives
    ``100``). A symbolic value stays whole: ``\\frac{3}{4}``, ``[-2, 2]``, ``{x: 2, y: 8}``,
    ``x = 2, y = 5``, ``3*sqrt(2)``, ``Eq(x, 2)``, ``Tuesday``."""
    text = clean_answer(line)
    if text is None or len(text) > _MAX_PROGRAM_LINE_CHARS:
        return text
    value = clean_answer(_after_equals(_after_label(text)))
    if value is None:
        return None
    return plain_number(value) or _last_number_of_prose(value) or value


def _after_label(text: str) -> str:
    """A line without the words that label its value (``Total:``, ``The answer is``), which hold no
    number a grader should see."""
    label = _LABEL.match(text)
    return text[label.end() :] if label and label.end() < len(text) else text


def _after_equals(text: str) -> str:
    """What follows the last ``=`` outside brackets: the result of a calculation (``12 * 7 = 84``)
    or the value of an assignment (``x = 5``). A system of equations (``x = 2, y = 5``) is itself
    the answer, kept whole, as is a line whose last ``=`` has nothing after it."""
    parts = _top_level_split(text, _EQUALS)
    if len(parts) == 1 or not parts[-1].strip():
        return text
    if any(len(_top_level_split(part, _JOINER)) > 1 for part in parts[:-1]):
        return text
    return parts[-1]


def _top_level_split(text: str, separator: re.Pattern[str]) -> list[str]:
    """``text`` split at the matches of ``separator`` outside brackets, so that the ``=`` and
    commas of ``f(a=1, b=2)`` or ``{x: 2, y: 8}`` separate nothing."""
    depths, depth = [], 0
    for char in text:
        depths.append(depth)
        depth += (char in _OPENERS) - (char in _CLOSERS)
    parts, start = [], 0
    for match in separator.finditer(text):
        if depths[match.start()] <= 0:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    return parts


def _last_number_of_prose(text: str) -> str | None:
    """A sentence's last number (``The train travels 120 km in 2 hours, so its speed is 60 km/h``
    gives ``60``), as MAmmoTH's evaluation read a numeric answer; None for a symbolic value."""
    return last_number(text) if _is_prose(text) else None


def _is_prose(text: str) -> bool:
    """Whether a value is words around numbers rather than a symbolic value: it has a word that is
    no name sympy prints, and is no LaTeX, printed collection (``{'apples': 3}``) or equation
    (``x = 2 and y = 5``), whose numbers are not each the answer."""
    if "\\" in text or (text[0] in _OPENERS and text[-1] in _CLOSERS) or _EQUALS.search(text):
        return False
    return any(word.lower() not in _MATH_NAMES for word in _WORD.findall(text))


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


def last_python_block(text: str) -> str | None:
    """The last complete ```python block of a text: the code a tool-integrated round ends with."""
    blocks = [body.strip("\n") for label, body in _CLOSED_FENCE.findall(text) if label.lower() in _PYTHON_FENCE_LABELS]
    return next((block for block in reversed(blocks) if block.strip()), None)
