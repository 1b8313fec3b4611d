"""The family's text kinds, read from ``text_templates.yaml`` beside this module: multiple-choice
questions whose options are names or words, which a few lines of text answer and a program of the
family's style does not (it prints a number, and a number stands for none of these options). They
carry the other half of the paper's claim into the miniature: on them the hybrid's fallback to the
chain of thought has something to add.

A template draws its names as the arithmetic templates do (``templates.draw_values``), words the
question, shuffles its options, and writes the chain of thought that ends in the option's letter.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from potcot.answers import CHOICE_LETTERS, parse_number
from potcot.server.prompts import with_choices
from potcot.training.miniature.templates import Draws, draw_values, read_draws
from potcot.training.miniature.work import Work

_FIELDS = frozenset({"draw", "ask", "options", "answer", "steps"})


@dataclasses.dataclass(frozen=True, slots=True)
class ChoiceQuestion:
    """One multiple-choice problem: the bare question, its options, the right letter, and the chain
    of thought that reaches it."""

    question: str
    choices: tuple[str, ...]
    answer: str
    chain_of_thought: str

    @property
    def prompt_question(self) -> str:
        """The question as a prompt shows it, options included: what a training record holds, so
        the model is trained on the text it is served (``prompts.with_choices``)."""
        return with_choices(self.question, self.choices)


@dataclasses.dataclass(frozen=True)
class ChoiceTemplate:
    """One text kind, as ``text_templates.yaml`` writes it."""

    name: str
    draws: Draws
    asks: tuple[str, ...]
    options: tuple[str, ...]
    answer: str
    steps: tuple[str, ...]

    def __call__(self, rng: random.Random) -> ChoiceQuestion:
        """Write one problem: draw, word the question, shuffle the options, then the text, which
        names the right option and ends with its letter as potcot's answer extraction reads it."""
        work = Work(rng)
        drawn = draw_values(self.draws, work)
        question = work.pick(self.asks).format_map(drawn)
        choices = [str(drawn[option]) for option in self.options]
        rng.shuffle(choices)
        right = str(drawn[self.answer])
        if right not in choices or len(set(choices)) != len(choices) or any(map(_is_number, choices)):
            raise ValueError(f"text template {self.name}: options {choices} repeat, are numbers or miss {right}")
        letter = CHOICE_LETTERS[choices.index(right)]
        lines = [step.format_map(drawn) for step in self.steps]
        text = "\n".join([*lines, f"{right} is option ({letter}).", f"The answer is {letter}."])
        return ChoiceQuestion(question, tuple(choices), letter, text)


def _is_number(option: str) -> bool:
    """Whether an option reads as a number, which a program's printed value could stand for."""
    return parse_number(option) is not None


def _template(name: str, entry: Mapping[str, Any]) -> ChoiceTemplate:
    """A text kind from its entry, its draws, options and answer checked as it is read."""
    if unknown := set(entry) - _FIELDS:
        raise ValueError(f"text template {name}: unknown fields {sorted(unknown)}")
    draws = read_draws(name, entry["draw"])
    drawn_names = {target for targets, _ in draws for target in targets}
    options, answer = tuple(map(str, entry["options"])), str(entry["answer"])
    if not 2 <= len(options) <= len(CHOICE_LETTERS):
        raise ValueError(f"text template {name}: {len(options)} options, not 2 to {len(CHOICE_LETTERS)}")
    if undrawn := sorted((set(options) | {answer}) - drawn_names):
        raise ValueError(f"text template {name}: {undrawn} are not drawn")
    return ChoiceTemplate(name, draws, tuple(entry["ask"]), options, answer, tuple(map(str, entry["steps"])))


def read_text_templates(text: str) -> dict[str, ChoiceTemplate]:
    """The text kinds of a templates file, in its order (a split takes them in turn)."""
    sections = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's, where built
    return {name: _template(name, entry) for name, entry in sections["text"].items()}


TEXT = read_text_templates(
    (resources.files("potcot.training.miniature") / "text_templates.yaml").read_text(encoding="utf-8")
)
