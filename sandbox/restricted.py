"""Compiling a program under the policy: RestrictedPython with the rules math code needs.

RestrictedPython rewrites attribute access, item access, iteration, printing and imports into
calls of guard functions (``sandbox.guards`` supplies them), and this policy adds calls: the result
of every call passes the value policy (``_result_``). Its default policy was made for Zope,
where a leading underscore marks what a security proxy hides; programs here hold no proxies and run
in a process of their own that dies after them, so the policy below refuses what reaches the
interpreter's machinery and lets ordinary math code compile as CPython compiles it:

- names with one leading underscore (``_memo``, ``def _helper``, ``self._cache``) are allowed;
  whether a private attribute belongs to the program is decided at run time, by the guards;
- of the dunder names, a program may define and read the special methods of
  ``sandbox.policy.SPECIAL_METHODS`` and read ``__name__``, ``__qualname__`` and ``__doc__``; the
  classic escapes (``__class__ __bases__ __subclasses__ __globals__ __code__ __builtins__``, frames,
  tracebacks) and the memory and lookup primitives (``__getattr__``, ``__new__``, ``__dict__``,
  ``__array_interface__``) are refused where the program names them;
- imports are checked where the program names them, against ``sandbox.policy``.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, RestrictingNodeTransformer

from potcot.sandbox.policy import CLASS_BODY_NAMES, READABLE_ATTRIBUTES, SPECIAL_METHODS, is_dunder, may_import
from potcot.sandbox.result import Status

PROGRAM_FILENAME = "<program>"
# Classes a program defines carry this module name, which is how the guards tell the program's own
# classes from library classes. Programs themselves see ``__name__ == "__main__"``.
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


# ---------------------------------------------------------------------------------------------
# Names and attributes: the one policy the compiler and the runtime guards both apply.

# Names the rewritten code itself uses (``_getattr_``, ``_write_``, ``_print``, ``_tmp0``): a
# program that rebound them would replace its own guards.
_Node = TypeVar("_Node", bound=ast.AST)
# What RestrictedPython's name check takes (the nodes that bind or name something), and what its
# visit methods return.
NamedNode = ast.stmt | ast.expr | ast.excepthandler | ast.arg | ast.keyword | ast.alias | ast.pattern
VisitResult = ast.AST | Iterable[ast.AST] | None
_RESERVED_NAME = re.compile(r"_.*_|_print|_tmp\d+")


def _name_refusal(name: str) -> str | None:
    """Why a program may not use the variable ``name``, or None when it may."""
    if is_dunder(name):
        if name in SPECIAL_METHODS or name in CLASS_BODY_NAMES:
            return None
        return f'"{name}" is an invalid variable name: it is not a special method'
    if _RESERVED_NAME.fullmatch(name):
        return f'"{name}" is an invalid variable name: the sandbox uses it'
    return None


def attribute_name_refusal(name: str, writing: bool = False) -> str | None:
    """Why no program may read (or write) the attribute ``name`` of anything, or None."""
    if name in INSPECT_ATTRIBUTES:
        return f'"{name}" is a restricted name, that is forbidden to access in RestrictedPython.'
    if is_dunder(name) and name not in SPECIAL_METHODS and (writing or name not in READABLE_ATTRIBUTES):
        return f'"{name}" is an invalid attribute name: it is not a special method'
    return None


def _mangle(class_name: str | None, name: str) -> str:
    """``self.__total`` inside ``class Cart`` as the compiler would mangle it (``_Cart__total``).
    The compiler mangles attribute stores itself, but not the names of the reads that
    RestrictedPython turns into string arguments, so both are mangled here first."""
    stripped = (class_name or "").lstrip("_")
    if not stripped or not name.startswith("__") or name.endswith("__"):
        return name
    return f"_{stripped}{name}"


# ---------------------------------------------------------------------------------------------
# Compilation.


class MathProgramPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, relaxed only where it refuses common, harmless math code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._class_names: list[str] = []

    def check_name(self, node: NamedNode, name: str | None, allow_magic_methods: bool = False) -> None:
        """RestrictedPython's name check, with ``_name_refusal`` for names that start with ``_``.
        ``allow_magic_methods`` is RestrictedPython's own switch; the special methods a program may
        define are the policy's allow-list wherever they appear."""
        if name is None or not name.startswith("_"):
            super().check_name(node, name)
            return
        refusal = _name_refusal(name)
        if refusal is not None:
            self.error(node, refusal)

    def visit_Name(self, node: ast.Name) -> VisitResult:
        if node.id == "__name__" and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant("__main__"), node)
        return super().visit_Name(node)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> VisitResult:
        return self.node_contents_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> VisitResult:
        """``total: int = 0``: its target is checked and rewritten like any assignment's."""
        return self.node_contents_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> VisitResult:
        self._class_names.append(node.name)
        try:
            return super().visit_ClassDef(node)
        finally:
            self._class_names.pop()

    def visit_Attribute(self, node: ast.Attribute) -> VisitResult:
        """``a.b`` becomes ``_getattr_(a, "b")``; ``a.b = c`` and ``del a.b`` write through
        ``_write_(a, "b")``, which sees the attribute's name (RestrictedPython's sees only ``a``)."""
        node.attr = _mangle(self._class_names[-1] if self._class_names else None, node.attr)
        refusal = attribute_name_refusal(node.attr, writing=not isinstance(node.ctx, ast.Load))
        if refusal is not None:
            self.error(node, refusal)
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            return _located(_call("_getattr_", node.value, ast.Constant(node.attr)), node)
        node.value = _located(_call("_write_", node.value, ast.Constant(node.attr)), node.value)
        return node

    def visit_Call(self, node: ast.Call) -> VisitResult:
        """``f(x)`` becomes ``_result_(f(x))``: what library code returns passes the value policy
        (``sandbox.values``) before the program holds it. The call itself stays where it was, so
        a zero-argument ``super()`` still finds its method's frame and class."""
        call = super().visit_Call(node)
        return _located(_call("_result_", cast(ast.expr, call)), node)

    def visit_Import(self, node: ast.Import) -> VisitResult:
        for alias in node.names:
            self._check_module(node, alias.name)
        return super().visit_Import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> VisitResult:
        if node.level:
            self.error(node, "relative imports are not allowed.")
            return node
        self._check_module(node, node.module or "")
        for alias in node.names:
            if alias.name.startswith("_") and not is_dunder(alias.name):
                self.error(node, f"import of the private name {alias.name!r} is not allowed.")
        if [alias.name for alias in node.names] == ["*"]:
            return _located(ast.Expr(_call("_import_star_", ast.Constant(node.module))), node)
        return super().visit_ImportFrom(node)

    def _check_module(self, node: ast.stmt, name: str) -> None:
        """Imports are checked here, where a program names them, rather than in ``__import__``:
        C code that a program calls (numpy's) imports its own private modules through the
        program's ``__import__``, and those imports are the library's business."""
        if not may_import(name):
            self.error(node, f"import of {name!r} is not allowed.")

    def visit_AugAssign(self, node: ast.AugAssign) -> VisitResult:
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
            subscript = cast(ast.Subscript, target)  # a Name target returned above
            call = _call("_inplace_setitem_", subscript.value, _as_expression(subscript.slice), operation, node.value)
        return _located(ast.Expr(call), node)


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(function, ast.Load()), args=list(args), keywords=[])


def _located(new: _Node, old: ast.AST) -> _Node:
    """``new`` with the source position of ``old``, down to its generated children."""
    return ast.fix_missing_locations(ast.copy_location(new, old))


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
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        final_expression = ast.Expression(last.value)
        tree.body.pop()
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
