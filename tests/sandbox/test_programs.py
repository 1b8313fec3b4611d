"""Programs as models write them must run, and their answer is what they printed last."""

import textwrap

import pytest

from sandbox import Sandbox

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
