"""Writing attack programs: source templates, and the escape that runs a statement outside
RestrictedPython, so that what stops an attack is a layer below it."""

import string
import textwrap

MARK = "attack-complete"  # printed by an attack that ran to its end

# The in-process audit monitor, switched off: what an escaped program can do to it, and what leaves
# the kernel layers alone in an attack's way.
DISARM = r"""
import gc
for obj in gc.get_objects():
    try:
        attributes = getattr(obj, '__dict__', None)
        if type(attributes) is dict and 'armed' in attributes:
            obj.armed = False
            type(obj).__call__ = lambda self, *args: None
    except Exception:
        pass
"""


class Code(str):
    """Source inserted into a program template as it is, not as a literal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def python(source: str, **values: object) -> str:
    """Dedented ``source`` with each ``$name`` replaced by the Python literal of ``values[name]``."""
    values = {"mark": MARK, **values}
    return string.Template(textwrap.dedent(source).strip() + "\n").substitute({k: repr(v) for k, v in values.items()})


def escape(statement: str) -> str:
    """A program that runs ``statement`` with the real builtins, as a module of its own: sympy's
    parser evaluates a string outside RestrictedPython, and the string calls ``exec``."""
    builtins = "__import__('builtins')"
    return "import sympy\nsympy.sympify(" + repr(f"{builtins}.exec({statement!r}, {builtins}.dict())") + ")\n"
