"""``POST /v1/completions``: plain text generation for the model's own id."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from potcot.server.engines import ChoiceDelta, Engine, EngineInputError, EngineUnavailable, Generation, GenerationChunk
from potcot.server.errors import ApiError
from potcot.server.metrics import Metrics
from potcot.server.prompts import Prompt
from potcot.server.protocol import CompletionChoice, CompletionLogprobs, CompletionRequest, CompletionResponse, Usage
from potcot.server.serving_models import ModelRegistry
from potcot.server.streaming import DONE, engine_error_event, event, primed


class CompletionService:
    def __init__(self, engine: Engine, models: ModelRegistry, metrics: Metrics) -> None:
        self._engine = engine
        self._models = models
        self._metrics = metrics

    async def create(self, request: CompletionRequest, request_id: str) -> CompletionResponse | AsyncIterator[str]:
        if self._models.strategy_for(request.model) is not None:
            raise ApiError(400, "solving models answer chat completions: use /v1/chat/completions", param="model")
        self._models.check_token_budget(request.max_tokens, "max_tokens")
        options = request.sampling_options(request.max_tokens)
        prompts = request.prompts
        if request.stream:
            if len(prompts) != 1:
                raise ApiError(400, "streaming takes a single prompt", param="prompt")
            return self._stream(
                request, await primed(self._engine.stream(Prompt(text=prompts[0]), options, request_id))
            )
        generations = [
            asyncio.ensure_future(self._engine.generate(Prompt(text=text), options, f"{request_id}-{i}"))
            for i, text in enumerate(prompts)
        ]
        try:
            return self._response(request, await asyncio.gather(*generations))
        except BaseException:
            for generation in generations:  # one failed or the client left: the others are wasted work
                generation.cancel()
            raise

    def _response(self, request: CompletionRequest, generations: list[Generation]) -> CompletionResponse:
        prompt_tokens = sum(generation.prompt_tokens for generation in generations)
        completion_tokens = sum(generation.completion_tokens for generation in generations)
        self._metrics.record_tokens(prompt_tokens, completion_tokens)
        choices = [
            CompletionChoice(
                index=position * request.n + index,
                text=text,
                finish_reason=reason,
                logprobs=None if request.logprobs is None else CompletionLogprobs.of(generation.logprobs[index]),
            )
            for position, generation in enumerate(generations)
            for index, (text, reason) in enumerate(zip(generation.texts, generation.finish_reasons, strict=True))
        ]
        return CompletionResponse(
            model=request.model, choices=choices, usage=Usage.of(prompt_tokens, completion_tokens)
        )

    async def _stream(
        self, request: CompletionRequest, chunks: AsyncGenerator[GenerationChunk, None]
    ) -> AsyncIterator[str]:
        response_id, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        prompt_tokens = completion_tokens = 0
        offsets = _TextOffsets(request.n)
        try:
            async for chunk in chunks:
                prompt_tokens, completion_tokens = chunk.prompt_tokens, chunk.completion_tokens
                choices = [
                    CompletionChoice(
                        index=delta.index,
                        text=delta.text,
                        finish_reason=delta.finish_reason,
                        logprobs=None if request.logprobs is None else offsets.logprobs(delta),
                    )
                    for delta in chunk.deltas
                    if delta.text or delta.finish_reason or delta.logprobs
                ]
                if choices:
                    yield event(
                        CompletionResponse(id=response_id, created=created, model=request.model, choices=choices)
                    )
        except (EngineInputError, EngineUnavailable) as error:
            yield engine_error_event(error)
        else:
            self._metrics.record_tokens(prompt_tokens, completion_tokens)
            if request.stream_options and request.stream_options.include_usage:
                usage = Usage.of(prompt_tokens, completion_tokens)
                yield event(
                    CompletionResponse(id=response_id, created=created, model=request.model, choices=[], usage=usage)
                )
        finally:
            await chunks.aclose()
        yield DONE


class _TextOffsets:
    """Where each streamed choice's text has got to, so that a chunk's ``text_offset`` counts from
    the start of the choice's text, as a whole response's does."""

    def __init__(self, n: int) -> None:
        self._offsets = [0] * n

    def logprobs(self, delta: ChoiceDelta) -> CompletionLogprobs:
        logprobs = CompletionLogprobs.of(delta.logprobs, self._offsets[delta.index])
        self._offsets[delta.index] += sum(len(entry.token) for entry in delta.logprobs)
        return logprobs
