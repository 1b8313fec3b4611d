"""The in-process solver of ``potcot bench`` asks the solver for what the run configured."""

from pathlib import Path

import pytest

from potcot.benchmarks.client import BenchConfig
from potcot.benchmarks.datasets import Item
from potcot.benchmarks.local import LocalSolver
from potcot.sandbox import Sandbox
from potcot.server.prompts import PromptStyle
from potcot.server.schema import SolveParameters
from potcot.server.settings import SolveDefaults
from potcot.server.solver import DEFAULT_SAMPLES, Solver, Strategy
from tests.server.scripted import ScriptedEngine

pytestmark = pytest.mark.anyio

DISAGREEING = ("```python\nprint(1)\n```", "The answer is 2.")


@pytest.mark.parametrize(("samples", "requests"), [(1, 2), (3, 6), (None, 2 * DEFAULT_SAMPLES)])
async def test_a_vote_draws_the_configured_samples(sandbox: Sandbox, samples: int | None, requests: int) -> None:
    """Rationales that never agree (the script runs dry after the first two): the vote draws every
    sample it may, of each rationale, and no more."""
    engine = ScriptedEngine(*DISAGREEING)
    local = LocalSolver(Solver(engine, sandbox, PromptStyle.CHAT, program_timeout_s=2.0), SolveDefaults())
    asked = SolveParameters(strategy=Strategy.VOTE, samples=samples, seed=0)
    config = BenchConfig(datasets=("gsm8k",), out=Path("unused"), solve=asked)
    await local.solve(Item("1", "What is it?", "1", None), config)
    assert len(engine.prompts) == requests
