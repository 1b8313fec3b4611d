"""``potcot sandbox FILE`` and ``potcot sandbox -`` run one program and print its result as JSON."""

import json
import subprocess
import sys
from pathlib import Path

POTCOT = str(Path(sys.executable).with_name("potcot"))


def potcot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POTCOT, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_runs_a_file(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text("eggs = 16 - 3 - 4\nprint(eggs * 2)\n")
    completed = potcot("sandbox", str(program))
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert (result["status"], result["answer"], result["stdout"], result["error"]) == ("ok", "18", "18\n", None)
    assert "isolation" in completed.stderr


def test_runs_standard_input() -> None:
    completed = potcot("sandbox", "-", stdin="import sympy\nprint(sympy.Rational(3, 4) + 1)\n")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["answer"] == "7/4"


def test_failed_program_exits_1_with_its_result() -> None:
    completed = potcot("sandbox", "-", "--timeout", "0.5", stdin="while True:\n    pass\n")
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["status"] == "timeout"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    completed = potcot("sandbox", str(tmp_path / "absent.py"))
    assert completed.returncode != 0
    assert "cannot read" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_invalid_timeout_is_a_clear_error() -> None:
    completed = potcot("sandbox", "-", "--timeout", "-3", stdin="print(1)")
    assert completed.returncode != 0
    assert "timeout" in completed.stderr
    assert "Traceback" not in completed.stderr
