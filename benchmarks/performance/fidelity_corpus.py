"""A deterministic corpus of ordinary math programs, written the way models write them for
program-of-thought prompting on GSM8K, SVAMP, AQuA, MATH and TheoremQA.

Each *shape* is a hand-written program with ``$name`` placeholders and a function that draws its
numbers from a seeded generator; ``build_corpus`` instantiates every shape a few times. The
shapes cover what the sandbox's policy must let through unchanged: arithmetic, fractions and
decimals, sympy and numpy, combinatorics, memoised recursion, classes with special methods,
dataclasses, named tuples, annotations, private helpers, ``super()``, ``type(x).__name__``,
``hasattr``, ``__slots__``, the ``sys`` limits, ``time``, string formatting, regexes, dates and
statistics. Every program's output is deterministic (``random`` is seeded, sets of strings are
never printed, times are measured but not printed), so its stdout under the sandbox must equal
its stdout under plain CPython (``potcot.benchmarks.performance.sandbox_fidelity``).
"""

from __future__ import annotations

import dataclasses
import math
import random
import string
import textwrap
from collections.abc import Callable
from typing import Any

Params = dict[str, Any]
Draw = Callable[[random.Random], Params]


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """A program template: ``source`` with ``$name`` placeholders, filled with ``repr`` of what
    ``draw`` returns."""

    name: str
    source: str
    draw: Draw

    def instantiate(self, rng: random.Random) -> str:
        return string.Template(self.source).substitute({key: repr(value) for key, value in self.draw(rng).items()})


@dataclasses.dataclass(frozen=True, slots=True)
class CorpusProgram:
    """One program of the corpus, with the name of the shape it was drawn from."""

    shape: str
    code: str


# Filled by ``@shape`` below, in the order of the source.
SHAPES: list[Shape] = []


def shape(source: str) -> Callable[[Draw], Draw]:
    """Register the decorated draw function with its program template."""

    def register(draw: Draw) -> Draw:
        SHAPES.append(Shape(draw.__name__, textwrap.dedent(source).lstrip("\n"), draw))
        return draw

    return register


def build_corpus(per_shape: int = 4, seed: int = 0) -> list[CorpusProgram]:
    """``per_shape`` programs of every shape, shapes interleaved so that any slice mixes them.
    Each shape has its own generator, so adding a shape changes no other shape's programs."""
    generators = [random.Random(f"{seed}:{item.name}") for item in SHAPES]
    return [
        CorpusProgram(item.name, item.instantiate(rng))
        for _ in range(per_shape)
        for item, rng in zip(SHAPES, generators, strict=True)
    ]


# --- GSM8K and SVAMP: arithmetic word problems -------------------------------------------------


@shape("""
    price_per_item = $price
    items = $count
    subtotal = price_per_item * items
    tax = subtotal * $tax / 100
    total = subtotal + tax
    print(round(total, 2))
""")
def shopping(rng: random.Random) -> Params:
    """A subtotal with sales tax."""
    return {"price": rng.randint(2, 40), "count": rng.randint(2, 12), "tax": rng.choice([5, 8, 10])}


@shape("""
    # Distance = speed * time, then the time for the way back at a different speed
    speed_there = $speed
    hours_there = $hours
    distance = speed_there * hours_there
    speed_back = speed_there + $faster
    hours_back = distance / speed_back
    print(f"Distance: {distance} miles")
    print(f"Time back: {hours_back:.2f} hours")
""")
def travel(rng: random.Random) -> Params:
    """Speed, distance and time."""
    return {"speed": rng.randint(30, 70), "hours": rng.randint(2, 8), "faster": rng.randint(5, 20)}


@shape("""
    def solution():
        \"\"\"A store sells a jacket with a discount, then adds a fee.\"\"\"
        original_price = $price
        discount_percent = $percent
        discount = original_price * discount_percent / 100
        sale_price = original_price - discount
        final_price = sale_price + $fee
        result = final_price
        return result

    print(solution())
""")
def pal_discount(rng: random.Random) -> Params:
    """PAL style: the work in ``solution()``, printed."""
    return {"price": rng.randint(20, 400), "percent": rng.choice([10, 15, 20, 25, 40]), "fee": rng.randint(1, 9)}


@shape("""
    def main():
        eggs_per_day = $eggs
        eaten = $eaten
        baked = $baked
        price = $price
        remaining = eggs_per_day - eaten - baked
        earnings = remaining * price
        print(f"She makes {earnings} dollars every day.")
        print(earnings)


    if __name__ == "__main__":
        main()
""")
def main_guard(rng: random.Random) -> Params:
    """A script with ``main()`` behind the ``__name__`` guard."""
    return {
        "eggs": rng.randint(12, 20),
        "eaten": rng.randint(1, 4),
        "baked": rng.randint(2, 5),
        "price": rng.randint(1, 4),
    }


@shape("""
    from fractions import Fraction

    total_money = $money
    spent_on_books = Fraction($a, $b) * total_money
    remaining = total_money - spent_on_books
    spent_on_food = Fraction(1, $c) * remaining
    left = remaining - spent_on_food
    print("Left:", left)
    print(float(left))
""")
def fraction_of_rest(rng: random.Random) -> Params:
    """Spending a fraction, then a fraction of the rest."""
    b = rng.choice([3, 4, 5, 6])
    return {"money": rng.randint(2, 20) * 60, "a": rng.randint(1, b - 1), "b": b, "c": rng.choice([2, 3, 4])}


@shape("""
    from decimal import Decimal, ROUND_HALF_UP, getcontext

    getcontext().prec = 28
    hourly = Decimal($hourly)
    hours = Decimal($hours)
    overtime = Decimal($overtime)
    pay = hourly * hours + hourly * Decimal("1.5") * overtime
    print(pay.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
""")
def decimal_pay(rng: random.Random) -> Params:
    """Money with ``decimal``, as careful solutions write it."""
    return {
        "hourly": f"{rng.randint(10, 40)}.{rng.randint(0, 99):02d}",
        "hours": str(rng.randint(20, 40)),
        "overtime": str(rng.randint(0, 12)),
    }


@shape("""
    workers_a_days = $a
    workers_b_days = $b
    from fractions import Fraction
    rate_a = Fraction(1, workers_a_days)
    rate_b = Fraction(1, workers_b_days)
    together = 1 / (rate_a + rate_b)
    print(together, round(float(together), 3))
""")
def work_rate(rng: random.Random) -> Params:
    """Two workers on one job."""
    return {"a": rng.randint(2, 12), "b": rng.randint(3, 15)}


@shape("""
    principal = $principal
    rate = $rate / 100
    years = $years
    simple = principal * rate * years
    compound = principal * (1 + rate) ** years - principal
    print("Simple interest:", round(simple, 2))
    print("Compound interest:", round(compound, 2))
    print("Difference:", round(compound - simple, 2))
""")
def interest(rng: random.Random) -> Params:
    """Simple against compound interest."""
    return {"principal": rng.randint(10, 100) * 100, "rate": rng.choice([3, 4, 5, 6, 8]), "years": rng.randint(2, 6)}


@shape("""
    total_minutes = $minutes
    hours, minutes = divmod(total_minutes, 60)
    days, hours = divmod(hours, 24)
    print(f"{days} days, {hours} hours and {minutes} minutes")
    seconds = total_minutes * 60
    print(f"{seconds:,} seconds")
""")
def time_units(rng: random.Random) -> Params:
    """Unit conversion with ``divmod``."""
    return {"minutes": rng.randint(1000, 90000)}


@shape("""
    total = $total
    ratio = ($x, $y, $z)
    parts = sum(ratio)
    shares = [total * r / parts for r in ratio]
    for name, share in zip(["Ann", "Ben", "Cal"], shares):
        print(name, share)
    print(max(shares) - min(shares))
""")
def ratio_split(rng: random.Random) -> Params:
    """Sharing a sum in a ratio."""
    x, y, z = rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5)
    return {"total": (x + y + z) * rng.randint(5, 50), "x": x, "y": y, "z": z}


@shape("""
    savings = $start
    week = 0
    while savings < $goal:
        week += 1
        savings += $weekly
        if week % 4 == 0:
            savings += $bonus
    print(week)
""")
def savings_goal(rng: random.Random) -> Params:
    """A loop until a goal is reached."""
    return {
        "start": rng.randint(0, 50),
        "goal": rng.randint(300, 1500),
        "weekly": rng.randint(15, 60),
        "bonus": rng.randint(5, 25),
    }


@shape("""
    # SVAMP: each child has some pencils, some are given away
    children = $children
    pencils_each = $pencils
    given_away = $given
    total_pencils = children * pencils_each
    left = total_pencils - given_away
    print(left)
""")
def svamp_pencils(rng: random.Random) -> Params:
    """SVAMP: a one-step-at-a-time word problem."""
    children, pencils = rng.randint(3, 30), rng.randint(2, 9)
    return {"children": children, "pencils": pencils, "given": rng.randint(1, children * pencils - 1)}


# --- AQuA: pick the matching option -------------------------------------------------------------


@shape("""
    # A train crosses a pole in some seconds; find its length
    speed_kmh = $speed
    seconds = $seconds
    length = speed_kmh * 1000 / 3600 * seconds
    options = {"A": $wrong1, "B": length, "C": $wrong2, "D": length + 10, "E": length * 2}
    answer = min(options, key=lambda letter: abs(options[letter] - length))
    print(f"Length = {length:.1f} m")
    print(answer)
""")
def aqua_train(rng: random.Random) -> Params:
    """AQuA: compute, then choose the option."""
    return {
        "speed": rng.choice([36, 54, 72, 90, 108]),
        "seconds": rng.randint(5, 30),
        "wrong1": rng.randint(10, 99) * 1.5,
        "wrong2": rng.randint(100, 999) / 2,
    }


@shape("""
    import math

    options = {"A": $a, "B": $b, "C": $c, "D": $d, "E": $e}
    value = math.comb($n, $k) * math.factorial($k)
    matches = [letter for letter, option in options.items() if option == value]
    print(value)
    print(matches[0] if matches else "None of these")
""")
def aqua_arrangements(rng: random.Random) -> Params:
    """AQuA: permutations, checked against the options."""
    n, k = rng.randint(5, 9), rng.randint(2, 4)
    value = math.perm(n, k)
    options = [value, value + 6, value * 2, value - 4, value // 2]
    rng.shuffle(options)
    return dict(zip("abcde", options, strict=True)) | {"n": n, "k": k}


# --- MATH: algebra, number theory, counting -------------------------------------------------


@shape("""
    from sympy import symbols, Eq, solve

    x = symbols('x')
    equation = Eq($a * x + $b, $c)
    solution = solve(equation, x)
    print(solution[0])
""")
def sympy_linear(rng: random.Random) -> Params:
    """One linear equation."""
    a, x = rng.randint(2, 9), rng.randint(-20, 30)
    b = rng.randint(-40, 40)
    return {"a": a, "b": b, "c": a * x + b}


@shape("""
    import sympy as sp

    x = sp.symbols('x')
    expr = x**2 - ($p + $q)*x + $p*$q
    roots = sp.solve(expr, x)
    print(sorted(roots))
    print("Sum of roots:", sum(roots))
    print("Product:", sp.prod(roots))
""")
def sympy_quadratic(rng: random.Random) -> Params:
    """A quadratic with integer roots."""
    return {"p": rng.randint(-9, 9), "q": rng.randint(-9, 9)}


@shape("""
    import sympy as sp

    a, b = sp.symbols('a b')
    solution = sp.solve([sp.Eq(a + b, $total), sp.Eq(a - b, $difference)], [a, b])
    print(solution[a], solution[b])
""")
def sympy_system(rng: random.Random) -> Params:
    """Two unknowns from a sum and a difference."""
    older, younger = rng.randint(20, 60), rng.randint(2, 19)
    return {"total": older + younger, "difference": older - younger}


@shape("""
    from sympy import symbols, expand, factor, simplify

    x, y = symbols('x y')
    expression = (x + $a)**2 - (x - $b)**2
    print(expand(expression))
    print(factor(x**2 - $c))
    print(simplify((x**2 - $d**2) / (x - $d)))
""")
def sympy_algebra(rng: random.Random) -> Params:
    """Expanding, factoring and simplifying."""
    return {
        "a": rng.randint(1, 9),
        "b": rng.randint(1, 9),
        "c": rng.choice([1, 4, 9, 16, 25, 36]),
        "d": rng.randint(1, 7),
    }


@shape("""
    import sympy as sp

    x = sp.Symbol('x')
    f = $a*x**3 - $b*x**2 + $c*x
    print(sp.diff(f, x))
    print(sp.integrate(f, (x, 0, $upper)))
    critical = sp.solve(sp.diff(f, x, 2), x)
    print(critical)
""")
def sympy_calculus(rng: random.Random) -> Params:
    """A derivative, a definite integral and an inflection point."""
    return {"a": rng.randint(1, 5), "b": rng.randint(1, 9), "c": rng.randint(1, 9), "upper": rng.randint(1, 4)}


@shape("""
    import sympy as sp

    n = sp.symbols('n', integer=True, positive=True)
    series_sum = sp.summation($a*n + $b, (n, 1, $terms))
    print(series_sum)
    print(sp.limit(($c*n**2 + n) / (n**2 + $d), n, sp.oo))
    print(sp.Rational($p, $q) + sp.Rational(1, $q + 1))
""")
def sympy_sums(rng: random.Random) -> Params:
    """A finite sum, a limit and exact rationals."""
    return {
        "a": rng.randint(1, 6),
        "b": rng.randint(0, 9),
        "terms": rng.randint(10, 100),
        "c": rng.randint(1, 9),
        "d": rng.randint(1, 9),
        "p": rng.randint(1, 9),
        "q": rng.randint(10, 20),
    }


@shape("""
    from sympy import factorint, isprime, primerange, divisor_count, totient

    n = $n
    print(factorint(n))
    print(divisor_count(n), totient(n))
    print(isprime(n + 1))
    print(sum(primerange(1, $limit)))
""")
def sympy_number_theory(rng: random.Random) -> Params:
    """Factorisation and prime counting."""
    return {"n": rng.randint(100, 100000), "limit": rng.randint(50, 2000)}


@shape("""
    import sympy as sp

    M = sp.Matrix([[$a, $b], [$c, $d]])
    print(M.det())
    print(M.T)
    if M.det() != 0:
        print(M.inv())
    print(M * M)
""")
def sympy_matrix(rng: random.Random) -> Params:
    """A 2x2 matrix."""
    return {key: rng.randint(-5, 9) for key in "abcd"}


@shape("""
    import math

    def count_primes(limit):
        sieve = [True] * (limit + 1)
        sieve[0] = sieve[1] = False
        for i in range(2, int(math.isqrt(limit)) + 1):
            if sieve[i]:
                for j in range(i * i, limit + 1, i):
                    sieve[j] = False
        return [i for i, is_prime in enumerate(sieve) if is_prime]

    primes = count_primes($limit)
    print(len(primes), sum(primes), primes[-1])
""")
def sieve(rng: random.Random) -> Params:
    """A sieve of Eratosthenes."""
    return {"limit": rng.randint(100, 20000)}


@shape("""
    import math
    from functools import reduce

    numbers = $numbers
    g = reduce(math.gcd, numbers)
    l = reduce(lambda a, b: a * b // math.gcd(a, b), numbers)
    print(g, l, math.lcm(*numbers))
""")
def gcd_lcm(rng: random.Random) -> Params:
    """GCD and LCM of a list."""
    base = rng.randint(2, 12)
    return {"numbers": [base * rng.randint(1, 15) for _ in range(rng.randint(2, 5))]}


@shape("""
    n = $n
    digits = [int(d) for d in str(n)]
    digit_sum = sum(digits)
    reversed_n = int(str(n)[::-1])
    steps = 0
    value = n
    while value != 1:
        value = value // 2 if value % 2 == 0 else 3 * value + 1
        steps += 1
    print(digit_sum, reversed_n, steps)
""")
def digits_collatz(rng: random.Random) -> Params:
    """Digit manipulation and the Collatz sequence."""
    return {"n": rng.randint(10, 10**6)}


@shape("""
    n = $n
    print(bin(n), oct(n), hex(n))
    print(format(n, 'b').count('1'))
    print(int($digits, $base))
    print(f"{n:08b} {n:x} {n:o}")
""")
def bases(rng: random.Random) -> Params:
    """Base conversions."""
    base = rng.randint(2, 9)
    digits = "".join(str(rng.randint(0, base - 1)) for _ in range(rng.randint(3, 7)))
    return {"n": rng.randint(1, 255), "base": base, "digits": digits}


# --- Counting and probability ----------------------------------------------------------------


@shape("""
    from itertools import combinations

    numbers = $numbers
    target = $target
    count = 0
    for size in range(1, len(numbers) + 1):
        for combo in combinations(numbers, size):
            if sum(combo) == target:
                count += 1
    print(count)
""")
def subset_sums(rng: random.Random) -> Params:
    """Subsets with a given sum."""
    numbers = sorted(rng.sample(range(1, 30), rng.randint(6, 12)))
    return {"numbers": numbers, "target": rng.randint(10, 40)}


@shape("""
    from itertools import permutations

    digits = $digits
    numbers = set()
    for p in permutations(digits, $length):
        if p[0] != 0:
            numbers.add(int(''.join(map(str, p))))
    divisible = [n for n in numbers if n % $divisor == 0]
    print(len(numbers), len(divisible), max(numbers))
""")
def digit_permutations(rng: random.Random) -> Params:
    """Numbers formed from digits."""
    return {
        "digits": rng.sample(range(10), rng.randint(4, 6)),
        "length": rng.randint(2, 4),
        "divisor": rng.choice([3, 4, 5, 6]),
    }


@shape("""
    from itertools import product
    from fractions import Fraction

    sides = $sides
    outcomes = list(product(range(1, sides + 1), repeat=$dice))
    favourable = [o for o in outcomes if sum(o) >= $threshold]
    probability = Fraction(len(favourable), len(outcomes))
    print(probability)
    print(f"{float(probability):.4f}")
""")
def dice_probability(rng: random.Random) -> Params:
    """Dice outcomes counted exactly."""
    sides, dice = rng.choice([4, 6, 8]), rng.randint(2, 3)
    return {"sides": sides, "dice": dice, "threshold": rng.randint(dice + 1, sides * dice)}


@shape("""
    from math import comb
    from fractions import Fraction

    # Probability of drawing exactly k red cards from a deck with red and black cards
    red, black, draws, k = $red, $black, $draws, $k
    p = Fraction(comb(red, k) * comb(black, draws - k), comb(red + black, draws))
    print(p)
    print(round(float(p), 6))
""")
def hypergeometric(rng: random.Random) -> Params:
    """Drawing cards without replacement."""
    draws = rng.randint(2, 6)
    return {"red": rng.randint(5, 26), "black": rng.randint(5, 26), "draws": draws, "k": rng.randint(0, draws)}


@shape("""
    import random

    random.seed($seed)
    trials = 2000
    hits = 0
    for _ in range(trials):
        x, y = random.random(), random.random()
        if x * x + y * y <= 1:
            hits += 1
    print(4 * hits / trials)
    print(random.randint(1, 100), random.choice(['a', 'b', 'c']))
""")
def monte_carlo(rng: random.Random) -> Params:
    """A seeded simulation."""
    return {"seed": rng.randint(0, 10**6)}


@shape("""
    from math import comb

    n, p = $n, $p
    exactly = comb(n, $k) * p**$k * (1 - p)**(n - $k)
    at_least_one = 1 - (1 - p)**n
    expected = n * p
    print(round(exactly, 6), round(at_least_one, 6), round(expected, 2))
""")
def binomial(rng: random.Random) -> Params:
    """TheoremQA: a binomial distribution."""
    n = rng.randint(5, 20)
    return {"n": n, "p": rng.choice([0.1, 0.2, 0.25, 0.5, 0.3]), "k": rng.randint(0, n)}


# --- Recursion and memoisation --------------------------------------------------------------


@shape("""
    _memo = {}

    def _ways(n):
        \"\"\"Ways to climb n stairs taking 1, 2 or 3 steps.\"\"\"
        if n < 0:
            return 0
        if n == 0:
            return 1
        if n not in _memo:
            _memo[n] = _ways(n - 1) + _ways(n - 2) + _ways(n - 3)
        return _memo[n]

    print(_ways($n))
""")
def memo_dict(rng: random.Random) -> Params:
    """Memoisation in a module-level dict with a private name."""
    return {"n": rng.randint(10, 300)}


@shape("""
    import sys
    from functools import lru_cache

    sys.setrecursionlimit(10**6)

    @lru_cache(maxsize=None)
    def partitions(n, largest):
        if n == 0:
            return 1
        if n < 0 or largest == 0:
            return 0
        return partitions(n - largest, largest) + partitions(n, largest - 1)

    print(partitions($n, $n))
""")
def lru_partitions(rng: random.Random) -> Params:
    """``lru_cache`` recursion behind a raised recursion limit."""
    return {"n": rng.randint(10, 120)}


@shape("""
    import sys
    sys.setrecursionlimit($limit)

    def depth_sum(n):
        return 0 if n == 0 else n + depth_sum(n - 1)

    print(depth_sum($n))
""")
def deep_recursion(rng: random.Random) -> Params:
    """Plain recursion a few thousand levels deep."""
    n = rng.randint(1500, 4000)
    return {"limit": rng.choice([5000, 10000, 10**5, 10**6]), "n": n}


@shape("""
    import sys
    from math import factorial

    sys.set_int_max_str_digits(0)
    big = factorial($n)
    text = str(big)
    print(len(text), sum(int(d) for d in text), text[:20])
""")
def big_integers(rng: random.Random) -> Params:
    """Big integers past the default 4,300-digit limit."""
    return {"n": rng.randint(1800, 6000)}


@shape("""
    from functools import cache

    @cache
    def grid_paths(rows, cols):
        if rows == 1 or cols == 1:
            return 1
        return grid_paths(rows - 1, cols) + grid_paths(rows, cols - 1)

    print(grid_paths($rows, $cols))
    print(grid_paths.cache_info().currsize > 0)
""")
def cached_grid(rng: random.Random) -> Params:
    """``functools.cache`` on a grid walk."""
    return {"rows": rng.randint(3, 18), "cols": rng.randint(3, 18)}


@shape("""
    from functools import reduce
    import operator

    values = $values
    product = reduce(operator.mul, values, 1)
    total = reduce(lambda a, b: a + b, values)
    print(product, total, operator.add(product, total))
""")
def reduce_product(rng: random.Random) -> Params:
    """``functools.reduce`` with ``operator``."""
    return {"values": [rng.randint(1, 12) for _ in range(rng.randint(3, 8))]}


# --- Classes ---------------------------------------------------------------------------------


@shape("""
    import math

    class Vector:
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def __add__(self, other):
            return Vector(self.x + other.x, self.y + other.y)

        def __sub__(self, other):
            return Vector(self.x - other.x, self.y - other.y)

        def __mul__(self, k):
            return Vector(self.x * k, self.y * k)

        __rmul__ = __mul__

        def __abs__(self):
            return math.hypot(self.x, self.y)

        def __eq__(self, other):
            return (self.x, self.y) == (other.x, other.y)

        def __repr__(self):
            return f"Vector({self.x}, {self.y})"

    a = Vector($ax, $ay)
    b = Vector($bx, $by)
    print(a + b, a - b, 3 * a, a * 2)
    print(round(abs(a - b), 4), a == Vector($ax, $ay))
""")
def vector_class(rng: random.Random) -> Params:
    """Arithmetic and reflected special methods."""
    return {key: rng.randint(-9, 9) for key in ("ax", "ay", "bx", "by")}


@shape("""
    from functools import total_ordering

    @total_ordering
    class Money:
        def __init__(self, cents):
            self.cents = cents

        def __lt__(self, other):
            return self.cents < other.cents

        def __eq__(self, other):
            return self.cents == other.cents

        def __hash__(self):
            return hash(self.cents)

        def __str__(self):
            return f"$${self.cents // 100}.{self.cents % 100:02d}"

        def __format__(self, spec):
            return format(self.cents / 100, spec)

    wallet = [Money(c) for c in $cents]
    print(*sorted(wallet))
    print(max(wallet), min(wallet), len(set(wallet)))
    print(f"{max(wallet):.1f}", Money(5) >= Money(3))
""")
def money_ordering(rng: random.Random) -> Params:
    """Comparisons, hashing, ``__str__`` and ``__format__``."""
    return {"cents": [rng.randint(1, 9999) for _ in range(rng.randint(3, 7))]}


@shape("""
    class Polynomial:
        def __init__(self, coefficients):
            self.coefficients = list(coefficients)

        def __len__(self):
            return len(self.coefficients)

        def __getitem__(self, index):
            return self.coefficients[index]

        def __iter__(self):
            return iter(self.coefficients)

        def __contains__(self, value):
            return value in self.coefficients

        def __call__(self, x):
            return sum(c * x**i for i, c in enumerate(self.coefficients))

        def __str__(self):
            return " + ".join(f"{c}x^{i}" for i, c in enumerate(self) if c)

    p = Polynomial($coefficients)
    print(p)
    print(len(p), p[0], p[-1], p[1:3], $probe in p)
    print([p(x) for x in range(4)])
""")
def polynomial_class(rng: random.Random) -> Params:
    """A container with ``__len__``, ``__getitem__``, ``__iter__``, ``__contains__`` and ``__call__``."""
    return {"coefficients": [rng.randint(-5, 9) for _ in range(rng.randint(3, 6))], "probe": rng.randint(0, 5)}


@shape("""
    import time

    class Stopwatch:
        def __enter__(self):
            self.start = time.perf_counter()
            return self

        def __exit__(self, exc_type, exc, tb):
            self.elapsed = time.perf_counter() - self.start
            return False

    with Stopwatch() as watch:
        total = sum(i * i for i in range($n))
    print(total)
    print(watch.elapsed >= 0)
""")
def context_manager(rng: random.Random) -> Params:
    """``__enter__`` and ``__exit__``, timing without printing the time."""
    return {"n": rng.randint(1000, 100000)}


@shape("""
    class Shape:
        def __init__(self, name):
            self.name = name

        def area(self):
            raise NotImplementedError

        def describe(self):
            return f"{type(self).__name__} {self.name} has area {self.area():.2f}"

    class Rectangle(Shape):
        def __init__(self, name, width, height):
            super().__init__(name)
            self.width, self.height = width, height

        def area(self):
            return self.width * self.height

    class Square(Rectangle):
        def __init__(self, name, side):
            super().__init__(name, side, side)

    class Circle(Shape):
        def __init__(self, name, radius):
            super(Circle, self).__init__(name)
            self.radius = radius

        def area(self):
            return 3.14159 * self.radius ** 2

    shapes = [Rectangle("r", $w, $h), Square("s", $side), Circle("c", $radius)]
    for s in shapes:
        print(s.describe())
    print(sum(s.area() for s in shapes) > 0, isinstance(shapes[1], Rectangle), type(shapes[1]).__name__)
""")
def inheritance(rng: random.Random) -> Params:
    """``super().__init__`` in a small hierarchy, ``type(self).__name__``."""
    return {"w": rng.randint(1, 20), "h": rng.randint(1, 20), "side": rng.randint(1, 15), "radius": rng.randint(1, 10)}


@shape("""
    class BankAccount:
        interest_rate = $rate

        def __init__(self, owner, balance=0):
            self.owner = owner
            self._balance = balance
            self._history = []

        @property
        def balance(self):
            return self._balance

        def deposit(self, amount):
            self._balance += amount
            self._history.append(("deposit", amount))

        def withdraw(self, amount):
            if amount > self._balance:
                raise ValueError("insufficient funds")
            self._balance -= amount
            self._history.append(("withdraw", amount))

        def _apply_interest(self):
            self._balance *= 1 + self.interest_rate

    account = BankAccount("Sam", $start)
    account.deposit($deposit)
    try:
        account.withdraw($withdraw)
    except ValueError as error:
        print("Error:", error)
    account._apply_interest()
    print(round(account.balance, 2), len(account._history))
""")
def private_attributes(rng: random.Random) -> Params:
    """Private attributes and methods on the program's own class, and ``@property``."""
    return {
        "rate": rng.choice([0.01, 0.02, 0.05]),
        "start": rng.randint(0, 500),
        "deposit": rng.randint(1, 500),
        "withdraw": rng.randint(1, 1500),
    }


@shape("""
    from dataclasses import dataclass, field
    from typing import List

    @dataclass
    class Student:
        name: str
        grades: List[int] = field(default_factory=list)

        def average(self) -> float:
            return sum(self.grades) / len(self.grades) if self.grades else 0.0

    students = [Student(name, grades) for name, grades in $roster]
    students.append(Student("New"))
    best = max(students, key=lambda s: s.average())
    print(best)
    print(f"{best.name}: {best.average():.2f}")
    print(Student("x", [1]) == Student("x", [1]))
""")
def dataclass_defaults(rng: random.Random) -> Params:
    """``@dataclass`` with ``field(default_factory=list)``."""
    names = rng.sample(["Ann", "Bo", "Cy", "Di", "Ed", "Flo"], 3)
    return {"roster": [(name, [rng.randint(50, 100) for _ in range(3)]) for name in names]}


@shape("""
    from dataclasses import dataclass, field, asdict

    @dataclass(order=True)
    class Task:
        priority: int
        name: str = field(compare=False)
        hours: float = field(default=1.0, compare=False)

    @dataclass
    class Rectangle:
        width: float
        height: float
        area: float = field(init=False)

        def __post_init__(self):
            self.area = self.width * self.height

    tasks = sorted(Task(p, f"task{p}", p / 2) for p in $priorities)
    print(tasks[0], tasks[-1].name)
    print(asdict(tasks[0]))
    r = Rectangle($w, $h)
    print(r, r.area)
""")
def dataclass_order(rng: random.Random) -> Params:
    """``@dataclass(order=True)``, ``__post_init__`` and ``asdict``."""
    return {"priorities": rng.sample(range(1, 20), 4), "w": rng.randint(1, 9) / 2, "h": rng.randint(1, 9)}


@shape("""
    from typing import NamedTuple

    class Point(NamedTuple):
        x: float
        y: float = 0.0

        def distance(self, other: "Point") -> float:
            return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5

    a = Point($ax, $ay)
    b = Point($bx)
    print(a, b)
    print(round(a.distance(b), 3), a._replace(y=1.5), b._asdict())
    x, y = a
    print(x + y, a[0], Point._fields)
""")
def named_tuple(rng: random.Random) -> Params:
    """``typing.NamedTuple`` with a default and a method."""
    return {"ax": rng.randint(-9, 9), "ay": rng.randint(-9, 9), "bx": rng.randint(-9, 9)}


@shape("""
    from collections import namedtuple

    Item = namedtuple("Item", ["name", "price", "quantity"])
    cart = [Item("pen", $p1, $q1), Item("book", $p2, $q2), Item("bag", $p3, $q3)]
    total = sum(item.price * item.quantity for item in cart)
    priciest = max(cart, key=lambda item: item.price)
    print(total, priciest.name, cart[0])
    print(Item._make(["cup", 3, 1])._asdict())
""")
def collections_namedtuple(rng: random.Random) -> Params:
    """``collections.namedtuple`` and its underscore API."""
    return {f"{kind}{i}": rng.randint(1, 30) for kind in "pq" for i in (1, 2, 3)}


@shape("""
    class Point3D:
        __slots__ = ("x", "y", "z")

        def __init__(self, x, y, z):
            self.x, self.y, self.z = x, y, z

        def __repr__(self):
            return f"Point3D({self.x}, {self.y}, {self.z})"

        def dot(self, other):
            return self.x * other.x + self.y * other.y + self.z * other.z

    p, q = Point3D($a, $b, $c), Point3D($d, $e, $f)
    print(p, q, p.dot(q))
    try:
        p.w = 1
    except AttributeError:
        print("slots prevent new attributes")
""")
def slots_class(rng: random.Random) -> Params:
    """``__slots__``."""
    return {key: rng.randint(-5, 9) for key in "abcdef"}


@shape("""
    class Temperature:
        def __init__(self, celsius):
            self.celsius = celsius

        def __float__(self):
            return float(self.celsius)

        def __int__(self):
            return int(self.celsius)

        def __round__(self, digits=0):
            return round(self.celsius, digits)

        def __bool__(self):
            return self.celsius != 0

        def __neg__(self):
            return Temperature(-self.celsius)

        def __iadd__(self, delta):
            self.celsius += delta
            return self

        def __repr__(self):
            return f"Temperature({self.celsius!r})"

    t = Temperature($c)
    t += $delta
    print(t, float(t), int(t), round(t, 1), bool(Temperature(0)), -t)
""")
def conversions(rng: random.Random) -> Params:
    """``__float__``, ``__int__``, ``__round__``, ``__bool__``, ``__neg__`` and ``__iadd__``."""
    return {"c": round(rng.uniform(-30, 40), 2), "delta": round(rng.uniform(-5, 5), 1)}


@shape("""
    class Countdown:
        def __init__(self, start):
            self.current = start

        def __iter__(self):
            return self

        def __next__(self):
            if self.current <= 0:
                raise StopIteration
            self.current -= 1
            return self.current + 1

    def evens(limit):
        n = 0
        while n < limit:
            yield n
            n += 2

    print(list(Countdown($start)))
    gen = evens($limit)
    print(next(gen), next(gen), sum(gen))
""")
def iterators(rng: random.Random) -> Params:
    """An iterator class and a generator."""
    return {"start": rng.randint(3, 12), "limit": rng.randint(6, 60)}


@shape("""
    class Fraction2:
        def __init__(self, numerator, denominator):
            from math import gcd
            g = gcd(numerator, denominator)
            self.n, self.d = numerator // g, denominator // g

        @classmethod
        def from_string(cls, text):
            numerator, denominator = map(int, text.split("/"))
            return cls(numerator, denominator)

        @staticmethod
        def describe():
            return "a reduced fraction"

        def __add__(self, other):
            return Fraction2(self.n * other.d + other.n * self.d, self.d * other.d)

        def __str__(self):
            return f"{self.n}/{self.d}"

    total = Fraction2.from_string($first) + Fraction2($n, $d)
    print(total, Fraction2.describe())
    print(str(total) == "{}/{}".format(total.n, total.d))
""")
def class_methods(rng: random.Random) -> Params:
    """``@classmethod`` constructors and ``@staticmethod``."""
    return {"first": f"{rng.randint(1, 9)}/{rng.randint(2, 12)}", "n": rng.randint(1, 9), "d": rng.randint(2, 12)}


@shape("""
    def describe(value):
        parts = [type(value).__name__]
        if hasattr(value, "__len__"):
            parts.append(f"len={len(value)}")
        if hasattr(value, "__iter__"):
            parts.append("iterable")
        adder = getattr(value, "__add__", None)
        if adder is not None:
            parts.append("addable")
        parts.append(f"area={getattr(value, 'area', 'n/a')}")
        return " ".join(parts)

    class Square:
        area = $side ** 2

    for value in [$number, $text, [1, 2, 3], (4, 5), {"k": 1}, Square(), 2.5]:
        print(describe(value))
    print(describe.__name__, Square.__qualname__, len.__name__)
""")
def duck_typing(rng: random.Random) -> Params:
    """``hasattr`` and ``getattr`` on special methods, ``__name__`` and ``__qualname__``."""
    return {"side": rng.randint(2, 9), "number": rng.randint(1, 99), "text": rng.choice(["abc", "hello", "xy"])}


@shape("""
    class Matrix2:
        \"\"\"A 2x2 matrix with matrix multiplication and powers.\"\"\"

        def __init__(self, rows):
            self.rows = rows

        def __matmul__(self, other):
            (a, b), (c, d) = self.rows
            (e, f), (g, h) = other.rows
            return Matrix2([[a * e + b * g, a * f + b * h], [c * e + d * g, c * f + d * h]])

        def __pow__(self, n):
            result = Matrix2([[1, 0], [0, 1]])
            base = self
            while n:
                if n & 1:
                    result = result @ base
                base = base @ base
                n >>= 1
            return result

        def __getitem__(self, key):
            i, j = key
            return self.rows[i][j]

    fib = Matrix2([[1, 1], [1, 0]]) ** $n
    print(fib[0, 1])
    print(Matrix2.__doc__)
""")
def matrix_power(rng: random.Random) -> Params:
    """``__matmul__``, ``__pow__`` and tuple keys in ``__getitem__``, ``__doc__``."""
    return {"n": rng.randint(10, 300)}


# --- Annotations, private helpers, the sys stand-in, time -------------------------------------


@shape("""
    from typing import Dict, List, Optional, Tuple

    def _parse(line: str) -> Tuple[str, int]:
        name, score = line.split(":")
        return name.strip(), int(score)

    def summarize(lines: List[str], bonus: Optional[int] = None) -> Dict[str, int]:
        totals: Dict[str, int] = {}
        for line in lines:
            name, score = _parse(line)
            totals[name] = totals.get(name, 0) + score + (bonus or 0)
        return totals

    count: int = 0
    average: float
    result = summarize($lines, bonus=$bonus)
    for name, total in sorted(result.items()):
        count += 1
        print(f"{name:>5}: {total}")
    average = sum(result.values()) / count
    print(round(average, 2))
""")
def type_hints(rng: random.Random) -> Params:
    """Type hints on functions and variables, with and without values."""
    names = ["ann", "bob", "cy"]
    return {"lines": [f"{rng.choice(names)}: {rng.randint(1, 50)}" for _ in range(6)], "bonus": rng.randint(0, 5)}


@shape("""
    from __future__ import annotations

    from dataclasses import dataclass

    @dataclass
    class Node:
        value: int
        left: Node | None = None
        right: Node | None = None

    def insert(root: Node | None, value: int) -> Node:
        if root is None:
            return Node(value)
        if value < root.value:
            root.left = insert(root.left, value)
        else:
            root.right = insert(root.right, value)
        return root

    def inorder(node: Node | None) -> list[int]:
        return inorder(node.left) + [node.value] + inorder(node.right) if node else []

    root = None
    for v in $values:
        root = insert(root, v)
    print(inorder(root))
""")
def future_annotations(rng: random.Random) -> Params:
    """``from __future__ import annotations`` with a self-referencing dataclass."""
    return {"values": rng.sample(range(100), rng.randint(5, 12))}


@shape("""
    import sys

    sys.setrecursionlimit(10000)
    print(sys.getrecursionlimit() >= 1000)
    print(sys.maxsize > 2**31, sys.float_info.epsilon < 1e-10, sys.version_info >= (3, 8))
    sys.stdout.write("total = " + str($a + $b) + "\\n")
    print(sys.int_info.bits_per_digit in (15, 30))
""")
def sys_facts(rng: random.Random) -> Params:
    """What programs read from ``sys``, and ``sys.stdout.write``."""
    return {"a": rng.randint(1, 100), "b": rng.randint(1, 100)}


@shape("""
    from sys import setrecursionlimit
    import time

    setrecursionlimit(5000)
    start = time.time()

    def ackermann(m, n):
        if m == 0:
            return n + 1
        if n == 0:
            return ackermann(m - 1, 1)
        return ackermann(m - 1, ackermann(m, n - 1))

    result = ackermann(2, $n)
    elapsed = time.time() - start
    print(result)
    print("fast" if elapsed < 60 else "slow")
""")
def timed_recursion(rng: random.Random) -> Params:
    """``from sys import setrecursionlimit`` and ``import time``."""
    return {"n": rng.randint(3, 60)}


# --- Strings, regexes, formatting ------------------------------------------------------------


@shape("""
    import re

    text = $text
    numbers = [int(n) for n in re.findall(r"\\d+", text)]
    print(numbers, sum(numbers))
    words = re.split(r"\\W+", text.lower())
    print(len([w for w in words if w]))
    print(re.sub(r"\\d+", "#", text))
    match = re.search(r"(\\d+) apples", text)
    print(match.group(1) if match else None)
""")
def regex_numbers(rng: random.Random) -> Params:
    """Extracting numbers with ``re``."""
    a, b, c = rng.randint(1, 99), rng.randint(1, 99), rng.randint(1, 99)
    return {"text": f"Tom has {a} apples, Ann has {b} pears and {c} plums."}


@shape("""
    sentence = $sentence
    vowels = sum(1 for ch in sentence.lower() if ch in "aeiou")
    words = sentence.split()
    longest = max(words, key=len)
    print(vowels, len(words), longest)
    print(" ".join(word.capitalize() for word in words))
    print(sentence.replace(" ", "").lower() == sentence.replace(" ", "").lower()[::-1])
    print(sentence.upper().count("E"), sentence.find($probe), sentence.startswith("The"))
""")
def string_methods(rng: random.Random) -> Params:
    """String methods."""
    sentence = rng.choice(
        ["The quick brown fox jumps", "never odd or even", "A man a plan", "Every good boy does fine"]
    )
    return {"sentence": sentence, "probe": rng.choice(["o", "e", "x"])}


@shape("""
    import string

    def caesar(text, shift):
        letters = string.ascii_lowercase
        table = str.maketrans(letters, letters[shift:] + letters[:shift])
        return text.translate(table)

    secret = caesar($word, $shift)
    print(secret, caesar(secret, 26 - $shift))
    print(string.digits, string.ascii_uppercase[:5])
""")
def caesar(rng: random.Random) -> Params:
    """``string`` constants and ``str.maketrans``."""
    return {"word": rng.choice(["hello", "math", "sandbox", "python"]), "shift": rng.randint(1, 25)}


@shape("""
    value = $value
    rate = $rate
    count = $count
    print("{:.2f}".format(value), "{:,}".format(count), "{:>8}|".format("right"))
    print("%d items at %.1f%%" % (count, rate * 100))
    print(f"{value=:.3f}", f"{rate:.1%}", f"{count:08d}", f"{'centre':^10}|")
    print("{0} + {0} = {1}".format(count, count * 2), "{name}!".format(name="done"))
    print(f"{value!r} {str(count)!r:>6}")
""")
def formatting(rng: random.Random) -> Params:
    """``str.format``, ``%`` and f-string specifications, including ``=`` and ``!r``."""
    return {
        "value": round(rng.uniform(1, 1000), 4),
        "rate": rng.choice([0.05, 0.125, 0.3]),
        "count": rng.randint(1000, 10**7),
    }


@shape("""
    print($a, $b, $c, sep=" | ")
    print("no newline", end="")
    print()
    print(*range($n), sep=",")
    for i in range(3):
        print(i, end=" ")
    print()
    print("a", "b", sep="")
""")
def print_options(rng: random.Random) -> Params:
    """``print`` with ``sep`` and ``end``."""
    return {"a": rng.randint(1, 9), "b": round(rng.random(), 3), "c": "x", "n": rng.randint(2, 8)}


# --- Data handling -------------------------------------------------------------------------


@shape("""
    from collections import Counter, defaultdict

    votes = $votes
    counts = Counter(votes)
    winner, top = counts.most_common(1)[0]
    print(winner, top, counts["red"])
    by_length = defaultdict(list)
    for vote in votes:
        by_length[len(vote)].append(vote)
    print(sorted((k, len(v)) for k, v in by_length.items()))
""")
def counter_defaultdict(rng: random.Random) -> Params:
    """``Counter`` and ``defaultdict``."""
    return {"votes": rng.choices(["red", "blue", "green", "yellow"], k=rng.randint(6, 20))}


@shape("""
    from collections import deque

    grid = $grid
    rows, cols = len(grid), len(grid[0])
    start, goal = (0, 0), (rows - 1, cols - 1)
    queue = deque([(start, 0)])
    seen = {start}
    answer = -1
    while queue:
        (r, c), dist = queue.popleft()
        if (r, c) == goal:
            answer = dist
            break
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] == 0 and (nr, nc) not in seen:
                seen.add((nr, nc))
                queue.append(((nr, nc), dist + 1))
    print(answer)
""")
def bfs_grid(rng: random.Random) -> Params:
    """Breadth-first search with a ``deque``."""
    rows, cols = rng.randint(3, 7), rng.randint(3, 7)
    grid = [[1 if rng.random() < 0.25 else 0 for _ in range(cols)] for _ in range(rows)]
    grid[0][0] = grid[-1][-1] = 0
    return {"grid": grid}


@shape("""
    import heapq

    edges = $edges
    graph = {}
    for u, v, w in edges:
        graph.setdefault(u, []).append((v, w))
        graph.setdefault(v, []).append((u, w))
    distances = {0: 0}
    heap = [(0, 0)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > distances.get(node, float("inf")):
            continue
        for neighbour, weight in graph.get(node, []):
            nd = d + weight
            if nd < distances.get(neighbour, float("inf")):
                distances[neighbour] = nd
                heapq.heappush(heap, (nd, neighbour))
    print(sorted(distances.items()))
    print(heapq.nsmallest(3, [w for _, _, w in edges]))
""")
def dijkstra(rng: random.Random) -> Params:
    """Shortest paths with ``heapq``."""
    nodes = rng.randint(4, 8)
    edges = [(i, i + 1, rng.randint(1, 9)) for i in range(nodes - 1)]
    edges += [(rng.randrange(nodes), rng.randrange(nodes), rng.randint(1, 20)) for _ in range(nodes)]
    return {"edges": edges}


@shape("""
    students = $names
    scores = $scores
    ranking = sorted(zip(students, scores), key=lambda pair: (-pair[1], pair[0]))
    for place, (name, score) in enumerate(ranking, start=1):
        print(place, name, score)
    passed = list(filter(lambda s: s >= 60, scores))
    print(len(passed), all(s > 0 for s in scores), any(s == 100 for s in scores))
    print(list(map(lambda s: s // 10, scores)))
""")
def ranking(rng: random.Random) -> Params:
    """``sorted`` with a key, ``zip``, ``enumerate``, ``filter`` and ``map``."""
    names = rng.sample(["Ava", "Ben", "Cara", "Dan", "Eve", "Finn"], 5)
    return {"names": names, "scores": [rng.randint(30, 100) for _ in names]}


@shape("""
    import statistics

    data = $data
    print(statistics.mean(data), statistics.median(data))
    print(round(statistics.stdev(data), 4), round(statistics.pvariance(data), 4))
    print(statistics.mode(data), statistics.median_low(data))
    from fractions import Fraction
    print(statistics.mean([Fraction(x, 3) for x in data]))
""")
def statistics_module(rng: random.Random) -> Params:
    """The ``statistics`` module."""
    data = [rng.randint(1, 20) for _ in range(rng.randint(5, 12))]
    return {"data": [*data, data[0]]}


@shape("""
    from datetime import date, datetime, timedelta

    start = date($y, $m, $d)
    end = start + timedelta(days=$days)
    print(end, end.strftime("%A"), (end - start).days)
    print(start.isoformat(), end.weekday(), end.year - start.year)
    meeting = datetime($y, $m, $d, 9, 30) + timedelta(hours=$hours, minutes=45)
    print(meeting.strftime("%Y-%m-%d %H:%M"), meeting.hour)
""")
def dates(rng: random.Random) -> Params:
    """Date arithmetic with ``datetime``."""
    return {
        "y": rng.randint(2000, 2030),
        "m": rng.randint(1, 12),
        "d": rng.randint(1, 28),
        "days": rng.randint(1, 1000),
        "hours": rng.randint(1, 100),
    }


@shape("""
    import bisect

    cutoffs = [60, 70, 80, 90]
    letters = "FDCBA"
    scores = $scores
    grades = [letters[bisect.bisect(cutoffs, s)] for s in scores]
    print(grades)
    ordered = []
    for s in scores:
        bisect.insort(ordered, s)
    print(ordered)
""")
def bisect_grades(rng: random.Random) -> Params:
    """``bisect`` for grade boundaries."""
    return {"scores": [rng.randint(40, 100) for _ in range(rng.randint(4, 9))]}


@shape("""
    import copy

    board = [[0] * $n for _ in range($n)]
    snapshot = copy.deepcopy(board)
    shallow = copy.copy(board)
    board[0][0] = 5
    print(snapshot[0][0], shallow[0][0], board[0][0])
    matrix = [[r * $n + c for c in range($n)] for r in range($n)]
    transposed = [list(row) for row in zip(*matrix)]
    print(transposed[0], sum(map(sum, matrix)))
""")
def copies_and_grids(rng: random.Random) -> Params:
    """``copy`` and transposing with ``zip(*rows)``."""
    return {"n": rng.randint(2, 6)}


@shape("""
    values = $values
    parsed = []
    for v in values:
        try:
            parsed.append(float(v))
        except ValueError:
            print(f"skipping {v!r}")
    print(sum(parsed), len(parsed))
    try:
        print(1 / (len(parsed) - len(parsed)))
    except ZeroDivisionError as error:
        print("error:", error)
    finally:
        print("done")
""")
def exceptions(rng: random.Random) -> Params:
    """``try``/``except``/``finally``."""
    return {"values": [rng.choice([str(rng.randint(1, 99)), "abc", f"{rng.randint(1, 9)}.5", "n/a"]) for _ in range(5)]}


@shape("""
    counter = 0

    def make_counter():
        count = 0
        def bump(step=1):
            nonlocal count
            count += step
            return count
        return bump

    def increment():
        global counter
        counter += 1

    bump = make_counter()
    for _ in range($n):
        bump(2)
        increment()
    print(bump(0), counter)
    squares = {k: k * k for k in range($n)}
    print(sorted(squares.items())[-2:], [x for x in range(20) if x % $m == 0])
    while (n := len(squares)) > 3:
        squares.pop(n - 1)
    print(squares)
""")
def scopes(rng: random.Random) -> Params:
    """Closures with ``nonlocal``, ``global``, comprehensions and the walrus operator."""
    return {"n": rng.randint(4, 12), "m": rng.randint(2, 5)}


# --- Numbers: numpy, mpmath, cmath, math ---------------------------------------------------


@shape("""
    import numpy as np

    A = np.array($matrix, dtype=float)
    b = np.array($rhs, dtype=float)
    x = np.linalg.solve(A, b)
    print(np.round(x, 4))
    print(round(float(np.linalg.det(A)), 4))
""")
def numpy_solve(rng: random.Random) -> Params:
    """A linear system with ``numpy.linalg``."""
    matrix = [[rng.randint(1, 9) + (5 if i == j else 0) for j in range(3)] for i in range(3)]
    return {"matrix": matrix, "rhs": [rng.randint(-10, 10) for _ in range(3)]}


@shape("""
    import numpy as np

    scores = np.array($scores)
    print(scores.mean(), np.median(scores), scores.max() - scores.min())
    print(round(float(scores.std()), 4), int(np.argmax(scores)), scores.cumsum()[-1])
    print(np.sort(scores)[::-1][:3], (scores > $threshold).sum())
    grid = np.zeros((2, 3), dtype=int)
    grid[0, :] = 1
    grid[:, 1] += 2
    print(grid, grid.shape, grid.T.shape)
""")
def numpy_stats(rng: random.Random) -> Params:
    """numpy arrays: statistics, sorting, masks and item assignment."""
    return {"scores": [rng.randint(40, 100) for _ in range(rng.randint(5, 10))], "threshold": rng.randint(50, 90)}


@shape("""
    import numpy as np

    coefficients = [1, -($r1 + $r2), $r1 * $r2]
    roots = np.roots(coefficients)
    print(sorted(round(float(r.real), 6) for r in roots))
    x = np.arange($n)
    y = $slope * x + $intercept
    slope, intercept = np.polyfit(x, y, 1)
    print(round(float(slope), 6), round(float(intercept), 6))
    print(np.polyval([1, 0, -1], 3), np.linspace(0, 1, 5))
""")
def numpy_polynomials(rng: random.Random) -> Params:
    """``numpy.roots``, ``polyfit`` and ``linspace``."""
    return {
        "r1": rng.randint(-9, 9),
        "r2": rng.randint(-9, 9),
        "n": rng.randint(3, 10),
        "slope": rng.randint(-5, 5),
        "intercept": rng.randint(-10, 10),
    }


@shape("""
    import numpy as np

    M = np.array($matrix)
    values = np.linalg.eigvalsh(M)
    print(np.round(values, 4))
    print(np.trace(M), round(float(np.sum(values)), 4))
    print(M @ M, np.dot(M[0], M[1]))
""")
def numpy_eigen(rng: random.Random) -> Params:
    """TheoremQA: eigenvalues of a symmetric matrix."""
    a, b, c = rng.randint(1, 9), rng.randint(-5, 5), rng.randint(1, 9)
    return {"matrix": [[a, b], [b, c]]}


@shape("""
    from mpmath import mp, mpf, sqrt, pi, e

    mp.dps = $digits
    print(sqrt(2))
    print(pi * mpf($k))
    print(+e)
""")
def mpmath_precision(rng: random.Random) -> Params:
    """High precision with ``mpmath``."""
    return {"digits": rng.randint(15, 60), "k": rng.randint(1, 9)}


@shape("""
    import cmath
    import math

    a, b, c = $a, $b, $c
    discriminant = b * b - 4 * a * c
    root1 = (-b + cmath.sqrt(discriminant)) / (2 * a)
    root2 = (-b - cmath.sqrt(discriminant)) / (2 * a)
    print(root1, root2)
    print(abs(root1), round(math.degrees(cmath.phase(root1)), 4))
""")
def complex_roots(rng: random.Random) -> Params:
    """Complex roots with ``cmath``."""
    return {"a": rng.randint(1, 5), "b": rng.randint(-6, 6), "c": rng.randint(1, 12)}


@shape("""
    import math

    values = $values
    print([round(v) for v in values])
    print([math.floor(v) for v in values], [math.ceil(v) for v in values])
    print(math.isclose(sum(values), math.fsum(values)), round(math.fsum(values), 6))
    print(math.sqrt($square), math.isqrt($square), math.pow(2, 10), 2 ** 10)
    print(round(math.log($square, 2), 6), round(math.sin(math.pi / 6), 6), math.factorial(8))
""")
def math_module(rng: random.Random) -> Params:
    """Rounding and the ``math`` module."""
    return {
        "values": [rng.choice([0.5, 1.5, 2.5, -0.5]) + rng.randint(0, 5) for _ in range(4)],
        "square": rng.randint(2, 40) ** 2,
    }


@shape("""
    # Geometric series and compound growth, TheoremQA style
    first = $first
    ratio = $ratio
    n = $n
    partial = first * (1 - ratio**n) / (1 - ratio)
    infinite = first / (1 - ratio)
    print(round(partial, 6), round(infinite, 6))
    print(round(sum(first * ratio**k for k in range(n)), 6) == round(partial, 6))
""")
def geometric_series(rng: random.Random) -> Params:
    """TheoremQA: a geometric series."""
    return {"first": rng.randint(1, 20), "ratio": rng.choice([0.5, 0.25, 0.2, 0.75]), "n": rng.randint(3, 15)}


@shape("""
    def trapezoid(f, a, b, n=1000):
        h = (b - a) / n
        total = (f(a) + f(b)) / 2
        for i in range(1, n):
            total += f(a + i * h)
        return total * h

    def bisection(f, low, high, tolerance=1e-10):
        while high - low > tolerance:
            mid = (low + high) / 2
            if f(low) * f(mid) <= 0:
                high = mid
            else:
                low = mid
        return (low + high) / 2

    print(round(trapezoid(lambda x: x**2, 0, $upper), 4))
    print(round(bisection(lambda x: x**3 - $k, 0, $k), 6))
""")
def numerical_methods(rng: random.Random) -> Params:
    """TheoremQA: numerical integration and root finding."""
    return {"upper": rng.randint(1, 6), "k": rng.randint(2, 30)}


@shape("""
    from fractions import Fraction

    terms = [Fraction(1, n * (n + 1)) for n in range(1, $n + 1)]
    total = sum(terms)
    print(total, total.numerator + total.denominator)
    print(Fraction($x).limit_denominator(100), Fraction($decimal))
""")
def telescoping(rng: random.Random) -> Params:
    """MATH: a telescoping sum with ``Fraction``."""
    return {
        "n": rng.randint(5, 200),
        "x": round(rng.uniform(0, 3), 5),
        "decimal": f"{rng.randint(0, 9)}.{rng.randint(1, 999)}",
    }


@shape("""
    total = 0
    for n in range(1, $limit):
        if n % $a == 0 or n % $b == 0:
            total += n
    print(total)
    evens = [n for n in range(1, $limit) if n % 2 == 0]
    print(len(evens), sum(evens) // len(evens))
""")
def multiples(rng: random.Random) -> Params:
    """Counting multiples in a range."""
    return {"limit": rng.randint(20, 5000), "a": rng.randint(2, 7), "b": rng.randint(3, 11)}


@shape("""
    import itertools

    pairs = list(itertools.combinations_with_replacement(range(1, $n), 2))
    print(len(pairs), pairs[:3])
    running = list(itertools.accumulate($values))
    print(running, list(itertools.islice(itertools.count($start, 3), 4)))
    groups = [(k, len(list(g))) for k, g in itertools.groupby(sorted($letters))]
    print(groups, list(itertools.chain([1, 2], (3,))))
""")
def itertools_misc(rng: random.Random) -> Params:
    """More of ``itertools``: accumulate, islice, count, groupby, chain."""
    return {
        "n": rng.randint(3, 8),
        "values": [rng.randint(1, 9) for _ in range(5)],
        "start": rng.randint(0, 10),
        "letters": "".join(rng.choices("abc", k=8)),
    }
