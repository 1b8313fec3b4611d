"""Tables for multiple choice: the option an answer stands for, and the letter a chain of thought names."""

import pytest

from potcot.answers import CHOICE_LETTERS, option_letters, to_choice
from potcot.answers.choices import last_letter

TWENTY_SIX = [f"value {n}" for n in range(26)]

CHOICES = [
    ("letter", "B", ["12", "15", "18"], "B"),
    ("parenthesised letter", "(c)", ["12", "15", "18"], "C"),
    ("letter out of range", "D", ["12", "15", "18"], None),
    ("option text", "fifteen", ["twelve", "Fifteen"], "B"),
    ("equal value", "15.0", ["12", "15", "18"], "B"),
    ("currency and commas", "$1,200", ["$1,000", "$1,200"], "B"),
    ("fraction option", "0.75", ["1/2", "3/4"], "B"),
    ("nearest, unambiguous", "3.333", ["10/3", "5", "7"], "A"),
    ("equidistant is ambiguous", "7", ["5", "9"], None),
    ("too far from every option", "100", ["5", "9"], None),
    ("no number", "many", ["5", "9"], None),
    ("no answer", None, ["5", "9"], None),
]


@pytest.mark.parametrize(("answer", "choices", "letter"), [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES])
def test_to_choice(answer: str | None, choices: list[str], letter: str | None) -> None:
    assert to_choice(answer, choices) == letter


LETTERS_AND_TEXT = [
    ("parenthesised letter, then its text", "(B) 42", ["41", "42", "43"], "B"),
    ("letter and period, then its text", "B. 42", ["41", "42", "43"], "B"),
    ("letter and colon, then other text", "B: forty", ["39", "40", "41"], "B"),
    ("letter and parenthesis, then its text", "c) 43", ["41", "42", "43"], "C"),
    ("capital letter, then its text", "A 41", ["41", "42", "43"], "A"),
    ("option text that starts with a letter", "A cat", ["a dog", "a cat"], "B"),
    ("lower-case word is no letter", "a lot", ["12", "15"], None),
    ("letter out of range, then text", "(D) 42", ["41", "42", "43"], None),
    ("stated letter", "The answer is B", ["12", "15", "18"], "B"),
    ("stated option", "option (C)", ["12", "15", "18"], "C"),
    ("letter in \\text{}", "\\text{(B)}", ["12", "15", "18"], "B"),
    ("letter past J", "K", TWENTY_SIX, "K"),
    ("Z, the last letter", "(Z) value 25", TWENTY_SIX, "Z"),
    ("a single-letter option by its text", "z", ["x", "y", "z"], "C"),
]


@pytest.mark.parametrize(
    ("answer", "choices", "letter"), [c[1:] for c in LETTERS_AND_TEXT], ids=[c[0] for c in LETTERS_AND_TEXT]
)
def test_a_letter_followed_by_text_is_the_letter(answer: str, choices: list[str], letter: str | None) -> None:
    assert to_choice(answer, choices) == letter


NAMED_LETTERS = [
    ("parenthesised", "I pick (C).", 3, "C"),
    ("the last one", "Not (A) but (B)", 3, "B"),
    ("out of range is passed over", "(B) since f(x) = 2", 3, "B"),
    ("past J", "so (M) it is", 26, "M"),
    ("none", "I do not know.", 3, None),
]


@pytest.mark.parametrize(("text", "count", "letter"), [n[1:] for n in NAMED_LETTERS], ids=[n[0] for n in NAMED_LETTERS])
def test_last_letter(text: str, count: int, letter: str | None) -> None:
    assert last_letter(text, count) == letter


def test_one_range_of_letters_a_to_z() -> None:
    assert CHOICE_LETTERS == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert option_letters(3) == "ABC" and option_letters(26) == CHOICE_LETTERS
