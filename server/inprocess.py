"""The solver of ``potcot serve`` without the server: for ``potcot solve`` and offline benchmarks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from potcot.answers import Grader
from potcot.server.engines import start_engine
from potcot.server.settings import SolverSettings
from potcot.server.solver import Solver


@contextlib.asynccontextmanager
async def local_solver(settings: SolverSettings) -> AsyncIterator[Solver]:
    """A solver on a sandbox, a grader and an engine of its own, all closed on exit."""
    with settings.open_sandbox() as sandbox, Grader() as grader:
        engine = await start_engine(settings)
        try:
            yield Solver.for_settings(engine, sandbox, settings, grader)
        finally:
            await engine.close()
