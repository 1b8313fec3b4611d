"""``potcot sandbox``: run one program in the sandbox, as the solver would, and show the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, CliPositionalArg, PydanticBaseSettingsSource, SettingsConfigDict

from potcot.sandbox.limits import DEFAULT_TIMEOUT_S, SandboxLimits
from potcot.sandbox.pool import Sandbox


class SandboxCommand(BaseSettings):
    """Run one program in the sandbox and print its ExecutionResult as JSON.

    Exits 0 when the program ran to completion (status ok), 1 otherwise.
    """

    model_config = SettingsConfigDict(cli_kebab_case=True, cli_implicit_flags=True)

    file: CliPositionalArg[str] = Field(description="the program: a file path, or - for standard input")
    timeout: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=3600, description="wall-clock limit in seconds")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags only: a variable named ``timeout`` or ``file`` must not change what runs."""
        return (init_settings,)

    def cli_cmd(self) -> None:
        code = sys.stdin.read() if self.file == "-" else read_text(self.file)
        with Sandbox(max_workers=1, limits=SandboxLimits(timeout_s=self.timeout)) as sandbox:
            result = sandbox.run(code)
        print(json.dumps(result.to_dict(), indent=2))
        raise SystemExit(0 if result.ok else 1)


def read_text(path: Path | str) -> str:
    """A file a command was pointed at; a clear error, not a traceback, when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"potcot: cannot read {path}: {error}") from None
