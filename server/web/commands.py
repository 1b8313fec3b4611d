"""``potcot serve``, ``potcot solve`` and ``potcot fleet``: the server, one question solved in this
process or through a server, and the fleet on one machine. Each imports what it runs only when it
runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field
from pydantic_settings import CliApp, CliPositionalArg, CliSubCommand

from potcot.server.schema import Question, SolveFlags, SolveRequest, SolveResponse, as_solve_says
from potcot.server.settings import ClientSettings, Command, SolverSettings
from potcot.server.web.settings import ServerSettings


class ServeCommand(Command, ServerSettings):
    """Serve a math model over HTTP: POST /solve and an OpenAI-compatible API."""

    def cli_cmd(self) -> None:
        from potcot.server.web.serve import serve

        serve(self)


class SolveCommand(Command, ClientSettings, SolverSettings, SolveFlags):
    """Solve one question and print the result as JSON: in this process, or through a server (--url)."""

    question: CliPositionalArg[Question] = Field(description="the question")
    url: str | None = Field(None, description="a running potcot server; default: solve in this process")
    # Checked as /solve checks it when the request is built: a flag's list of constrained strings
    # would be read as JSON, and ``--choices 1`` would be the number 1.
    choices: list[str] | None = Field(None, description=as_solve_says("choices"))

    def cli_cmd(self) -> None:
        response = self._solve_remotely(self.url) if self.url else asyncio.run(self._solve_here())
        print(json.dumps(response, indent=2))

    def solve_request(self) -> SolveRequest:
        """The ``/solve`` request this command makes, in this process as through a server."""
        given = self.solve_parameters().model_dump(exclude_unset=True)
        return SolveRequest.model_validate({"question": self.question, **given})

    def _solve_remotely(self, url: str) -> dict[str, Any]:
        body = self.solve_request().body()
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

        request = self.solve_request()
        options = request.solve_options(self)
        try:
            async with local_solver(self) as solver:
                solution = await solver.solve(request.question, options, uuid.uuid4().hex)
                return SolveResponse.of(solution, options.strategy, solver.engine.model_name).model_dump()
        except EngineUnavailable as error:
            raise SystemExit(f"potcot solve: {error}") from None


class FleetUpCommand(BaseModel):
    """Start N vLLM replicas, vllm-router in front of them and potcot in front of the router, on
    this machine; Ctrl-C stops them all. The topology of deploy/, to try it locally."""

    replicas: int = Field(2, ge=1, le=16, description="vLLM servers of the model")
    model: str | None = Field(None, description="a checkpoint directory; default: the embedded SmolLM2-135M-Instruct")
    served_model_name: str | None = Field(None, description="the model id clients use; default: the model's name")
    port: int = Field(8000, ge=1, le=65535, description="potcot's port, on 127.0.0.1")
    policy: Literal["cache_aware", "consistent_hash", "power_of_two", "round_robin"] = Field(
        "cache_aware", description="the router's: cache_aware sends a prompt where its beginning is cached"
    )
    max_model_len: int = Field(2048, ge=16, description="each replica's context length")
    log_dir: Path | None = Field(None, description="where each process logs; default: a new temporary folder")

    def cli_cmd(self) -> None:
        import tempfile
        import threading

        from potcot.server.embedded import model_to_serve
        from potcot.server.fleet.local import Fleet, FleetSpec
        from potcot.server.settings import EngineSettings

        model, name = model_to_serve(self.model, EngineSettings(engine="vllm").cache_dir)
        log_dir = self.log_dir or Path(tempfile.mkdtemp(prefix="potcot-fleet-"))
        spec = FleetSpec(
            model,
            self.served_model_name or name,
            log_dir,
            replicas=self.replicas,
            port=self.port,
            policy=self.policy,
            max_model_len=self.max_model_len,
        )
        print(f"starting {self.replicas} replicas of {spec.served_model_name}, the router, potcot; logs: {log_dir}")
        try:
            fleet = Fleet(spec).up()
        except (RuntimeError, TimeoutError) as error:
            raise SystemExit(f"potcot fleet up: {error}") from None
        with fleet:
            print(f"replicas: {' '.join(fleet.replica_urls)}")
            print(f"router:   {fleet.router_url} ({self.policy})")
            print(f"potcot:   {fleet.url}   (POST /solve, /v1/chat/completions; Ctrl-C stops the fleet)", flush=True)
            threading.Event().wait()


class FleetCommand(Command):
    """The fleet on one machine: vLLM replicas behind vllm-router, potcot in front."""

    up: CliSubCommand[FleetUpCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)
