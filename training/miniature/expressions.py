"""The arithmetic of the templates' draws (``templates.yaml``): a Python expression, read with
``ast`` and evaluated by walking it, so that a template file can compute a number from the numbers
drawn before it, and call the drawing functions it is given, but reach nothing else.

Only names, whole and decimal numbers, ``+ - * // % **``, a unary minus, comparisons, ``a if c else b``, tuples and
calls of a given function by its name are allowed; anything else is refused when the file is read.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

Functions = Mapping[str, Callable[..., Any]]

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.USub, ast.Call, ast.Tuple,
          ast.IfExp, ast.Compare, *_BINARY, *_COMPARE)  # fmt: skip


class Expression:
    """One expression of a template, checked when read and evaluated once per problem."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as error:
            raise ValueError(f"{text!r}: a template's expression does not parse ({error.msg})") from None
        refused = sorted({type(node).__name__ for node in ast.walk(tree) if not _allowed(node)})
        calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
        if refused or not all(isinstance(func, ast.Name) for func in calls):
            raise ValueError(f"{text!r}: a template's expression is arithmetic and calls by name, not {refused}")
        self._body = tree.body
        self.calls = frozenset(func.id for func in calls if isinstance(func, ast.Name))

    def evaluate(self, names: Mapping[str, Any], functions: Functions) -> Any:
        """The value, its names read from ``names`` and its calls made to ``functions``, left to
        right as Python evaluates them (a draw's order is its generator's)."""
        return _evaluate(self._body, names, functions)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _allowed(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float)
    return isinstance(node, _NODES)


def _evaluate(node: ast.expr, names: Mapping[str, Any], functions: Functions) -> Any:
    def value(child: ast.expr) -> Any:
        return _evaluate(child, names, functions)

    match node:
        case ast.Constant(constant):
            return constant
        case ast.Name(name):
            if name not in names:
                raise NameError(f"{name!r} is used before it is drawn")
            return names[name]
        case ast.BinOp(left, op, right):
            return _BINARY[type(op)](value(left), value(right))
        case ast.UnaryOp(ast.USub(), operand):
            return -value(operand)
        case ast.Compare(left, [op], [right]):
            return _COMPARE[type(op)](value(left), value(right))
        case ast.IfExp(test, body, orelse):
            return value(body) if value(test) else value(orelse)
        case ast.Tuple(elements):
            return tuple(map(value, elements))
        case ast.Call(ast.Name(function), arguments, []):
            return functions[function](*map(value, arguments))
    raise ValueError(f"cannot evaluate {ast.unparse(node)!r}")
