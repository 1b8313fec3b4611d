"""The grader's worker processes: a hung comparison is cut off and its worker replaced; the grader
works from threads and from a plain script without a ``__main__`` guard."""

import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from potcot.answers import Grader, answers_match
from potcot.answers.pool import ComparisonPool


@pytest.fixture(scope="module")
def grader() -> Grader:
    with Grader(workers=2) as strict:
        yield strict


def test_answers_match_function() -> None:
    assert answers_match("\\sqrt{8}", "2\\sqrt{2}")
    assert not answers_match("3", "2\\sqrt{2}")
    assert answers_match("(B)", "B", ["1", "2"])


def test_a_hanging_comparison_is_cut_off(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("potcot.answers.pool.COMPARISON_TIMEOUT_S", 0.5)
    assert grader.match("\\frac{1}{2}", "0.5") is True  # the worker is up: what follows times only the comparison
    started = time.monotonic()
    # Factoring a 60-digit semiprime inside sympy's comparison takes far longer than the bound.
    assert grader.match("factorint(" + "6" * 30 + "7" * 30 + ")", "x^2 + 1") is False
    assert time.monotonic() - started < 5
    assert grader.match("\\frac{1}{2}", "0.5") is True  # by a fresh worker


def test_symbolic_comparisons_from_many_threads(grader: Grader) -> None:
    pairs = [("\\sqrt{8}", "2\\sqrt{2}", True), ("\\sqrt{2}", "2\\sqrt{2}", False)] * 4
    with ThreadPoolExecutor(4) as threads:
        verdicts = list(threads.map(lambda pair: grader.match(pair[0], pair[1]), pairs))
    assert verdicts == [expected for *_, expected in pairs]


def test_a_plain_script_without_a_main_guard(tmp_path: Path) -> None:
    script = tmp_path / "grade.py"
    script.write_text(
        textwrap.dedent(
            """
            from potcot.answers import answers_match

            print("loaded")
            print(answers_match("\\\\sqrt{8}", "2\\\\sqrt{2}"), answers_match("x + 1", "x - 1"))
            """
        )
    )
    completed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    # The script ran once: its worker processes did not import it again.
    assert completed.stdout.split("\n") == ["loaded", "True False", ""]


def _comparison_workers() -> list[Path]:
    """/proc entries of this process's children that are comparison workers."""
    children = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"potcot.answers.worker" in command:
            children.append(entry)
    return children


def test_workers_see_nothing_of_the_hosts_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """sympy's parser evaluates the model-written text it reads: a worker must hold no secret."""
    monkeypatch.setenv("POTCOT_PLANTED_SECRET", "planted-secret-value")
    pool = ComparisonPool(1)
    try:
        assert pool.compare("\\frac{1}{2}", "0.5")
        environments = [(worker / "environ").read_bytes() for worker in _comparison_workers()]
    finally:
        pool.close()
    assert environments
    assert not any(b"planted-secret-value" in environment for environment in environments)
