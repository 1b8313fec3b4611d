"""The in-process policy as pure functions: imports, compilation, the runtime guards, and the audit
monitor. Programs run here as the runner runs them (compiled under the policy, then executed in
``ProgramGuards().namespace()``), in this process: no sandbox is needed to test the policy."""

import contextlib
import io
import os
import sys
import textwrap
from collections.abc import Iterator

import pytest

from potcot.sandbox.audit import AuditMonitor
from potcot.sandbox.guards import INT_DIGITS_CAP, RECURSION_LIMIT_CAP, ProgramGuards, harden_libraries
from potcot.sandbox.policy import SPECIAL_METHODS, is_importable, may_import
from potcot.sandbox.restricted import CompileError, PolicyViolation, compile_program

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
    with pytest.raises(PolicyViolation) as raised:
        run_in_process(source)
    assert message in str(raised.value)


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
