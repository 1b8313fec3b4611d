"""Whose an object is, and where a program's attribute writes may land.

A program owns what it made: its classes (their ``__module__`` is ``PROGRAM_MODULE``), their
instances, and the functions it defined (compiled from ``PROGRAM_FILENAME``). Everything else
belongs to the libraries, and so does the Python-level state of a library object: the libraries
build code and keep invariants from it. ``dataclasses`` writes each ``Field.name`` into the source
of the ``__init__``, ``__eq__`` and ``__repr__`` it ``exec``s, so a program that could write a
``Field``'s slot could write code. So a program writes:

- its own objects' attributes, but never one that a library class keeps as a slot: a program
  class may neither define one (a ``Field`` subclass with a ``name`` property would feed
  ``dataclasses`` a name of its choosing) nor write one on its instances;
- a library object's attributes only through what its class offers for it: the data descriptors it
  defines (``mpmath.mp.dps``, a property; ``getcontext().prec`` and ``ndarray.shape``, attributes of
  C types) and the public settings the object already keeps in its ``__dict__``
  (``mpmath.mp.pretty``); never a new attribute, never a slot;
- never an attribute of a module or of a library class.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable, Sequence
from typing import Any

from potcot.sandbox.policy import is_dunder
from potcot.sandbox.restricted import PROGRAM_FILENAME, PROGRAM_MODULE


def is_program_class(cls: Any) -> bool:
    return isinstance(cls, type) and getattr(cls, "__module__", None) == PROGRAM_MODULE


def is_program_function(obj: Any) -> bool:
    return isinstance(obj, types.FunctionType) and obj.__code__.co_filename == PROGRAM_FILENAME


def _private_lookup_chain(obj: Any) -> Sequence[type] | None:
    """The classes Python searches, in order, for an attribute of ``obj`` when ``obj`` is the
    program's own (an instance of one of its classes, one of its classes, a function it defined,
    ``super()`` in one of its methods); None for anything else."""
    if isinstance(obj, super):
        owner, start = obj.__self_class__, obj.__thisclass__  # type: ignore[attr-defined]  # typeshed lacks them
        if owner is None or not is_program_class(start):
            return None
        after = next(index for index, cls in enumerate(owner.__mro__) if cls is start) + 1  # never ==
        return owner.__mro__[after:]
    if isinstance(obj, type):
        metaclass: type = type(obj)
        return (*obj.__mro__, *metaclass.__mro__) if is_program_class(obj) else None
    if is_program_class(type(obj)) or is_program_function(obj):
        return type(obj).__mro__
    return None


def is_own_private(obj: Any, name: str) -> bool:
    """Whether the private attribute ``obj.name`` is the program's: ``obj`` is its own and the
    first class on the lookup chain that defines ``name`` is a program class, or no class does
    (the value is in the object's own dict, or there is none and reading it raises
    AttributeError). A private method of a library base (``Fraction._operator_fallbacks``) stays
    the library's."""
    chain = _private_lookup_chain(obj)
    if chain is None:
        return False
    for cls in chain:
        if name in cls.__dict__:
            return is_program_class(cls)
    return True


def container_refusal(obj: Any) -> str | None:
    """Why no write at all may go into ``obj`` (``obj[key] = v`` included), or None: modules and
    library classes are read-only."""
    if isinstance(obj, types.ModuleType):
        return f"modules are read-only: cannot modify {obj.__name__!r}"
    if isinstance(obj, type) and not is_program_class(obj):
        return f"library classes are read-only: cannot modify {obj.__name__!r}"
    return None


def write_refusal(obj: Any, name: str) -> str | None:
    """Why ``obj.name = value`` (or ``del obj.name``) may not happen, whatever writes it, or None."""
    if isinstance(obj, types.ModuleType):
        return container_refusal(obj)
    if isinstance(obj, type):
        return container_refusal(obj) or class_member_refusal(obj, (name,))
    cls: type = type(obj)
    slot_owner = _instance_slot_owner(cls, name)
    if slot_owner is not None:
        return (
            f"{name!r} of a {cls.__name__} object is a slot of the library class {slot_owner.__name__}: "
            "a library's Python-level state is its own"
        )
    if cls.__module__ == PROGRAM_MODULE or is_program_function(obj) or _is_offered(obj, name):
        return None
    return (
        f"cannot set {name!r} on a {cls.__name__} object: a library object takes only the "
        "properties and settings it offers"
    )


def _is_offered(obj: Any, name: str) -> bool:
    """Whether the library object ``obj`` offers ``name`` for writing: a data descriptor of its
    class or a setting in its ``__dict__``. Never a dunder: those are the interpreter's metadata
    (``__module__``, ``__wrapped__``), which only ``functools``' helpers write for a program."""
    return not is_dunder(name) and (_is_data_descriptor(_class_attribute(type(obj), name)) or _is_setting(obj, name))


def class_member_refusal(cls: type, names: Iterable[str]) -> str | None:
    """Why the program class ``cls`` may not have members called ``names``, or None: no member
    may stand in for a slot that a library base class keeps."""
    for name in names:
        slot_owner = library_slot_owner(cls.__mro__[1:], name)
        if slot_owner is not None:
            return (
                f"{cls.__name__}.{name} would replace a slot of the library class {slot_owner.__name__}: "
                "a library's Python-level state is its own"
            )
    return None


def library_slot_owner(classes: Sequence[type], name: str) -> type | None:
    """The first library class of ``classes`` that keeps ``name`` as a slot (declared in its
    ``__slots__``), or None. Members of C types (``defaultdict.default_factory``) are the type's
    interface, not Python-level state, and do not count."""
    for cls in classes:
        attribute = cls.__dict__.get(name)
        if (
            isinstance(attribute, types.MemberDescriptorType)
            and "__slots__" in cls.__dict__
            and not is_program_class(cls)
        ):
            return cls
    return None


@functools.lru_cache(maxsize=4096)
def _instance_slot_owner(cls: type, name: str) -> type | None:
    """``library_slot_owner`` for the instances of ``cls``, cached: a program writes the same few
    attributes of the same few classes many times, and which library classes keep slots does not
    change (a program can neither write a library class nor replace a class's bases)."""
    return library_slot_owner(cls.__mro__, name)


def _class_attribute(cls: type, name: str) -> Any:
    """What the class ``cls`` defines as ``name`` (searching its MRO as Python does), or None."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def _is_data_descriptor(attribute: Any) -> bool:
    """Whether a class attribute takes writes on the instance's behalf: a property, an attribute
    of a C type, or any descriptor with ``__set__``. The library's code decides what they do."""
    return attribute is not None and hasattr(type(attribute), "__set__")


def _is_setting(obj: Any, name: str) -> bool:
    """Whether ``obj``'s own ``__dict__`` already holds ``name``: a plain attribute the library
    set and documents as a setting (``mpmath.mp.pretty``), as opposed to a new one."""
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return False
    return isinstance(namespace, dict) and name in namespace
