"""``python -m tests.server.front_door_server PORT [FLAGS]``: potcot's HTTP server as ``potcot
serve`` runs it (``server.serve.uvicorn_config``), on the scripted engine, for the hostile clients
of ``test_front_door.py``. A prompt ``sleep:S`` makes its generation take S seconds, so that a test
can hold capacity for as long as it needs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator

import uvicorn

from potcot.server.engines import Engine, GenerationChunk, SamplingOptions
from potcot.server.prompts import Prompt
from potcot.server.settings import EngineSettings
from potcot.server.web.app import build_app
from potcot.server.web.serve import uvicorn_config
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import ScriptedEngine

PROGRAM = "```python\nprint(6 * 7)\n```"


class SleepyEngine(ScriptedEngine):
    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        if prompt.text is not None and prompt.text.startswith("sleep:"):
            await asyncio.sleep(float(prompt.text.removeprefix("sleep:")))
        async for chunk in super().stream(prompt, options, request_id):
            yield chunk


def main(argv: list[str]) -> None:
    settings = ServerSettings(_cli_parse_args=["--port", *argv], sandbox_workers=1, log_level="warning")
    engine = SleepyEngine(*[PROGRAM] * 100_000)

    async def factory(_: EngineSettings) -> Engine:
        return engine

    uvicorn.Server(uvicorn_config(build_app(settings, factory), settings)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
