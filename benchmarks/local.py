"""The solver of ``potcot serve`` in this process, for the fastest offline evaluation: no HTTP, and
every question of a dataset submitted at once, so vLLM batches them as its offline ``LLM.generate``
would. The code path is the server's, so the answers are the HTTP mode's."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from potcot.answers import Grader
from potcot.benchmarks.client import BenchConfig, run_benchmark, solve_request
from potcot.benchmarks.datasets import Item
from potcot.server.inprocess import local_solver
from potcot.server.schema import SolveParameters, SolveResponse
from potcot.server.settings import SolveDefaults, SolverSettings
from potcot.server.solver import Solver


class LocalSolver:
    def __init__(self, solver: Solver, defaults: SolveDefaults) -> None:
        self._solver = solver
        self._defaults = defaults

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, settings: SolverSettings) -> AsyncIterator[LocalSolver]:
        async with local_solver(settings) as solver:
            yield cls(solver, settings)

    async def solve(self, item: Item, config: BenchConfig) -> SolveResponse:
        """The request a server would be sent (``solve_request``), solved here: this process's
        settings are the server's defaults."""
        request = solve_request(item, config)
        options = request.solve_options(self._defaults)
        solution = await self._solver.solve(request.question, options, uuid.uuid4().hex)
        return SolveResponse.of(solution, options.strategy, self._solver.engine.model_name)


def run_solves(
    settings: SolverSettings, datasets: Sequence[Path], solves: Sequence[SolveParameters], out: Path, concurrency: int
) -> dict[str, Any]:
    """Every dataset with each of ``solves`` in turn (a strategy each, say), on one engine loaded
    once in this process, into one results folder; returns the summary of them all. The benchmark
    step of ``potcot train miniature``, which the ``potcot`` command gives it: the training does not
    import the benchmarks."""

    async def run() -> dict[str, Any]:
        summary: dict[str, Any] = {}
        with Grader() as grader:
            async with LocalSolver.start(settings) as solver:
                for solve in solves:
                    config = BenchConfig(tuple(map(str, datasets)), out, solve, concurrency=concurrency)
                    summary = await run_benchmark(config, solver, grader)
        return summary

    return asyncio.run(run())
