"""The in-process policy as pure functions: imports, compilation, the runtime guards, and the audit
monitor. Programs run here as the runner runs them (compiled under the policy, then executed in
``ProgramGuards().namespace()``), in this process: no sandbox is needed to test the policy."""

import builtins
import collections
import contextlib
import dataclasses
import fractions
import functools
import importlib
import io
import numbers
import operator
import os
import re
import string
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator

import pytest

from potcot.sandbox.audit import AuditMonitor
from potcot.sandbox.guards import INT_DIGITS_CAP, RECURSION_LIMIT_CAP, ProgramGuards, harden_libraries
from potcot.sandbox.policy import SPECIAL_METHODS, is_importable, may_import
from potcot.sandbox.restricted import CompileError, PolicyViolation, compile_program
from potcot.sandbox.values import ValuePolicy

IMPORTABLE = [
    ("math", True),
    ("sympy", True),
    ("sympy.abc", True),
    ("numpy.linalg", True),
    ("scipy.optimize", True),
    ("dataclasses", True),
    ("time", True),
    ("os", False),
    ("sys", False),
    ("__future__", False),
    ("mathx", False),
    ("numpy._core", False),
    ("numpy.ctypeslib", False),
    ("sympy.testing.pytest", False),
    ("", False),
]


@pytest.mark.parametrize(("name", "allowed"), IMPORTABLE)
def test_is_importable(name: str, allowed: bool) -> None:
    assert is_importable(name) is allowed


# What an import statement may name: what may be held, plus the sys stand-in and __future__.
MAY_IMPORT = [
    ("numpy", True),
    ("sys", True),
    ("__future__", True),
    ("sys.monitoring", False),
    ("os", False),
    ("numpy._core", False),
]


@pytest.mark.parametrize(("name", "allowed"), MAY_IMPORT)
def test_may_import(name: str, allowed: bool) -> None:
    assert may_import(name) is allowed


COMPILE_ERRORS = [
    ("x = (", "syntax_error", "line 1"),
    ("import os", "forbidden", "import of 'os' is not allowed"),
    ("from .x import y", "forbidden", "relative imports"),
    ("x.__class__", "forbidden", '"__class__" is an invalid attribute name'),
    ("__secret__ = 1", "forbidden", '"__secret__" is an invalid variable name'),
    ("eval('1')", "forbidden", "Eval calls are not allowed"),
    ("async def f():\n    pass", "forbidden", "AsyncFunctionDef statements are not allowed"),
    ("g.gi_frame", "forbidden", '"gi_frame" is a restricted name'),
    ("print(__builtins__)", "forbidden", '"__builtins__" is an invalid variable name'),
    ("_getattr_ = lambda obj, name: name", "forbidden", '"_getattr_" is an invalid variable name'),
    ("_write_ = None", "forbidden", '"_write_" is an invalid variable name'),
    ("_print = None", "forbidden", '"_print" is an invalid variable name'),
    ("from dataclasses import _create_fn", "forbidden", "import of the private name '_create_fn'"),
    ("import sys.monitoring", "forbidden", "import of 'sys.monitoring' is not allowed"),
    ("import __future__", "forbidden", '"__future__" is an invalid variable name'),
    ("class A(metaclass=type):\n    pass", "forbidden", 'The keyword argument "metaclass" is not allowed'),
    ("f.__globals__", "forbidden", '"__globals__" is an invalid attribute name'),
    ("x.__dict__['y'] = 1", "forbidden", '"__dict__" is an invalid attribute name'),
    ("f.__name__ = 'g'", "forbidden", '"__name__" is an invalid attribute name'),
    ("obj.__array_interface__ = {}", "forbidden", '"__array_interface__" is an invalid attribute name'),
    ("class A:\n    def __getattr__(self, name):\n        return 0", "forbidden", '"__getattr__" is an invalid'),
    ("class A:\n    __array_interface__ = {}", "forbidden", '"__array_interface__" is an invalid variable name'),
    ("class A:\n    __module__ = 'fractions'", "forbidden", '"__module__" is an invalid variable name'),
]


@pytest.mark.parametrize(("source", "status", "message"), COMPILE_ERRORS)
def test_compile_errors(source: str, status: str, message: str) -> None:
    with pytest.raises(CompileError) as raised:
        compile_program(source)
    assert raised.value.status == status
    assert message in raised.value.message


# Memory and lookup primitives: no class body may define them, no program may name them.
REFUSED_MEMBERS = (
    "__getattr__ __getattribute__ __setattr__ __delattr__ __new__ __init_subclass__ __class_getitem__ "
    "__set_name__ __get__ __set__ __delete__ __del__ __reduce__ __reduce_ex__ __getstate__ __setstate__ "
    "__array__ __array_interface__ __array_struct__ __array_ufunc__ __array_function__ __array_priority__ "
    "__buffer__ __dict__ __class__ __mro_entries__ __prepare__ __instancecheck__ __subclasscheck__"
).split()


@pytest.mark.parametrize("name", REFUSED_MEMBERS)
def test_class_body_may_not_define(name: str) -> None:
    for source in (f"class A:\n    def {name}(self, *args):\n        return None", f"class A:\n    {name} = None"):
        with pytest.raises(CompileError, match=f'"{name}" is an invalid variable name'):
            compile_program(source)
    with pytest.raises(CompileError, match=f'"{name}" is an invalid attribute name'):
        compile_program(f"x.{name}")


def test_special_methods_are_disjoint_from_the_primitives() -> None:
    assert not SPECIAL_METHODS & set(REFUSED_MEMBERS)
    assert not [name for name in SPECIAL_METHODS if name.startswith("__array")]


@pytest.mark.parametrize("name", sorted(SPECIAL_METHODS))
def test_special_method_may_be_defined_and_read(name: str) -> None:
    compile_program(f"class A:\n    def {name}(self, *args):\n        return None\nA.{name}\nA.{name} = A.{name}")


# What the policy no longer refuses at compile time (test_programs.py runs such programs).
COMPILES = [
    "_memo = {}",
    "def _helper(_x):\n    return _x",
    "class _Cache:\n    pass",
    "obj._private = obj._private + 1",
    "del obj._private",
    "total: int = 0",
    "x: float",
    "class A:\n    __slots__ = ('x', '_y')\n    count: int = 0",
    "class A:\n    def __init__(self):\n        super().__init__()\n        self.__hidden = 1",
    "print(type(x).__name__, f.__qualname__, f.__doc__)",
    "from __future__ import annotations",
    "import sys\nfrom sys import setrecursionlimit",
    "import time\nimport dataclasses",
]


@pytest.mark.parametrize("source", COMPILES)
def test_compiles(source: str) -> None:
    compile_program(source)


def run_in_process(source: str) -> str:
    """Run ``source`` as the runner does, in this process; what it printed."""
    program = compile_program(textwrap.dedent(source))
    namespace = ProgramGuards().namespace()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(program.body, namespace)
        if program.final_expression is not None:
            eval(program.final_expression, namespace)
    return stdout.getvalue()


def refusal(source: str) -> str:
    """What the policy says when it refuses ``source``, run as the runner runs it."""
    with pytest.raises(PolicyViolation) as raised:
        run_in_process(source)
    return str(raised.value)


ARRAY_INTERFACE = "{'shape': (1,), 'typestr': '|O', 'data': (id(x) + 24, False), 'version': 3}"

# (program, what the refusal says): the guards' refusals, where the compiler cannot see the name.
REFUSED_AT_RUN_TIME = {
    "array interface through type()": (
        f"x = [1]\nA = type('A', (), {{'__array_interface__': {ARRAY_INTERFACE}}})\nprint(A)",
        "'__array_interface__' is not allowed",
    ),
    "array struct through type()": ("type('A', (), {'__array_struct__': 0})", "'__array_struct__' is not allowed"),
    "getattr hook through type()": ("type('A', (), {'__getattr__': len})", "'__getattr__' is not allowed"),
    "module name through type()": ("type('A', (), {'__module__': 'fractions'})", "'__module__' is not allowed"),
    "non-string member through type()": ("type('A', (), {1: 2})", "member names must be strings"),
    "metaclass from type()": ("import numbers\ntype(numbers.Number)", "metaclass 'ABCMeta'"),
    "sympy metaclass from type()": ("import sympy\ntype(sympy.sin)", "metaclass"),
    "metaclass as an attribute": ("import numbers\nnumbers.ABCMeta", "the metaclass 'ABCMeta' is not allowed"),
    "metaclass from an import": ("from typing import NamedTupleMeta", "the metaclass 'NamedTupleMeta'"),
    "type.__call__": ("type.__call__", "attribute '__call__' of type is not allowed"),
    "getattr of type.__call__": ("getattr(type, '__call__')", "attribute '__call__' of type is not allowed"),
    "getattr of __new__": ("getattr(int, '__new__')", '"__new__" is an invalid attribute name'),
    "getattr of __init_subclass__": ("getattr(object, '__init_subclass__')", '"__init_subclass__"'),
    "getattr of __class__": ("getattr(1, '__class__')", '"__class__" is an invalid attribute name'),
    "make_dataclass": ("import dataclasses\ndataclasses.make_dataclass('A', ['x'])", "make_dataclass is not allowed"),
    "make_dataclass import": ("from dataclasses import make_dataclass", "make_dataclass is not allowed"),
    "string.Formatter, whose subclasses' hooks receive what it looked up": (
        "from string import Formatter\nclass Leak(Formatter):\n    def format_field(self, value, spec):\n"
        "        return value\nLeak.format",
        "Formatter is not allowed",
    ),
    "array interface set on a class": (
        "class A:\n    pass\nsetattr(A, '__array_interface__', {})",
        '"__array_interface__" is an invalid attribute name',
    ),
    "array interface set on an object": (
        "class A:\n    pass\nsetattr(A(), '__array_interface__', {})",
        '"__array_interface__" is an invalid attribute name',
    ),
    "library object's private attribute": (
        "from fractions import Fraction\nFraction(1, 2)._numerator",
        "private attribute '_numerator' of a Fraction object",
    ),
    "library base class's private attribute": (
        "from fractions import Fraction\nclass Half(Fraction):\n    pass\nHalf(1, 2)._numerator",
        "private attribute '_numerator'",
    ),
    "module's private function": ("import dataclasses\ndataclasses._create_fn", "private attribute '_create_fn'"),
    "private attribute through getattr": ("import math\ngetattr(math, '_x', None)", "private attribute '_x'"),
    "private attribute written on a library object": (
        "from decimal import getcontext\ngetcontext()._secret = 1",
        "private attribute '_secret' of a Context object",
    ),
    "private field in str.format": ("'{0._x}'.format(1)", "private attribute '_x'"),
    "sys stand-in internals": ("import sys\nsys.stdout._name", "private attribute '_name'"),
    "sys stand-in is read-only": ("import sys\nsys.setrecursionlimit = print", "modules are read-only"),
    "library class write": ("from fractions import Fraction\nFraction.limit_denominator = None", "read-only"),
    "type is read-only": ("type.x = 1", "library classes are read-only"),
}


@pytest.mark.parametrize(("source", "message"), list(REFUSED_AT_RUN_TIME.values()), ids=list(REFUSED_AT_RUN_TIME))
def test_refused_at_run_time(source: str, message: str) -> None:
    assert message in refusal(source)


def test_attribute_names_must_be_plain_strings() -> None:
    """A ``str`` subclass could lie to the guard's ``startswith``."""
    source = "class Name(str):\n    def startswith(self, prefix):\n        return False\ngetattr(1, Name('__class__'))"
    with pytest.raises(TypeError, match="attribute name must be a string"):
        run_in_process(source)


@pytest.fixture
def interpreter_limits() -> Iterator[None]:
    """The stand-in for ``sys`` sets this process's real limits: restore them."""
    recursion, digits = sys.getrecursionlimit(), sys.get_int_max_str_digits()
    yield
    sys.setrecursionlimit(recursion)
    sys.set_int_max_str_digits(digits)


SYS_STAND_IN = [
    ("import sys\nsys.setrecursionlimit(10**6)\nprint(sys.getrecursionlimit())", f"{RECURSION_LIMIT_CAP}\n"),
    (
        "from sys import setrecursionlimit, getrecursionlimit\nsetrecursionlimit(2500)\nprint(getrecursionlimit())",
        "2500\n",
    ),
    ("import sys\nsys.set_int_max_str_digits(0)\nprint(sys.get_int_max_str_digits())", f"{INT_DIGITS_CAP}\n"),
    ("import sys\nsys.set_int_max_str_digits(10**7)\nprint(sys.get_int_max_str_digits())", f"{INT_DIGITS_CAP}\n"),
    ("import sys\nsys.set_int_max_str_digits(5000)\nprint(sys.get_int_max_str_digits())", "5000\n"),
    ("import sys\nprint([hasattr(sys, name) for name in ('modules', 'path', 'argv')])", "[False, False, False]\n"),
    ("import sys\nsys.stdout.write('a')\nsys.stdout.flush()\nprint('b', file=sys.stdout)", "ab\n"),
    ("import sys\nprint(sys.maxsize > 2**62, sys.float_info.dig, sys.version_info >= (3, 11))", "True 15 True\n"),
]


@pytest.mark.parametrize(("source", "stdout"), SYS_STAND_IN)
@pytest.mark.usefixtures("interpreter_limits")
def test_sys_stand_in(source: str, stdout: str) -> None:
    assert run_in_process(source) == stdout


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("import sys\nsys.exit(3)", SystemExit),
        ("from sys import modules", ImportError),
        ("import sys\nsys.setrecursionlimit(0)", ValueError),
        ("import sys\nsys.set_int_max_str_digits(10)", ValueError),
    ],
)
@pytest.mark.usefixtures("interpreter_limits")
def test_sys_stand_in_errors_are_cpython_s(source: str, error: type[BaseException]) -> None:
    with pytest.raises(error):
        run_in_process(source)


def test_hardened_as_strided_refuses_object_arrays() -> None:
    """In this process too: the wrapper only refuses strided views of arrays of objects."""
    from numpy.lib import stride_tricks

    harden_libraries()
    hardened = stride_tricks.as_strided
    harden_libraries()
    assert stride_tricks.as_strided is hardened
    with pytest.raises(PolicyViolation, match="as_strided on an array of Python objects"):
        run_in_process("import numpy as np\nnp.lib.stride_tricks.as_strided(np.array([1, None]), shape=(9,))")
    with pytest.raises(PolicyViolation, match="as_strided on an array of Python objects"):
        run_in_process("from numpy.lib.stride_tricks import as_strided\nas_strided([None, 2], shape=(9,))")
    numeric = "import numpy as np\nprint(np.lib.stride_tricks.as_strided(np.arange(4), shape=(2,), strides=(16,)))"
    assert run_in_process(numeric) == "[0 2]\n"


@pytest.mark.parametrize(
    "source",
    ["from dataclasses import *\nmake_dataclass", "from typing import *\nNamedTupleMeta", "from sys import *\nmodules"],
)
def test_star_import_leaves_out_what_may_not_be_held(source: str) -> None:
    with pytest.raises(NameError):
        run_in_process(source)


@pytest.mark.parametrize(
    ("source", "has_final_expression"),
    [("x = 1\nx", True), ("print(1)", True), ("x = 1", False), ("def solution():\n    return 1", False)],
)
def test_final_expression_is_split_off(source: str, has_final_expression: bool) -> None:
    assert (compile_program(source).final_expression is not None) is has_final_expression


@pytest.fixture
def monitor() -> AuditMonitor:
    monitor = AuditMonitor()
    monitor.armed = True
    return monitor


ALLOWED_EVENTS = [
    ("import", ("json", None, [], [], [])),
    ("open", ("/usr/lib/python3/json/__init__.py", "r", 0)),
    ("open", ("/usr/lib/python3/json/__init__.py", None, os.O_RDONLY)),
    ("os.listdir", ("/usr/lib/python3",)),
    ("compile", (b"x = 1", "<program>")),
    ("object.__getattr__", (len, "__code__")),
    ("time.sleep", (1,)),
]


@pytest.mark.parametrize(("event", "args"), ALLOWED_EVENTS)
def test_allowed_events_pass(monitor: AuditMonitor, event: str, args: tuple) -> None:
    monitor(event, args)


REFUSED_EVENTS = [
    ("pickle.find_class", ("posix", "system")),
    ("os.system", (b"true",)),
    ("os.remove", ("/tmp/x", -1)),
    ("open", ("/tmp/x", "w", 0)),
    ("open", ("/tmp/x", None, os.O_WRONLY | os.O_CREAT)),
    ("socket.connect", (None, ("127.0.0.1", 9))),
    ("subprocess.Popen", ("true", ["true"], None, None)),
    ("sys.addaudithook", ()),
]


@pytest.mark.parametrize(("event", "args"), REFUSED_EVENTS)
def test_refused_events(monitor: AuditMonitor, event: str, args: tuple) -> None:
    with pytest.raises(PolicyViolation, match="not allowed in the sandbox"):
        monitor(event, args)


def test_disarmed_monitor_ignores_everything(monitor: AuditMonitor) -> None:
    monitor.armed = False
    monitor("os.system", (b"true",))


# ---------------------------------------------------------------------------------------------
# Attribute names through library helpers: functools.update_wrapper and wraps read and write the
# attributes a program names, so the program's attribute policy applies to those names, and the
# wrapper must take the writes (sandbox.ownership).

HELPER_NAMES_REFUSED = {
    "globals copied by update_wrapper": (
        "import functools, fractions\ndef f():\n    pass\n"
        "functools.update_wrapper(f, fractions.Fraction.limit_denominator, assigned=(), updated=('__globals__',))",
        'update_wrapper: "__globals__" is an invalid attribute name',
    ),
    "globals copied by wraps": (
        "from functools import wraps\nimport fractions\n"
        "wraps(fractions.Fraction.limit_denominator, assigned=(), updated=('__globals__',))(lambda: 0)",
        'update_wrapper: "__globals__" is an invalid attribute name',
    ),
    "code grafted by update_wrapper": (
        "import functools, fractions\ndef f(self):\n    pass\n"
        "functools.update_wrapper(f, fractions.Fraction.limit_denominator, assigned=('__code__',), updated=())",
        'update_wrapper: "__code__" is an invalid attribute name',
    ),
    "class copied by update_wrapper": (
        "import functools\nclass A:\n    pass\nfunctools.update_wrapper(A(), 1, assigned=('__class__',), updated=())",
        'update_wrapper: "__class__" is an invalid attribute name',
    ),
    "a library object's private attribute copied": (
        "import functools, fractions\ndef f():\n    pass\n"
        "functools.update_wrapper(f, fractions.Fraction(1, 2), assigned=('_numerator',), updated=())",
        "update_wrapper: access to the private attribute '_numerator' of a Fraction object",
    ),
    "a library class as the wrapper": (
        "import functools, fractions\ndef f():\n    pass\nfunctools.update_wrapper(fractions.Fraction, f, updated=())",
        "update_wrapper: library classes are read-only: cannot modify 'Fraction'",
    ),
    "a library function as the wrapper": (
        "import functools, fractions\ndef f():\n    pass\n"
        "functools.update_wrapper(fractions.Fraction.limit_denominator, f, updated=())",
        "update_wrapper: cannot set '__module__' on a function object",
    ),
    "names given as a generator": (
        "import functools\ndef f():\n    pass\n"
        "functools.update_wrapper(f, len, assigned=(name for name in ['__self__']))",
        'update_wrapper: "__self__" is an invalid attribute name',
    ),
}


@pytest.mark.parametrize(("source", "message"), list(HELPER_NAMES_REFUSED.values()), ids=list(HELPER_NAMES_REFUSED))
def test_helper_attribute_names_pass_the_attribute_policy(source: str, message: str) -> None:
    assert message in refusal(source)


HELPER_NAMES_ALLOWED = {
    "wraps on the program's wrapper": (
        """
        import functools
        def trace(f):
            @functools.wraps(f)
            def wrapper(*args):
                return f(*args)
            return wrapper
        @trace
        def double(x):
            "twice x"
            return 2 * x
        print(double(4), double.__name__, double.__doc__)
        """,
        "8 double twice x\n",
    ),
    "update_wrapper on an instance of the program's class": (
        """
        import functools
        class Counted:
            def __init__(self, f):
                functools.update_wrapper(self, f)
                self.f, self.calls = f, 0
            def __call__(self, *args):
                self.calls += 1
                return self.f(*args)
        @Counted
        def square(x):
            return x * x
        print(square(3), square.calls, square.__name__)
        """,
        "9 1 square\n",
    ),
    "a library function wrapped": (
        "import functools, math\ndef root(x):\n    return math.sqrt(x)\n"
        "root = functools.wraps(math.sqrt)(root)\nprint(root(9), root.__name__)",
        "3.0 sqrt\n",
    ),
    "the program's own attribute names": (
        "from functools import update_wrapper\ndef f():\n    pass\nf.unit = 'cm'\ndef g():\n    pass\n"
        "update_wrapper(g, f, assigned=('unit',), updated=())\nprint(g.unit)",
        "cm\n",
    ),
}


@pytest.mark.parametrize(("source", "stdout"), list(HELPER_NAMES_ALLOWED.values()), ids=list(HELPER_NAMES_ALLOWED))
def test_helper_attribute_names_that_pass(source: str, stdout: str) -> None:
    assert run_in_process(source) == stdout


# ---------------------------------------------------------------------------------------------
# Writes: a program writes its own objects, a library object only through the properties and
# settings it offers, and never a slot a library class keeps (sandbox.ownership).

WRITES_REFUSED = {
    "a Field's name": (
        "import dataclasses\n@dataclasses.dataclass\nclass A:\n    x: int\ndataclasses.fields(A)[0].name = 'y'",
        "'name' of a Field object is a slot of the library class Field",
    ),
    "a Field's default, deleted": (
        "import dataclasses\n@dataclasses.dataclass\nclass A:\n    x: int = 0\ndel dataclasses.fields(A)[0].default",
        "'default' of a Field object is a slot of the library class Field",
    ),
    "a Symbol's name": ("import sympy\nsympy.Symbol('x').name = 'y'", "'name' of a Symbol object is a slot"),
    "a new attribute of a library object": (
        "from mpmath import mp\nmp.precision_bits = 99",
        "cannot set 'precision_bits' on a MPContext object",
    ),
    "sympy's registry, which writes its class": (
        "import sympy\nsympy.S.Zero = sympy.Integer(5)",
        "cannot set 'Zero' on a SingletonRegistry object",
    ),
    "an lru_cache wrapper's attributes": (
        "import functools\n@functools.lru_cache\ndef f(n):\n    return n\nf.calls = 0",
        "cannot set 'calls' on a _lru_cache_wrapper object",
    ),
    "a library slot shadowed by a class statement": (
        "import dataclasses\nclass F(dataclasses.Field):\n    name = 'x'",
        "F.name would replace a slot of the library class Field",
    ),
    "a library slot shadowed by type()": (
        "import dataclasses\nF = type('F', (dataclasses.Field,), {'name': property(lambda self: 'x')})",
        "F.name would replace a slot of the library class Field",
    ),
    "a library slot shadowed after the class statement": (
        "import dataclasses\nclass F(dataclasses.Field):\n    pass\nF.name = property(lambda self: 'x')",
        "F.name would replace a slot of the library class Field",
    ),
    "a library slot written on the program's subclass": (
        "import dataclasses\nclass F(dataclasses.Field):\n    pass\n"
        "f = F(None, None, True, True, None, True, None, False)\nf.name = 'y'",
        "'name' of a F object is a slot of the library class Field",
    ),
    "a module's dict": ("import copy\ncopy.dispatch_table[int] = None", "the dicts of modules and library classes"),
    "a module's dict, updated": (
        "from copy import dispatch_table\ndispatch_table.update({int: None})",
        "the dicts of modules and library classes",
    ),
}


@pytest.mark.parametrize(("source", "message"), list(WRITES_REFUSED.values()), ids=list(WRITES_REFUSED))
def test_writes_refused(source: str, message: str) -> None:
    assert message in refusal(source)


@pytest.fixture
def library_settings() -> Iterator[None]:
    """The allowed writes below change this process's decimal and mpmath settings: restore them."""
    import decimal

    import mpmath

    context, dps, pretty = decimal.getcontext().copy(), mpmath.mp.dps, mpmath.mp.pretty
    yield
    decimal.setcontext(context)
    mpmath.mp.dps, mpmath.mp.pretty = dps, pretty


WRITES_ALLOWED = {
    "a C type's attribute": (
        "from decimal import Decimal, getcontext\ngetcontext().prec = 5\nprint(Decimal(1) / 7)",
        "0.14286\n",
    ),
    "a property": ("from mpmath import mp\nmp.dps = 20\nprint(mp.pi)", "3.1415926535897932385\n"),
    "a setting in a library object's dict": (
        "from mpmath import mp, mpf\nmp.pretty = True\nprint(repr(mpf(2)))",
        "2.0\n",
    ),
    "numpy's shape": ("import numpy as np\na = np.arange(6)\na.shape = (2, 3)\nprint(a.shape)", "(2, 3)\n"),
    "a C type's member": (
        "import collections\nd = collections.defaultdict(list)\nd.default_factory = int\nd['x'] += 1\nprint(d['x'])",
        "1\n",
    ),
    "the program's objects": (
        """
        class Box:
            __slots__ = ('size',)
        class Tag:
            pass
        def f():
            pass
        box, tag = Box(), Tag()
        box.size, tag.label, f.unit, Tag.count = 3, 'a', 'cm', 1
        del tag.label
        print(box.size, f.unit, Tag.count, hasattr(tag, 'label'))
        """,
        "3 cm 1 False\n",
    ),
    "the program's subclass of a library class": (
        "from fractions import Fraction\nclass Half(Fraction):\n    pass\nh = Half(1, 2)\nh.label = 'half'\n"
        "print(h + 1, h.label)",
        "3/2 half\n",
    ),
    "the program's own slot in a subclass": (
        "import numbers\nclass N(numbers.Number):\n    __slots__ = ('value',)\nn = N()\nn.value = 4\nprint(n.value)",
        "4\n",
    ),
}


@pytest.mark.parametrize(("source", "stdout"), list(WRITES_ALLOWED.values()), ids=list(WRITES_ALLOWED))
@pytest.mark.usefixtures("library_settings")
def test_writes_allowed(source: str, stdout: str) -> None:
    assert run_in_process(source) == stdout


# ---------------------------------------------------------------------------------------------
# Values by the route they enter a program: attribute reads, imports, call results, item reads,
# iteration and unpacking, str.format (sandbox.values).

NUMPY_NAMESPACE = "import sympy\nsympy.lambdify(sympy.Symbol('x'), 1)\nfrom sympy.utilities.lambdify import NUMPY\n"

VALUES_REFUSED = {
    "attribute: a module": ("import fractions\nfractions.sys", "module 'sys' is not allowed"),
    "attribute: a denied module's function": (
        "import sympy.stats.rv as rv\nrv.import_module",
        "import_module of module 'sympy.external.importtools' is not allowed",
    ),
    "import: a denied module's function": (
        "from sympy.stats.rv import import_module",
        "import_module of module 'sympy.external.importtools' is not allowed",
    ),
    "import: a resolver that calls what it resolves": (
        "from sympy.core.cache import lazy_function",
        "lazy_function is not allowed",
    ),
    "call: the real eval": (
        "from sympy.utilities.source import get_class\nget_class('builtins.eval')",
        "the builtin eval is not allowed",
    ),
    "call: a function of a module that is not allowed": (
        "from sympy.utilities.source import get_class\nget_class('os.system')",
        "system of module 'posix' is not allowed",
    ),
    "call: a module's private function": (
        "from sympy.utilities.source import get_class\nget_class('dataclasses._create_fn')",
        "the private function dataclasses._create_fn is not allowed",
    ),
    "call: the real type": ("import typing\ntyping.get_origin(typing.Type[int])", "the builtin type is not allowed"),
    "item: a denied module": (NUMPY_NAMESPACE + "NUMPY['ctypeslib']", "module 'numpy.ctypeslib' is not allowed"),
    "iteration: a denied module": (
        NUMPY_NAMESPACE + "for value in NUMPY.values():\n    pass",
        "module 'numpy.",
    ),
    "unpacking: a denied module": (
        NUMPY_NAMESPACE + "for name, value in NUMPY.items():\n    pass",
        "module 'numpy.",
    ),
    "str.format: a module": ("import fractions\n'{0.sys}'.format(fractions)", "module 'sys' is not allowed"),
}


@pytest.mark.parametrize(("source", "message"), list(VALUES_REFUSED.values()), ids=list(VALUES_REFUSED))
def test_values_refused_by_route(source: str, message: str) -> None:
    assert message in refusal(source)


VALUES_ALLOWED = {
    "attribute: a C accelerator's function": ("import operator\nprint(operator.add(1, 2))", "3\n"),
    "attribute: a function defined in a private submodule": (
        "import numpy as np\nprint(np.random.default_rng(0).integers(0, 1, 2))",
        "[0 0]\n",
    ),
    "import: the guards' update_wrapper": (
        "from functools import update_wrapper\ndef f():\n    pass\ndef g():\n    pass\n"
        "print(update_wrapper(g, f).__name__)",
        "f\n",
    ),
    "call: a library class, resolved": (
        "from sympy.utilities.source import get_class\nprint(get_class('fractions.Fraction')(1, 3))",
        "1/3\n",
    ),
    "call: functions made at run time": (
        "import sympy, functools\nx = sympy.Symbol('x')\nf = sympy.lambdify(x, x + 1)\n"
        "g = functools.lru_cache(maxsize=None)(lambda n: n)\nprint(f(1), g(2), sympy.Function('h')(x))",
        "2 2 h(x)\n",
    ),
    "call: bound and unbound methods": (
        "import re\nitems = []\nadd = items.append\nadd(1)\nupper = str.upper\n"
        "print(items, upper('a'), re.compile('a').sub('b', 'aa'), (1).__add__(2))",
        "[1] A bb 3\n",
    ),
    "call: a class, by type()": ("import fractions\nprint(type(fractions.Fraction(1)).__name__)", "Fraction\n"),
    "item: plain values": ("import numpy as np\nprint({'a': 1}['a'], np.arange(3)[1], 'abc'[1:])", "1 1 bc\n"),
    "iteration: plain values and library objects": (
        "import sympy\nprint([str(s) for s in sympy.symbols('a b')], [c for c in 'ab'], [i for i in range(2)])",
        "['a', 'b'] ['a', 'b'] [0, 1]\n",
    ),
}


@pytest.mark.parametrize(("source", "stdout"), list(VALUES_ALLOWED.values()), ids=list(VALUES_ALLOWED))
def test_values_allowed_by_route(source: str, stdout: str) -> None:
    assert run_in_process(source) == stdout


@pytest.fixture(scope="module")
def value_policy() -> ValuePolicy:
    """The value policy for a program namespace's builtins, giving nothing of its own."""
    return ValuePolicy(ProgramGuards().namespace()["__builtins__"], given=(), given_modules=(), substitutes={})


def _frame() -> types.FrameType:
    return sys._getframe()


VALUE_REFUSALS = [
    (eval, "the builtin eval is not allowed"),
    (builtins.__import__, "the builtin __import__ is not allowed"),
    (getattr, "the builtin getattr is not allowed"),
    (type, "the builtin type is not allowed"),
    (vars(builtins), "a namespace is not allowed"),
    (vars(fractions), "a namespace is not allowed"),
    (os, "module 'os' is not allowed"),
    (_frame(), "frame objects are not allowed"),
    (_frame.__code__, "code objects are not allowed"),
    (types.CodeType, "code objects are not allowed"),
    (numbers.Number.__class__, "the metaclass 'ABCMeta' is not allowed"),
    (os.system, "system of module 'posix' is not allowed"),
    (sys._getframe, "_getframe of module 'sys' is not allowed"),
    (importlib.import_module, "import_module of module 'importlib' is not allowed"),
    (dataclasses._create_fn, "the private function dataclasses._create_fn is not allowed"),  # type: ignore[attr-defined]
    (operator.attrgetter, "attrgetter is not allowed"),
    (string.Formatter, "Formatter is not allowed"),
    (dataclasses.make_dataclass, "make_dataclass is not allowed"),
    (functools.partial(os.system, "true"), "system of module 'posix' is not allowed"),
    (types.MethodType(os.system, 1), "system of module 'posix' is not allowed"),
    (io.FileIO.read, "FileIO of module '_io' is not allowed"),
]


@pytest.mark.parametrize(("value", "message"), VALUE_REFUSALS, ids=[message for _, message in VALUE_REFUSALS])
def test_value_refusals(value_policy: ValuePolicy, value: object, message: str) -> None:
    assert message in (value_policy.refusal(value) or "")


VALUES_HELD = [
    1,
    "text",
    [os],  # containers are not searched: what comes out of them is checked as it comes out
    {"a": 1},
    len,
    int,
    print,
    RecursionError,
    operator.add,
    functools.reduce,
    fractions.Fraction,
    fractions.Fraction.limit_denominator,
    fractions.Fraction(1, 2).limit_denominator,
    [].append,
    str.upper,
    dict.fromkeys,
    (1).__add__,
    int.__add__,
    functools.partial(max, 1),
    functools.lru_cache(maxsize=None)(abs),
    type(functools.lru_cache(maxsize=None)(abs)),
    numbers.Number,
    collections.namedtuple("Point", "x y")(1, 2)._replace,
    iter([]),
    eval("lambda: 0", {}),  # made at run time by library code, as lambdify makes its functions: no module
]


def held_id(value: object) -> str:
    """The value's repr without its address, the same in every process (pytest-xdist's workers
    must collect the same ids)."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


@pytest.mark.parametrize("value", VALUES_HELD, ids=held_id)
def test_values_held(value_policy: ValuePolicy, value: object) -> None:
    assert value_policy.refusal(value) is None


# The interpreter's audited attribute writes: only grafted code and relabelled library classes are
# refused; ordinary programs make the others through the libraries.
_Made = collections.namedtuple("_Made", "x")
# What namedtuple relabels: a class it just made, which its own module does not name.
_FRESH = type("Point", (tuple,), {"__module__": "collections"})

ATTRIBUTE_EVENTS_ALLOWED = [
    ("namedtuple relabels the class it made", (_FRESH, "__module__", "<program>")),
    ("namedtuple sets its __new__'s defaults", (_Made.__new__, "__defaults__", (0,))),
    ("typing.NamedTuple sets a class's bases", (_Made, "__bases__", (tuple,))),
    ("dataclasses sets a class's doc", (_Made, "__doc__", "_Made(x)")),
    ("a library class given another module", (fractions.Fraction, "__module__", "fractions")),
]


@pytest.mark.parametrize(
    ("event", "args"),
    [("object.__setattr__", args) for _, args in ATTRIBUTE_EVENTS_ALLOWED]
    + [("object.__getattr__", (len, "__code__"))],
    ids=[name for name, _ in ATTRIBUTE_EVENTS_ALLOWED] + ["inspect reads __code__"],
)
def test_attribute_events_allowed(monitor: AuditMonitor, event: str, args: tuple) -> None:
    monitor(event, args)


def test_a_program_class_may_be_given_its_own_module(monitor: AuditMonitor) -> None:
    """``functools.wraps(f)(K)`` writes ``K.__module__`` even when it does not change."""
    namespace = ProgramGuards().namespace()
    exec(compile_program("class K:\n    pass").body, namespace)
    monitor("object.__setattr__", (namespace["K"], "__module__", "<program>"))


ATTRIBUTE_EVENTS_REFUSED = [
    ((_frame, "__code__", len.__call__), "setting the code of"),
    ((fractions.Fraction, "__module__", "<program>"), "relabelling the library class fractions.Fraction"),
    ((dataclasses.Field, "__module__", "<program>"), "relabelling the library class dataclasses.Field"),
]


@pytest.mark.parametrize(("args", "message"), ATTRIBUTE_EVENTS_REFUSED, ids=[m for _, m in ATTRIBUTE_EVENTS_REFUSED])
def test_attribute_events_refused(monitor: AuditMonitor, args: tuple, message: str) -> None:
    with pytest.raises(PolicyViolation, match=message):
        monitor("object.__setattr__", args)


# What CPython 3.11 itself audits, in an interpreter of its own (audit hooks cannot be removed):
# the library calls ordinary programs make write audited attributes and pass; grafted code and a
# relabelled library class do not.
_AUDITED = """
import collections, dataclasses, sys, typing
from potcot.sandbox.audit import AuditMonitor
from potcot.sandbox.restricted import PolicyViolation
monitor = AuditMonitor()
sys.addaudithook(monitor)
monitor.armed = True
Point = collections.namedtuple('Point', 'x y', defaults=(0,), module='<program>')
class Pair(typing.NamedTuple):
    a: int
    b: int = 2
@dataclasses.dataclass
class Cell:
    x: int
print(Point(1), Pair(1), Cell(1))
def f():
    return 1
for write in (lambda: setattr(f, '__code__', Cell.__init__.__code__),
              lambda: setattr(dataclasses.Field, '__module__', '<program>')):
    try:
        write()
    except PolicyViolation as refused:
        print(refused)
"""


def test_cpython_audits_what_the_hook_refuses_and_ordinary_calls_pass() -> None:
    completed = subprocess.run([sys.executable, "-c", _AUDITED], capture_output=True, text=True, check=True)
    assert completed.stdout.splitlines() == [
        "Point(x=1, y=0) Pair(a=1, b=2) Cell(x=1)",
        "setting the code of __main__.f is not allowed: a function's code is its own",
        "relabelling the library class dataclasses.Field as the program's is not allowed",
    ]
