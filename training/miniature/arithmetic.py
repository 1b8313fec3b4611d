"""Arithmetic written out the way a small left-to-right model can learn to do it in text.

A multi-digit product or quotient written as one equation (``347 * 6 = 2082``) asks a model to emit
the most significant digit of the result first, which depends on every carry to its right: a model
of a few million parameters never learns it. Split by place value, each piece is a one-digit fact
followed by zeros, and only a short sum remains::

    347 * 6 = 300 * 6 + 40 * 6 + 7 * 6 = 1800 + 240 + 42 = 2082
    2082 / 6: 6 * 300 = 1800, 2082 - 1800 = 282; 6 * 40 = 240, 282 - 240 = 42; 6 * 7 = 42, 42 - 42 = 0; ...

Sums and differences stay one equation: they are the part the text route gets partly right, which
is what makes it an honest competitor to programs rather than a floor or a certainty. Every
equation written here is true, term by term (the tests parse and check each one).
"""

from __future__ import annotations

from fractions import Fraction

# Below this, a product is a times-table fact and is written as one equation.
TABLE_LIMIT = 12


def number(value: Fraction | int) -> str:
    """A value as the text and the programs write it: an integer, or a short decimal."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    for places in range(1, 5):
        scaled = value * 10**places
        if scaled.denominator == 1:
            whole, part = divmod(abs(scaled.numerator), 10**places)
            sign = "-" if value < 0 else ""
            return f"{sign}{whole}.{part:0{places}d}"
    raise ValueError(f"{value} is not a short decimal")


def place_values(value: int) -> list[int]:
    """``347`` as ``[300, 40, 7]``: its nonzero digits, each with its place."""
    digits = str(value)
    parts = [int(digit) * 10 ** (len(digits) - 1 - index) for index, digit in enumerate(digits)]
    return [part for part in parts if part] or [0]


def product(a: Fraction, b: Fraction) -> str:
    """``a * b = ...``: split by place value unless both factors are small, or either is not whole."""
    result = number(a * b)
    if a.denominator != 1 or b.denominator != 1 or max(a, b) <= TABLE_LIMIT or min(a, b) == 0:
        return f"{number(a)} * {number(b)} = {result}"
    split_first = b <= TABLE_LIMIT  # the large factor is split; of two large ones, the second
    parts = place_values(int(a) if split_first else int(b))
    if len(parts) == 1:
        return f"{number(a)} * {number(b)} = {result}"
    if split_first:
        terms = [f"{part} * {number(b)}" for part in parts]
        partials = [part * b for part in parts]
    else:
        terms = [f"{number(a)} * {part}" for part in parts]
        partials = [a * part for part in parts]
    return f"{number(a)} * {number(b)} = {' + '.join(terms)} = {' + '.join(map(number, partials))} = {result}"


def long_division(a: int, b: int) -> tuple[str, int, int]:
    """``a / b`` worked from the largest place down: the text, the quotient and the remainder."""
    quotient, remainder = divmod(a, b)
    if quotient <= TABLE_LIMIT or len(place_values(quotient)) == 1:
        return "", quotient, remainder
    rest, steps = a, []
    for part in place_values(quotient):
        steps.append(f"{b} * {part} = {b * part}, {rest} - {b * part} = {rest - b * part}")
        rest -= b * part
    pieces = " + ".join(str(part) for part in place_values(quotient))
    return f"{a} / {b}: {'; '.join(steps)}; so the quotient is {pieces} = {quotient}. ", quotient, remainder


def quotient(a: Fraction, b: Fraction) -> str:
    """``a / b = c`` for an exact quotient: by long division when it is large and whole."""
    if a.denominator == 1 and b.denominator == 1 and (a / b).denominator == 1:
        worked, _, _ = long_division(int(a), int(b))
        return f"{worked}{number(a)} / {number(b)} = {number(a / b)}"
    return f"{number(a)} / {number(b)} = {number(a / b)}"


def division_with_remainder(a: int, b: int) -> str:
    """``a = b * q + r``, worked by long division when the quotient is large."""
    worked, whole, remainder = long_division(a, b)
    return f"{worked}{a} = {b} * {whole} + {remainder}"


def percent_of(a: Fraction, percent: Fraction) -> str:
    """``a * p / 100``: the product first (split as any product), then the shift by two places."""
    scaled = a * percent
    return f"{product(a, percent)}, and {number(scaled)} / 100 = {number(scaled / 100)}"


def written(a: Fraction, op: str, b: Fraction) -> str:
    """One operation as worked text, for the operators the templates use."""
    if op == "*":
        return product(a, b)
    if op == "/":
        return quotient(a, b)
    if op == "pct":
        return percent_of(a, b)
    if op in ("//", "%", "ceil"):
        return f"{division_with_remainder(int(a), int(b))}, {_conclusion(int(a), op, int(b))}"
    return f"{number(a)} {op} {number(b)} = {number(apply(a, op, b))}"


def _conclusion(a: int, op: str, b: int) -> str:
    """What a division with remainder gives: the whole quotient, the remainder, or one more when something is left."""
    whole, remainder = divmod(a, b)
    if op == "%":
        return f"so {remainder} is left over"
    if op == "ceil" and remainder:
        return f"so {whole} + 1 = {whole + 1}"
    return f"so {whole}"


def apply(a: Fraction, op: str, b: Fraction) -> Fraction:
    """The value of one operation, exactly."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "pct":
        return a * b / 100
    if op == "//":
        return Fraction(int(a) // int(b))
    if op == "%":
        return Fraction(int(a) % int(b))
    if op == "ceil":
        return Fraction(-(-int(a) // int(b)))
    raise ValueError(f"unknown operation {op!r}")
