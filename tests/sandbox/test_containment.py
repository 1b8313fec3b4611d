"""Every way out we know of gets a clear non-ok status and a short error, leaves the host as it
was, and the next program runs normally (the ``healthy`` fixture checks that after each case)."""

import os
import pickle
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from potcot.sandbox import Sandbox

pytestmark = pytest.mark.isolation  # the sandbox's kernel confinement


def escape(expression: str) -> str:
    """A program that evaluates ``expression`` outside RestrictedPython, through sympy."""
    return f"import sympy\nprint(sympy.sympify({expression!r}))"


def escape_verbatim(statement: str) -> str:
    """Like ``escape``, but runs ``statement`` untouched by sympy's parser (which turns numbers
    into sympy objects)."""
    return escape(f"__import__('builtins').exec({statement!r})")


CONTAINED = {
    # reading files
    "open builtin": ("print(open('/etc/passwd').read())", "forbidden", "open() is not allowed"),
    "numpy reads a file": ("import numpy as np\nprint(np.loadtxt('/etc/passwd', dtype=str))", "forbidden", ""),
    "sympify reads a file": (escape("open('/etc/hostname').read()"), "forbidden", "Permission denied"),
    "sympify lists a directory": (escape("__import__('os').listdir('/')"), "forbidden", "Permission denied"),
    # writing files
    "numpy writes a file": ("import numpy as np\nnp.savetxt('/tmp/potcot-np', np.ones(2))", "forbidden", ""),
    "array tofile": ("import numpy as np\nnp.ones(2).tofile('/tmp/potcot-np')", "forbidden", ""),
    "sympify writes a file": (escape("open('/tmp/potcot-sympify', 'w').write('x')"), "forbidden", "not allowed"),
    "sympify removes a file": (escape("__import__('os').remove('/etc/hostname')"), "forbidden", "not allowed"),
    # sockets
    "import socket": ("import socket", "forbidden", "import of 'socket' is not allowed"),
    "sympify opens a socket": (escape("__import__('socket').socket()"), "forbidden", "not allowed"),
    # processes
    "import subprocess": ("import subprocess", "forbidden", "import of 'subprocess' is not allowed"),
    "sympify runs a command": (escape("__import__('subprocess').run(['true'])"), "forbidden", "not allowed"),
    "sympify forks": (escape("__import__('os').fork()"), "forbidden", "not allowed"),
    "sympify os.system": (escape("__import__('os').system('true')"), "forbidden", "not allowed"),
    "sympify kills the worker": (escape("__import__('os').kill(__import__('os').getppid(), 9)"), "forbidden", ""),
    # imports
    "import os": ("import os", "forbidden", "import of 'os' is not allowed"),
    "sys.exit": ("import sys\nsys.exit(0)", "runtime_error", "SystemExit"),
    "real sys through its stand-in": ("import sys\nprint(sys.modules)", "runtime_error", "AttributeError"),
    "import ctypes": ("import ctypes", "forbidden", "import of 'ctypes' is not allowed"),
    "import importlib": ("import importlib", "forbidden", "import of 'importlib' is not allowed"),
    "import builtins": ("import builtins", "forbidden", "import of 'builtins' is not allowed"),
    "from os import": ("from os import system", "forbidden", "import of 'os' is not allowed"),
    "relative import": ("from . import sandbox", "forbidden", "relative imports"),
    "denied submodule": ("import numpy.ctypeslib", "forbidden", "numpy.ctypeslib"),
    "module through an attribute": ("import fractions\nfractions.sys.modules", "forbidden", "'sys' is not allowed"),
    "module through from-import": ("from fractions import sys", "forbidden", "'sys' is not allowed"),
    "private module": ("import numpy._core", "forbidden", "not allowed"),
    # dunder and frame walks
    "subclasses walk": ("().__class__.__bases__[0].__subclasses__()", "forbidden", "__class__"),
    "generator frame": ("g = (i for i in [1])\nprint(g.gi_frame)", "forbidden", "gi_frame"),
    "frame globals": (
        "g = (i for i in [1])\nprint(getattr(getattr(g, 'gi_frame'), 'f_globals'))",
        "forbidden",
        "gi_frame",
    ),
    "builtins name": ("print(__builtins__)", "forbidden", "__builtins__"),
    "traceback frame": (
        "try:\n    1 / 0\nexcept Exception as e:\n    print(e.__traceback__.tb_frame)",
        "forbidden",
        "__traceback__",
    ),
    # str.format attribute access
    "format dunder": ("print('{0.__class__}'.format(1))", "forbidden", "__class__"),
    "format frame": ("g = (i for i in [1])\nprint('{0.gi_frame}'.format(g))", "forbidden", "gi_frame"),
    "format_map dunder": ("print('{x.__class__}'.format_map({'x': 1}))", "forbidden", "__class__"),
    "string.Formatter": (
        "import string\nprint(string.Formatter().format('{0.__class__}', 1))",
        "forbidden",
        "Formatter",
    ),
    # eval / exec / compile / open / getattr tricks
    "eval": ("print(eval('1 + 1'))", "forbidden", "Eval calls are not allowed"),
    "exec": ("exec('x = 1')", "forbidden", "Exec calls are not allowed"),
    "compile": ("compile('1', '<x>', 'eval')", "forbidden", "compile() is not allowed"),
    "getattr dunder": ("print(getattr(1, '__class__'))", "forbidden", "__class__"),
    "getattr built name": ("print(getattr(1, '_' + '_class_' + '_'))", "forbidden", "__class__"),
    "attrgetter": ("import operator\nprint(operator.attrgetter('__class__')(1))", "forbidden", "attrgetter"),
    "methodcaller": ("from operator import methodcaller", "forbidden", "methodcaller"),
    "globals": ("print(globals())", "forbidden", "globals() is not allowed"),
    "module write": ("import math\nmath.pi = 3", "forbidden", "read-only"),
    "library class write": (
        "from fractions import Fraction\nFraction.limit_denominator = None",
        "forbidden",
        "read-only",
    ),
    "setattr on module": ("import math\nsetattr(math, 'pi', 3)", "forbidden", "read-only"),
    # escapes through allowed libraries
    "lambdify": (
        "import sympy\nf = sympy.lambdify([], \"__import__('os').listdir('/')\")\nprint(f())",
        "forbidden",
        "Permission denied",
    ),
    # limits
    "infinite loop": ("while True:\n    pass", "timeout", "time limit"),
    "sleep after escape": (escape("__import__('time').sleep(30)"), "timeout", "time limit"),
    "list bomb": ("x = [0] * (10 ** 10)", "memory_exceeded", "MemoryError"),
    "string bomb": ("x = 'a' * (10 ** 10)", "memory_exceeded", "MemoryError"),
    "numpy bomb": ("import numpy as np\nx = np.ones(10 ** 10)", "memory_exceeded", ""),
    "growing bomb": ("x = []\nwhile True:\n    x.append(' ' * 10 ** 6)", "memory_exceeded", ""),
    "output flood": ("while True:\n    print('x' * 1000)", "output_exceeded", "output"),
    "output flood caught": (
        "while True:\n    try:\n        print('x' * 1000)\n    except Exception:\n        pass",
        "output_exceeded",
        "output",
    ),
    "deep recursion": ("def f(n):\n    return f(n + 1)\nf(0)", "runtime_error", "RecursionError"),
    # exits
    "SystemExit": ("raise SystemExit(0)", "runtime_error", "SystemExit"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt", "runtime_error", "KeyboardInterrupt"),
    "exit()": ("print(1)\nexit()", "forbidden", "exit() is not allowed"),
    "sys.exit after escape": (escape("__import__('sys').exit(3)"), "runtime_error", "SystemExit"),
    # programs too large to compile cheaply
    "too long": ("x = 1\n" * 20_000, "forbidden", "the limit is"),
    "too deeply nested": ("x = " + "(" * 1000 + "1" + ")" * 1000, "syntax_error", "nested"),
    "deeply nested lists": ("x = " + "[" * 5000 + "]" * 5000, "syntax_error", ""),
}


@pytest.mark.parametrize(("code", "status", "message"), list(CONTAINED.values()), ids=list(CONTAINED))
def test_contained(healthy: Sandbox, code: str, status: str, message: str) -> None:
    result = healthy.run(code)
    assert result.status == status, result
    assert message in (result.error or "")
    assert len(result.error or "") <= 300
    assert result.answer is None


def test_proc_is_not_there_to_read(healthy: Sandbox) -> None:
    """An empty /proc over the host's where the template has a mount namespace of its own; Landlock
    refuses to open the host's where it has none."""
    result = healthy.run(escape("open('/proc/self/environ').read()"))
    assert (result.status, result.answer) in (("forbidden", None), ("runtime_error", None)), result
    assert any(reason in (result.error or "") for reason in ("Permission denied", "No such file or directory"))


def test_writes_leave_no_file(healthy: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "written"
    for code in (
        f"import numpy as np\nnp.savetxt({str(target)!r}, np.ones(2))",
        escape(f"open({str(target)!r}, 'w').write('x')"),
        escape(f"__import__('pathlib').Path({str(target)!r}).touch()"),
        escape(f"__import__('os').system('touch {target}')"),
    ):
        assert not healthy.run(code).ok
    assert not target.exists()


def test_no_connection_reaches_a_listening_server(healthy: Sandbox) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.settimeout(3)
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except TimeoutError:
            pass

    listener = threading.Thread(target=accept)
    listener.start()
    result = healthy.run(escape_verbatim(f"__import__('socket').create_connection(('127.0.0.1', {port}))"))
    listener.join()
    server.close()
    assert result.status == "forbidden"
    assert accepted == []


def test_crashed_runner_is_replaced(healthy: Sandbox) -> None:
    result = healthy.run(escape("__import__('faulthandler')._read_null()"))
    assert (result.status, result.error) == ("crashed", "process died with SIGSEGV")


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def test_numpy_load_of_a_pickle_runs_nothing(healthy: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_RunsCommand(f"touch {marker}"))
    program = textwrap.dedent(f"""
        import numpy as np
        class Source:
            def __init__(self, data):
                self.data, self.position = data, 0
            def read(self, size=-1):
                end = len(self.data) if size < 0 else self.position + size
                chunk = self.data[self.position:end]
                self.position += len(chunk)
                return chunk
            def readline(self, size=-1):
                return self.read(size)
            def seek(self, offset, whence=0):
                self.position = offset + (self.position if whence == 1 else 0)
            def tell(self):
                return self.position
        print(np.load(Source({payload!r}), allow_pickle=True))
    """)
    result = healthy.run(program)
    assert result.status == "forbidden", result
    assert "pickle" in result.error
    assert not marker.exists()
