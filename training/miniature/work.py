"""One problem being written: its question, and its program and chain of thought built step by step
from the same operations, so the two rationales cannot disagree about a value.

Variable names come from pools and from one of several naming styles drawn per problem (words
for the quantity, letters, numbered names), so a model trained on the family cannot tie a template
to its variable names and has to copy, within a program, the names it chose: a misspelt one is a
``NameError``, a program that fails honestly and hands the question to the chain of thought.

A program opens with the question's numbers in the order the question states them, whatever order
the template met them in: each assignment then copies the number after the one the line before
copied, the one pattern a model must learn to read its question, rather than a jump to wherever
this wording put that quantity.
"""

from __future__ import annotations

import dataclasses
import keyword
import random
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import TypeVar

from potcot.training.miniature.arithmetic import apply, number, written

PEOPLE = (
    "Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Leo", "Maya",
    "Nico", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wes", "Ximena", "Yuki", "Zane",
    "Amara", "Bruno", "Carmen", "Diego", "Esther", "Felix", "Hana", "Ivan", "Juno", "Kofi", "Lina", "Marco",
)  # fmt: skip
ITEMS = (
    "apples", "pencils", "stickers", "marbles", "cookies", "books", "cards", "shells", "candles", "buttons",
    "stamps", "balloons", "muffins", "erasers", "oranges", "beads", "notebooks", "tickets", "plums", "coins",
)  # fmt: skip
CONTAINERS = ("boxes", "bags", "crates", "jars", "packs", "baskets", "trays", "cartons")
# Synonyms for a quantity's role, for the naming style that uses words.
ROLE_WORDS = {
    "count": ("count", "number", "amount", "quantity", "n"),
    "price": ("price", "cost", "unit_price", "rate", "each"),
    "total": ("total", "result", "overall", "sum_total", "combined"),
    "left": ("left", "remaining", "rest", "leftover", "still_have"),
    "per": ("per_group", "each_share", "share", "portion", "per_one"),
    "money": ("money", "cash", "budget", "funds", "wallet"),
    "time": ("time", "hours", "duration", "period", "span"),
    "length": ("length", "size", "distance", "extent", "span_len"),
    "rate": ("rate", "speed", "per_unit", "pace", "step"),
    "percent": ("percent", "pct", "percentage", "rate_pct", "share_pct"),
}
_T = TypeVar("_T")
_STYLES = ("words", "letters", "numbered", "prefixed")
# Numbered names most often: they tie no name to a template, and a model can keep them apart (the
# next quantity is the next number) where a run of random letters or synonyms loses it.
_STYLE_WEIGHTS = (1, 1, 7, 1)
_LETTERS = "abcdefghjkmnpqrstuvwxyz"
_NUMBERED = ("x", "v", "n", "q", "t", "s", "val", "num", "step")


@dataclasses.dataclass(frozen=True, slots=True)
class Quantity:
    """A value and the name the program gives it."""

    name: str
    value: Fraction


Operand = Quantity | int | Fraction


class Work:
    """The two rationales of one problem, written together."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._style = rng.choices(_STYLES, weights=_STYLE_WEIGHTS)[0]
        self._stem = rng.choice(_NUMBERED)
        self._used: set[str] = set()
        self._givens: list[Quantity] = []
        self.lines: list[str] = []
        self.steps: list[str] = []
        self.imports: set[str] = set()
        self.divides = False

    def pick(self, options: Sequence[_T]) -> _T:
        """One of a template's wordings (or any choice), drawn from the problem's generator."""
        return self.rng.choice(options)

    def people(self, count: int) -> list[str]:
        """Distinct names, so two people in one question are never the same."""
        return self.rng.sample(PEOPLE, count)

    def items(self, count: int = 1) -> list[str]:
        """Distinct objects (plural nouns)."""
        return self.rng.sample(ITEMS, count)

    def amount(self, small: tuple[int, int], large: tuple[int, int], large_share: float = 0.4) -> int:
        """A number, small (a times-table operand) or large (several digits), in a mix: the text
        route does the small ones and must work the large ones by place value."""
        low, high = large if self.rng.random() < large_share else small
        return self.rng.randint(low, high)

    def name(self, role: str) -> str:
        """A fresh variable name for a quantity of this role, in the problem's naming style."""
        for attempt in range(100):
            candidate = self._candidate(role, attempt)
            if candidate not in self._used and not keyword.iskeyword(candidate):
                self._used.add(candidate)
                return candidate
        raise RuntimeError(f"no free name for {role!r}")

    def _candidate(self, role: str, attempt: int) -> str:
        if self._style == "letters":
            return self.rng.choice(_LETTERS) + (str(attempt // 10) if attempt >= 10 else "")
        if self._style == "numbered":
            return f"{self._stem}{len(self._used) + 1 + attempt}"
        words = ROLE_WORDS.get(role, (role,))
        word = self.rng.choice(words) if attempt < 20 else f"{words[0]}_{attempt}"
        return f"{self._stem}_{word}" if self._style == "prefixed" else word

    def given(self, role: str, value: int | Fraction) -> Quantity:
        """A number stated in the question."""
        quantity = Quantity(self.name(role), Fraction(value))
        self._givens.append(quantity)
        return quantity

    def calc(self, role: str, a: Operand, op: str, b: Operand, say: str) -> Quantity:
        """One step: a program line and a sentence of the chain of thought, ``say: <worked arithmetic>.``"""
        quantity = Quantity(self.name(role), self.worked(a, op, b, say))
        self.lines.append(f"{quantity.name} = {_expression(a, op, b)}")
        if op == "ceil":
            self.imports.add("math")
        self.divides = self.divides or op in ("/", "pct")
        return quantity

    def worked(self, a: Operand, op: str, b: Operand, say: str) -> Fraction:
        """A step the chain of thought states, for a value the program computes its own way (a loop)."""
        left, right = _value(a), _value(b)
        self.steps.append(f"{say}: {written(left, op, right)}.")
        return apply(left, op, right)

    def code(self, *lines: str) -> None:
        """Program lines a template writes itself (a loop), beside the steps its text states."""
        self.lines.extend(lines)

    def say(self, text: str) -> None:
        """A sentence of the chain of thought that states a reason rather than a calculation."""
        self.steps.append(text)

    def program(self, answer: Quantity, question: str) -> str:
        """The program of thought: the imports it needs, the question's numbers in its order, its
        steps, and one print of the answer, rounded to cents where a division or a percentage could
        leave float noise."""
        printed = f"round({answer.name}, 2)" if self.divides else answer.name
        head = [f"import {module}" for module in sorted(self.imports)]
        givens = [f"{given.name} = {number(given.value)}" for given in in_question_order(self._givens, question)]
        body = "\n".join([*givens, *self.lines, f"print({printed})"])
        return "\n".join([*head, self._numbered_in_order(body) if self._style == "numbered" else body])

    def _numbered_in_order(self, body: str) -> str:
        """Numbered names renumbered by where the program first assigns them, as the question's
        order has moved the assignments: ``x1``, ``x2``, ... down the program."""
        defined = dict.fromkeys(re.findall(r"^\s*(\w+) = ", body, flags=re.MULTILINE))
        renamed = {name: f"{self._stem}{index}" for index, name in enumerate(defined, start=1)}
        return re.sub(r"\b\w+\b", lambda match: renamed.get(match.group(0), match.group(0)), body)

    def chain_of_thought(self, answer: Quantity) -> str:
        """The steps, ending the way potcot's chain-of-thought prompts ask: "The answer is X."."""
        return "\n".join([*self.steps, f"The answer is {number(answer.value)}."])


def in_question_order(givens: Sequence[Quantity], question: str) -> list[Quantity]:
    """The givens sorted by where the question states them: each takes the first place its number
    is written that no given before it took; one the question does not write goes last."""
    taken: set[int] = set()
    places: list[float] = []
    for given in givens:
        place = next((at for at in _places_written(number(given.value), question) if at not in taken), None)
        if place is not None:
            taken.add(place)
        places.append(float("inf") if place is None else place)
    return [given for _, given in sorted(zip(places, givens, strict=True), key=lambda pair: pair[0])]


def _places_written(figure: str, text: str) -> list[int]:
    """Where ``text`` writes the number ``figure`` whole: 12 is not in 312, 12.5 or 1.12."""
    return [match.start() for match in re.finditer(rf"(?<![\d.]){re.escape(figure)}(?!\d|\.\d)", text)]


def _value(operand: Operand) -> Fraction:
    return operand.value if isinstance(operand, Quantity) else Fraction(operand)


def _term(operand: Operand) -> str:
    return operand.name if isinstance(operand, Quantity) else number(Fraction(operand))


def _expression(a: Operand, op: str, b: Operand) -> str:
    """The Python for one step: ``ceil`` is ``math.ceil``, a percentage ``a * p / 100``."""
    if op == "ceil":
        return f"math.ceil({_term(a)} / {_term(b)})"
    if op == "pct":
        return f"{_term(a)} * {_term(b)} / 100"
    return f"{_term(a)} {op} {_term(b)}"
