"""The pool: concurrency, replacement of lost workers, and nothing shared between programs."""

import asyncio
import os
import signal
import threading

import pytest

from potcot.sandbox import Sandbox, SandboxError, SandboxLimits
from tests.conftest import SANDBOX_LIMITS as LIMITS


def test_run_many_keeps_order(sandbox: Sandbox) -> None:
    results = sandbox.run_many([f"print({n} * {n})" for n in range(40)])
    assert [result.answer for result in results] == [str(n * n) for n in range(40)]


def test_arun_runs_concurrently_from_an_event_loop(sandbox: Sandbox) -> None:
    async def solve_all() -> list[str | None]:
        results = await asyncio.gather(*(sandbox.arun(f"print({n} + 1)") for n in range(20)))
        return [result.answer for result in results]

    assert asyncio.run(solve_all()) == [str(n + 1) for n in range(20)]


def test_programs_waiting_counts_those_no_worker_has_taken() -> None:
    """The queue a deployment scales on: with one worker, three programs at once are one running
    and two waiting, and none once they are done."""
    seen: list[int] = []

    async def three_at_once(sandbox: Sandbox) -> list[str | None]:
        runs = [asyncio.ensure_future(sandbox.arun("import time\ntime.sleep(0.5)\nprint(1)")) for _ in range(3)]
        while not all(run.done() for run in runs):
            seen.append(sandbox.programs_waiting)
            await asyncio.sleep(0.01)
        return [run.result().answer for run in runs]

    with Sandbox(max_workers=1, limits=LIMITS) as sandbox:
        assert asyncio.run(three_at_once(sandbox)) == ["1"] * 3
        assert sandbox.programs_waiting == 0
    assert max(seen) == 2
    assert seen[-1] == 0


def test_per_call_timeout(sandbox: Sandbox) -> None:
    result = sandbox.run("while True:\n    pass", timeout=0.5)
    assert (result.status, result.error) == ("timeout", "exceeded the 0.5 s time limit")


# (what one program does, what a later program prints on every worker)
LEFT_BEHIND = {
    "numpy print options": (
        "import numpy as np\nnp.set_printoptions(precision=1)",
        "import numpy as np\nprint(np.array([1 / 3]))",
        "[0.33333333]",
    ),
    "decimal context": (
        "from decimal import getcontext\ngetcontext().prec = 3",
        "from decimal import Decimal\nprint(Decimal(1) / 8)",
        "0.125",
    ),
    "mpmath precision": (
        "from mpmath import mp\nmp.dps = 5",
        "from mpmath import mp\nprint(mp.pi)",
        "3.14159265358979",
    ),
    "sympy evaluation switch": (
        "from sympy.core.parameters import global_parameters\nglobal_parameters.evaluate = False",
        "import sympy\nprint(sympy.Integer(1) + 2)",
        "3",
    ),
    "library dictionary": (
        "import numpy as np\nnp.typecodes['All'] = 'x'",
        "import numpy as np\nprint(np.typecodes['All'][:3])",
        "?bh",
    ),
    "module attribute through an escape": (
        "import sympy\nsympy.sympify(\"setattr(__import__('math'), 'pi', 3)\")",
        "import math\nprint(math.pi)",
        "3.141592653589793",
    ),
    "builtins through an escape": (
        "import sympy\nsympy.sympify(\"setattr(__import__('builtins'), 'abs', len)\")",
        "print(abs(-2))",
        "2",
    ),
}


@pytest.mark.parametrize(("first", "later", "expected"), list(LEFT_BEHIND.values()), ids=list(LEFT_BEHIND))
def test_nothing_of_one_program_is_seen_by_the_next(sandbox: Sandbox, first: str, later: str, expected: str) -> None:
    sandbox.run(first)
    answers = [sandbox.run(later).answer for _ in range(2 * sandbox.max_workers)]
    assert answers == [expected] * len(answers)


def test_globals_do_not_leak(sandbox: Sandbox) -> None:
    sandbox.run("secret = 42")
    for _ in range(2 * sandbox.max_workers):
        result = sandbox.run("print(secret)")
        assert result.status == "runtime_error"
        assert "NameError" in result.error


def test_random_state_is_not_inherited(sandbox: Sandbox) -> None:
    seeded = "import random\nrandom.seed(0)\nprint(random.random())"
    assert sandbox.run(seeded).answer == "0.8444218515250481"
    follow_up = {sandbox.run("import random\nprint(random.random())").answer for _ in range(4)}
    assert "0.7579544029403025" not in follow_up  # the second draw after seed(0)


def test_killed_templates_are_replaced_without_failing_a_program() -> None:
    """A template that died between programs is noticed when the next program is handed to it:
    that program never reached a process, so it runs on the replacement."""
    with Sandbox(max_workers=1, limits=LIMITS) as pool:
        pids = pool.worker_pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        assert [pool.run("print(2)").answer for _ in range(3)] == ["2", "2", "2"]
        assert pool.run("import sympy\nprint(sympy.Integer(3))").answer == "3"
        assert set(pool.worker_pids).isdisjoint(pids)


def test_a_template_killed_during_a_program_fails_only_that_program() -> None:
    with Sandbox(max_workers=1, limits=LIMITS) as pool:
        pids = pool.worker_pids
        threading.Timer(0.5, lambda: [os.kill(pid, signal.SIGKILL) for pid in pids]).start()
        lost = pool.run("while True:\n    pass")
        assert (lost.status, lost.answer) == ("crashed", None)
        assert "sandbox template lost" in lost.error
        assert pool.run("print(3)").answer == "3"


def test_closed_sandbox_refuses_work() -> None:
    pool = Sandbox(max_workers=1, limits=LIMITS)
    pool.close()
    with pytest.raises(SandboxError, match="closed"):
        pool.run("print(1)")


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        Sandbox(max_workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        SandboxLimits(memory_mb=-1)
