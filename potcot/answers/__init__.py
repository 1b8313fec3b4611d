"""potcot's answers library, parser and grader apart (as Math-Verify splits ``parse`` and
``verify``): what a model's output states (``parse``, ``choices``, ``numbers``) and whether an
answer is right (``verify``, and ``Grader``, which bounds symbolic comparisons in worker processes).
The solver, the benchmark client and the training filter all use it.

Imports only the standard library at import time; Math-Verify (the ``bench`` extra) is imported by
the worker processes, when a symbolic comparison runs.
"""

from potcot.answers.choices import CHOICE_LETTERS, option_letters, to_choice
from potcot.answers.grader import Grader, answers_match
from potcot.answers.numbers import last_number, parse_number
from potcot.answers.parse import (
    chain_of_thought_answer,
    clean_answer,
    clean_program_answer,
    extract_answer,
    extract_program,
    last_boxed,
    program_answer,
)
from potcot.answers.verify import Grading, cheap_verdict, symbolic_match

__all__ = [
    "CHOICE_LETTERS",
    "Grader",
    "Grading",
    "answers_match",
    "chain_of_thought_answer",
    "cheap_verdict",
    "clean_answer",
    "clean_program_answer",
    "extract_answer",
    "extract_program",
    "last_boxed",
    "last_number",
    "option_letters",
    "parse_number",
    "program_answer",
    "symbolic_match",
    "to_choice",
]
