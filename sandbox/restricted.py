"""The in-process layer: RestrictedPython compilation and the guards a program's globals carry.

RestrictedPython rewrites attribute access, item access, iteration, printing and imports into
calls of guard functions; this module supplies them. Its default guards were made for Zope, where
iterating or mutating an object can bypass a security proxy; programs here hold no proxies and run
in a throw-away process, so the guards below keep what protects the host (no underscore or frame
attributes, no modules outside the allow-list, no writes to modules or library classes) and let
ordinary math code run: ``counts[k] += 1``, ``"{:.2f}".format(x)``, ``sorted``, ``zip``, numpy
item assignment. RestrictedPython cannot see into library code a program calls (``sympy.sympify``
evaluates strings), which is why every program also runs under the OS layers of ``sandbox.jail``.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import operator
import string
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
)

from sandbox.policy import is_importable
from sandbox.result import Status

PROGRAM_FILENAME = "<program>"
# Classes a program defines carry this module name, which is how the write guard tells them apart
# from library classes. Programs themselves see ``__name__ == "__main__"``.
PROGRAM_MODULE = "<program>"


class PolicyViolation(Exception):
    """A program did something the sandbox forbids."""


class CompileError(Exception):
    """A program that cannot run at all: bad syntax, or a construct the policy refuses."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledProgram:
    """A program split the way notebooks run cells: its body, then its final bare expression,
    whose value is the answer when nothing was printed."""

    body: types.CodeType
    final_expression: types.CodeType | None


class MathProgramPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, relaxed only where it refuses common, harmless math code."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "__name__" and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant("__main__"), node)
        return super().visit_Name(node)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> ast.AST:
        return self.node_contents_visit(node)

    def visit_Import(self, node: ast.Import) -> ast.AST:
        for alias in node.names:
            self._check_module(node, alias.name)
        return super().visit_Import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if node.level:
            self.error(node, "relative imports are not allowed.")
            return node
        self._check_module(node, node.module or "")
        if [alias.name for alias in node.names] == ["*"]:
            call = _call("_import_star_", ast.Constant(node.module))
            return ast.fix_missing_locations(ast.copy_location(ast.Expr(call), node))
        return super().visit_ImportFrom(node)

    def _check_module(self, node: ast.stmt, name: str) -> None:
        """Imports are checked here, where a program names them, rather than in ``__import__``:
        C code that a program calls (numpy's) imports its own private modules through the
        program's ``__import__``, and those imports are the library's business."""
        if not is_importable(name):
            self.error(node, f"import of {name!r} is not allowed.")

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        """``obj.attr += v`` and ``obj[key] += v`` become one guarded helper call, so the target is
        evaluated once and the write still passes through ``_write_``."""
        if isinstance(node.target, ast.Name):
            return super().visit_AugAssign(node)
        node = self.node_contents_visit(node)
        target = node.target
        operation = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        if isinstance(target, ast.Attribute):
            call = _call("_inplace_setattr_", target.value, ast.Constant(target.attr), operation, node.value)
        else:
            call = _call("_inplace_setitem_", target.value, _as_expression(target.slice), operation, node.value)
        return ast.fix_missing_locations(ast.copy_location(ast.Expr(call), node))


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(function, ast.Load()), args=list(args), keywords=[])


def _as_expression(key: ast.expr) -> ast.expr:
    """A subscript key usable as a call argument: ``a:b`` becomes ``slice(a, b, None)``."""
    if isinstance(key, ast.Slice):
        none = ast.Constant(None)
        return _call("_slice_", key.lower or none, key.upper or none, key.step or none)
    if isinstance(key, ast.Tuple):
        return ast.Tuple([_as_expression(element) for element in key.elts], ast.Load())
    return key


def compile_program(source: str) -> CompiledProgram:
    """Parse and compile a program under the policy, or raise ``CompileError``."""
    try:
        tree = ast.parse(source, PROGRAM_FILENAME)
    except SyntaxError as error:
        raise CompileError(Status.SYNTAX_ERROR, f"line {error.lineno}: {error.msg}") from None
    except (ValueError, UnicodeError) as error:
        raise CompileError(Status.SYNTAX_ERROR, f"unreadable source: {error}") from None
    except (RecursionError, MemoryError):
        raise CompileError(Status.SYNTAX_ERROR, "program is too deeply nested to compile") from None

    final_expression = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        final_expression = ast.Expression(tree.body.pop().value)
    body = _compile_restricted(compile_restricted_exec, tree)
    final = _compile_restricted(compile_restricted_eval, final_expression) if final_expression else None
    return CompiledProgram(body=body, final_expression=final)


def _compile_restricted(compile_mode: Callable[..., Any], tree: ast.AST) -> types.CodeType:
    try:
        result = compile_mode(tree, PROGRAM_FILENAME, policy=MathProgramPolicy)
    except (RecursionError, MemoryError):
        raise CompileError(Status.SYNTAX_ERROR, "program is too deeply nested to compile") from None
    except SyntaxError as error:
        raise CompileError(Status.SYNTAX_ERROR, f"line {error.lineno}: {error.msg}") from None
    if result.errors:
        raise CompileError(Status.FORBIDDEN, "; ".join(result.errors[:3]))
    return result.code


# ---------------------------------------------------------------------------------------------
# Guards: the functions RestrictedPython's rewritten code calls.

_IMMUTABLE = (int, float, complex, str, bytes, bool, tuple, frozenset, range, slice, type(None))
# C functions that look attributes up by name, around the attribute guard.
_FORBIDDEN_VALUES = (operator.attrgetter, operator.methodcaller)


class ProgramGuards:
    """The guards of one program run, and what they saw it do.

    ``touched_library_state`` becomes true when the program wrote to an object it did not
    create: an attribute of a library object, or an item of a mutable value it read from one
    (``numpy.typecodes["All"] = ...``). Such a program may have changed what the next program
    would see, so the runner it ran in is replaced.
    """

    def __init__(self) -> None:
        self.touched_library_state = False
        self._borrowed: set[int] = set()

    def getattr(self, obj: Any, name: str, *default: Any) -> Any:
        if not isinstance(name, str):
            raise TypeError("attribute name must be a string")
        if name.startswith("_") or name in INSPECT_ATTRIBUTES:
            raise PolicyViolation(f"access to attribute {name!r} is not allowed")
        if isinstance(obj, str) and name in ("format", "format_map"):
            return functools.partial(_safe_format if name == "format" else _safe_format_map, obj)
        try:
            value = safer_getattr_raise(obj, name, *default)
        except NotImplementedError as refused:
            raise PolicyViolation(str(refused)) from None
        _check_value(value)
        if not _is_program_object(obj) and not isinstance(value, _IMMUTABLE) and not callable(value):
            self._borrowed.add(id(value))
        return value

    def hasattr(self, obj: Any, name: str) -> bool:
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def write(self, obj: Any) -> Any:
        """What ``obj.attr = v`` and ``obj[key] = v`` write through."""
        if isinstance(obj, types.ModuleType):
            raise PolicyViolation(f"modules are read-only: cannot modify {obj.__name__!r}")
        if isinstance(obj, type):
            if obj.__module__ != PROGRAM_MODULE:
                raise PolicyViolation(f"library classes are read-only: cannot modify {obj.__name__!r}")
            return obj
        if id(obj) in self._borrowed:
            self.touched_library_state = True
            return obj
        if type(obj) in (dict, list, set, bytearray) or _is_program_object(obj):
            return obj
        return _LibraryObjectWriter(obj, self)

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        if not isinstance(name, str) or name.startswith("_"):
            raise PolicyViolation(f"setting attribute {name!r} is not allowed")
        setattr(self.write(obj), name, value)

    def delattr(self, obj: Any, name: str) -> None:
        if not isinstance(name, str) or name.startswith("_"):
            raise PolicyViolation(f"deleting attribute {name!r} is not allowed")
        delattr(self.write(obj), name)

    def namespace(self) -> dict[str, Any]:
        """A fresh global namespace for the program these guards watch."""
        namespace: dict[str, Any] = {
            "__builtins__": {
                **_PROGRAM_BUILTINS,
                "getattr": self.getattr,
                "hasattr": self.hasattr,
                "setattr": self.setattr,
                "delattr": self.delattr,
                "_getattr_": self.getattr,
            },
            **_GUARDS,
            "_getattr_": self.getattr,
            "_write_": self.write,
        }
        namespace["_import_star_"] = functools.partial(_import_star, namespace)
        return namespace


class _LibraryObjectWriter:
    """Lets item writes through to a library object (a numpy array the program made) and marks
    attribute writes (``getcontext().prec = 50``) as touching library state."""

    __slots__ = ("_guards", "_target")

    def __init__(self, target: Any, guards: ProgramGuards) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_guards", guards)

    def __getitem__(self, key: Any) -> Any:
        return self._target[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._guards.touched_library_state = True
        setattr(self._target, name, value)

    def __delattr__(self, name: str) -> None:
        self._guards.touched_library_state = True
        delattr(self._target, name)


def _is_program_object(obj: Any) -> bool:
    return getattr(type(obj), "__module__", None) == PROGRAM_MODULE


def _check_value(value: Any) -> None:
    """Refuse values a program may not hold: modules outside the allow-list (``fractions.sys``)
    and C helpers that would look attributes up around the guard."""
    if isinstance(value, types.ModuleType) and not is_importable(value.__name__):
        raise PolicyViolation(f"module {value.__name__!r} is not allowed")
    if any(value is forbidden for forbidden in _FORBIDDEN_VALUES):
        raise PolicyViolation(f"{value.__name__} is not allowed")


def guarded_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    """The program's ``__import__``. Module names were checked at compile time; what is left is
    ``from allowed import name`` handing the program a value it may not hold."""
    if level != 0:
        raise PolicyViolation("relative imports are not allowed")
    module = builtins.__import__(name, globals, locals, fromlist, level)
    for item in fromlist or ():
        _check_value(getattr(module, item, None))
    return module


def _import_star(namespace: dict[str, Any], module_name: str) -> None:
    """``from sympy import *``: public names only, and never a value the program may not hold."""
    module = builtins.__import__(module_name, fromlist=("*",))
    names = getattr(module, "__all__", None) or [name for name in vars(module) if not name.startswith("_")]
    for name in names:
        value = getattr(module, name, None)
        try:
            _check_value(value)
        except PolicyViolation:
            continue
        if isinstance(name, str) and not name.startswith("_"):
            namespace[name] = value


class _SafeFormatter(string.Formatter):
    """``str.format`` whose replacement fields go through the attribute guard:
    ``"{0.__class__}".format(x)`` is the classic way around RestrictedPython."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        first, rest = _formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            if is_attribute and (key.startswith("_") or key in INSPECT_ATTRIBUTES):
                raise PolicyViolation(f"access to attribute {key!r} is not allowed")
            obj = getattr(obj, key) if is_attribute else obj[key]
            _check_value(obj)
        return obj, first


_formatter_field_name_split = string._string.formatter_field_name_split
_FORMATTER = _SafeFormatter()


def _safe_format(template: str, *args: Any, **kwargs: Any) -> str:
    return _FORMATTER.vformat(template, args, kwargs)


def _safe_format_map(template: str, mapping: Mapping[str, Any]) -> str:
    return _FORMATTER.vformat(template, (), mapping)


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


def _inplace_var(op: str, target: Any, value: Any) -> Any:
    return _INPLACE_OPERATORS[op](target, value)


def _inplace_setattr(obj: Any, name: str, op: str, value: Any) -> None:
    setattr(obj, name, _INPLACE_OPERATORS[op](getattr(obj, name), value))


def _inplace_setitem(obj: Any, key: Any, op: str, value: Any) -> None:
    obj[key] = _INPLACE_OPERATORS[op](obj[key], value)


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


_EXTRA_BUILTINS = (
    "all any bin bytearray bytes classmethod dict enumerate filter format frozenset iter list map max "
    "min next object property reversed set sorted staticmethod sum super tuple type zip NotImplemented"
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
        "__import__": guarded_import,
    }
)

_GUARDS: Mapping[str, Any] = types.MappingProxyType(
    {
        "__name__": PROGRAM_MODULE,
        "__metaclass__": type,
        "_getitem_": operator.getitem,
        "_getiter_": iter,
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
