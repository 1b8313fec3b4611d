"""``POST /solve``: one question, solved with the strategy it names."""

from __future__ import annotations

from potcot.server.schema import SolveRequest, SolveResponse
from potcot.server.settings import SolveDefaults
from potcot.server.solver import Solver
from potcot.server.web.errors import ApiError
from potcot.server.web.metrics import Metrics
from potcot.server.web.serving_models import ModelRegistry


class SolveService:
    def __init__(self, solver: Solver, models: ModelRegistry, metrics: Metrics, defaults: SolveDefaults) -> None:
        self._solver = solver
        self._models = models
        self._metrics = metrics
        self._defaults = defaults

    async def solve(self, request: SolveRequest, request_id: str) -> SolveResponse:
        if self._models.strategy_for(request.model) is not None:
            raise ApiError(400, "/solve takes the plain model id; choose the strategy with 'strategy'", param="model")
        self._models.check_token_budget(request.max_tokens, "max_tokens")
        options = request.solve_options(self._defaults)
        solution = await self._solver.solve(request.question, options, request_id)
        self._metrics.record_solution(solution, request.strategy)
        return SolveResponse.of(solution, request.strategy, self._models.model_name)
