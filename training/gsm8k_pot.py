"""GSM8K rationales as programs of thought, without a model.

A GSM8K rationale marks its arithmetic with calculator annotations, ``48/2 = <<48/2=24>>24 clips``.
Each annotation, and each unannotated calculation written out in full (``$100 - $3 = $97``) whose
result checks out, becomes one assignment, named from the words around it; later steps refer to
earlier results by name; the program prints its last step:

    Natalia sold 48/2 = <<48/2=24>>24 clips in May.            clips_in_may = 48 / 2
    Natalia sold 48+24 = <<48+24=72>>72 clips altogether ...    clips_altogether = 48 + clips_in_may
                                                                print(clips_altogether)

A rationale whose arithmetic cannot be read this way (algebra in words, say) yields no program.
"""

from __future__ import annotations

import ast
import dataclasses
import keyword
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from potcot.server.prompts import Rationale
from potcot.training.records import RationaleRecord

_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_FINAL_LINE = re.compile(r"^####.*$", re.MULTILINE)
# An unannotated calculation: "<arithmetic> = <number>", the arithmetic possibly with $, units and %.
_EQUALS_NUMBER = re.compile(r"=\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_WORD = re.compile(r"[A-Za-z]+")
_STOPWORDS = frozenset(
    "a an and are as at be by each for from get gets got has have he her his how if in into is it its "
    "of on or she so than that the their them then there they this to total was we were which will with "
    "would you your".split()
)
_MAX_NAME_WORDS = 3
_TEXT_OPERATORS = str.maketrans({"×": "*", "x": "*", "X": "*", "÷": "/", "−": "-", "–": "-", "^": "**"})
_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    name: str
    expression: str  # Python, with numbers of earlier steps replaced by their names
    value: float


def program_of_thought(question: str, rationale: str) -> str | None:
    """The rationale as a Python program that prints its answer, or None if it has no readable
    arithmetic."""
    steps = _steps(question, rationale)
    if not steps:
        return None
    lines = [f"{step.name} = {step.expression}" for step in steps]
    return "\n".join([*lines, f"print({steps[-1].name})"]) + "\n"


def _steps(question: str, rationale: str) -> list[Step]:
    steps: list[Step] = []
    given = {float(number) for number in _NUMBER.findall(question.replace(",", ""))}
    for line in _FINAL_LINE.sub("", rationale).splitlines():
        for expression, value, start, end in _calculations(line):
            steps.append(Step(_name(line, start, end, steps), _refer_to_steps(expression, steps, given), value))
    return steps


def _calculations(line: str) -> list[tuple[str, float, int, int]]:
    """Every calculation on a line whose result checks out: (Python expression, value, and the
    span of the line it came from, for naming)."""
    found = []
    for match in _ANNOTATION.finditer(line):
        value = _evaluate(_as_python(match[1]))
        if value is not None and _close(value, _parse_number(match[2])):
            found.append((_as_python(match[1]), value, match.start(), match.end()))
    plain = _ANNOTATION.sub("", line)
    if not found:
        for match in _EQUALS_NUMBER.finditer(plain):
            calculation = _calculation_before(plain[: match.start()], _parse_number(match[1]))
            if calculation is not None:
                found.append((*calculation, match.start(), match.end()))
    return found


def _calculation_before(text: str, result: float | None) -> tuple[str, float] | None:
    """The longest arithmetic ending ``text`` that evaluates to ``result``: words (units) are dropped,
    so ``840 seconds * 1 minute/ 60 seconds`` reads as ``840 * 1 / 60``."""
    if result is None:
        return None
    tokens = text.split()
    for start in range(len(tokens)):
        expression = _as_python(" ".join(tokens[start:]))
        if not _NUMBER.search(expression) or not re.search(r"[-+*/]", expression):
            continue
        value = _evaluate(expression)
        if value is not None and _close(value, result):
            return expression, value
    return None


def _as_python(text: str) -> str:
    """Calculator text as a Python expression: ``3 x $1`` (or a multiplication sign) is ``3 * 1``,
    ``2(180+30)`` is ``2*(180+30)``."""
    text = text.replace(",", "").replace("$", "").replace("%", "")
    text = re.sub(r"(?<=\d)\s*[xX×]\s*(?=[\d(])", "*", text)
    text = text.translate(_TEXT_OPERATORS)
    text = re.sub(r"[A-Za-z][A-Za-z']*", " ", text)
    text = re.sub(r"(?<=[\d)])\s*\(", "*(", text)
    text = re.sub(r"\)\s*(?=[\d(])", ")*", text)
    return re.sub(r"\s+", " ", text).strip().strip("=:").strip()


def _evaluate(expression: str) -> float | None:
    """The value of plain arithmetic, or None for anything else; never ``eval``."""
    try:
        tree = ast.parse(expression, mode="eval")
        value = _arithmetic(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None
    return value if math.isfinite(value) else None


def _arithmetic(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _arithmetic(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError(f"not arithmetic: {ast.dump(node)}")


def _refer_to_steps(expression: str, steps: list[Step], given: set[float]) -> str:
    """Numbers that are earlier results (and not also given in the question) become their names."""

    def name_for(match: re.Match[str]) -> str:
        value = float(match[0])
        if value in given:
            return match[0]
        for step in reversed(steps):
            if _close(step.value, value):
                return step.name
        return match[0]

    return _NUMBER.sub(name_for, expression)


def _name(line: str, start: int, end: int, steps: list[Step]) -> str:
    """A variable name from the words after the result (``24 clips in May``), else before the
    calculation (``Natalia sold``), else ``step_N``."""
    after = _words(_ANNOTATION.sub("", line[end:]).lstrip(" $0123456789.,"), first=True)
    before = _words(_ANNOTATION.sub("", line[:start]), first=False)
    words = after or before or [f"step_{len(steps) + 1}"]
    name = "_".join(words).lower()
    if keyword.iskeyword(name) or name in dir(__builtins__) or not name.isidentifier():
        name = f"{name}_value"
    taken = {step.name for step in steps}
    unique, suffix = name, 2
    while unique in taken:
        unique, suffix = f"{name}_{suffix}", suffix + 1
    return unique


def _words(text: str, first: bool) -> list[str]:
    """Up to three content words: of the first clause of ``text`` (``first``), or of its last
    clause that has any."""
    clauses = re.split(r"[;:!?\n]|\.(?=\s|$)|, ", text)
    for clause in clauses[:1] if first else reversed(clauses):
        words = [word.lower() for word in _WORD.findall(clause) if len(word) > 1 and word.lower() not in _STOPWORDS]
        if words:
            return words[:_MAX_NAME_WORDS] if first else words[-_MAX_NAME_WORDS:]
    return []


def _parse_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", "").strip())
    except ValueError:
        return None


def _close(value: float, expected: float | None) -> bool:
    return expected is not None and math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9)


def convert(rows: list[dict[str, Any]]) -> list[RationaleRecord]:
    """GSM8K training rows (with ``meta.solution``) as program-of-thought records; rows whose
    rationale yields no program are left out."""
    records = []
    for row in rows:
        program = program_of_thought(str(row["question"]), str((row.get("meta") or {}).get("solution", "")))
        if program is not None:
            records.append(
                RationaleRecord(
                    str(row["id"]), str(row["question"]), str(row["answer"]), Rationale.POT, program, "gsm8k"
                )
            )
    return records
