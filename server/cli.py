"""The ``potcot`` command line: one settings model per subcommand, read from flags and
``POTCOT_*`` environment variables by pydantic-settings."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import uuid
from pathlib import Path

import httpx
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, CliApp, CliPositionalArg, CliSubCommand, SettingsConfigDict

from sandbox import Sandbox, SandboxLimits
from server.settings import ServerSettings
from server.solver import Strategy


class SandboxCommand(BaseModel):
    """Run one program in the sandbox and print its ExecutionResult as JSON.

    Exits 0 when the program ran to completion (status ok), 1 otherwise.
    """

    file: CliPositionalArg[str] = Field(description="the program: a file path, or - for standard input")
    timeout: float = Field(5.0, gt=0, le=3600, description="wall-clock limit in seconds")

    def cli_cmd(self) -> None:
        code = sys.stdin.read() if self.file == "-" else _read_text(self.file)
        with Sandbox(max_workers=1, limits=SandboxLimits(timeout_s=self.timeout)) as sandbox:
            result = sandbox.run(code)
        print(json.dumps(result.to_dict(), indent=2))
        raise SystemExit(0 if result.ok else 1)


class ServeCommand(ServerSettings):
    """Serve a math model over HTTP: POST /solve and an OpenAI-compatible API."""

    def cli_cmd(self) -> None:
        from server.serve import serve

        serve(self)


class SolveCommand(ServerSettings):
    """Solve one question and print the result as JSON: in this process, or through a server (--url)."""

    question: CliPositionalArg[str] = Field(description="the question")
    url: str | None = Field(None, description="a running potcot server; default: solve in this process")
    strategy: Strategy = Field(Strategy.HYBRID, description="hybrid, pot or cot")
    choices: list[str] | None = Field(None, description="the options of a multiple-choice question")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")
    seed: int | None = Field(None, description="sampling seed")

    def cli_cmd(self) -> None:
        body = {
            "question": self.question,
            "strategy": self.strategy,
            "choices": self.choices,
            "temperature": self.temperature,
            "seed": self.seed,
        }
        response = _solve_remotely(self.url, body) if self.url else asyncio.run(_solve_here(self, body))
        print(json.dumps(response, indent=2))


class Potcot(BaseSettings):
    """potcot: math reasoning models served with hybrid program-of-thought / chain-of-thought decoding."""

    model_config = SettingsConfigDict(cli_prog_name="potcot", cli_kebab_case=True, cli_implicit_flags=True)

    sandbox: CliSubCommand[SandboxCommand]
    serve: CliSubCommand[ServeCommand]
    solve: CliSubCommand[SolveCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)


def _solve_remotely(url: str, body: dict[str, object]) -> dict[str, object]:
    try:
        response = httpx.post(url.rstrip("/") + "/solve", json=body, timeout=600)
    except httpx.HTTPError as error:
        raise SystemExit(f"potcot: cannot reach {url}: {error}") from None
    if response.status_code != 200:
        raise SystemExit(f"potcot: the server answered {response.status_code}: {response.text}")
    return response.json()


async def _solve_here(settings: ServerSettings, body: dict[str, object]) -> dict[str, object]:
    from server.engines import start_engine
    from server.prompts import resolve_style
    from server.protocol import SolveResponse
    from server.solver import SolveOptions, Solver

    options = SolveOptions(
        strategy=Strategy(body["strategy"]),
        choices=body["choices"],  # type: ignore[arg-type]
        max_tokens=settings.default_max_tokens,
        temperature=float(body["temperature"]),  # type: ignore[arg-type]
        seed=body["seed"],  # type: ignore[arg-type]
    )
    with Sandbox(settings.sandbox_workers, limits=SandboxLimits(timeout_s=settings.sandbox_timeout)) as sandbox:
        engine = await start_engine(settings)
        try:
            style = resolve_style(settings.prompt_style, engine.model_name, engine.has_chat_template)
            solver = Solver(engine, sandbox, style, settings.sandbox_timeout)
            solution = await solver.solve(str(body["question"]), options, uuid.uuid4().hex)
        finally:
            await engine.close()
    return SolveResponse.of(solution, options.strategy, engine.model_name).model_dump()


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"potcot: cannot read {path}: {error}") from None


def main(argv: list[str] | None = None) -> None:
    # Standard output is for results (JSON); vLLM logs to standard error like everything else.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        CliApp.run(Potcot, cli_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SystemExit(f"potcot: invalid arguments: {problems}") from None
