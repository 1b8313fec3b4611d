"""What a program may hold: one value policy for every value that library code hands a program.

A program holds only values it could have named. Library code hands it values by five routes that
the compiler rewrites into guard calls: attribute reads (``_getattr_``), imports (``__import__``),
call results (``_result_``), item reads (``_getitem_``), and iteration and unpacking
(``_getiter_``). Each passes ``ValuePolicy.admit``, which refuses:

- modules the program could not import (``fractions.sys``);
- the real builtins that the program's namespace refuses or replaces (``eval``, ``getattr``,
  ``__import__``), and the namespaces that hold them: a dict with a ``__builtins__`` entry is some
  code's globals (lambdify's ``NUMPY`` once lambdify has run), as is the builtins' own dict;
- frames, code objects and tracebacks, and their classes;
- metaclasses, which build classes from arbitrary dicts (``numbers.ABCMeta``, the real ``type``);
- functions, methods and classes defined outside the allowed modules (``os.system``), in a denied
  part of one (``sympy.external``'s ``import_module``, re-exported by several sympy modules), under
  a private name (``dataclasses._create_fn``), or named in ``policy.FORBIDDEN_CALLABLES``;

and it hands the program the guards' stand-in for a library helper that would go around the
attribute policy (``functools.update_wrapper``). So a string-to-object resolver
(``sympy.utilities.source.get_class``) returns nothing the program could not have imported.

Plain values (numbers, strings, lists) cost one set lookup, and so do instances of any class once
found to be plain data. Not seen: what library code passes into a program's own functions (a
``key=`` function, a callback), what operators return, and what ``with`` binds.
"""

from __future__ import annotations

import builtins
import functools
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from potcot.sandbox.policy import FORBIDDEN_CALLABLES, is_allowed_origin, is_importable, is_private
from potcot.sandbox.restricted import PROGRAM_MODULE, PolicyViolation

_PLAIN_TYPES = (int, float, complex, bool, str, bytes, bytearray, type(None), list, tuple, set, frozenset, range, slice)
# Iterables whose items are plain: a loop over them needs no check per item.
_PLAIN_ITERABLES = frozenset({range, str, bytes})
_CONTAINERS = frozenset({list, tuple, set, frozenset})
_INTERPRETER_TYPES = (types.FrameType, types.CodeType, types.TracebackType)
# Unbound methods of classes, judged by the class that defines them.
_DESCRIPTOR_TYPES = (types.WrapperDescriptorType, types.MethodDescriptorType, types.ClassMethodDescriptorType)
# What runs code when called, judged by where that code comes from. Callable instances of other
# classes (a ufunc, ``sympy.Lambda``, an ``lru_cache`` wrapper) run their class's ``__call__``.
_CODE_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    functools.partial,
    *_DESCRIPTOR_TYPES,
)
_FORBIDDEN_BY_MODULE: Mapping[str, frozenset[str]] = {
    module: frozenset(name.rpartition(".")[2] for name in FORBIDDEN_CALLABLES if name.rpartition(".")[0] == module)
    for module in {name.rpartition(".")[0] for name in FORBIDDEN_CALLABLES}
}
_REAL_BUILTINS: Mapping[str, Any] = vars(builtins)


class ValuePolicy:
    """The value policy for programs whose namespace holds ``held_builtins`` as its builtins.

    ``given`` are the values the sandbox itself gives programs (its guards, the ``sys`` stand-in
    and what it holds), admitted as they are; functions and classes of ``given_modules`` and of
    this module (``LibraryDict``) likewise.
    ``substitutes`` maps library callables to the stand-ins that programs get instead."""

    def __init__(
        self,
        held_builtins: Mapping[str, Any],
        given: Iterable[Any],
        given_modules: Iterable[str],
        substitutes: Mapping[Callable[..., Any], Callable[..., Any]],
    ) -> None:
        self._replaced_builtins = {
            id(value): (name, value)
            for name, value in _REAL_BUILTINS.items()
            if name in held_builtins and held_builtins[name] is not value
        }
        self._given = {id(value): value for value in given}
        self._given_modules = frozenset({*given_modules, __name__})
        self._substitutes = {id(real): (real, stand_in) for real, stand_in in substitutes.items()}
        self._data_classes: set[type] = set(_PLAIN_TYPES)
        self._admitted_classes: set[type] = set()
        # Python methods' functions, and the classes of the objects whose C methods were admitted.
        self._admitted_methods: set[types.FunctionType] = set()
        self._admitted_method_owners: set[type] = set()
        self._never_data = {type(value) for _, value in self._replaced_builtins.values()}

    def admit(self, value: Any) -> Any:
        """``value`` as the program may hold it: itself, or the stand-in for it; or PolicyViolation.
        Plain data, and methods judged before (a program reads the same few methods many times:
        a Python method by its function, a C method such as ``items.append`` by its object's
        class), take a lookup or two."""
        kind = type(value)
        if kind in self._data_classes:
            return value
        if kind is types.MethodType:
            if value.__func__ in self._admitted_methods:
                return value
        elif kind is types.BuiltinFunctionType and type(value.__self__) in self._admitted_method_owners:
            return value
        return self._judged(value)

    def _judged(self, value: Any) -> Any:
        key = id(value)
        if self._given.get(key) is value:
            return value
        substitute = self._substitutes.get(key)
        if substitute is not None and substitute[0] is value:
            return substitute[1]
        refusal = self.refusal(value)
        if refusal is not None:
            raise PolicyViolation(refusal)
        return value

    def item(self, obj: Any, key: Any) -> Any:
        """``obj[key]``, admitted: what ``_getitem_`` is."""
        value = obj[key]
        return value if type(value) in self._data_classes else self.admit(value)

    def iterate(self, iterable: Any) -> Iterator[Any]:
        """``iter(iterable)`` whose items are admitted: what ``_getiter_`` is. A list, tuple or set
        whose items are all plain data (found by a scan in C) is iterated as it is."""
        kind = type(iterable)
        if kind in _PLAIN_ITERABLES or (kind in _CONTAINERS and self._data_classes.issuperset(map(type, iterable))):
            return iter(iterable)
        return map(self.admit, iterable)

    def refusal(self, value: Any) -> str | None:
        """Why a program may not hold ``value``, or None. Remembers the classes of plain data."""
        replaced = self._replaced_builtins.get(id(value))
        if replaced is not None and replaced[1] is value:
            return f"the builtin {replaced[0]} is not allowed: the sandbox refuses or replaces it"
        if isinstance(value, _CODE_TYPES):
            return self._callable_refusal(value)
        if isinstance(value, dict):
            return namespace_refusal(value)
        if isinstance(value, type):
            return self._class_refusal(value)
        if isinstance(value, types.ModuleType):
            return module_refusal(value)
        if isinstance(value, _INTERPRETER_TYPES):
            return interpreter_refusal(type(value))
        if type(value) not in self._never_data:
            self._data_classes.add(type(value))
        return None

    def _class_refusal(self, cls: type) -> str | None:
        if cls in self._admitted_classes or self._given.get(id(cls)) is cls:
            return None
        refusal = metaclass_refusal(cls) or interpreter_refusal(cls) or self._origin_refusal(cls)
        if refusal is None:
            self._admitted_classes.add(cls)
        return refusal

    def _callable_refusal(self, value: Any) -> str | None:
        """A function is judged by its module and name, a method by where its code comes from:
        a Python method by its function's module, a C method by its class (``[].append`` by
        ``list``); a ``partial`` by what it calls."""
        if isinstance(value, functools.partial):
            return self._wrapped_refusal(value.func)
        if isinstance(value, types.MethodType):
            return self._method_refusal(value.__func__)
        owner = value.__objclass__ if isinstance(value, _DESCRIPTOR_TYPES) else getattr(value, "__self__", None)
        if owner is None or isinstance(owner, types.ModuleType):
            return self._origin_refusal(value)
        if isinstance(owner, type):
            return self._class_refusal(owner)
        refusal = self._class_refusal(type(owner))
        if refusal is None:
            self._admitted_method_owners.add(type(owner))
        return refusal

    def _method_refusal(self, function: Any) -> str | None:
        if not isinstance(function, types.FunctionType):
            return self._wrapped_refusal(function)
        refusal = self._origin_refusal(function, method=True)
        if refusal is None:
            self._admitted_methods.add(function)
        return refusal

    def _wrapped_refusal(self, function: Any) -> str | None:
        if self._given.get(id(function)) is function:
            return None
        return self.refusal(function)

    def _origin_refusal(self, value: Any, method: bool = False) -> str | None:
        module = getattr(value, "__module__", None)
        if module is None or module in ("builtins", PROGRAM_MODULE) or module in self._given_modules:
            return None
        name = str(getattr(value, "__qualname__", None) or getattr(value, "__name__", "?"))
        if not isinstance(module, str):
            return f"{name} is not allowed: its __module__ is {module!r}, not a module's name"
        return origin_refusal(module, name, private_allowed=method or isinstance(value, type))


@functools.lru_cache(maxsize=4096)
def origin_refusal(module: str, qualname: str, private_allowed: bool = False) -> str | None:
    """Why a program may not hold the function or class ``qualname`` of the library module
    ``module``, or None. A module's own private functions (``dataclasses._create_fn``) are
    refused unless ``private_allowed``: a method's name was the attribute policy's to judge when
    it was read (a named tuple's ``_replace`` is public), and a private class is the type of a
    public object (an ``lru_cache`` wrapper's). Functions and classes that library code made at run time
    have no module (``lambdify``'s functions, ``sympy.Function('f')``) and are not judged here.
    Cached, as ``is_allowed_origin`` is."""
    if not is_allowed_origin(module):
        return f"{qualname} of module {module!r} is not allowed: only the allowed modules' functions and classes are"
    if not private_allowed and "." not in qualname and is_private(qualname):
        return f"the private function {module}.{qualname} is not allowed"
    if qualname in _FORBIDDEN_BY_MODULE.get(module, ()):
        return f"{qualname} is not allowed: it reaches by name what the sandbox refuses"
    return None


def module_refusal(module: types.ModuleType) -> str | None:
    name = getattr(module, "__name__", None)
    return None if isinstance(name, str) and is_importable(name) else f"module {name!r} is not allowed"


def namespace_refusal(mapping: dict[Any, Any]) -> str | None:
    """A dict that holds ``__builtins__`` is the globals of some module or generated code: the
    modules it imported and the real builtins are among its values."""
    if mapping is _REAL_BUILTINS or "__builtins__" in mapping:
        return "a namespace is not allowed: it holds some code's globals, the real builtins among them"
    return None


def metaclass_refusal(cls: type) -> str | None:
    if issubclass(cls, type):
        return f"the metaclass {cls.__name__!r} is not allowed: it builds classes from arbitrary dicts"
    return None


def interpreter_refusal(cls: type) -> str | None:
    if cls in _INTERPRETER_TYPES:
        return f"{cls.__name__} objects are not allowed: they reach the interpreter's frames and code"
    return None


class LibraryDict(dict[Any, Any]):
    """A copy of a dict that a module or library class holds, which refuses to change: a library's
    containers are its state, as its attributes are. ``copy.dispatch_table`` decides what
    rebuilds an object, and so which attributes ``copy`` writes into the result; lambdify's
    ``MODULES`` decides which statements lambdify executes."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise PolicyViolation("the dicts of modules and library classes are read-only: they are library state")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse


_READ_ONLY_COPIES: Mapping[type, Callable[[Any], Any]] = {
    dict: LibraryDict,
    list: tuple,
    set: frozenset,
    bytearray: bytes,
}


def read_only(value: Any) -> Any:
    """A dict, list or set that a module or library class holds, as a program sees it: a copy that
    cannot change (``LibraryDict``, a tuple, a frozenset)."""
    copy = _READ_ONLY_COPIES.get(type(value))
    return value if copy is None else copy(value)
