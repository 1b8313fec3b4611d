"""Writing attack programs: source templates, and the escape that runs a statement outside
RestrictedPython, so that what stops an attack is a layer below it."""

import string
import textwrap

MARK = "attack-complete"  # printed by an attack that ran to its end

# The in-process audit monitor, switched off: what an escaped program can do to it, and what leaves
# the kernel layers alone in an attack's way.
DISARM = r"""
import gc
disarmed = 0
for obj in gc.get_objects():
    try:
        attributes = getattr(obj, '__dict__', None)
        if type(attributes) is dict and 'armed' in attributes:
            obj.armed = False
            type(obj).__call__ = lambda self, *args: None
            disarmed += 1
    except Exception:
        pass
"""

# Where nothing isolates: one plain interpreter that imported the libraries and inherits the
# environment and the descriptors, and runs a scenario's programs (a JSON list of lists of sources
# on standard input) one after another in the same process, with the real builtins, each scenario in
# a fork of its own so that scenarios do not disturb each other. Prints each program's stdout and
# error, a list per scenario.
UNISOLATED = r"""
import io, json, os, signal, sys
import mpmath, numpy, sympy

class Captured(io.StringIO):
    pass

def compile_program(source):
    return compile(source, '<program>', 'exec')

def run(source):
    stdout, sys.stdout = sys.stdout, Captured()
    error = None
    try:
        exec(compile_program(source), {'__name__': '__main__'})
    except BaseException as raised:
        error = repr(raised)[:300]
    finally:
        captured, sys.stdout = sys.stdout, stdout
    return {'stdout': getattr(captured, 'getvalue', lambda: '')(), 'error': error}

results = []
for scenario in json.load(sys.stdin):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        signal.alarm(30)
        outputs = [run(source) for source in scenario]
        with os.fdopen(write, 'w') as pipe:
            json.dump(outputs, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    results.append(json.loads(data) if data else None)
json.dump(results, sys.__stdout__)
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
