"""Engines: where completions come from. ``start_engine`` picks one from the settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from potcot.server.engines.base import (
    ChoiceDelta,
    Engine,
    EngineInputError,
    EngineUnavailable,
    Generation,
    GenerationChunk,
    JsonOutput,
    SamplingOptions,
    TokenLogprob,
)
from potcot.server.settings import ServerSettings

__all__ = [
    "ChoiceDelta",
    "Engine",
    "EngineInputError",
    "EngineUnavailable",
    "Generation",
    "GenerationChunk",
    "JsonOutput",
    "SamplingOptions",
    "TokenLogprob",
    "start_engine",
]


async def start_engine(settings: ServerSettings) -> Engine:
    """The engine the settings ask for; vLLM is imported only when it is the one."""
    if settings.engine == "openai":
        from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamLimits

        return await OpenAIEngine.start(
            settings.upstream, settings.model, settings.max_model_len, UpstreamLimits.for_settings(settings)
        )
    from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir
    from potcot.server.engines.vllm_engine import VllmEngine

    if settings.model is None:
        model, name = str(await asyncio.to_thread(embedded_model_dir, settings.cache_dir)), EMBEDDED_MODEL_NAME
    else:
        local = Path(settings.model)
        model, name = settings.model, local.resolve().name if local.exists() else settings.model
    return await VllmEngine.start(settings, model, settings.served_model_name or name)
