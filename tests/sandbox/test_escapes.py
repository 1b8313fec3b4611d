"""Escapes from RestrictedPython through the allowed libraries, three classes of them: each is
refused in the sandbox with a clear message, and each reaches the real ``sys``, builtins or
``type`` when a plain interpreter runs the same program (``test_*_without_the_sandbox``), which
shows that it is real.

- Attribute names through library helpers: ``functools.update_wrapper`` reads and writes the
  attributes a program names (``__globals__``, ``__code__``), ``copy`` writes the attributes that a
  program's reducer names. Closed by the guards' ``update_wrapper``, which applies the attribute
  policy, and by read-only library dicts (``sandbox.guards``, ``sandbox.values``).
- Code generation fed by writable fields: ``dataclasses`` writes each ``Field.name`` into the
  source it ``exec``s; lambdify executes the statements its ``MODULES`` name. Closed by the write
  policy: a library's Python-level state is its own (``sandbox.ownership``).
- String-to-object resolvers and other library calls that hand a program what it may not hold
  (``get_class('builtins.eval')``). Closed by the value policy on call results, item reads and
  iteration (``sandbox.values``).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

from potcot.sandbox import Sandbox
from tests.sandbox.attacks import UNISOLATED

SYS = "<module 'sys' (built-in)>"
TYPE = "<class 'type'>"
# Injected into generated code, where it runs outside RestrictedPython.
PRINT_SYS = "__import__('builtins').print(__import__('sys'))"


def python(*parts: str) -> str:
    """A program made of ``parts``, each dedented on its own."""
    return "".join(textwrap.dedent(part).strip("\n") + "\n" for part in parts)


@dataclasses.dataclass(frozen=True)
class Escape:
    program: str
    refusal: str  # what the sandbox's error says
    reaches: str  # what a plain interpreter prints: the real object the attack gets to


# A dataclass, and a subclass decorated in turn, which regenerates ``__eq__`` from A's fields.
DATACLASS = """
    @dataclasses.dataclass
    class A:
        x: int
"""
SUBCLASS_COMPARED = """
    @dataclasses.dataclass(init=False, repr=False)
    class B(A):
        pass
    B(1) == B(1)
"""

NAMES_THROUGH_HELPERS = {
    "update_wrapper copies a library function's globals": Escape(
        python("""
            import functools, fractions
            def f():
                pass
            functools.update_wrapper(f, fractions.Fraction.limit_denominator, assigned=(), updated=('__globals__',))
            def g():
                return sys
            print(g())
        """),
        'update_wrapper: "__globals__" is an invalid attribute name',
        SYS,
    ),
    "wraps copies a library function's globals": Escape(
        python("""
            from functools import wraps
            import fractions
            @wraps(fractions.Fraction.limit_denominator, assigned=(), updated=('__globals__',))
            def f():
                pass
            def g():
                return sys
            print(g())
        """),
        'update_wrapper: "__globals__" is an invalid attribute name',
        SYS,
    ),
    "update_wrapper grafts a library function's code": Escape(
        python("""
            import functools, sympy
            def class_of(obj):
                pass
            functools.update_wrapper(class_of, sympy.Basic.func.fget, assigned=('__code__',), updated=())
            print(class_of(class_of(0)))
        """),
        'update_wrapper: "__code__" is an invalid attribute name',
        TYPE,
    ),
    "update_wrapper relabels a library class as the program's": Escape(
        python(
            """
            import dataclasses, functools
            def f():
                pass
            functools.update_wrapper(dataclasses.Field, f, updated=())
            """,
            DATACLASS,
            f'dataclasses.fields(A)[0].name = "x, {PRINT_SYS}"',
            SUBCLASS_COMPARED,
        ),
        "update_wrapper: library classes are read-only: cannot modify 'Field'",
        SYS,
    ),
    "copy writes the attributes a reducer names": Escape(
        python(
            "import copy, dataclasses",
            DATACLASS,
            f"""
            field = dataclasses.fields(A)[0]
            class Trigger:
                pass
            state = {{'name': "x, {PRINT_SYS}"}}
            copy.dispatch_table[Trigger] = lambda trigger: (lambda: field, (), (None, state))
            copy.copy(Trigger())
            """,
            SUBCLASS_COMPARED,
        ),
        "the dicts of modules and library classes are read-only",
        SYS,
    ),
}

WRITABLE_FIELDS = {
    "a Field's name, written": Escape(
        python(
            "import dataclasses",
            DATACLASS,
            f'dataclasses.fields(A)[0].name = "x, {PRINT_SYS}"',
            SUBCLASS_COMPARED,
        ),
        "'name' of a Field object is a slot of the library class Field",
        SYS,
    ),
    "a Field's name, set with setattr": Escape(
        python(
            "import dataclasses",
            DATACLASS,
            f"setattr(dataclasses.fields(A)[0], 'name', \"x, {PRINT_SYS}\")",
            SUBCLASS_COMPARED,
        ),
        "'name' of a Field object is a slot of the library class Field",
        SYS,
    ),
    "a Field subclass's name property": Escape(
        python(f"""
            import dataclasses
            class Named(dataclasses.Field):
                @property
                def name(self):
                    return "x, {PRINT_SYS}"
                @name.setter
                def name(self, value):
                    pass
            M = dataclasses.MISSING
            @dataclasses.dataclass(init=False, repr=False)
            class A:
                x: int = Named(M, M, True, True, None, True, None, False)
            A() == A()
        """),
        "Named.name would replace a slot of the library class Field",
        SYS,
    ),
    "a slotted Field subclass's own name slot": Escape(
        python(
            f"""
            import dataclasses
            @dataclasses.dataclass(slots=True)
            class Named(dataclasses.Field):
                name: str
            M = dataclasses.MISSING
            field = Named('x')
            dataclasses.Field.__init__(field, M, M, True, True, None, True, None, False)
            @dataclasses.dataclass
            class A:
                x: int = field
            field.name = "x, {PRINT_SYS}"
            """,
            SUBCLASS_COMPARED,
        ),
        "'name' of a Named object is a slot of the library class Field",
        SYS,
    ),
    "lambdify's MODULES, which name the statements it executes": Escape(
        python("""
            import sympy
            from sympy.utilities.lambdify import MODULES
            MODULES['math'] = ({}, {}, {}, ('import sys; print(sys)',))
            sympy.lambdify(sympy.Symbol('x'), 1, 'math')
        """),
        "the dicts of modules and library classes are read-only",
        SYS,
    ),
}

RESOLVERS = {
    "get_class('builtins.eval')": Escape(
        python("""
            from sympy.utilities.source import get_class
            print(get_class('builtins.eval')("__import__('sys')"))
        """),
        "the builtin eval is not allowed",
        SYS,
    ),
    "get_class('os.system')": Escape(
        python("""
            from sympy.utilities.source import get_class
            print(get_class('os.system'))
        """),
        "system of module 'posix' is not allowed",
        "<built-in function system>",
    ),
    "get_class('sys._getframe')": Escape(
        python("""
            from sympy.utilities.source import get_class
            frame = get_class('sys._getframe')(0)
            print(getattr(frame, 'f_' + 'builtins')['__import__']('sys'))
        """),
        "_getframe of module 'sys' is not allowed",
        SYS,
    ),
    "get_class of a private code generator": Escape(
        python("""
            from sympy.utilities.source import get_class
            make = get_class('dataclasses._create_fn')
            print(make('f', (), ["return __import__('sys')"])())
        """),
        "the private function dataclasses._create_fn is not allowed",
        SYS,
    ),
    "import_module of sympy.external, re-exported by sympy.stats": Escape(
        python("""
            from sympy.stats.rv import import_module
            print(import_module('sys'))
        """),
        "import_module of module 'sympy.external.importtools' is not allowed",
        SYS,
    ),
    "lazy_function resolves and calls what it resolves": Escape(
        python("""
            from sympy.core.cache import lazy_function
            print(lazy_function('builtins', 'eval')("__import__('sys')"))
        """),
        "lazy_function is not allowed",
        SYS,
    ),
    "typing.get_origin returns the real type": Escape(
        python("""
            import typing
            print(typing.get_origin(typing.Type[int]))
        """),
        "the builtin type is not allowed",
        TYPE,
    ),
    "a library dict's modules, by iteration": Escape(
        python("""
            import sympy
            sympy.lambdify(sympy.Symbol('x'), 1)
            from sympy.utilities.lambdify import NUMPY
            for name, value in NUMPY.items():
                if name == 'ctypeslib':
                    print(value.ctypes.pythonapi)
        """),
        "PolicyViolation: module 'numpy.",
        "<PyDLL 'None', handle",
    ),
}

ESCAPES = {**NAMES_THROUGH_HELPERS, **WRITABLE_FIELDS, **RESOLVERS}


@pytest.mark.parametrize("name", list(ESCAPES), ids=str)
def test_escape_is_refused(healthy: Sandbox, name: str) -> None:
    escape = ESCAPES[name]
    result = healthy.run(escape.program)
    assert result.status == "forbidden", result
    assert escape.refusal in (result.error or ""), result
    assert escape.reaches not in result.stdout


@pytest.fixture(scope="module")
def unsandboxed() -> dict[str, dict[str, str]]:
    """Every escape's program, run where nothing guards it."""
    scenarios = [[escape.program] for escape in ESCAPES.values()]
    completed = subprocess.run(
        [sys.executable, "-c", UNISOLATED],
        input=json.dumps(scenarios),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {name: outputs and outputs[0] for name, outputs in zip(ESCAPES, json.loads(completed.stdout), strict=True)}


@pytest.mark.parametrize("name", list(ESCAPES), ids=str)
def test_escape_reaches_the_interpreter_without_the_sandbox(unsandboxed: dict[str, dict[str, str]], name: str) -> None:
    output = unsandboxed[name]
    assert ESCAPES[name].reaches in output["stdout"], output
