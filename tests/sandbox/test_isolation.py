"""Nothing crosses between programs, or from the host into a program: an attack corpus.

Every program runs in a fresh process forked from a template that never sees a program, with an
empty environment, no descriptor but its own pipes, and a reply the pool checks rather than trusts.
Each attack below would succeed against a sandbox that reused processes, inherited the server's
environment or believed what a program's process wrote back; ``test_*_without_isolation`` runs the
same attacks in one plain interpreter that does exactly that, to show that they are real.

Most attacks leave RestrictedPython through library code that evaluates strings (``escape``): inside
it a program has the real builtins, and only the kernel layers and the process boundary hold.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import math
import os
import random
import re
import secrets
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy
import pytest

from potcot.sandbox import ExecutionResult, Sandbox, SandboxLimits
from tests.sandbox import attacks
from tests.sandbox.attacks import DISARM, MARK, UNISOLATED, Code, escape

pytestmark = pytest.mark.isolation  # the sandbox's kernel confinement

# Room for an environment dump, and time for a scan of every object in the process.
LIMITS = SandboxLimits(timeout_s=10.0, memory_mb=512, max_output_chars=20_000)
SECRET_HEAD, SECRET_TAIL = "potcot", "secret"  # what an attacker searches for: the tokens' prefix
PREFIX = SECRET_HEAD + SECRET_TAIL
ENV_NAME = "POTCOT_ISOLATION_API_KEY"


def python(source: str, **values: object) -> str:
    """``attacks.python``, with the tokens' prefix an attacker searches for as ``$head`` and ``$tail``."""
    return attacks.python(source, head=SECRET_HEAD, tail=SECRET_TAIL, **values)


def fields(result: ExecutionResult) -> str:
    return "\n".join(field or "" for field in (result.stdout, result.answer, result.error))


def ran(result: ExecutionResult) -> bool:
    """The attack ran to its end inside the sandbox (its own errors caught and printed), or was
    refused: by the policy, or by the kernel with a ``PermissionError`` it did not catch."""
    return (result.status == "ok" and MARK in result.stdout) or result.status == "forbidden"


# ---------------------------------------------------------------------------------------------
# What the host holds: a token in the environment, one in a file (also open as an inheritable
# descriptor), one in the test process's memory. All three exist before the sandbox starts.


@dataclasses.dataclass
class Planted:
    env_token: str
    file_token: str
    memory_token: str
    file: Path
    fd: int
    server_state: dict[str, str]

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.env_token, self.file_token, self.memory_token

    def token(self, kind: str) -> str:
        return {"env": self.env_token, "file": self.file_token}[kind]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    directory = tmp_path_factory.mktemp("isolation-secrets")
    directory.chmod(0o755)
    secret_file = directory / "secret.txt"
    file_token = PREFIX + "file" + secrets.token_hex(16)
    secret_file.write_text(file_token + "\n")
    secret_file.chmod(0o644)
    fd = os.open(secret_file, os.O_RDONLY)
    os.set_inheritable(fd, True)
    memory_token = PREFIX + "mem" + secrets.token_hex(16)
    previous = os.environ.get(ENV_NAME)
    os.environ[ENV_NAME] = PREFIX + "env" + secrets.token_hex(16)
    try:
        yield Planted(os.environ[ENV_NAME], file_token, memory_token, secret_file, fd, {"api_key": memory_token})
    finally:
        os.close(fd)
        if previous is None:
            os.environ.pop(ENV_NAME, None)
        else:
            os.environ[ENV_NAME] = previous


class _Pools:
    """This module's own sandbox, started after the secrets were planted; replaced after a failed
    test, which may have left a poisoned process behind."""

    def __init__(self) -> None:
        self.current: Sandbox | None = None

    def get(self) -> Sandbox:
        if self.current is None:
            self.current = Sandbox(max_workers=2, limits=LIMITS)
        return self.current

    def discard(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


@pytest.fixture(scope="module")
def _pools(planted: Planted) -> Iterator[_Pools]:
    pools = _Pools()
    yield pools
    pools.discard()


@pytest.fixture
def pool(_pools: _Pools, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    failures = request.session.testsfailed
    yield _pools.get()
    if request.session.testsfailed > failures:
        _pools.discard()


def test_escapes_reach_the_real_builtins(pool: Sandbox) -> None:
    """The premise of this corpus: ``escape`` runs code outside RestrictedPython. Were it refused,
    every attack built on it would pass without having tried anything."""
    result = pool.run(escape(python("import os\nprint('pid', os.getpid() > 0)\nprint($mark)")))
    assert result.status == "ok", result
    assert "pid True" in result.stdout and MARK in result.stdout


# ---------------------------------------------------------------------------------------------
# 1. Secrets of the host


@dataclasses.dataclass(frozen=True)
class SecretAttack:
    program: Callable[[Planted], str]
    finds: str | None  # the token it finds where nothing isolates: "env", "file", or None


_SHOW = r"""
def show(path, keep=lambda entry: True):
    try:
        with open(path, 'rb') as file:
            data = file.read(1 << 16)
    except Exception as error:
        print(path, 'refused', type(error).__name__)
        return
    entries = [entry.decode('utf-8', 'replace') for entry in data.split(b'\0')]
    print(path, [entry for entry in entries if keep(entry)][:200])
"""


def _proc_read(path_expression: str) -> Callable[[Planted], str]:
    return lambda planted: escape(python(_SHOW + "import os\nshow($path)\nprint($mark)", path=Code(path_expression)))


def _file_read(expression: str) -> Callable[[Planted], str]:
    return lambda planted: escape(
        python(
            "import os, pathlib, numpy\npath = $path\nprint($read)\nprint($mark)",
            path=str(planted.file),
            read=Code(expression),
        )
    )


SECRET_ATTACKS: dict[str, SecretAttack] = {
    "sympify prints os.environ": SecretAttack(
        lambda planted: python("""
            import sympy
            sympy.sympify("print(__import__('os').environ)")
            print($mark)
        """),
        "env",
    ),
    "lambdify of a symbol whose name is code": SecretAttack(
        lambda planted: python("""
            import sympy
            f = sympy.lambdify([], sympy.Symbol("str(dict(__import__('os').environ))"))
            print(f())
            print($mark)
        """),
        "env",
    ),
    "get_type_hints of a string annotation set through type()": SecretAttack(
        lambda planted: python("""
            import typing
            C = type('C', (), {'__annotations__': {'x': "print(dict(__import__('os').environ)) or int"}})
            print(typing.get_type_hints(C))
            print($mark)
        """),
        "env",
    ),
    "get_type_hints of a string annotation in a class statement": SecretAttack(
        lambda planted: python("""
            import typing
            class C:
                x: "print(dict(__import__('os').environ)) or int"
            print(typing.get_type_hints(C))
            print($mark)
        """),
        "env",
    ),
    "mpmath.identify of a constant that is code": SecretAttack(
        lambda planted: python("""
            import mpmath
            print(mpmath.identify(2, ["print(dict(__import__('os').environ)) or 1"]))
            print($mark)
        """),
        "env",
    ),
    "escape copies os.environ": SecretAttack(
        lambda planted: escape(python("import os\nprint(dict(os.environ))\nprint(os.environb)\nprint($mark)")),
        "env",
    ),
    "escape reads the C environ and the initial stack through ctypes": SecretAttack(
        lambda planted: escape(
            python(r"""
                import ctypes, gc
                for obj in gc.get_objects():
                    try:
                        attributes = getattr(obj, '__dict__', None)
                        if type(attributes) is dict and 'armed' in attributes:
                            obj.armed = False
                    except Exception:
                        pass
                try:
                    libc = ctypes.CDLL(None)
                    if ctypes.c_void_p.in_dll(libc, 'environ').value:
                        environ = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, 'environ')
                        entries = []
                        while len(entries) < 1000 and environ[len(entries)] is not None:
                            entries.append(environ[len(entries)])
                        print('environ', entries)
                    libc.getauxval.restype = ctypes.c_ulong
                    start = ctypes.c_void_p.in_dll(libc, 'program_invocation_name').value
                    end = libc.getauxval(31)  # AT_EXECFN: the top of the strings exec left on the stack
                    if start and 0 < end - start < 1 << 20:
                        print('stack', ctypes.string_at(start, end - start).split(b'\0'))
                except Exception as error:
                    print('ctypes refused', type(error).__name__)
                print($mark)
            """)
        ),
        "env",
    ),
    "escape reads /proc/self/environ": SecretAttack(_proc_read("'/proc/self/environ'"), "env"),
    "escape reads the parent's /proc environ": SecretAttack(_proc_read("f'/proc/{os.getppid()}/environ'"), "env"),
    "escape reads /proc/1/environ": SecretAttack(_proc_read("'/proc/1/environ'"), None),
    "escape walks /proc for every environ": SecretAttack(
        lambda planted: escape(
            python(
                _SHOW
                + textwrap.dedent(r"""
                import os
                prefix = $head + $tail
                def interesting(entry):
                    return prefix in entry or any(word in entry.split('=')[0] for word in ('KEY', 'SECRET', 'TOKEN'))
                try:
                    pids = [name for name in os.listdir('/proc') if name.isdigit()]
                except Exception as error:
                    pids = []
                    print('/proc refused', type(error).__name__)
                for pid in pids:
                    show('/proc/' + pid + '/environ', interesting)
                print($mark)
                """)
            )
        ),
        "env",
    ),
    "escape opens the planted file": SecretAttack(_file_read("open(path).read()"), "file"),
    "escape reads the planted file with pathlib": SecretAttack(_file_read("pathlib.Path(path).read_text()"), "file"),
    "escape reads the planted file with numpy.loadtxt": SecretAttack(
        _file_read("numpy.loadtxt(path, dtype=str)"), "file"
    ),
    "numpy.loadtxt of the planted file": SecretAttack(
        lambda planted: python(
            "import numpy\nprint(numpy.loadtxt($path, dtype=str))\nprint($mark)", path=str(planted.file)
        ),
        "file",
    ),
    "escape reads inherited descriptors": SecretAttack(
        lambda planted: escape(
            python(r"""
                import os
                for fd in range(3, 1024):
                    try:
                        print(fd, os.pread(fd, 4096, 0)[:300])
                    except OSError:
                        pass
                print($mark)
            """)
        ),
        "file",
    ),
    "escape searches every object in memory": SecretAttack(
        lambda planted: escape(
            python(r"""
                import gc
                gc.unfreeze()
                prefix = $head + $tail
                found = []
                def look(value):
                    if isinstance(value, str) and prefix in value and value != prefix:
                        found.append(value[:300])
                    elif isinstance(value, bytes) and prefix.encode() in value:
                        found.append(repr(value[:300]))
                for obj in gc.get_objects():
                    try:
                        for referent in gc.get_referents(obj):
                            look(referent)
                            if type(referent) is dict and not gc.is_tracked(referent):
                                for item in (*referent.keys(), *referent.values()):
                                    look(item)
                    except Exception:
                        pass
                print(len(found), found[:40])
                print($mark)
            """)
        ),
        "env",
    ),
}


@pytest.mark.parametrize("attack", list(SECRET_ATTACKS.values()), ids=list(SECRET_ATTACKS))
def test_no_secret_of_the_host_reaches_a_program(pool: Sandbox, planted: Planted, attack: SecretAttack) -> None:
    result = pool.run(attack.program(planted))
    assert ran(result), result
    leaked = [token for token in planted.tokens if token in fields(result) or token[-32:] in fields(result)]
    assert leaked == [], result


# ---------------------------------------------------------------------------------------------
# 2. Reading and writing memory through numpy: refused by the policy, before anything runs


_OBJECT_INTERFACE = "{'shape': (1,), 'typestr': '|O', 'data': (id(target) + 24, False), 'version': 3}"
_RAW_INTERFACE = "{'shape': (4,), 'typestr': '<u8', 'data': (id(target), False), 'version': 3}"
MEMORY_ATTACKS = {
    "__array_interface__ through type(), an object pointer": (
        f"import numpy\ntarget = [1]\nA = type('A', (), {{'__array_interface__': {_OBJECT_INTERFACE}}})\n"
        "print(numpy.asarray(A()))"
    ),
    "__array_interface__ through a class statement": (
        f"import numpy\ntarget = [1]\nclass A:\n    __array_interface__ = {_OBJECT_INTERFACE}\n"
        "print(numpy.asarray(A()))"
    ),
    "__array_interface__ as a property": (
        "import numpy\ntarget = [1]\nclass A:\n    @property\n    def __array_interface__(self):\n"
        f"        return {_OBJECT_INTERFACE}\nprint(numpy.asarray(A()))"
    ),
    "__array_interface__ reads an object's memory": (
        f"import numpy\ntarget = 7\nA = type('A', (), {{'__array_interface__': {_RAW_INTERFACE}}})\n"
        "print(numpy.asarray(A()))"
    ),
    "__array_interface__ writes an object's memory": (
        f"import numpy\ntarget = 7\nA = type('A', (), {{'__array_interface__': {_RAW_INTERFACE}}})\n"
        "numpy.asarray(A())[3] = 8\nprint(7 + 0)"
    ),
    "as_strided over an object array": (
        "import numpy\na = numpy.array([None], dtype=object)\n"
        "print(numpy.lib.stride_tricks.as_strided(a, shape=(64,), strides=(8,)))"
    ),
    "as_strided imported by name": (
        "import numpy\nfrom numpy.lib.stride_tricks import as_strided\na = numpy.array([None], dtype=object)\n"
        "print(as_strided(a, shape=(64,), strides=(8,)))"
    ),
}


@pytest.mark.parametrize("code", list(MEMORY_ATTACKS.values()), ids=list(MEMORY_ATTACKS))
def test_memory_access_through_numpy_is_refused(healthy: Sandbox, code: str) -> None:
    result = healthy.run(code)
    assert result.status == "forbidden", result
    assert result.answer is None


# ---------------------------------------------------------------------------------------------
# 3. What one program changes in its process, no later program sees


@dataclasses.dataclass(frozen=True)
class Leftover:
    attack: str
    shows: str  # what the attack prints once its change took effect in its own process
    check: str  # what a later program runs
    fresh: str | None = None  # what the later program prints in a fresh interpreter
    leaked: frozenset[str] = frozenset()  # or, for random draws: what it prints where the change survived
    may_refuse: bool = False  # the policy may refuse or defuse this attack

    def is_fresh(self, answer: str | None) -> bool:
        return answer == self.fresh if self.fresh is not None else answer is not None and answer not in self.leaked


_SEED = 4711
_SEEDED_DRAWS = random.Random(_SEED)
SEEDED = frozenset(repr(_SEEDED_DRAWS.random()) for _ in range(100))
_FIRST_SEEDED = repr(random.Random(_SEED).random())
_NUMPY_DRAWS = numpy.random.RandomState(_SEED).random_sample(100)
NUMPY_SEEDED = frozenset(str(float(value)) for value in _NUMPY_DRAWS)
_PI = "import math\nprint(math.pi)"
_GADGET = "(lambda: math, (), (None, {'pi': 3.0}))"
_EQUALS_ANYTHING = "type('Meta', (type,), {'__eq__': lambda cls, other: True, '__hash__': lambda cls: hash(%s)})"
_POISONED_RE = "import re\nprint(re.fullmatch('a+', 'bbb'))"
_POISONED_SYMPY = "import sympy\nprint(sympy.Integer(4711))"
# A class whose copy runs the gadget: copy.copy calls __reduce_ex__ and applies what it returns.
_COPY_GADGET = python(f"""
    import copy, math
    class Gadget:
        def __reduce_ex__(self, protocol):
            return {_GADGET}
    copy.copy(Gadget())
    print(math.pi)
""")

LEFTOVERS: dict[str, Leftover] = {
    "math.pi set through an escape": Leftover(
        escape("import math\nmath.pi = 3.0\nprint(math.pi)"), "3.0", _PI, str(math.pi)
    ),
    "math.pi set by copy.copy of a type() gadget": Leftover(
        python(f"""
            import copy, math
            Gadget = type('Gadget', (), {{'__reduce_ex__': lambda self, protocol: {_GADGET}}})
            copy.copy(Gadget())
            print(math.pi)
        """),
        "3.0",
        _PI,
        str(math.pi),
        may_refuse=True,
    ),
    "math.pi set by copy.copy of a class with __reduce_ex__": Leftover(
        _COPY_GADGET,
        "3.0",
        _PI,
        str(math.pi),
        may_refuse=True,
    ),
    "math.pi set by copy.copy of a class defined in an escape": Leftover(
        escape(_COPY_GADGET),
        "3.0",
        _PI,
        str(math.pi),
    ),
    "numbers.Number.register": Leftover(
        "import numbers\nnumbers.Number.register(str)\nprint(isinstance('x', numbers.Number))",
        "True",
        "import numbers\nprint(isinstance('x', numbers.Number))",
        "False",
        may_refuse=True,
    ),
    "copy.dispatch_table.update": Leftover(
        "import copy, datetime\ncopy.dispatch_table.update({datetime.timedelta: lambda delta: (int, (7,))})\n"
        "print(copy.copy(datetime.timedelta(days=1)))",
        "7",
        "import copy, datetime\nprint(copy.copy(datetime.timedelta(days=1)))",
        "1 day, 0:00:00",
        may_refuse=True,
    ),
    "copyreg.pickle through an escape": Leftover(
        escape(
            "import copy, copyreg, datetime\ncopyreg.pickle(datetime.date, lambda day: (int, (7,)))\n"
            "print(copy.copy(datetime.date(2000, 1, 1)))"
        ),
        "7",
        "import copy, datetime\nprint(copy.copy(datetime.date(2000, 1, 1)))",
        "2000-01-01",
    ),
    "numpy.typecodes.update": Leftover(
        "import numpy\nnumpy.typecodes.update({'All': 'x'})\nprint(numpy.typecodes['All'])",
        "x",
        "import numpy\nprint(numpy.typecodes['All'])",
        numpy.typecodes["All"],
        may_refuse=True,
    ),
    "sympy's cache poisoned by type() objects equal to anything": Leftover(
        python(
            """
            import sympy
            Meta = $meta
            attributes = {'__eq__': lambda self, other: True, '__hash__': lambda self: hash(4711)}
            Evil = Meta('Evil', (), {**attributes, '__int__': lambda self: 4712, '__index__': lambda self: 4712})
            sympy.Integer(Evil())
            print(sympy.Integer(4711))
            """,
            meta=Code(_EQUALS_ANYTHING % "int"),
        ),
        "4712",
        _POISONED_SYMPY,
        "4711",
        may_refuse=True,
    ),
    "sympy's cache poisoned through an escape": Leftover(
        escape(
            python("""
                import sympy
                class Meta(type):
                    def __eq__(cls, other):
                        return True
                    def __hash__(cls):
                        return hash(int)
                class Evil(metaclass=Meta):
                    def __eq__(self, other):
                        return True
                    def __hash__(self):
                        return hash(4711)
                    def __index__(self):
                        return 4712
                    __int__ = __index__
                sympy.Integer(Evil())
                print(sympy.Integer(4711))
            """)
        ),
        "4712",
        _POISONED_SYMPY,
        "4711",
    ),
    "re's cache poisoned by a type() str equal to anything": Leftover(
        python(
            """
            import re
            Meta = $meta
            Pattern = Meta('Pattern', (str,), {'__eq__': lambda self, other: True, '__hash__': lambda self: hash('a+')})
            re.compile(Pattern('b+'))
            print(re.fullmatch('a+', 'bbb') is not None)
            """,
            meta=Code(_EQUALS_ANYTHING % "str"),
        ),
        "True",
        _POISONED_RE,
        "None",
        may_refuse=True,
    ),
    "re's cache poisoned through an escape": Leftover(
        escape(
            python("""
                import re
                for name in dir(re):
                    if name.startswith('_cache') and isinstance(getattr(re, name), dict):
                        getattr(re, name)[str, 'a+', 0] = re.compile('b+')
                print(re.fullmatch('a+', 'bbb') is not None)
            """)
        ),
        "True",
        _POISONED_RE,
        "None",
    ),
    "sympy.core.random.seed": Leftover(
        f"from sympy.core.random import random, seed\nseed({_SEED})\nprint(random())",
        _FIRST_SEEDED,
        "from sympy.core.random import random\nprint(random())",
        leaked=SEEDED,
    ),
    "random.seed": Leftover(
        f"import random\nrandom.seed({_SEED})\nprint(random.random())",
        _FIRST_SEEDED,
        "import random\nprint(random.random())",
        leaked=SEEDED,
    ),
    "numpy.random.seed": Leftover(
        f"import numpy\nnumpy.random.seed({_SEED})\nprint(numpy.random.random())",
        str(float(_NUMPY_DRAWS[0])),
        "import numpy\nprint(numpy.random.random())",
        leaked=NUMPY_SEEDED,
    ),
    "decimal.getcontext().prec": Leftover(
        "from decimal import Decimal, getcontext\ngetcontext().prec = 3\nprint(Decimal(1) / 7)",
        "0.143",
        "from decimal import Decimal\nprint(Decimal(1) / 7)",
        str(decimal.Context().divide(1, 7)),
    ),
    "builtins.abs replaced through an escape": Leftover(
        escape("setattr(__import__('builtins'), 'abs', len)\nprint(abs('abc'))"),
        "3",
        "from fractions import Fraction\nprint(abs(Fraction(-3, 2)), abs(-2))",
        "3/2 2",
    ),
    "builtins.sorted replaced through an escape": Leftover(
        escape(
            python("""
                import builtins, statistics
                real = sorted
                def fake(items, *args, **kwargs):
                    items = list(items)
                    return [7] if items == [1, 2, 3] else real(items, *args, **kwargs)
                builtins.sorted = fake
                print(statistics.median([1, 2, 3]))
            """)
        ),
        "7",
        "import statistics\nprint(statistics.median([1, 2, 3]))",
        "2",
    ),
    "sys.modules entry replaced through an escape": Leftover(
        escape(
            python("""
                import sys, types
                fake = types.ModuleType('fractions')
                fake.Fraction = lambda *args: 'fake'
                sys.modules['fractions'] = fake
                print(__import__('fractions').Fraction(1, 3))
            """)
        ),
        "fake",
        "from fractions import Fraction\nprint(Fraction(1, 3))",
        "1/3",
    ),
}


@pytest.mark.parametrize("leftover", list(LEFTOVERS.values()), ids=list(LEFTOVERS))
def test_nothing_a_program_changes_reaches_a_later_one(pool: Sandbox, leftover: Leftover) -> None:
    for attack in [pool.run(leftover.attack) for _ in range(pool.max_workers)]:
        if not leftover.may_refuse:  # the change took effect, in the attacker's own process
            assert (attack.status, attack.answer) == ("ok", leftover.shows), attack
    later = [pool.run(leftover.check) for _ in range(2 * pool.max_workers)]
    assert [result.status for result in later] == ["ok"] * len(later), later
    assert all(leftover.is_fresh(result.answer) for result in later), later


# ---------------------------------------------------------------------------------------------
# 4. Spying on later programs


_KEEP = r"""
import builtins, copy, os
log = getattr(builtins, 'potcot_spylog', None)
if log is None:
    log = builtins.potcot_spylog = []
copy.dispatch_table['potcot_spylog'] = log
busy = []
def keep(item):
    if busy:
        return
    busy.append(True)
    try:
        text = str(item)[:2000]
        log.append(text)
        try:
            os.environ['POTCOT_SPYLOG'] = repr(log[-20:])[-8000:]
        except Exception:
            pass
        for path in $stash:
            try:
                with open(path, 'a') as file:
                    file.write(text + '\n')
            except Exception:
                pass
    except Exception:
        pass
    finally:
        busy.clear()
"""

SPIES: dict[str, str] = {
    "compile functions wrapped": _KEEP
    + r"""
import sys
def wrap(function):
    def spy(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            if isinstance(value, (str, bytes)):
                keep(value)
        return function(*args, **kwargs)
    return spy
patched = 0
for name, module in list(sys.modules.items()):
    if name.split('.')[0] not in ('__main__', 'sandbox', 'potcot', 'RestrictedPython', 'ast'):
        continue
    for attribute, value in list(getattr(module, '__dict__', {}).items()):
        if ('compile' in attribute.lower() or attribute == 'parse') and callable(value) and not isinstance(value, type):
            setattr(module, attribute, wrap(value))
            patched += 1
builtins.compile = wrap(builtins.compile)
print('installed', patched)
print($mark)
""",
    "builtins.print replaced": _KEEP
    + r"""
real_print = builtins.print
def spy_print(*args, **kwargs):
    keep(' '.join(map(str, args)))
    return real_print(*args, **kwargs)
builtins.print = spy_print
print('installed')
print($mark)
""",
    "sys.stdout and its class wrapped": _KEEP
    + r"""
import sys
class Tee:
    def __init__(self, inner):
        self.inner = inner
    def write(self, text):
        keep(text)
        return self.inner.write(text)
    def __getattr__(self, name):
        return getattr(self.inner, name)
stream_class = type(sys.stdout)
real_write = stream_class.write
def spy_write(self, text):
    keep(text)
    return real_write(self, text)
try:
    stream_class.write = spy_write
except Exception as error:
    print('class refused', type(error).__name__)
sys.stdout = Tee(sys.stdout)
print('installed')
print($mark)
""",
    "audit hook added": _KEEP
    + r"""
import sys
def hook(event, args):
    if event in ('compile', 'exec'):
        for value in args:
            if isinstance(value, (str, bytes)):
                keep(value)
try:
    sys.addaudithook(hook)
    print('installed')
except Exception as error:
    print('refused', type(error).__name__)
print($mark)
""",
}
_ASK = r"""
import builtins, copy, os
kept = list(getattr(builtins, 'potcot_spylog', None) or ())
kept += [text for text in copy.dispatch_table.get('potcot_spylog', ()) if text not in kept]
kept.append(os.environ.get('POTCOT_SPYLOG', ''))
for path in $stash:
    try:
        with open(path) as file:
            kept.append(file.read()[-4000:])
    except Exception as error:
        kept.append('no ' + path + ': ' + type(error).__name__)
budget = 8000
for text in reversed(kept):
    budget -= len(text[:1000])
    if budget < 0:
        break
    print(repr(text[:1000]))
print('asked', len(kept))
print($mark)
"""
# The same spy without an escape: a copy reducer, registered through the public API, sees every
# timedelta a later program copies.
_DISPATCH_SPY = """
import copy, datetime
log = copy.dispatch_table.get('potcot_spylog', [])
def spy(delta):
    log.append(str(delta))
    return (datetime.timedelta, (delta.days, delta.seconds, delta.microseconds))
copy.dispatch_table.update({datetime.timedelta: spy, 'potcot_spylog': log})
print('installed')
print($mark)
"""


def spy_program(spy: str, stash: list[str]) -> str:
    if spy == "copy.dispatch_table reducer, no escape":
        return python(_DISPATCH_SPY)
    return escape(python(SPIES[spy], stash=stash))


SPY_IDS = [*SPIES, "copy.dispatch_table reducer, no escape"]


@dataclasses.dataclass(frozen=True)
class Victim:
    token: str = dataclasses.field(default_factory=lambda: "victim" + secrets.token_hex(16))
    days: int = dataclasses.field(default_factory=lambda: secrets.randbelow(9 * 10**8) + 10**8)

    @property
    def program(self) -> str:
        return (
            f"import copy, datetime\ntoken = {self.token!r}\n"
            f"delta = copy.copy(datetime.timedelta(days={self.days}))\nprint(token, delta.days)"
        )

    @property
    def answer(self) -> str:
        return f"{self.token} {self.days}"

    def seen_in(self, text: str) -> bool:
        return self.token in text or str(self.days) in text


@pytest.mark.parametrize("spy", SPY_IDS)
def test_no_program_sees_a_later_one(pool: Sandbox, spy: str, tmp_path: Path) -> None:
    stash = [f"/dev/shm/potcot-spy-{secrets.token_hex(8)}", str(tmp_path / "spy")]
    victim = Victim()
    installs = [pool.run(spy_program(spy, stash)) for _ in range(pool.max_workers)]
    assert all(ran(result) for result in installs), installs
    victims = [pool.run(victim.program) for _ in range(2 * pool.max_workers)]
    assert [(result.status, result.answer) for result in victims] == [("ok", victim.answer)] * len(victims), victims
    asks = [pool.run(escape(python(_ASK, stash=stash))) for _ in range(2 * pool.max_workers)]
    assert all(result.status == "ok" and MARK in result.stdout for result in asks), asks
    assert [result for result in installs + asks if victim.seen_in(fields(result))] == []
    assert [path for path in stash if os.path.exists(path)] == []


# ---------------------------------------------------------------------------------------------
# 5. Turning the in-process monitor off opens nothing


_DISARM = (
    DISARM
    + r"""
import os
print('disarmed', disarmed)
def attempt(name, action):
    try:
        print(name, 'did', repr(action())[:300])
    except Exception as error:
        print(name, 'refused', type(error).__name__)
attempt('passwd', lambda: open('/etc/passwd').read())
attempt('system', lambda: os.system('touch ' + $marker))
attempt('write', lambda: open($written, 'w').write('x'))
attempt('listdir', lambda: os.listdir('/'))
print($mark)
"""
)


def test_a_disarmed_monitor_opens_nothing(pool: Sandbox, tmp_path: Path) -> None:
    marker, written = tmp_path / "command-ran", tmp_path / "written"
    result = pool.run(escape(python(_DISARM, marker=str(marker), written=str(written))))
    assert result.status == "ok" and MARK in result.stdout, result
    assert "passwd refused" in result.stdout and "root:" not in result.stdout
    assert "listdir refused" in result.stdout
    assert "system did 0" not in result.stdout
    assert not marker.exists() and not written.exists()
    for _ in range(2 * pool.max_workers):
        assert pool.run("print(open('/etc/passwd').read())").status == "forbidden"
        later = pool.run(escape("import os\nos.system('true')"))
        assert later.status == "forbidden", later
        assert pool.run("print(6 * 7)").answer == "42"


# ---------------------------------------------------------------------------------------------
# 6. and 7. Forged and oversized replies


_FORGE = r"""
import json, os, struct, sys, time
forged = $forged
claim = {'status': 'ok', 'stdout': 'forged stdout ' + forged + '\n', 'answer': forged, 'error': None,
         'duration_s': 0.0, 'reusable': True}
def framed(body):
    return struct.pack('!i', len(body)) + body
def own_encoding(stdout):
    for module in list(sys.modules.values()):
        try:
            encode, reply, status = module.encode_reply, module.Reply, module.Status
            return encode(reply(status.OK, stdout))
        except Exception:
            pass
    return framed(json.dumps({**claim, 'stdout': stdout}).encode())
payloads = {
    'garbage': lambda: b'\xff\xfe not a reply \x00' * 64,
    'multiprocessing frame': lambda: framed(json.dumps(claim).encode()),
    'JSON line': lambda: json.dumps(claim).encode() + b'\n',
    'own encoding': lambda: own_encoding(claim['stdout']),
    '300 KB of output': lambda: own_encoding('x' * 300_000),
    'deep nesting': lambda: framed(b'[' * 100_000),
    'huge length': lambda: struct.pack('!i', -1) + struct.pack('!Q', 1 << 62) + b'[' * 64,
}
payload = payloads[$kind]()
descriptors = $descriptors
if descriptors is None:
    descriptors = []
    for fd in range(4096):
        try:
            os.fstat(fd)
        except OSError:
            continue
        descriptors.append(fd)
for fd in descriptors:
    try:
        os.set_blocking(fd, False)
    except OSError:
        pass
    view, stalls = memoryview(payload), 0
    while view and stalls < 50:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            stalls += 1
            time.sleep(0.002)
        except OSError:
            break
print('forged into', descriptors)
$then
"""
# What each forgery's first bytes contain, to prove it is written as claimed.
FORGERIES = {
    "garbage": b"not a reply",
    "multiprocessing frame": b'"status": "ok"',
    "JSON line": b'"status": "ok"',
    "own encoding": b"forged stdout",
    "300 KB of output": b"x" * 1000,
    "deep nesting": b"[" * 1000,
    "huge length": b"\xff\xff\xff\xff",
}
_FORGER_STATUSES = {"crashed", "runtime_error", "forbidden", "output_exceeded"}


def forge(kind: str, forged: str, then: str = "", descriptors: list[int] | None = None) -> str:
    """An escape that writes a forged reply into every open descriptor (or ``descriptors``)."""
    return escape(python(_FORGE, kind=kind, forged=forged, descriptors=descriptors, then=Code(then)))


@pytest.mark.parametrize(("kind", "content"), list(FORGERIES.items()), ids=list(FORGERIES))
def test_forgeries_write_what_they_claim(kind: str, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    """The forgeries, run here unconfined into a pipe of ours: each writes what it says it does."""
    forged = "forged-" + secrets.token_hex(8)
    read, write = os.pipe()
    try:
        exec(compile(forge(kind, forged, descriptors=[write]), "<forgery>", "exec"), {"__name__": "__main__"})
        os.set_blocking(read, False)
        data = os.read(read, 1 << 16)
    finally:
        os.close(read)
        os.close(write)
    assert content in data
    if kind in ("multiprocessing frame", "JSON line", "own encoding"):
        assert forged.encode() in data
    assert f"forged into [{write}]" in capsys.readouterr().out


@pytest.mark.parametrize("kind", list(FORGERIES), ids=list(FORGERIES))
def test_a_forged_reply_is_no_result(healthy: Sandbox, kind: str) -> None:
    forged = "forged-" + secrets.token_hex(8)
    victims = [f"print({n} * 1000 + 7)" for n in range(4)]
    results = healthy.run_many([victims[0], forge(kind, forged), *victims[1:]])
    forger = results[1]
    assert forger.status in _FORGER_STATUSES, forger
    assert len(forger.stdout) <= healthy.limits.max_output_chars
    assert forged not in fields(forger), forger
    others = [(result.status, result.answer) for result in results[:1] + results[2:]]
    assert others == [("ok", str(n * 1000 + 7)) for n in range(4)], results


@pytest.mark.parametrize("kind", ["own encoding", "multiprocessing frame"])
def test_a_reply_from_a_live_process_is_no_result(healthy: Sandbox, kind: str) -> None:
    forged = "forged-" + secrets.token_hex(8)
    result = healthy.run(forge(kind, forged, then="while True:\n    pass"), timeout=1.0)
    assert result.status == "timeout", result
    assert forged not in fields(result), result


# ---------------------------------------------------------------------------------------------
# 8. Answers too large to return


HUGE_ANSWERS = {
    "solution() returns a megabyte": "def solution():\n    return 'x' * 10**6",
    "final expression of a megabyte": "'y' * 10**6",
    "final expression, a list of a million": "[0] * 10**6",
}


@pytest.mark.parametrize("code", list(HUGE_ANSWERS.values()), ids=list(HUGE_ANSWERS))
def test_a_huge_answer_exceeds_the_output_cap(healthy: Sandbox, code: str) -> None:
    result = healthy.run(code)
    assert result.status == "output_exceeded", result
    assert result.answer is None
    assert len(result.stdout) <= healthy.limits.max_output_chars
    assert len(result.error or "") <= 300


# ---------------------------------------------------------------------------------------------
# 9. Unpaired surrogates


SURROGATES = {
    "printed alone": ("print(chr(0xd800))", r"\\[uU]0*d800"),
    "printed between letters": ("print('a' + chr(0xdfff) + 'b')", r"a\\[uU]0*dfffb"),
    "final expression": ("'c' + chr(0xdc80)", r"c\\[uU]0*dc80"),
    "returned by solution()": ("def solution():\n    return chr(0xdbff) + '!'", r"\\[uU]0*dbff!"),
}


@pytest.mark.parametrize(("code", "escaped"), list(SURROGATES.values()), ids=list(SURROGATES))
def test_unpaired_surrogates_come_back_escaped(healthy: Sandbox, code: str, escaped: str) -> None:
    result = healthy.run(code)
    assert result.status == "ok", result
    assert result.answer is not None and re.fullmatch(escaped, result.answer, re.IGNORECASE), result
    for text in (result.stdout, result.answer):
        text.encode("utf-8")  # strict: raises on a lone surrogate


def test_a_surrogate_in_an_error_comes_back_escaped(healthy: Sandbox) -> None:
    result = healthy.run("raise ValueError('bad ' + chr(0xd800))")
    assert result.status == "runtime_error", result
    assert re.search(r"bad \\[uU]0*d800", result.error or "", re.IGNORECASE), result
    fields(result).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# 10. Descriptors


_DESCRIPTORS = r"""
import os, stat
kinds = {stat.S_IFIFO: 'pipe', stat.S_IFSOCK: 'socket', stat.S_IFREG: 'file', stat.S_IFDIR: 'directory',
         stat.S_IFCHR: 'device', stat.S_IFBLK: 'block-device', stat.S_IFLNK: 'link'}
for fd in range(4096):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        continue
    print('fd', fd, kinds.get(stat.S_IFMT(mode), 'other'))
try:
    print('listed', sorted(os.listdir('/proc/self/fd')))
except Exception as error:
    print('listing refused', type(error).__name__)
print($mark)
"""


def test_a_program_holds_only_its_own_pipes(pool: Sandbox, planted: Planted) -> None:
    assert stat.S_ISREG(os.fstat(planted.fd).st_mode)  # an inheritable descriptor of a host file
    result = pool.run(escape(python(_DESCRIPTORS)))
    assert result.status == "ok" and MARK in result.stdout, result
    found = dict(re.findall(r"^fd (\d+) (\S+)$", result.stdout, re.MULTILINE))
    assert found, result  # the probe saw at least the descriptor its reply goes out on
    stdio = {fd: kind for fd, kind in found.items() if int(fd) <= 2}
    others = {fd: kind for fd, kind in found.items() if int(fd) > 2}
    assert set(stdio.values()) <= {"pipe", "device"}, found
    assert set(others.values()) <= {"pipe"}, found
    assert len(others) <= 6, found


# ---------------------------------------------------------------------------------------------
# The same attacks where nothing isolates: one plain interpreter that inherits the environment and
# the descriptors, and runs a scenario's programs one after another in the same process (each
# scenario in a fork of its own, so that scenarios do not disturb each other).


def last_line(output: dict[str, str] | None) -> str | None:
    lines = [line.strip() for line in (output or {}).get("stdout", "").splitlines() if line.strip()]
    return lines[-1] if lines else None


@dataclasses.dataclass(frozen=True)
class Unisolated:
    outputs: dict[str, list[dict[str, str]]]  # each scenario's programs' outputs, keyed ``class/id``
    victim: Victim


@pytest.fixture(scope="module")
def unisolated(planted: Planted, tmp_path_factory: pytest.TempPathFactory) -> Unisolated:
    """Every scenario, run where nothing isolates."""
    stash = [str(tmp_path_factory.mktemp("unisolated") / "spy")]
    victim = Victim()
    scenarios = {f"secret/{name}": [attack.program(planted)] for name, attack in SECRET_ATTACKS.items()}
    scenarios |= {f"leftover/{name}": [case.attack, case.check] for name, case in LEFTOVERS.items()}
    scenarios |= {
        f"spy/{name}": [spy_program(name, stash), victim.program, python(_ASK, stash=stash)] for name in SPY_IDS
    }
    completed = subprocess.run(
        [sys.executable, "-c", UNISOLATED],
        input=json.dumps(list(scenarios.values())),
        capture_output=True,
        text=True,
        pass_fds=(planted.fd,),
        cwd=tmp_path_factory.getbasetemp(),
        timeout=300,
        check=True,
    )
    return Unisolated(dict(zip(scenarios, json.loads(completed.stdout), strict=True)), victim)


@pytest.mark.parametrize("name", [name for name, attack in SECRET_ATTACKS.items() if attack.finds], ids=str)
def test_secret_attacks_find_the_secrets_without_isolation(unisolated: Unisolated, planted: Planted, name: str) -> None:
    (output,) = unisolated.outputs[f"secret/{name}"]
    assert planted.token(SECRET_ATTACKS[name].finds or "") in output["stdout"], output


@pytest.mark.parametrize("name", list(LEFTOVERS), ids=str)
def test_leftovers_reach_the_next_program_without_isolation(unisolated: Unisolated, name: str) -> None:
    attack, check = unisolated.outputs[f"leftover/{name}"]
    assert last_line(attack) == LEFTOVERS[name].shows, attack
    assert not LEFTOVERS[name].is_fresh(last_line(check)), check


@pytest.mark.parametrize("name", SPY_IDS, ids=str)
def test_spies_see_later_programs_without_isolation(unisolated: Unisolated, name: str) -> None:
    install, victim, ask = unisolated.outputs[f"spy/{name}"]
    assert MARK in install["stdout"] and "refused" not in install["stdout"], install
    assert last_line(victim) == unisolated.victim.answer, victim
    assert unisolated.victim.seen_in(ask["stdout"]), ask
