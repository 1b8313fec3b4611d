"""A deterministic corpus of GSM8K-style programs, as a model writes them for program of thought.

Each template draws its numbers from a seeded generator; about a third of the programs import
sympy or numpy, as MATH-style solutions do.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Template = Callable[[random.Random], str]


def _shopping(rng: random.Random) -> str:
    price, count, tax = rng.randint(2, 40), rng.randint(2, 12), rng.choice([5, 8, 10])
    return f"""price_per_item = {price}
items = {count}
subtotal = price_per_item * items
tax = subtotal * {tax} / 100
total = subtotal + tax
print(round(total, 2))
"""


def _speed(rng: random.Random) -> str:
    speed, hours, extra = rng.randint(30, 80), rng.randint(2, 9), rng.randint(5, 60)
    return f"""speed_mph = {speed}
hours_driven = {hours}
extra_miles = {extra}
distance = speed_mph * hours_driven + extra_miles
print(distance)
"""


def _discount(rng: random.Random) -> str:
    price, percent = rng.randint(20, 500), rng.choice([10, 15, 20, 25, 30, 40])
    return f"""original_price = {price}
discount_percent = {percent}
discount = original_price * discount_percent / 100
sale_price = original_price - discount
print(sale_price)
"""


def _fractions(rng: random.Random) -> str:
    total, numerator, denominator = rng.randint(2, 20) * 12, rng.randint(1, 3), rng.choice([4, 6, 12])
    return f"""from fractions import Fraction
pizza_slices = {total}
eaten = Fraction({numerator}, {denominator}) * pizza_slices
remaining = pizza_slices - eaten
print(remaining)
"""


def _savings_loop(rng: random.Random) -> str:
    weekly, weeks, bonus_every = rng.randint(5, 50), rng.randint(4, 20), rng.randint(2, 4)
    return f"""savings = 0
for week in range(1, {weeks} + 1):
    savings += {weekly}
    if week % {bonus_every} == 0:
        savings += 10
print(savings)
"""


def _buses(rng: random.Random) -> str:
    students, seats = rng.randint(40, 400), rng.choice([20, 30, 45, 52])
    return f"""import math
students = {students}
seats_per_bus = {seats}
buses_needed = math.ceil(students / seats_per_bus)
print(buses_needed)
"""


def _boxes(rng: random.Random) -> str:
    apples, per_box = rng.randint(50, 999), rng.randint(6, 24)
    return f"""apples = {apples}
apples_per_box = {per_box}
full_boxes = apples // apples_per_box
left_over = apples % apples_per_box
print(full_boxes + left_over)
"""


def _counting(rng: random.Random) -> str:
    colors = rng.choices(["red", "blue", "green", "yellow"], k=rng.randint(6, 15))
    return f"""from collections import Counter
marbles = {colors!r}
counts = Counter(marbles)
most_common_color, how_many = counts.most_common(1)[0]
print(how_many)
"""


def _pal_solution(rng: random.Random) -> str:
    eggs, eaten, baked, price = rng.randint(12, 20), rng.randint(1, 4), rng.randint(2, 5), rng.randint(1, 4)
    return f"""def solution():
    eggs_per_day = {eggs}
    eaten_for_breakfast = {eaten}
    used_for_muffins = {baked}
    price_per_egg = {price}
    remaining = eggs_per_day - eaten_for_breakfast - used_for_muffins
    return remaining * price_per_egg
"""


def _sympy_linear(rng: random.Random) -> str:
    a, x, b = rng.randint(2, 9), rng.randint(1, 30), rng.randint(1, 50)
    return f"""from sympy import symbols, Eq, solve
x = symbols('x')
equation = Eq({a} * x + {b}, {a * x + b})
print(solve(equation, x)[0])
"""


def _sympy_ages(rng: random.Random) -> str:
    older, younger = rng.randint(20, 60), rng.randint(2, 19)
    return f"""import sympy as sp
father, son = sp.symbols('father son')
solution = sp.solve([sp.Eq(father + son, {older + younger}), sp.Eq(father - son, {older - younger})], [father, son])
print(solution[father])
"""


def _numpy_average(rng: random.Random) -> str:
    scores = [rng.randint(50, 100) for _ in range(rng.randint(4, 9))]
    return f"""import numpy as np
scores = np.array({scores})
print(round(float(scores.mean()), 2))
"""


def _numpy_totals(rng: random.Random) -> str:
    prices = [rng.randint(1, 20) for _ in range(4)]
    quantities = [rng.randint(1, 6) for _ in range(4)]
    return f"""import numpy as np
prices = np.array({prices})
quantities = np.array({quantities})
print(int(np.dot(prices, quantities)))
"""


TEMPLATES: tuple[Template, ...] = (
    _shopping,
    _speed,
    _discount,
    _fractions,
    _savings_loop,
    _buses,
    _boxes,
    _counting,
    _pal_solution,
    _sympy_linear,
    _sympy_ages,
    _numpy_average,
    _numpy_totals,
)


def build_corpus(size: int = 260, seed: int = 0) -> list[str]:
    """``size`` programs, cycling through the templates with seeded numbers."""
    rng = random.Random(seed)
    return [TEMPLATES[index % len(TEMPLATES)](rng) for index in range(size)]
