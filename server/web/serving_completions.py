"""``POST /v1/completions``: plain text generation for the model's own id, as vLLM serves it:
prompts as text or token ids, and ``echo`` (the prompt before its completion, with the prompt's
log-probabilities when ``logprobs`` asks), ``max_tokens`` 0 included: lm-evaluation-harness scores
a multiple-choice option with ``echo: true, logprobs: 1, max_tokens: 1``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from potcot.server.engines import (
    ChoiceDelta,
    Engine,
    EngineInputError,
    EngineUnavailable,
    Generation,
    GenerationChunk,
    PromptLogprobs,
    TokenLogprob,
)
from potcot.server.prompts import Prompt
from potcot.server.schema import Usage
from potcot.server.web.errors import ApiError
from potcot.server.web.metrics import Metrics
from potcot.server.web.protocol_openai import (
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
)
from potcot.server.web.serving_models import ModelRegistry
from potcot.server.web.streaming import DONE, engine_error_event, event, primed


class CompletionService:
    def __init__(self, engine: Engine, models: ModelRegistry, metrics: Metrics) -> None:
        self._engine = engine
        self._models = models
        self._metrics = metrics

    async def create(self, request: CompletionRequest, request_id: str) -> CompletionResponse | AsyncIterator[str]:
        self._check(request)
        prompts = request.prompts
        # With max_tokens 0 the engine still draws one token (vLLM's way), which the answer leaves out.
        budget = None if request.max_tokens is None else max(request.max_tokens, 1)
        options = request.sampling_options(budget)
        echoes = await self._echoes(request, prompts)
        if request.stream:
            if len(prompts) != 1:
                raise ApiError(400, "streaming takes a single prompt", param="prompt")
            chunks = await primed(self._engine.stream(prompts[0], options, request_id))
            return self._stream(request, _Echo(request, echoes[0]), chunks)
        generations = [
            asyncio.ensure_future(self._engine.generate(prompt, options, f"{request_id}-{i}"))
            for i, prompt in enumerate(prompts)
        ]
        try:
            return self._response(request, await asyncio.gather(*generations), echoes)
        except BaseException:
            for generation in generations:  # one failed or the client left: the others are wasted work
                generation.cancel()
            raise

    def _check(self, request: CompletionRequest) -> None:
        if self._models.strategy_for(request.model) is not None:
            raise ApiError(400, "solving models answer chat completions: use /v1/chat/completions", param="model")
        if request.max_tokens == 0 and not request.echo:
            raise ApiError(
                400, "max_tokens 0 asks for no completion: it needs echo: true (the prompt alone)", param="max_tokens"
            )
        self._models.check_token_budget(request.max_tokens, "max_tokens")

    async def _echoes(self, request: CompletionRequest, prompts: Sequence[Prompt]) -> list[str]:
        """The text each choice starts with: with ``echo``, its prompt (token ids as the model's
        tokenizer reads them back); otherwise nothing."""
        if not request.echo:
            return [""] * len(prompts)
        return [
            (prompt.text or "") if prompt.token_ids is None else await self._engine.detokenize(prompt.token_ids)
            for prompt in prompts
        ]

    def _response(
        self, request: CompletionRequest, generations: list[Generation], echoes: list[str]
    ) -> CompletionResponse:
        prompt_tokens = sum(generation.prompt_tokens for generation in generations)
        completion_tokens = sum(generation.completion_tokens for generation in generations)
        self._metrics.record_tokens(prompt_tokens, completion_tokens)
        choices = [
            _Echo(request, echo).whole(position * request.n + index, generation, index)
            for position, (generation, echo) in enumerate(zip(generations, echoes, strict=True))
            for index in range(len(generation.texts))
        ]
        return CompletionResponse(
            model=request.model, choices=choices, usage=Usage.of(prompt_tokens, completion_tokens)
        )

    async def _stream(
        self, request: CompletionRequest, echo: _Echo, chunks: AsyncGenerator[GenerationChunk, None]
    ) -> AsyncIterator[str]:
        response_id, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        prompt_tokens = completion_tokens = 0
        try:
            async for chunk in chunks:
                prompt_tokens, completion_tokens = chunk.prompt_tokens, chunk.completion_tokens
                choices = [choice for delta in chunk.deltas if (choice := echo.streamed(delta, chunk)) is not None]
                if choices:
                    response = CompletionResponse(id=response_id, created=created, model=request.model, choices=choices)
                    yield event(response)
        except (EngineInputError, EngineUnavailable) as error:
            yield engine_error_event(error)
        else:
            self._metrics.record_tokens(prompt_tokens, completion_tokens)
            if request.include_usage:
                usage = Usage.of(prompt_tokens, completion_tokens)
                yield event(
                    CompletionResponse(id=response_id, created=created, model=request.model, choices=[], usage=usage)
                )
        finally:
            await chunks.aclose()
        yield DONE


class _Echo:
    """How one prompt's choices are told: with ``echo``, each begins with the prompt and, when
    ``logprobs`` asks, the prompt's log-probabilities; with ``max_tokens`` 0, that is all of it.
    Streamed, the prompt comes with each choice's first chunk, and ``text_offset`` carries on from
    the start of the choice's text across chunks, as vLLM's."""

    def __init__(self, request: CompletionRequest, text: str) -> None:
        self._request = request
        self._text = text
        self._prompt_only = request.max_tokens == 0
        self._prompt_logprobs: PromptLogprobs | None = None
        self._echoed: set[int] = set()
        self._offsets: dict[int, int] = {}

    def whole(self, index: int, generation: Generation, choice: int) -> CompletionChoice:
        logprobs = generation.logprobs[choice] if generation.logprobs else []
        delta = ChoiceDelta(choice, generation.texts[choice], generation.finish_reasons[choice], tuple(logprobs))
        told = self._choice(delta, generation.prompt_logprobs)
        return told.model_copy(update={"index": index})

    def streamed(self, delta: ChoiceDelta, chunk: GenerationChunk) -> CompletionChoice | None:
        self._prompt_logprobs = self._prompt_logprobs or chunk.prompt_logprobs
        first = delta.index not in self._echoed
        self._echoed.add(delta.index)
        choice = self._choice(delta, self._prompt_logprobs if first else None, first)
        if choice.text or choice.finish_reason or choice.logprobs:
            return choice
        return None

    def _choice(
        self, delta: ChoiceDelta, prompt_logprobs: PromptLogprobs | None, first: bool = True
    ) -> CompletionChoice:
        echo = self._request.echo and first
        text, logprobs = ("", ()) if self._prompt_only else (delta.text, delta.logprobs)
        reason = "length" if self._prompt_only and delta.finish_reason else delta.finish_reason
        return CompletionChoice(
            index=delta.index,
            text=(self._text if echo else "") + text,
            finish_reason=reason,
            logprobs=self._logprobs(delta.index, logprobs, prompt_logprobs if echo else None),
        )

    def _logprobs(
        self, index: int, logprobs: Sequence[TokenLogprob], prompt: PromptLogprobs | None
    ) -> CompletionLogprobs | None:
        if self._request.logprobs is None:
            return None
        told = CompletionLogprobs.of(logprobs, self._offsets.get(index, 0), prompt)
        self._offsets[index] = self._offsets.get(index, 0) + sum(len(token) for token in told.tokens)
        return told
