"""The family's templates, read from ``templates.yaml`` beside this module: package data, so the
family generates from a wheel as from a clone. The templates are a table (wordings, the numbers
drawn, the steps from the question's numbers to the answer), so they are kept as one; the file's
header says what a template holds. This module turns each entry into a ``Template``, which writes
one problem through ``Work`` (the program and the chain of thought from the same steps) and
returns the question and the answer. A draw's arithmetic is read by ``expressions``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from importlib import resources
from typing import Any

import yaml

from potcot.training.miniature.expressions import Expression
from potcot.training.miniature.work import CONTAINERS, Quantity, Work

# What a step's result holds: a quantity the program names, or a value only the text states.
Value = Quantity | Fraction
_OPERATIONS = frozenset({"+", "-", "*", "/", "//", "%", "ceil", "pct"})
_FIELDS = frozenset({"draw", "ask", "given", "variables", "code", "steps", "answer"})
# Pure helpers a draw may call, beside the drawing functions that ``draw_functions`` binds to a problem.
_HELPERS: dict[str, Callable[..., Any]] = {
    "max": max,
    "min": min,
    "gcd": math.gcd,
    "round_up": lambda number, multiple: -(-number // multiple) * multiple,
    "capitalize": str.capitalize,
}
CALLABLE = frozenset({"person", "people", "item", "items", "container", "pick", "randint", "amount", *_HELPERS})


@dataclasses.dataclass(frozen=True, slots=True)
class Calc:
    """``[result, role, "a op b", say]``: a program line and a sentence of the text. Without a role,
    ``[result, "a op b", say]``, only the text states it (the template's code computes it its way)."""

    result: str
    role: str | None
    a: str
    op: str
    b: str
    say: str


@dataclasses.dataclass(frozen=True, slots=True)
class Loop:
    """Steps stated once for each ``variable`` from ``first`` to ``last``, starting from ``start``
    (a result name for each quantity it begins as)."""

    variable: str
    first: Expression
    last: Expression
    start: Mapping[str, str]
    steps: tuple[Step, ...]


# A step: a calculation, a loop of them, or a sentence of the text that states a reason.
Step = Calc | Loop | str
# A template's draws: the names each expression's value is bound to, in the file's order.
Draws = tuple[tuple[tuple[str, ...], Expression], ...]


@dataclasses.dataclass(frozen=True)
class Template:
    """One template of the family, as ``templates.yaml`` writes it."""

    name: str
    draws: Draws
    asks: tuple[str, ...]
    givens: tuple[tuple[str, str], ...]
    variables: tuple[tuple[str, str], ...]
    code: tuple[str, ...]
    steps: tuple[Step, ...]
    answer: tuple[str | None, str]  # the program's variable (None: the last step's own) and the value

    def __call__(self, w: Work) -> tuple[str, Quantity]:
        """Write one problem: draw, word the question, give its numbers, then the steps."""
        drawn = self.draw(w)
        question = w.pick(self.asks).format_map(drawn)
        values: dict[str, Value] = {name: w.given(role, drawn[name]) for name, role in self.givens}
        named = {name: value.name for name, value in values.items() if isinstance(value, Quantity)}
        named |= {name: w.name(role) for name, role in self.variables}
        w.code(*(line.format_map(named) for line in self.code))
        for step in self.steps:
            _run(step, w, values, drawn)
        return question, self._answer(values, named, drawn)

    def draw(self, w: Work) -> dict[str, Any]:
        """The template's numbers and words, in the file's order: its generator's order."""
        return draw_values(self.draws, w)

    def _answer(self, values: Mapping[str, Value], named: Mapping[str, str], drawn: Mapping[str, Any]) -> Quantity:
        """The last step's quantity; or, where the template's code computes it, the program's
        variable that holds it, with the value the text reached (or a drawn number)."""
        variable, value = self.answer
        found = values[value] if value in values else Fraction(drawn[value])
        if variable is not None:
            return Quantity(named[variable], found.value if isinstance(found, Quantity) else found)
        if not isinstance(found, Quantity):
            raise ValueError(f"template {self.name}: its answer, {value}, is not a program's line")
        return found


def draw_values(draws: Draws, w: Work) -> dict[str, Any]:
    """Every draw's value, in order, each expression seeing the names drawn before it."""
    functions, drawn = draw_functions(w), dict[str, Any]()
    for targets, expression in draws:
        value = expression.evaluate(drawn, functions)
        drawn.update(zip(targets, value, strict=True) if len(targets) > 1 else [(targets[0], value)])
    return drawn


def draw_functions(w: Work) -> dict[str, Callable[..., Any]]:
    """What a draw may call: the problem's generator, through ``Work``, and the pure helpers."""
    return {
        "person": lambda: w.people(1)[0],
        "people": w.people,
        "item": lambda: w.items()[0],
        "items": w.items,
        "container": lambda: w.pick(CONTAINERS),
        "pick": lambda *options: w.pick(options),
        "randint": w.rng.randint,
        "amount": w.amount,
        **_HELPERS,
    }


def _run(step: Step, w: Work, values: dict[str, Value], drawn: Mapping[str, Any]) -> None:
    """One step of the text, and of the program where it has a role."""
    if isinstance(step, str):
        w.say(step.format_map(drawn))
    elif isinstance(step, Loop):
        values.update({name: values[start] for name, start in step.start.items()})
        for count in range(step.first.evaluate(drawn, {}), step.last.evaluate(drawn, {}) + 1):
            for inner in step.steps:
                _run(inner, w, values, {**drawn, step.variable: count})
    else:
        a, b, say = _operand(step.a, values), _operand(step.b, values), step.say.format_map(drawn)
        values[step.result] = (
            w.worked(a, step.op, b, say) if step.role is None else w.calc(step.role, a, step.op, b, say)
        )


def _operand(text: str, values: Mapping[str, Value]) -> Value | int:
    return int(text) if text.isdigit() else values[text]


def _template(name: str, entry: Mapping[str, Any]) -> Template:
    """A template from its entry in the file, its expressions and steps checked as it is read."""
    if unknown := set(entry) - _FIELDS:
        raise ValueError(f"template {name}: unknown fields {sorted(unknown)}")
    draws = read_draws(name, entry["draw"])
    steps = tuple(map(_step, entry["steps"]))
    answer: tuple[str | None, str]
    if "answer" in entry:
        variable, value = entry["answer"]
        answer = (str(variable), str(value))
    elif isinstance(steps[-1], Calc) and steps[-1].role is not None:
        answer = (None, steps[-1].result)
    else:
        raise ValueError(f"template {name}: no answer, and its last step is not a program's line")
    return Template(
        name,
        draws,
        tuple(entry["ask"]),
        tuple(entry["given"].items()),
        tuple(entry.get("variables", {}).items()),
        tuple(entry.get("code", "").splitlines()),
        steps,
        answer,
    )


def read_draws(name: str, entries: Mapping[str, Any]) -> Draws:
    """A template's ``draw`` section, each expression checked to call only what a draw may."""
    draws = tuple((tuple(map(str.strip, names.split(","))), Expression(str(text))) for names, text in entries.items())
    if uncallable := set().union(*(expression.calls for _, expression in draws)) - CALLABLE:
        raise ValueError(f"template {name}: a draw calls {sorted(uncallable)}, which a template cannot")
    return draws


def _step(entry: Any) -> Step:
    """A step from the file: a sentence, a loop, or a calculation with or without a role."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        variable, first, last = entry["for"]
        steps = tuple(map(_step, entry["do"]))
        return Loop(variable, Expression(str(first)), Expression(str(last)), entry.get("with", {}), steps)
    result, role, computation, say = entry if len(entry) == 4 else (entry[0], None, *entry[1:])
    a, op, b = str(computation).split()
    if op not in _OPERATIONS:
        raise ValueError(f"{computation!r}: the operations are {sorted(_OPERATIONS)}")
    return Calc(result, role, a, op, b, say)


def read_templates(text: str) -> tuple[dict[str, Template], dict[str, Template]]:
    """The training templates and the held-out ones of a templates file, in its order (a split
    takes them in turn)."""
    sections = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's, where built
    return _section(sections["train"]), _section(sections["held_out"])


def _section(entries: Mapping[str, Any]) -> dict[str, Template]:
    return {name: _template(name, entry) for name, entry in entries.items()}


TRAIN, HELD_OUT = read_templates(
    (resources.files("potcot.training.miniature") / "templates.yaml").read_text(encoding="utf-8")
)
