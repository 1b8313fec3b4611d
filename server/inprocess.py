"""The solver of ``potcot serve`` without the server: for ``potcot solve`` and offline benchmarks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from potcot.sandbox import Sandbox, SandboxLimits
from potcot.server.engines import start_engine
from potcot.server.settings import ServerSettings
from potcot.server.solver import Solver


@contextlib.asynccontextmanager
async def local_solver(settings: ServerSettings) -> AsyncIterator[Solver]:
    """A solver on a sandbox and an engine of its own, both closed on exit."""
    with Sandbox(settings.sandbox_workers, limits=SandboxLimits(timeout_s=settings.sandbox_timeout)) as sandbox:
        engine = await start_engine(settings)
        try:
            yield Solver.for_settings(engine, sandbox, settings)
        finally:
            await engine.close()
