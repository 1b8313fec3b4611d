"""The in-process policy as pure functions: imports, compilation, and the audit monitor."""

import os

import pytest

from sandbox.audit import AuditMonitor
from sandbox.policy import is_importable
from sandbox.restricted import CompileError, PolicyViolation, compile_program

IMPORTABLE = [
    ("math", True),
    ("sympy", True),
    ("sympy.abc", True),
    ("numpy.linalg", True),
    ("scipy.optimize", True),
    ("os", False),
    ("sys", False),
    ("mathx", False),
    ("numpy._core", False),
    ("numpy.ctypeslib", False),
    ("sympy.testing.pytest", False),
    ("", False),
]


@pytest.mark.parametrize(("name", "allowed"), IMPORTABLE)
def test_is_importable(name: str, allowed: bool) -> None:
    assert is_importable(name) is allowed


COMPILE_ERRORS = [
    ("x = (", "syntax_error", "line 1"),
    ("import os", "forbidden", "import of 'os' is not allowed"),
    ("from .x import y", "forbidden", "relative imports"),
    ("x.__class__", "forbidden", '"__class__" is an invalid attribute name'),
    ("_secret = 1", "forbidden", '"_secret" is an invalid variable name'),
    ("eval('1')", "forbidden", "Eval calls are not allowed"),
    ("async def f():\n    pass", "forbidden", "AsyncFunctionDef statements are not allowed"),
    ("g.gi_frame", "forbidden", '"gi_frame" is a restricted name'),
]


@pytest.mark.parametrize(("source", "status", "message"), COMPILE_ERRORS)
def test_compile_errors(source: str, status: str, message: str) -> None:
    with pytest.raises(CompileError) as raised:
        compile_program(source)
    assert raised.value.status == status
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("source", "has_final_expression"),
    [("x = 1\nx", True), ("print(1)", True), ("x = 1", False), ("def solution():\n    return 1", False)],
)
def test_final_expression_is_split_off(source: str, has_final_expression: bool) -> None:
    assert (compile_program(source).final_expression is not None) is has_final_expression


@pytest.fixture
def monitor() -> AuditMonitor:
    read_end, write_end = os.pipe()
    monitor = AuditMonitor(write_end, "<program>", ["/usr/lib/python3"])
    monitor.armed = True
    yield monitor
    os.close(read_end)
    os.close(write_end)


BENIGN = [
    ("import", ("json", None, [], [], [])),
    ("open", ("/usr/lib/python3/json/__init__.py", "r", 0)),
    ("open", ("/usr/lib/python3/json/__init__.py", None, os.O_RDONLY)),
    ("compile", (b"x = 1", "<program>")),
    ("compile", (b"", "/usr/lib/python3/json/decoder.py")),
    ("object.__getattr__", (len, "__code__")),
]


@pytest.mark.parametrize(("event", "args"), BENIGN)
def test_benign_events_do_not_alarm(monitor: AuditMonitor, event: str, args: tuple) -> None:
    monitor(event, args)
    assert not monitor.alarmed


ALARMING = [
    ("compile", (b"__import__('os')", "<string>"), False),
    ("pickle.find_class", ("posix", "system"), True),
    ("os.system", (b"true",), True),
    ("open", ("/tmp/x", "w", 0), True),
    ("open", ("/tmp/x", None, os.O_WRONLY | os.O_CREAT), True),
    ("socket.connect", (None, ("127.0.0.1", 9)), True),
    ("time.sleep", (1,), False),
]


@pytest.mark.parametrize(("event", "args", "refused"), ALARMING)
def test_alarming_events(monitor: AuditMonitor, event: str, args: tuple, refused: bool) -> None:
    if refused:
        with pytest.raises(PolicyViolation, match="not allowed in the sandbox"):
            monitor(event, args)
    else:
        monitor(event, args)
    assert monitor.alarmed


def test_disarmed_monitor_ignores_everything(monitor: AuditMonitor) -> None:
    monitor.armed = False
    monitor("os.system", (b"true",))
    assert not monitor.alarmed
