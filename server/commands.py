"""``potcot serve`` and ``potcot solve``: the server, and one question solved in this process or
through a server. Both import the HTTP server and the engine only when they run."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import Field
from pydantic_settings import CliPositionalArg

from potcot.server.settings import ClientSettings, Command, ServerSettings, SolverSettings, choice_of
from potcot.server.solver import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_SAMPLES,
    MAX_ROUNDS,
    MAX_SAMPLES,
    VOTE_TEMPERATURE,
    SolveOptions,
    Strategy,
)

if TYPE_CHECKING:  # a type checker sees the enum, which is what the field holds
    StrategyChoice = Strategy
else:
    StrategyChoice = choice_of(Strategy)


class ServeCommand(Command, ServerSettings):
    """Serve a math model over HTTP: POST /solve and an OpenAI-compatible API."""

    def cli_cmd(self) -> None:
        from potcot.server.serve import serve

        serve(self)


class SolveCommand(Command, ClientSettings, SolverSettings):
    """Solve one question and print the result as JSON: in this process, or through a server (--url)."""

    question: CliPositionalArg[str] = Field(description="the question")
    url: str | None = Field(None, description="a running potcot server; default: solve in this process")
    strategy: StrategyChoice = Field(Strategy.HYBRID, description="hybrid, pot, cot, tir or vote")
    choices: list[str] | None = Field(None, description="the options of a multiple-choice question")
    temperature: float | None = Field(
        None, ge=0, le=2, description=f"sampling temperature; default: 0, greedy ({VOTE_TEMPERATURE} for vote)"
    )
    seed: int | None = Field(None, description="sampling seed")
    max_rounds: int | None = Field(
        None, ge=1, le=MAX_ROUNDS, description=f"tir: the most code blocks run; default {DEFAULT_MAX_ROUNDS}"
    )
    samples: int | None = Field(
        None, ge=1, le=MAX_SAMPLES, description=f"vote: the most samples of each rationale; default {DEFAULT_SAMPLES}"
    )

    def cli_cmd(self) -> None:
        response = self._solve_remotely(self.url) if self.url else asyncio.run(self._solve_here())
        print(json.dumps(response, indent=2))

    def _solve_remotely(self, url: str) -> dict[str, Any]:
        """Through a server, whose own settings decide the rest; ``--max-tokens`` only if given."""
        fields = {"question", "strategy", "choices", "temperature", "seed", "max_rounds", "samples"}
        body = self.model_dump(include=fields, exclude_none=True)
        if "max_tokens" in self.model_fields_set:
            body["max_tokens"] = self.max_tokens
        try:
            response = httpx.post(url.rstrip("/") + "/solve", json=body, headers=self.auth_headers(), timeout=600)
        except httpx.HTTPError as error:
            raise SystemExit(f"potcot: cannot reach {url}: {error}") from None
        if response.status_code != 200:
            raise SystemExit(f"potcot: the server answered {response.status_code}: {response.text}")
        return response.json()

    async def _solve_here(self) -> dict[str, Any]:
        from potcot.server.engines import EngineUnavailable
        from potcot.server.inprocess import local_solver
        from potcot.server.protocol import SolveResponse

        options = SolveOptions.of(
            self,
            self.strategy,
            choices=self.choices,
            temperature=self.temperature,
            seed=self.seed,
            max_rounds=self.max_rounds,
            samples=self.samples,
        )
        try:
            async with local_solver(self) as solver:
                solution = await solver.solve(self.question, options, uuid.uuid4().hex)
                return SolveResponse.of(solution, options.strategy, solver.engine.model_name).model_dump()
        except EngineUnavailable as error:
            raise SystemExit(f"potcot solve: {error}") from None
