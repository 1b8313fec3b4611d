"""What a program may import, name and hold, and what every template loads before it forks any process.

The allow-lists are the contract with model-written programs: the standard library's math and data
modules plus the scientific stack, and of the names with two leading and two trailing underscores
only the special methods that ordinary classes define (``__init__``, ``__add__``, ``__repr__``).
Everything else, including every module reachable as an attribute of an allowed one
(``fractions.sys``) and every dunder name that reaches the interpreter's machinery (``__class__``,
``__globals__``, ``__getattribute__``, ``__array_interface__``), is refused. The same lists decide
which functions and classes a program may hold, wherever it got them from (``sandbox.values``):
those of the allowed modules, wherever they are defined inside them, except a module's private
functions and the callables of ``FORBIDDEN_CALLABLES``.
"""

from __future__ import annotations

import functools

ALLOWED_MODULES = frozenset(
    {
        "bisect",
        "cmath",
        "collections",
        "copy",
        "dataclasses",
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
        "time",
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
    return not _is_denied(module_name)


def _is_denied(module_name: str) -> bool:
    return any(module_name == denied or module_name.startswith(denied + ".") for denied in DENIED_MODULES)


@functools.lru_cache(maxsize=1024)
def is_allowed_origin(module_name: str) -> bool:
    """Whether functions and classes defined in ``module_name`` may be held by a program. Unlike
    imports, private parts count as their package: numpy's ``default_rng`` is defined in
    ``numpy.random._generator``, and a C accelerator counts as the module it accelerates
    (``operator.add`` is defined in ``_operator``, ``functools.reduce`` in ``_functools``). Denied
    parts stay denied wherever their functions are re-exported (``sympy.external``'s
    ``import_module`` is a name of several sympy modules). Cached: the value policy asks it for
    every function a program reads, and a program's modules are few."""
    package = module_name.split(".")[0].lstrip("_")
    return package in ALLOWED_MODULES and not _is_denied(module_name)


# Modules an import statement may name although a program may not hold the real module: the import
# binds a stand-in with what math programs use of it (``sandbox.guards``), so ``fractions.sys``
# stays refused while ``import sys; sys.setrecursionlimit(10_000)`` runs.
STAND_IN_MODULES = frozenset({"sys"})


# Library callables no program may hold, by ``module.qualname``: they reach what the guards
# refuse by a name the program passes, and hand back something the value policy cannot see
# into. ``attrgetter`` and ``methodcaller`` look attributes up by name; ``string.Formatter``
# passes the objects it looked up (``"{0.__class__}"``) to its subclasses' hooks
# (``format_field``); ``make_dataclass`` builds a class from a namespace of the program's making;
# ``lazy_function`` imports a module and calls an attribute of it, both named by the program,
# without ever handing back what it found (``lazy_function('builtins', 'eval')``).
FORBIDDEN_CALLABLES = frozenset(
    {
        "operator.attrgetter",
        "operator.methodcaller",
        "string.Formatter",
        "dataclasses.make_dataclass",
        "sympy.core.cache.lazy_function",
    }
)


def may_import(module_name: str) -> bool:
    """Whether an import statement may name ``module_name``: an importable module, a stand-in, or
    ``__future__``, whose imports are directives to the compiler (``from __future__ import annotations``)."""
    return is_importable(module_name) or module_name in STAND_IN_MODULES or module_name == "__future__"


# The special methods a program's class may define and a program may read (``super().__init__``,
# ``hasattr(x, "__len__")``): what ordinary classes implement, each called by the interpreter with
# the program's own arguments. Left out on purpose, as memory or lookup primitives: attribute hooks
# (``__getattr__``, ``__getattribute__``, ``__setattr__``, ``__delattr__``), class construction
# (``__new__``, ``__init_subclass__``, ``__class_getitem__``, ``__set_name__``, ``__mro_entries__``,
# ``__prepare__``), descriptors (``__get__``, ``__set__``, ``__delete__``), finalisers (``__del__``),
# pickling (``__reduce__``, ``__reduce_ex__``, ``__getstate__``, ``__setstate__``), buffers and numpy's
# array protocols (``__buffer__``, every ``__array*``), and the interpreter's own attributes
# (``__dict__``, ``__class__``, ``__globals__``).
SPECIAL_METHODS = frozenset(
    (
        "__init__ __post_init__ __repr__ __str__ __format__ __hash__ __bool__ __len__ __call__ "
        "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ "
        "__neg__ __pos__ __abs__ __invert__ __round__ __trunc__ __floor__ __ceil__ "
        "__int__ __float__ __complex__ __index__ "
        "__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ "
        "__matmul__ __rmatmul__ __imatmul__ __truediv__ __rtruediv__ __itruediv__ "
        "__floordiv__ __rfloordiv__ __ifloordiv__ __mod__ __rmod__ __imod__ __divmod__ __rdivmod__ "
        "__pow__ __rpow__ __ipow__ __lshift__ __rlshift__ __ilshift__ __rshift__ __rrshift__ __irshift__ "
        "__and__ __rand__ __iand__ __xor__ __rxor__ __ixor__ __or__ __ror__ __ior__ "
        "__getitem__ __setitem__ __delitem__ __missing__ __contains__ __iter__ __next__ __reversed__ "
        "__enter__ __exit__"
    ).split()
)

# Dunder names a class body may bind besides the special methods.
CLASS_BODY_NAMES = frozenset({"__slots__", "__doc__"})

# Dunder attributes a program may read besides the special methods: names and documentation.
READABLE_ATTRIBUTES = frozenset({"__name__", "__qualname__", "__doc__"})


def is_dunder(name: str) -> bool:
    """Whether ``name`` has the form ``__x__`` that Python reserves for its own machinery."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def is_private(name: str) -> bool:
    """Whether ``name`` is private by Python's convention: one leading underscore, not a dunder."""
    return name.startswith("_") and not is_dunder(name)


# Imported once by every template, before it forks any process. scipy is allowed but left out: math
# programs rarely use it, and loading it would make every template larger. The symbolic libraries
# hold most of a template's memory, and copying and tearing down that memory is most of what a
# program's process costs; so they are loaded only by the templates for programs that name them.
SYMBOLIC_MODULES = frozenset({"sympy", "mpmath"})
PRELOADED_MODULES = tuple(sorted(ALLOWED_MODULES - {"scipy"} - SYMBOLIC_MODULES))

# Run once by every template at start-up: they prove the pipeline works, and pull in the lazily
# imported parts of numpy and sympy (solvers, polynomial rings, printing) so that the processes
# forked from a template share them rather than each importing them again.
WARMUP_PROGRAM = """\
from fractions import Fraction
from decimal import Decimal
import math, statistics, itertools, collections
import numpy as np
counts = collections.Counter('abca')
counts['a'] += 1
print(Fraction(1, 3) + Decimal('0.5').as_integer_ratio()[0], math.comb(5, 2), statistics.mean([1, 2, 4]),
      list(itertools.permutations(range(3), 2))[0], '{:.2f}'.format(math.pi), counts.most_common(1))
grid = np.zeros((2, 2))
grid[0, 0] += 1
print(np.array([1, 2, 3]).mean(), np.linalg.solve(np.eye(2), np.ones(2)), grid.sum(), np.roots([1, -3, 2]),
      np.arange(4).reshape(2, 2) @ np.ones(2))
"""
SYMBOLIC_WARMUP_PROGRAM = """\
import sympy as sp
x, y = sp.symbols('x y')
print(sp.solve([x + y - 10, x - y - 2], [x, y]), sp.solve(x**2 - 4, x), sp.simplify(sp.sin(x)**2 + sp.cos(x)**2),
      sp.factorint(360), sp.nsimplify(0.5), sp.integrate(x**2, (x, 0, 1)), sp.expand((x + 1)**3),
      sp.Rational(1, 3) + 1, sp.Matrix([[1, 2], [3, 4]]).det(), sp.N(sp.pi, 10), sp.isprime(97), sp.latex(x**2))
"""
