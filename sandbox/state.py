"""The global state of allowed libraries that a program can change through their public API.

``random.seed``, ``numpy.set_printoptions``, ``decimal.setcontext``, ``mpmath.mp.dps = 50``,
sympy's ``evaluate`` switch: each would silently change what the next program computes or prints.
A runner compares this fingerprint before and after every program and is replaced when it moved.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Hashable


def library_state() -> tuple[Hashable, ...]:
    """A cheap, comparable snapshot; only libraries already imported are looked at."""
    state: list[Hashable] = [hash(random.getstate())]
    modules = sys.modules
    if "decimal" in modules:
        decimal = modules["decimal"]
        contexts = (decimal.getcontext(), decimal.DefaultContext, decimal.BasicContext, decimal.ExtendedContext)
        state.append(tuple(repr(context) for context in contexts))
    if "numpy" in modules:
        numpy = modules["numpy"]
        _, keys, position, *gaussian = numpy.random.get_state()
        state += [repr(numpy.get_printoptions()), repr(numpy.geterr()), id(numpy.geterrcall())]
        state += [hash(keys.tobytes()), position, repr(gaussian)]
    if "mpmath" in modules:
        mp = modules["mpmath"].mp
        state.append((mp.prec, mp.pretty))
    if "sympy" in modules:
        parameters = modules["sympy.core.parameters"].global_parameters
        printer = modules["sympy.printing.printer"].Printer
        state.append((parameters.evaluate, parameters.distribute, parameters.exp_is_pow))
        state.append(repr(getattr(printer, "_global_settings", None)))
        state.append(id(sys.displayhook))
    return tuple(state)
