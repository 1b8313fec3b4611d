"""The solver of ``potcot serve`` in this process, for the fastest offline evaluation: no HTTP, and
every question of a dataset submitted at once, so vLLM batches them as its offline ``LLM.generate``
would. The code path is the server's, so the answers are the HTTP mode's."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from potcot.benchmarks.client import BenchConfig
from potcot.benchmarks.datasets import Item
from potcot.server.inprocess import local_solver
from potcot.server.protocol import SolveResponse
from potcot.server.settings import ServerSettings
from potcot.server.solver import SolveOptions, Solver


class LocalSolver:
    def __init__(self, solver: Solver, default_max_tokens: int) -> None:
        self._solver = solver
        self._default_max_tokens = default_max_tokens

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, settings: ServerSettings) -> AsyncIterator[LocalSolver]:
        async with local_solver(settings) as solver:
            yield cls(solver, settings.default_max_tokens)

    async def solve(self, item: Item, config: BenchConfig) -> dict[str, Any]:
        options = SolveOptions(
            strategy=config.strategy,
            choices=item.choices,
            max_tokens=config.max_tokens or self._default_max_tokens,
            temperature=0.0,
            seed=config.seed,
        )
        solution = await self._solver.solve(item.question, options, uuid.uuid4().hex)
        return SolveResponse.of(solution, config.strategy, self._solver.engine.model_name).model_dump()
