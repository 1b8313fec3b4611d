"""The ``potcot`` command line: one settings model per subcommand, read from flags and
``POTCOT_*`` environment variables by pydantic-settings."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, CliApp, CliPositionalArg, CliSubCommand, SettingsConfigDict

from sandbox import Sandbox, SandboxLimits


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


class Potcot(BaseSettings):
    """potcot: math reasoning models served with hybrid program-of-thought / chain-of-thought decoding."""

    model_config = SettingsConfigDict(
        cli_prog_name="potcot", cli_kebab_case=True, cli_implicit_flags=True, env_prefix="POTCOT_"
    )

    sandbox: CliSubCommand[SandboxCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"potcot: cannot read {path}: {error}") from None


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        CliApp.run(Potcot, cli_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SystemExit(f"potcot: invalid arguments: {problems}") from None
