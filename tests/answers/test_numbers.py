"""A table for the one function that reads numbers."""

import pytest

from potcot.answers import last_number, parse_number
from potcot.answers.numbers import plain_number

NUMBERS = [
    ("72", 72.0),
    ("$1,200", 1200.0),
    ("12.5%", 12.5),
    ("3/4", 0.75),
    ("18 apples", 18.0),
    ("-5", -5.0),
    ("+5", 5.0),
    (".45", 0.45),
    ("72.", 72.0),
    ("-\\$0.50", -0.5),
    ("Rs. 1200", 1200.0),
    ("2 1/2", 2.5),
    ("-2 1/2", -2.5),
    ("1.5e3", 1500.0),
    ("2.5E-3", 0.0025),
    ("1.5 \\times 10^{3}", 1500.0),
    ("1.5\\cdot10^3", 1500.0),
    ("1.5*10**3", 1500.0),
    ("1,2", None),
    ("x", None),
    ("\\frac{1}{2}", None),
    ("2/0", None),
    ("12 3 0", None),
    ("1e999", None),
    ("10^{99999999}", None),
    ("1" * 101, None),
]


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


LAST_NUMBERS = [
    ("First 3, then 4, finally 12,000", "12000"),
    ("a half is 1/2", "1/2"),
    ("it falls by -4", "-4"),
    ("about 1.5e3 metres", "1.5e3"),
    ("an area of 25 cm^2", "25"),
    ("an area of 9 m^{2}", "9"),
    ("x**2 is 4", "4"),
    ("no number", None),
]


@pytest.mark.parametrize(("text", "number"), LAST_NUMBERS)
def test_last_number(text: str, number: str | None) -> None:
    assert last_number(text) == number


PLAIN_NUMBERS = [
    ("2400", "2400"),
    ("$1,200", "1200"),
    ("-\\$0.50", "-0.50"),
    ("+5", "5"),
    ("450.00", "450.00"),
    ("72.", "72"),
    ("12.5%", "12.5"),
    ("18 apples", "18"),
    ("2 1/2", "2 1/2"),
    ("1.5e3", "1.5e3"),
    ("1.5 \\times 10^{3}", "1.5 \\times 10^{3}"),
    ("2/0", None),
    ("\\frac{1}{2}", None),
    ("You have $100 to spend", None),
]


@pytest.mark.parametrize(("text", "number"), PLAIN_NUMBERS)
def test_plain_number(text: str, number: str | None) -> None:
    assert plain_number(text) == number
