"""Programs as models write them must run, and their answer is what they printed last."""

import subprocess
import sys
import textwrap

import pytest

from potcot.sandbox import Sandbox

PROGRAMS = [
    ("arithmetic", "clips_april = 48\nclips_may = clips_april / 2\nprint(clips_april + clips_may)", "72.0"),
    ("last non-empty line", "print('step 1')\nprint(5)\nprint('   ')\n", "5"),
    ("print options", "print(1, 2, sep='-', end='!\\n')", "1-2!"),
    ("fractions", "from fractions import Fraction\nprint(Fraction(1, 3) + Fraction(1, 6))", "1/2"),
    ("math", "import math\nprint(math.comb(10, 3), math.gcd(12, 18))", "120 6"),
    (
        "decimal precision",
        "from decimal import Decimal, getcontext\ngetcontext().prec = 30\nprint(Decimal(1) / 7)",
        "0.142857142857142857142857142857",
    ),
    ("sympy solve", "import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(sp.Eq(3 * x + 5, 20), x)[0])", "5"),
    ("sympy star import", "from sympy import *\nx = Symbol('x')\nprint(factor(x**2 - 1))", "(x - 1)*(x + 1)"),
    ("sympy string", "import sympy\nprint(sympy.sympify('2*x + 3').subs('x', 2))", "7"),
    ("numpy", "import numpy as np\nscores = np.array([90, 80, 70])\nprint(scores.mean())", "80.0"),
    ("numpy item update", "import numpy as np\na = np.zeros(4)\na[1:3] += 2\na[0] = 1\nprint(a.sum())", "5.0"),
    ("final expression", "total = 3 * 4\ntotal", "12"),
    ("solution function", "def solution():\n    apples = 10\n    return apples - 3", "7"),
    ("solution that prints", "def solution():\n    print('answer:', 9)", "answer: 9"),
    ("str.format", "print('{:.2f}'.format(2 / 3), '{name}'.format(name='x'), '%d%%' % 50)", "0.67 x 50%"),
    ("f-string", "rate = 0.125\nprint(f'{rate:.1%} of {200}')", "12.5% of 200"),
    (
        "item augmented assignment",
        "counts = {}\nfor c in 'abca':\n    counts[c] = counts.get(c, 0) + 1\ncounts['a'] += 10\nprint(counts['a'])",
        "12",
    ),
    (
        "attribute augmented assignment",
        "class Account:\n    def __init__(self):\n        self.balance = 5\n"
        "acct = Account()\nacct.balance += 10\nAccount.rate = 2\nAccount.rate *= 3\nprint(acct.balance, Account.rate)",
        "15 6",
    ),
    (
        "nonlocal",
        "def counter():\n    n = 0\n    def bump():\n        nonlocal n\n        n += 1\n        return n\n"
        "    bump()\n    return bump()\nprint(counter())",
        "2",
    ),
    ("main guard", "def main():\n    print(99)\nif __name__ == '__main__':\n    main()", "99"),
    (
        "builtins",
        "pairs = sorted(zip([3, 1, 2], 'cab'))\nprint(sum(x for x, _ in pairs), max(map(abs, [-5, 2])),"
        " list(enumerate('ab'))[1], any([0, 1]), tuple(reversed(range(3))))",
        "6 5 (1, 'b') True (2, 1, 0)",
    ),
    (
        "collections",
        "from collections import Counter, defaultdict, deque\nc = Counter('hello')\n"
        "d = defaultdict(int)\nd['x'] += 2\nq = deque([1, 2])\nq.appendleft(0)\nprint(c['l'], d['x'], list(q))",
        "2 2 [0, 1, 2]",
    ),
    (
        "itertools",
        "from itertools import combinations, permutations\n"
        "print(len(list(combinations(range(5), 2))), len(list(permutations('abc'))))",
        "10 6",
    ),
    (
        "recursion",
        "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\nprint(fact(200) % 1000003)",
        str(__import__("math").factorial(200) % 1000003),
    ),
    ("exceptions handled", "try:\n    1 / 0\nexcept ZeroDivisionError:\n    print('inf')", "inf"),
    ("unpacking", "a, (b, c) = 1, (2, 3)\nfor x, y in [(1, 2)]:\n    print(a + b + c + x + y)", "9"),
    ("mpmath precision", "from mpmath import mp\nmp.dps = 30\nprint(mp.pi)", "3.14159265358979323846264338328"),
    ("unicode", "print('π ≈', round(3.14159, 2))", "π ≈ 3.14"),
]


@pytest.mark.parametrize(("code", "answer"), [case[1:] for case in PROGRAMS], ids=[case[0] for case in PROGRAMS])
def test_program_runs_and_answers(sandbox: Sandbox, code: str, answer: str) -> None:
    result = sandbox.run(code)
    assert result.status == "ok", result.error
    assert result.answer == answer
    assert result.error is None


# Programs that ordinary math code is made of and that plain Python runs, which give a program
# nothing the interpreter does not already: (name, program, its exact stdout under CPython).
NOW_RUNNING = [
    (
        "special methods",
        """
            class Vec:
                def __init__(self, *xs):
                    self.xs = list(xs)
                def __repr__(self):
                    return f'Vec{tuple(self.xs)}'
                def __str__(self):
                    return '<' + ', '.join(map(str, self.xs)) + '>'
                def __format__(self, spec):
                    return '[' + ' '.join(format(x, spec) for x in self.xs) + ']'
                def __add__(self, other):
                    return Vec(*(a + b for a, b in zip(self.xs, other.xs)))
                def __radd__(self, other):
                    return self if other == 0 else NotImplemented
                def __mul__(self, k):
                    return Vec(*(k * x for x in self.xs))
                __rmul__ = __mul__
                def __neg__(self):
                    return self * -1
                def __abs__(self):
                    return sum(x * x for x in self.xs) ** 0.5
                def __eq__(self, other):
                    return self.xs == other.xs
                def __hash__(self):
                    return hash(tuple(self.xs))
                def __len__(self):
                    return len(self.xs)
                def __getitem__(self, i):
                    return self.xs[i]
                def __iter__(self):
                    return iter(self.xs)
                def __contains__(self, x):
                    return x in self.xs
                def __call__(self, k):
                    return self.xs[k] * 10
                def __bool__(self):
                    return any(self.xs)
            v, w = Vec(3, 4), Vec(1, 2)
            print(v + w, repr(2 * v), -w, abs(v), v == Vec(3, 4), len({v, Vec(3, 4)}))
            print(len(v), v[1], list(v), 4 in v, v(0), bool(Vec(0, 0)), sum([v, w]), f'{w:.1f}')
        """,
        "<4, 6> Vec(6, 8) <-1, -2> 5.0 True 1\n2 4 [3, 4] True 30 False <4, 6> [1.0 2.0]\n",
    ),
    (
        "in-place and comparison operators",
        """
            from functools import total_ordering
            @total_ordering
            class Score:
                def __init__(self, points):
                    self.points = points
                def __iadd__(self, more):
                    self.points += more
                    return self
                def __imul__(self, k):
                    self.points *= k
                    return self
                def __lt__(self, other):
                    return self.points < other.points
                def __eq__(self, other):
                    return self.points == other.points
                def __repr__(self):
                    return f'Score({self.points})'
            s = Score(5)
            s += 3
            s *= 2
            print(s, sorted([Score(9), s, Score(1)]), s >= Score(16), max(Score(2), Score(7)))
        """,
        "Score(16) [Score(1), Score(9), Score(16)] True Score(7)\n",
    ),
    (
        "conversions",
        """
            class Meters:
                def __init__(self, value):
                    self.value = value
                def __int__(self):
                    return int(self.value)
                def __float__(self):
                    return float(self.value)
                def __index__(self):
                    return int(self.value)
                def __round__(self, digits=None):
                    return round(self.value, digits)
                def __truediv__(self, other):
                    return Meters(self.value / other)
                def __floordiv__(self, other):
                    return Meters(self.value // other)
                def __mod__(self, other):
                    return Meters(self.value % other)
                def __pow__(self, n):
                    return Meters(self.value ** n)
            m = Meters(7.75)
            print(int(m), float(m), bin(Meters(5)), [10, 20, 30, 40][Meters(2)], round(m), round(m, 1))
            print((m / 2).value, (m // 2).value, (m % 2).value, (Meters(3) ** 2).value)
        """,
        "7 7.75 0b101 30 8 7.8\n3.875 3.0 1.75 9\n",
    ),
    (
        "context manager",
        """
            class Section:
                def __init__(self, name):
                    self.name = name
                def __enter__(self):
                    print('enter', self.name)
                    return self
                def __exit__(self, kind, value, traceback):
                    print('exit', self.name, kind.__name__ if kind else None)
                    return kind is ValueError
            with Section('a') as s:
                print('inside', s.name)
            with Section('b'):
                raise ValueError('swallowed')
            print('after')
        """,
        "enter a\ninside a\nexit a None\nenter b\nexit b ValueError\nafter\n",
    ),
    (
        "super",
        """
            class Animal:
                def __init__(self, name, legs=4):
                    self.name, self.legs = name, legs
                def describe(self):
                    return f'{self.name} has {self.legs} legs'
            class Bird(Animal):
                def __init__(self, name):
                    super().__init__(name, legs=2)
                def describe(self):
                    return super().describe() + ' and wings'
            class Parrot(Bird):
                def __init__(self, name, words):
                    super(Parrot, self).__init__(name)
                    self.words = words
            p = Parrot('Polly', 12)
            print(p.describe(), p.words, isinstance(p, Animal), type(p).__name__)
        """,
        "Polly has 2 legs and wings 12 True Parrot\n",
    ),
    (
        "dataclass",
        """
            from dataclasses import dataclass, field, asdict, replace
            @dataclass
            class Order:
                item: str
                quantity: int = 1
                tags: list = field(default_factory=list)
                total: float = field(init=False, default=0.0)
                def __post_init__(self):
                    self.total = self.quantity * 2.5
            @dataclass(frozen=True, order=True)
            class Version:
                major: int
                minor: int = 0
            o = Order('pen', 4)
            o.tags.append('office')
            print(o, asdict(o), replace(o, quantity=2).total)
            print(sorted([Version(2), Version(1, 5)]), Version(1) == Version(1, 0), hash(Version(3)) == hash((3, 0)))
        """,
        "Order(item='pen', quantity=4, tags=['office'], total=10.0) "
        "{'item': 'pen', 'quantity': 4, 'tags': ['office'], 'total': 10.0} 5.0\n"
        "[Version(major=1, minor=5), Version(major=2, minor=0)] True True\n",
    ),
    (
        "named tuple class",
        """
            from typing import NamedTuple
            class Point(NamedTuple):
                x: int
                y: int = 0
                def norm1(self) -> int:
                    return abs(self.x) + abs(self.y)
            p = Point(3, -4)
            print(p, Point(1), p.norm1(), p._asdict(), p._replace(y=1), Point._fields, p.x + p[1])
        """,
        "Point(x=3, y=-4) Point(x=1, y=0) 7 {'x': 3, 'y': -4} Point(x=3, y=1) ('x', 'y') -1\n",
    ),
    (
        "annotations",
        """
            from typing import Dict, List, Optional
            total: int = 0
            pending: List[int]
            class Ledger:
                rate: float = 0.5
                owner: str
                def __init__(self, owner: str) -> None:
                    self.owner = owner
                    self.entries: Dict[str, int] = {}
            def add(ledger: Ledger, key: str, amount: int, note: Optional[str] = None) -> int:
                count: int = ledger.entries.get(key, 0)
                ledger.entries[key] = count + amount
                return ledger.entries[key]
            ledger = Ledger('ann')
            for k, a in [('a', 2), ('b', 3), ('a', 5)]:
                total += add(ledger, k, a)
            print(total, ledger.entries, Ledger.rate)
        """,
        "12 {'a': 7, 'b': 3} 0.5\n",
    ),
    (
        "single-underscore names",
        """
            _memo = {0: 0, 1: 1}
            def _fib(n):
                if n not in _memo:
                    _memo[n] = _fib(n - 1) + _fib(n - 2)
                return _memo[n]
            class _Cache:
                def __init__(self):
                    self._store = {}
                    self._hits = 0
                def get(self, key, compute):
                    if key in self._store:
                        self._hits += 1
                    else:
                        self._store[key] = compute(key)
                    return self._store[key]
                def _report(self):
                    return f'{len(self._store)} stored, {self._hits} hits'
            cache = _Cache()
            for n in (10, 20, 10, 10):
                cache.get(n, _fib)
            _, last = divmod(_fib(90), 1000)
            print(cache._report(), cache._hits, last, getattr(cache, '_missing', 'none'), hasattr(cache, '_store'))
        """,
        "2 stored, 2 hits 2 120 none True\n",
    ),
    (
        "name mangling",
        """
            class Account:
                def __init__(self, balance):
                    self.__balance = balance
                def deposit(self, amount):
                    self.__balance += amount
                    return self.__balance
                def __audit(self):
                    return 'audited'
                def report(self):
                    return self.__audit() + ' ' + str(self.__balance)
            a = Account(10)
            a.deposit(5)
            print(a.report(), a._Account__balance, hasattr(a, '__balance'))
        """,
        "audited 15 15 False\n",
    ),
    (
        "names and documentation",
        """
            def area(r):
                'The area of a circle.'
                return 3.14 * r * r
            class Circle:
                '''A circle.'''
                class Unit:
                    pass
            print(type(2.5).__name__, type([]).__name__, area.__name__, area.__doc__, Circle.__doc__)
            print(Circle.Unit.__qualname__, Circle.Unit.__name__, type(Circle()).__name__, len.__name__)
        """,
        "float list area The area of a circle. A circle.\nCircle.Unit Unit Circle len\n",
    ),
    (
        "hasattr and getattr of special methods",
        """
            class Box:
                def __len__(self):
                    return 3
            for value in (5, 'ab', [1], Box(), 2.0):
                print(type(value).__name__, *(hasattr(value, name) for name in ('__len__', '__iter__', '__add__')))
            add = getattr(7, '__add__')
            print(add(3), getattr(Box(), '__len__')(), (4).__mul__(5), 'x'.__len__(), getattr(Box, 'missing', None))
        """,
        "int False False True\nstr True True True\nlist True True True\nBox True False False\n"
        "float False False True\n10 3 20 1 None\n",
    ),
    (
        "slots",
        """
            class P:
                __slots__ = ('x', 'y', '_tag')
                def __init__(self, x, y):
                    self.x, self.y, self._tag = x, y, 'p'
            p = P(1, 2)
            try:
                p.z = 3
            except AttributeError:
                print('no z')
            print(p.x + p.y, p._tag)
        """,
        "no z\n3 p\n",
    ),
    (
        "time",
        """
            import time
            start = time.perf_counter()
            now = time.time()
            total = sum(range(10000))
            elapsed = time.perf_counter() - start
            print(total, elapsed >= 0, now > 1.5e9, type(time.monotonic()).__name__)
        """,
        "49995000 True True float\n",
    ),
    (
        "sys stand-in",
        """
            import sys
            from sys import setrecursionlimit, maxsize
            setrecursionlimit(5000)
            def depth(n):
                return 0 if n == 0 else 1 + depth(n - 1)
            print(depth(4000), sys.getrecursionlimit(), maxsize == 2**63 - 1)
            sys.set_int_max_str_digits(20000)
            print(len(str(3 ** 20000)), sys.get_int_max_str_digits())
            sys.stdout.write('written\\n')
            print('to stderr', file=sys.stderr)
            print(sys.float_info.max > 1e300, sys.int_info.sizeof_digit, sys.version_info.major)
        """,
        "4000 5000 True\n9543 20000\nwritten\nTrue 4 3\n",
    ),
    (
        "type",
        """
            class A:
                pass
            print(type(int) is type, type(A) is type, type(type) is type, type, type(3), type('s') == str)
            print(isinstance(A, type), isinstance(1, type), issubclass(type, type), issubclass(A, type), type.__name__)
            B = type('B', (A,), {'x': 1, 'double': lambda self: self.x * 2, '__repr__': lambda self: 'B()'})
            print(B(), B().double(), issubclass(B, A), type(B()).__name__, B.__name__)
        """,
        "True True True <class 'type'> <class 'int'> True\nTrue False True False type\nB() 2 True B B\n",
    ),
    (
        "future annotations",
        """
            from __future__ import annotations
            from dataclasses import dataclass
            @dataclass
            class Node:
                value: int
                next: Node | None = None
            def length(node: Node | None) -> int:
                return 0 if node is None else 1 + length(node.next)
            print(length(Node(1, Node(2, Node(3)))), Node(5))
        """,
        "3 Node(value=5, next=None)\n",
    ),
    (
        "container special methods",
        """
            class Grid:
                def __init__(self):
                    self.cells = {}
                def __setitem__(self, key, value):
                    self.cells[key] = value
                def __getitem__(self, key):
                    return self.cells.get(key, 0)
                def __delitem__(self, key):
                    del self.cells[key]
                def __reversed__(self):
                    return iter(sorted(self.cells, reverse=True))
            class Counts(dict):
                def __missing__(self, key):
                    return 0
            g = Grid()
            g[1, 2] = 5
            g[0, 0] = 1
            g[1, 2] += 1
            del g[0, 0]
            c = Counts(a=1)
            c['b'] += 2
            print(g[1, 2], g[9, 9], list(reversed(g)), c, c['z'])
        """,
        "6 0 [(1, 2)] {'a': 1, 'b': 2} 0\n",
    ),
    (
        "memoised recursion",
        """
            import sys
            from functools import lru_cache
            sys.setrecursionlimit(10**6)
            @lru_cache(maxsize=None)
            def ways(n):
                return 1 if n <= 1 else ways(n - 1) + ways(n - 2)
            print(ways(2000) % 1_000_000_007, ways.cache_info().hits)
        """,
        "276439883 1998\n",
    ),
]


@pytest.mark.parametrize(("code", "stdout"), [case[1:] for case in NOW_RUNNING], ids=[case[0] for case in NOW_RUNNING])
def test_program_prints_what_cpython_prints(sandbox: Sandbox, code: str, stdout: str) -> None:
    result = sandbox.run(textwrap.dedent(code))
    assert result.status == "ok", result.error
    assert result.stdout == stdout


def test_expected_stdout_is_cpython_s() -> None:
    """The table above is what CPython prints, so the test above compares against CPython itself."""
    programs = "\n".join(f"exec({textwrap.dedent(code)!r}, {{'__name__': '__main__'}})" for _, code, _ in NOW_RUNNING)
    completed = subprocess.run([sys.executable, "-c", programs], capture_output=True, text=True, check=True)
    assert completed.stdout == "".join(stdout for _, _, stdout in NOW_RUNNING)


def test_stdout_is_returned_whole(sandbox: Sandbox) -> None:
    result = sandbox.run("for i in range(3):\n    print('line', i)")
    assert result.stdout == "line 0\nline 1\nline 2\n"
    assert result.answer == "line 2"


def test_program_without_answer_is_ok_with_none(sandbox: Sandbox) -> None:
    result = sandbox.run("x = 1")
    assert (result.status, result.answer, result.stdout) == ("ok", None, "")


def test_runtime_error_is_reported_with_its_line(sandbox: Sandbox) -> None:
    result = sandbox.run("a = 1\nb = 0\nprint(a / b)")
    assert result.status == "runtime_error"
    assert result.error == "line 3: ZeroDivisionError: division by zero"
    assert result.answer is None


def test_syntax_error_is_reported_with_its_line(sandbox: Sandbox) -> None:
    result = sandbox.run("x = (1 +\nprint(x)")
    assert result.status == "syntax_error"
    assert result.error.startswith("line 1")


def test_duration_is_measured(sandbox: Sandbox) -> None:
    result = sandbox.run(
        textwrap.dedent("""
        total = 0
        for i in range(200000):
            total += i
        print(total)
    """)
    )
    assert result.ok
    assert 0 < result.duration_s < 3
