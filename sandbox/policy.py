"""What a program may import, and what every worker loads before it runs any.

The allow-list is the contract with model-written programs: the standard library's math and data
modules plus the scientific stack. Everything else, including every module reachable as an
attribute of an allowed one (``fractions.sys``), is refused.
"""

from __future__ import annotations

ALLOWED_MODULES = frozenset(
    {
        "bisect",
        "cmath",
        "collections",
        "copy",
        "datetime",
        "decimal",
        "fractions",
        "functools",
        "heapq",
        "itertools",
        "math",
        "mpmath",
        "numbers",
        "numpy",
        "operator",
        "random",
        "re",
        "scipy",
        "statistics",
        "string",
        "sympy",
        "typing",
    }
)

# Parts of allowed packages whose purpose is to reach outside the program: native code, compilers,
# test runners that spawn processes.
DENIED_MODULES = frozenset(
    {
        "numpy.ctypeslib",
        "numpy.distutils",
        "numpy.f2py",
        "numpy.testing",
        "sympy.external",
        "sympy.interactive",
        "sympy.plotting",
        "sympy.testing",
        "sympy.utilities.autowrap",
        "sympy.utilities.codegen",
    }
)


def is_importable(module_name: str) -> bool:
    """Whether a program may import ``module_name`` or hold it as a value."""
    parts = module_name.split(".")
    if parts[0] not in ALLOWED_MODULES or any(part.startswith("_") for part in parts):
        return False
    return not any(module_name == denied or module_name.startswith(denied + ".") for denied in DENIED_MODULES)


# Imported once by every worker, before it forks runners. scipy is allowed but left out: math
# programs rarely use it, and loading it would make every worker larger.
PRELOADED_MODULES = tuple(sorted(ALLOWED_MODULES - {"scipy"}))

# Run once by every worker at start-up: it proves the pipeline works, and pulls in the lazily
# imported parts of numpy and sympy (solvers, polynomial rings, printing) so that runners share
# them rather than each importing them again.
WARMUP_PROGRAM = """\
from fractions import Fraction
from decimal import Decimal
import math, statistics, itertools, collections
import numpy as np
import sympy as sp
counts = collections.Counter('abca')
counts['a'] += 1
print(Fraction(1, 3) + Decimal('0.5').as_integer_ratio()[0], math.comb(5, 2), statistics.mean([1, 2, 4]),
      list(itertools.permutations(range(3), 2))[0], '{:.2f}'.format(math.pi), counts.most_common(1))
x, y = sp.symbols('x y')
print(sp.solve([x + y - 10, x - y - 2], [x, y]), sp.solve(x**2 - 4, x), sp.simplify(sp.sin(x)**2 + sp.cos(x)**2),
      sp.factorint(360), sp.nsimplify(0.5), sp.integrate(x**2, (x, 0, 1)), sp.expand((x + 1)**3),
      sp.Rational(1, 3) + 1, sp.Matrix([[1, 2], [3, 4]]).det(), sp.N(sp.pi, 10), sp.isprime(97), sp.latex(x**2))
grid = np.zeros((2, 2))
grid[0, 0] += 1
print(np.array([1, 2, 3]).mean(), np.linalg.solve(np.eye(2), np.ones(2)), grid.sum(), np.roots([1, -3, 2]),
      np.arange(4).reshape(2, 2) @ np.ones(2))
"""
