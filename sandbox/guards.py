"""The guards a program's globals carry: what RestrictedPython's rewritten code calls at run time,
and the builtins and stand-ins that would otherwise go around them.

- a private attribute (``obj._x``) is readable only on the program's own objects (its classes,
  their instances, its functions, ``super()`` in its methods), and only when no library base class
  defines it (``dataclasses._create_fn``, ``Fraction._operator_fallbacks`` stay refused);
- an attribute write lands only where ``sandbox.ownership`` lets a program write: its own objects,
  and a library object's properties and settings, never a library's slot, module or class; a
  class statement may not replace a slot of its library base either (``__build_class__``);
- every value that library code hands the program passes the value policy of ``sandbox.values``,
  on whichever route it comes: attribute reads, imports, call results (``_result_``), item reads
  (``_getitem_``), iteration and unpacking (``_getiter_``), ``str.format`` fields; the dicts,
  lists and sets of modules and library classes come back as read-only copies;
- the program's ``type`` is ``GuardedType``: ``type(x)`` gives the real class of ``x``, but
  ``GuardedType`` where that is the real ``type`` (so ``type(int) is type`` holds) and a refusal
  where it is another metaclass; ``type(name, bases, members)`` refuses the dunder members a
  class body may not define. A metaclass builds classes from arbitrary dicts, so none can be held
  as a value either (``numbers.ABCMeta``); with class bodies checked, the program's own code
  cannot make an object that carries ``__array_interface__`` or ``__array_struct__``;
- ``import sys`` gives a stand-in with what math programs use of it, and ``functools``'
  ``update_wrapper`` and ``wraps`` are stand-ins that apply the attribute policy to the names
  the program passes them;
- ``harden_libraries`` replaces, once per template, what the libraries export that no guard can
  see into.

Closed since the guards were first written, each by the policy for its class: library helpers
that read or write attributes a program names (``update_wrapper(..., updated=('__globals__',))``,
``copy`` applying a reducer's state), code generation fed by a library object's fields
(``Field.name`` in the source ``dataclasses`` executes, lambdify's ``MODULES``), and
string-to-object resolvers (``sympy.utilities.source.get_class('builtins.eval')``), as well as
library functions that return the real ``type`` (``typing.get_origin(typing.Type[int])``).

What remains, by design, for the process layer. numpy offers memory primitives that this layer
cannot intercept: ``as_strided`` on a numeric array reads and writes the process's memory around
it (``harden_libraries`` refuses it only on arrays of objects), and
``numpy.ndarray(shape, object, buffer=...)`` forges object references from raw bytes (``ndarray``
is an immutable C type that programs need for ``isinstance``, so it cannot be wrapped). Library
functions that build a class from a program's dict (``sympy.Function`` with keyword attributes)
or evaluate strings (``sympy.sympify``, ``lambdify``, ``typing.get_type_hints``,
``mpmath.identify``'s constants) give full Python. The value policy does not see what library
code passes into the program's own functions (a ``key=`` function, a callback), what operators
and ``with`` give; only the first level of a module's containers is read-only (the dicts inside
lambdify's ``MODULES`` are not); and a library helper may still write attributes the program
names onto a new object it made
(``DifferentialExtension(extension=...)`` in ``sympy.integrals.risch``), or state of the
program's choosing into a copy (``copy.deepcopy`` with a program's ``memo``). So a program that
tries hard can run any code in its own process: the boundary is that process, fresh for each
program and confined by the kernel (``sandbox.jail``), not this module.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import operator
import string
import sys
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from potcot.sandbox.ownership import (
    class_member_refusal,
    container_refusal,
    is_own_private,
    is_program_class,
    write_refusal,
)
from potcot.sandbox.policy import CLASS_BODY_NAMES, READABLE_ATTRIBUTES, SPECIAL_METHODS, is_dunder
from potcot.sandbox.restricted import PROGRAM_MODULE, PolicyViolation, attribute_name_refusal
from potcot.sandbox.values import ValuePolicy, read_only

# CPython 3.11 counts Python and C calls against the recursion limit, and recursion through C code
# (``map``, operators and ``__format__`` of a program's class) uses the C stack: measured with an
# 8 MiB stack, such recursions kill the process with SIGSEGV once the limit passes about 15,000.
# Up to the cap every recursion ends as a RecursionError, which the program can catch and report,
# and plain recursion still reaches 10,000 levels (memoised with ``lru_cache``, about 5,000).
RECURSION_LIMIT_CAP = 10_000
# Converting an int to str takes time quadratic in its digits on CPython 3.11: 0.2 s at 100,000
# digits, 24 s at a million. Programs that lift the limit (``set_int_max_str_digits(0)``) get this
# cap, so a conversion past it fails with CPython's own ValueError rather than a timeout.
INT_DIGITS_CAP = 100_000


def _attribute_refusal(obj: Any, name: str, writing: bool = False) -> str | None:
    """Why this program may not read (or write) ``obj.name``, or None."""
    refusal = attribute_name_refusal(name, writing)
    if refusal is not None:
        return refusal
    if obj is GuardedType and is_dunder(name) and name not in READABLE_ATTRIBUTES:
        return f"attribute {name!r} of type is not allowed: type builds classes"
    if name.startswith("_") and not is_dunder(name) and not is_own_private(obj, name):
        return (
            f"access to the private attribute {name!r} of a {type(obj).__name__} object is not allowed: "
            "only the program's own objects show their private attributes"
        )
    return None


# ---------------------------------------------------------------------------------------------
# Guards: the functions RestrictedPython's rewritten code calls, and the builtins that would go
# around them.


def _attribute_name(name: Any) -> str:
    """``name`` as an attribute name, refusing ``str`` subclasses whose ``startswith`` could lie."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    return name


def guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """The program's ``getattr``, and what ``obj.name`` compiles to. What it finds passes the value
    policy; a module's or library class's dict, list or set comes back read-only."""
    name = _attribute_name(name)
    if name.startswith("_") or name in INSPECT_ATTRIBUTES:
        refusal = _attribute_refusal(obj, name)
        if refusal is not None:
            raise PolicyViolation(refusal)
        value = getattr(obj, name, *default)
    elif isinstance(obj, str) and name in ("format", "format_map"):
        return functools.partial(_safe_format if name == "format" else _safe_format_map, obj)
    else:
        try:
            value = safer_getattr_raise(obj, name, *default)
        except NotImplementedError as refused:
            raise PolicyViolation(str(refused)) from None
    if default and value is default[0]:
        return value
    if isinstance(obj, _NAMESPACES):
        value = _as_held_by(obj, value)
    return _admit(value)


_NAMESPACES = (types.ModuleType, type)


def _as_held_by(owner: Any, value: Any) -> Any:
    """``value`` as the program sees it in ``owner``: read-only when ``owner`` is a module or a
    library class, whose containers are library state as their other attributes are."""
    if isinstance(owner, _NAMESPACES) and not is_program_class(owner):
        return read_only(value)
    return value


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_write(obj: Any, attribute: str | None = None) -> Any:
    """What ``obj[key] = v`` and, with the attribute's name, ``obj.attr = v`` write through.
    Modules and library classes are read-only; an attribute write must also pass the attribute
    policy and land where ``sandbox.ownership`` lets a program write (``getcontext().prec = 50``
    does, a library object's slot does not)."""
    if attribute is None:
        refusal = container_refusal(obj)
    else:
        refusal = _attribute_refusal(obj, attribute, writing=True) or write_refusal(obj, attribute)
    if refusal is not None:
        raise PolicyViolation(refusal)
    return obj


def guarded_setattr(obj: Any, name: str, value: Any) -> None:
    name = _attribute_name(name)
    setattr(guarded_write(obj, name), name, value)


def guarded_delattr(obj: Any, name: str) -> None:
    name = _attribute_name(name)
    delattr(guarded_write(obj, name), name)


# functools' own choice of what a wrapper copies from what it wraps: names and documentation, the
# wrapped function's ``__dict__``, and ``__wrapped__`` itself.
_WRAPPER_METADATA = frozenset((*functools.WRAPPER_ASSIGNMENTS, *functools.WRAPPER_UPDATES, "__wrapped__"))


def update_wrapper(
    wrapper: Any,
    wrapped: Any,
    assigned: Iterable[str] = functools.WRAPPER_ASSIGNMENTS,
    updated: Iterable[str] = functools.WRAPPER_UPDATES,
) -> Any:
    """``functools.update_wrapper`` for programs. It reads each name of ``assigned`` and
    ``updated`` from ``wrapped`` and writes it on, or updates it in, ``wrapper``: what ``getattr``
    and ``setattr`` would do, so the same policy applies. Called with the names the program
    chose, ``updated=('__globals__',)`` would copy a library function's globals (its ``sys``, the
    real builtins) into the program's, and ``assigned=('__code__',)`` would graft a library
    function's code onto the program's. functools' own names pass the attribute policy's name
    test without being readable to the program, so ``@wraps(f)`` keeps working; ``wrapper`` must
    take every write (a library class cannot be relabelled as the program's)."""
    assigned, updated = tuple(assigned), tuple(updated)
    for name in (*assigned, *updated, "__wrapped__"):
        refusal = _wrapper_refusal(wrapper, wrapped, _attribute_name(name))
        if refusal is not None:
            raise PolicyViolation(f"update_wrapper: {refusal}")
    return functools.update_wrapper(wrapper, wrapped, assigned, updated)


def _wrapper_refusal(wrapper: Any, wrapped: Any, name: str) -> str | None:
    if name not in _WRAPPER_METADATA:
        refusal = _attribute_refusal(wrapped, name) or _attribute_refusal(wrapper, name, writing=True)
        if refusal is not None:
            return refusal
    return write_refusal(wrapper, name)


def wraps(
    wrapped: Any,
    assigned: Iterable[str] = functools.WRAPPER_ASSIGNMENTS,
    updated: Iterable[str] = functools.WRAPPER_UPDATES,
) -> Callable[[Any], Any]:
    """``functools.wraps`` for programs: the decorator applies ``update_wrapper`` above."""
    return functools.partial(update_wrapper, wrapped=wrapped, assigned=assigned, updated=updated)


def _build_class(body: Callable[..., Any], name: str, *bases: Any, **keywords: Any) -> Any:
    """``__build_class__`` for class statements: the class, once its body has run, must not
    replace a slot that a library base class keeps (``sandbox.ownership``)."""
    cls = builtins.__build_class__(body, name, *bases, **keywords)
    refusal = class_member_refusal(cls, vars(cls)) if isinstance(cls, type) else None
    if refusal is not None:
        raise PolicyViolation(refusal)
    return cls


class _ProgramTypeMeta(type):
    """The metaclass of ``GuardedType``: it makes the program's ``type`` answer calls,
    ``isinstance`` and ``issubclass`` as the real ``type`` does."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _type_call(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, type)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, type) or any(base is cls for base in subclass.__mro__)


class GuardedType(metaclass=_ProgramTypeMeta):
    """``type`` as programs see it. See ``_type_call``."""

    __module__ = "builtins"
    __qualname__ = "type"


GuardedType.__name__ = "type"


def _type_call(*args: Any, **kwargs: Any) -> Any:
    """``type(x)``: the class of ``x``; ``type(name, bases, members)``: a class, whose members
    pass the tests a class statement's pass."""
    if len(args) == 1 and not kwargs:
        return _class_of(args[0])
    if len(args) != 3:
        raise TypeError("type() takes 1 or 3 arguments")
    name, bases, members = args
    if not isinstance(members, dict):
        raise TypeError(f"type.__new__() argument 3 must be dict, not {type(members).__name__}")
    members = {**members}  # a plain copy: what is checked is what the class gets
    for key in members:
        _check_class_member(key)
    members["__module__"] = PROGRAM_MODULE
    cls = type(name, bases, members, **kwargs)
    refusal = class_member_refusal(cls, members)
    if refusal is not None:
        raise PolicyViolation(refusal)
    return cls


def _check_class_member(key: Any) -> None:
    if type(key) is not str:
        raise PolicyViolation("type(): class member names must be strings")
    if is_dunder(key) and key not in SPECIAL_METHODS and key not in CLASS_BODY_NAMES:
        raise PolicyViolation(f"type(): class member {key!r} is not allowed: it is not a special method")


def _class_of(obj: Any) -> type:
    """The real class of ``obj``, but ``GuardedType`` for the real ``type``; other metaclasses are
    refused."""
    cls = type(obj)
    if cls is type or cls is _ProgramTypeMeta:
        return GuardedType
    if issubclass(cls, type):
        raise PolicyViolation(
            f"type() of a class made by the metaclass {cls.__name__!r} is not allowed: "
            "a metaclass builds classes from arbitrary dicts"
        )
    return cls


def _inplace_var(op: str, target: Any, value: Any) -> Any:
    return _INPLACE_OPERATORS[op](target, value)


def _inplace_setattr(obj: Any, name: str, op: str, value: Any) -> None:
    setattr(guarded_write(obj, name), name, _INPLACE_OPERATORS[op](guarded_getattr(obj, name), value))


def _inplace_setitem(obj: Any, key: Any, op: str, value: Any) -> None:
    guarded_write(obj)[key] = _INPLACE_OPERATORS[op](obj[key], value)


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


# ---------------------------------------------------------------------------------------------
# Imports, and the stand-in for ``sys``.


def guarded_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    """The program's ``__import__``. Module names were checked at compile time; what is left is
    ``from allowed import name``, which binds each name as the program may hold it (refused,
    read-only, or the stand-in, as ``from functools import wraps`` binds the guards' ``wraps``)."""
    if level != 0:
        raise PolicyViolation("relative imports are not allowed")
    module = _STAND_INS.get(name) or builtins.__import__(name, globals, locals, fromlist, level)
    found = {item: getattr(module, item, _MISSING) for item in fromlist or ()}
    held = {item: _admit(_as_held_by(module, value)) for item, value in found.items() if value is not _MISSING}
    if all(value is found[item] for item, value in held.items()):
        return module
    return _module_holding(module, held)


_MISSING = object()


def _module_holding(module: types.ModuleType, values: Mapping[str, Any]) -> types.ModuleType:
    """A module named as ``module`` that holds ``values``: what an import statement takes the
    names it binds from, when they are not ``module``'s own attributes."""
    view = types.ModuleType(module.__name__, module.__doc__)
    view.__dict__.update(values)
    return view


def _import_star(namespace: dict[str, Any], module_name: str) -> None:
    """``from sympy import *``: public names only, each as the program may hold it, and none the
    program may not hold."""
    module = _STAND_INS.get(module_name) or builtins.__import__(module_name, fromlist=("*",))
    names = getattr(module, "__all__", None) or [name for name in vars(module) if not name.startswith("_")]
    for name in names:
        if not isinstance(name, str) or name.startswith("_"):
            continue
        try:
            namespace[name] = _admit(_as_held_by(module, getattr(module, name, None)))
        except PolicyViolation:
            continue


def _setrecursionlimit(limit: int) -> None:
    """``sys.setrecursionlimit``, clamped to ``RECURSION_LIMIT_CAP``."""
    sys.setrecursionlimit(min(operator.index(limit), RECURSION_LIMIT_CAP))


def _set_int_max_str_digits(maxdigits: int) -> None:
    """``sys.set_int_max_str_digits``, clamped to ``INT_DIGITS_CAP``; 0 (no limit) means the cap."""
    digits = operator.index(maxdigits)
    sys.set_int_max_str_digits(INT_DIGITS_CAP if digits == 0 else min(digits, INT_DIGITS_CAP))


class _StandardStream:
    """``sys.stdout`` or ``sys.stderr`` as programs see it: each call goes to the stream the
    runner installed at the time of the call, and nothing else of that stream is exposed."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def write(self, text: str) -> int:
        return getattr(sys, self._name).write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        getattr(sys, self._name).writelines(lines)

    def flush(self) -> None:
        getattr(sys, self._name).flush()


def _sys_stand_in() -> types.ModuleType:
    """What ``import sys`` gives a program: limits within caps, facts about numbers and the
    version, the output streams and ``exit``. Every other attribute is absent, as if this
    Python had none (``sys.modules`` raises AttributeError)."""
    module = types.ModuleType("sys", "The parts of the sys module that math programs use.")
    module.__dict__.update(
        setrecursionlimit=_setrecursionlimit,
        getrecursionlimit=sys.getrecursionlimit,
        set_int_max_str_digits=_set_int_max_str_digits,
        get_int_max_str_digits=sys.get_int_max_str_digits,
        maxsize=sys.maxsize,
        float_info=sys.float_info,
        int_info=sys.int_info,
        version_info=sys.version_info,
        stdout=_StandardStream("stdout"),
        stderr=_StandardStream("stderr"),
        exit=sys.exit,
    )
    return module


_STAND_INS: Mapping[str, types.ModuleType] = types.MappingProxyType({"sys": _sys_stand_in()})


# ---------------------------------------------------------------------------------------------
# Formatting and printing.


class _SafeFormatter(string.Formatter):
    """``str.format`` whose replacement fields go through the attribute guard:
    ``"{0.__class__}".format(x)`` is the classic way around RestrictedPython."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        first, rest = _formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            obj = guarded_getattr(obj, key) if is_attribute else _VALUES.item(obj, key)
        return obj, first


_formatter_field_name_split = string._string.formatter_field_name_split  # type: ignore[attr-defined]
_FORMATTER = _SafeFormatter()


def _safe_format(template: str, *args: Any, **kwargs: Any) -> str:
    return _FORMATTER.vformat(template, args, kwargs)


def _safe_format_map(template: str, mapping: Mapping[str, Any]) -> str:
    return _FORMATTER.vformat(template, (), mapping)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


class _Printer:
    """What RestrictedPython's ``print`` rewrite calls: plain ``print`` to the captured stdout."""

    def __init__(self, _getattr_: Callable[..., Any] | None = None) -> None:
        pass

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        print(*objects, **kwargs)

    def __call__(self) -> str:
        return ""


# ---------------------------------------------------------------------------------------------
# A program's namespace.

_EXTRA_BUILTINS = (
    "all any bin bytearray bytes classmethod dict enumerate filter format frozenset iter list map max "
    "min next object property reversed set sorted staticmethod sum super tuple zip NotImplemented"
).split()

# Builtins a program might reach for: refused with a clear error rather than a NameError.
_REFUSED_BUILTINS = "breakpoint compile dir eval exec exit globals help input locals memoryview open quit vars".split()


def _refused(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PolicyViolation(f"{name}() is not allowed in the sandbox")

    return refuse


_PROGRAM_BUILTINS: Mapping[str, Any] = types.MappingProxyType(
    {
        **{name: _refused(name) for name in _REFUSED_BUILTINS},
        **{name: value for name, value in safe_builtins.items() if name not in ("_getattr_", "setattr", "delattr")},
        **{name: getattr(builtins, name) for name in _EXTRA_BUILTINS},
        "type": GuardedType,
        "getattr": guarded_getattr,
        "hasattr": guarded_hasattr,
        "setattr": guarded_setattr,
        "delattr": guarded_delattr,
        "_getattr_": guarded_getattr,
        "__import__": guarded_import,
        "__build_class__": _build_class,
    }
)

_VALUES = ValuePolicy(
    held_builtins=_PROGRAM_BUILTINS,
    given=[
        *_PROGRAM_BUILTINS.values(),
        *_STAND_INS.values(),
        *(value for module in _STAND_INS.values() for value in vars(module).values()),
    ],
    given_modules={__name__},
    substitutes={functools.update_wrapper: update_wrapper, functools.wraps: wraps},
)
_admit = _VALUES.admit

_GUARDS: Mapping[str, Any] = types.MappingProxyType(
    {
        "__metaclass__": type,
        "_getattr_": guarded_getattr,
        "_write_": guarded_write,
        "_result_": _admit,
        "_getitem_": _VALUES.item,
        "_getiter_": _VALUES.iterate,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": _inplace_var,
        "_inplace_setattr_": _inplace_setattr,
        "_inplace_setitem_": _inplace_setitem,
        "_slice_": slice,
        "_apply_": _apply,
        "_print_": _Printer,
        "_print": _Printer(),
    }
)


class ProgramGuards:
    """The guards one program run's globals carry."""

    def namespace(self) -> dict[str, Any]:
        """A fresh global namespace for one program: the dict of a module registered as
        ``PROGRAM_MODULE``, so that what the standard library looks up by a class's
        ``__module__`` finds the program, as it finds ``__main__`` for a script (dataclasses
        resolves string annotations there, ``typing.get_type_hints`` evaluates them there)."""
        module = types.ModuleType(PROGRAM_MODULE)
        namespace = module.__dict__
        namespace.update(_GUARDS)
        namespace["__builtins__"] = dict(_PROGRAM_BUILTINS)
        namespace["_import_star_"] = functools.partial(_import_star, namespace)
        sys.modules[PROGRAM_MODULE] = module
        return namespace


# ---------------------------------------------------------------------------------------------
# Hardening the libraries, once per template.


class _NumericAsStrided:
    """``numpy.lib.stride_tricks.as_strided`` for programs: refused on arrays that hold Python
    objects, where a strided view reads object pointers from arbitrary memory and so forges
    references; on numeric arrays it is numpy's own."""

    __slots__ = ("_as_strided", "_asarray")

    def __init__(self, as_strided: Callable[..., Any], asarray: Callable[[Any], Any]) -> None:
        self._as_strided = as_strided
        self._asarray = asarray

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self._asarray(x).dtype.hasobject:
            raise PolicyViolation("as_strided on an array of Python objects is not allowed")
        return self._as_strided(x, *args, **kwargs)


def harden_libraries() -> None:
    """Replace what the libraries export that the guards cannot see into. A template calls this
    once, after importing the libraries and before forking any program's process; calling it
    again changes nothing. numpy's own callers of ``as_strided`` bound the private module's
    function when they were imported and are unaffected."""
    stride_tricks = importlib.import_module("numpy.lib.stride_tricks")
    if not isinstance(stride_tricks.as_strided, _NumericAsStrided):
        numeric_only = _NumericAsStrided(stride_tricks.as_strided, importlib.import_module("numpy").asarray)
        stride_tricks.as_strided = numeric_only  # type: ignore[attr-defined]  # numpy's stub does not re-export it
