"""A scripted engine, for deterministic unit tests of the solver's branches and the HTTP layer.
Integration tests use the real engine (``test_integration.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from server.engines import ChoiceDelta, Engine, EngineInputError, GenerationChunk, SamplingOptions
from server.prompts import Prompt


class ScriptedEngine(Engine):
    """Answers each prompt with the next scripted completion, in two chunks, and records what it was asked."""

    def __init__(self, *completions: str, model_name: str = "scripted-model", max_model_len: int = 4096) -> None:
        self.completions = list(completions)
        self.prompts: list[Prompt] = []
        self.options: list[SamplingOptions] = []
        self.model_name = model_name
        self.max_model_len = max_model_len
        self.has_chat_template = True
        self.release = asyncio.Event()
        self.release.set()

    async def stream(self, prompt: Prompt, options: SamplingOptions, request_id: str) -> AsyncIterator[GenerationChunk]:
        if prompt.text is not None and len(prompt.text) > self.max_model_len:
            raise EngineInputError(f"prompt longer than {self.max_model_len}")
        self.prompts.append(prompt)
        self.options.append(options)
        text = self.completions.pop(0) if self.completions else ""
        await self.release.wait()
        half = len(text) // 2
        yield GenerationChunk((ChoiceDelta(0, text[:half]),), prompt_tokens=7, completion_tokens=half)
        yield GenerationChunk((ChoiceDelta(0, text[half:], "stop"),), prompt_tokens=7, completion_tokens=len(text))

    async def check_health(self) -> None:
        return None

    async def close(self) -> None:
        return None
