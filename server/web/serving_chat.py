"""``POST /v1/chat/completions``: plain generation for the model's own id; for its strategy ids
(``NAME:hybrid``), a solve of the last user message, told as a transcript: the program, its output,
the step-by-step fallback if there was one, and the answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence

from potcot.sandbox import ExecutionResult
from potcot.server.engines import Engine, EngineInputError, EngineUnavailable, GenerationChunk, TokenLogprob
from potcot.server.prompts import Rationale
from potcot.server.schema import SolveResponse, Usage, is_blank
from potcot.server.settings import SolveDefaults
from potcot.server.solver import Solution, SolveOptions, Solver, Strategy
from potcot.server.web.errors import ApiError
from potcot.server.web.metrics import Metrics
from potcot.server.web.protocol_openai import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatLogprobs,
    ChatMessageOut,
    ChatStreamChoice,
    DeltaMessage,
)
from potcot.server.web.serving_models import ModelRegistry
from potcot.server.web.streaming import DONE, engine_error_event, event, primed

_MAX_OUTPUT_SHOWN = 2_000


class Transcript:
    """A solve told as text. Streamed and whole replies are made of the same pieces."""

    def __init__(self, emit: Callable[[str], object] | None = None) -> None:
        self._pieces: list[str] = []
        self._emit = emit

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    def on_text(self, rationale: Rationale, text: str) -> None:
        self._add(text)

    def on_execution(self, result: ExecutionResult) -> None:
        if result.ok:
            shown = result.stdout.strip()[-_MAX_OUTPUT_SHOWN:] or "(nothing printed)"
            self._add(f"\n\nOutput:\n```\n{shown}\n```")
        else:
            self._add(f"\n\nThe program failed ({result.status}): {result.error}")

    def on_tool_output(self, block: str) -> None:
        self._add(block)

    def on_fallback(self, reason: str | None) -> None:
        self._add(f"\n\nThat gave no answer ({reason}), so let's reason step by step.\n\n")

    def conclude(self, solution: Solution) -> None:
        if solution.votes:
            tally = ", ".join(f"{vote.answer} ({vote.count})" for vote in solution.votes)
            self._add(f"Votes over {len(solution.attempts)} samples: {tally}.")
        self._add(
            f"\n\nThe answer is {solution.answer}." if solution.answer is not None else "\n\nNo answer was found."
        )

    def _add(self, piece: str) -> None:
        self._pieces.append(piece)
        if self._emit is not None:
            self._emit(piece)


class ChatService:
    def __init__(
        self, engine: Engine, solver: Solver, models: ModelRegistry, metrics: Metrics, defaults: SolveDefaults
    ) -> None:
        self._engine = engine
        self._solver = solver
        self._models = models
        self._metrics = metrics
        self._defaults = defaults

    async def create(
        self, request: ChatCompletionRequest, request_id: str
    ) -> ChatCompletionResponse | AsyncIterator[str]:
        strategy = self._models.strategy_for(request.model)
        self._models.check_token_budget(request.token_budget, request.token_budget_field)
        if strategy is not None:
            return await self._solve(request, strategy, request_id)
        prompt = request.prompt()
        options = request.sampling_options(request.token_budget)
        if request.stream:
            return self._stream(request, await primed(self._engine.stream(prompt, options, request_id)))
        generation = await self._engine.generate(prompt, options, request_id)
        self._metrics.record_tokens(generation.prompt_tokens, generation.completion_tokens)
        return ChatCompletionResponse(
            model=request.model,
            choices=[
                ChatChoice(
                    index=index,
                    message=ChatMessageOut(content=text),
                    finish_reason=reason,
                    logprobs=_logprobs(request, generation.logprobs[index]),
                )
                for index, (text, reason) in enumerate(zip(generation.texts, generation.finish_reasons, strict=True))
            ],
            usage=Usage.of(generation.prompt_tokens, generation.completion_tokens),
        )

    async def _stream(
        self, request: ChatCompletionRequest, chunks: AsyncGenerator[GenerationChunk, None]
    ) -> AsyncIterator[str]:
        header = _ChunkHeader(request)
        for index in range(request.n):
            yield header.event([ChatStreamChoice(index=index, delta=DeltaMessage(role="assistant", content=""))])
        prompt_tokens = completion_tokens = 0
        try:
            async for chunk in chunks:
                prompt_tokens, completion_tokens = chunk.prompt_tokens, chunk.completion_tokens
                choices = [
                    ChatStreamChoice(
                        index=delta.index,
                        delta=DeltaMessage(content=delta.text),
                        finish_reason=delta.finish_reason,
                        logprobs=_logprobs(request, delta.logprobs),
                    )
                    for delta in chunk.deltas
                    if delta.text or delta.finish_reason or delta.logprobs
                ]
                if choices:
                    yield header.event(choices)
        except (EngineInputError, EngineUnavailable) as error:
            yield engine_error_event(error)
        else:
            self._metrics.record_tokens(prompt_tokens, completion_tokens)
            if request.include_usage:
                yield header.event([], usage=Usage.of(prompt_tokens, completion_tokens))
        finally:
            await chunks.aclose()  # a client that left must not keep the model generating
        yield DONE

    async def _solve(
        self, request: ChatCompletionRequest, strategy: Strategy, request_id: str
    ) -> ChatCompletionResponse | AsyncIterator[str]:
        if request.n != 1:
            raise ApiError(400, "solving models answer with one choice: n must be 1", param="n")
        if request.response_format is not None and request.response_format.json_output() is not None:
            raise ApiError(400, "solving models answer with a transcript, not JSON", param="response_format")
        if request.logprobs:
            raise ApiError(400, "solving models answer with a transcript, not log-probabilities", param="logprobs")
        if request.continue_final_message:
            raise ApiError(
                400, "solving models answer a question; they continue no reply", param="continue_final_message"
            )
        questions = [message.text for message in request.messages if message.role == "user"]
        if not questions or is_blank(questions[-1]):
            raise ApiError(400, "solving models need a user message with the question", param="messages")
        options = request.solve_parameters(strategy).solve_options(self._defaults, stop=request.stop_sequences)
        if request.stream:
            return await self._stream_solve(request, strategy, questions[-1], options, request_id)
        transcript = Transcript()
        solution = await self._solver.solve(questions[-1], options, request_id, transcript)
        transcript.conclude(solution)
        self._metrics.record_solution(solution, strategy)
        return ChatCompletionResponse(
            model=request.model,
            choices=[
                ChatChoice(
                    index=0, message=ChatMessageOut(content=transcript.text), finish_reason=solution.finish_reason
                )
            ],
            usage=Usage.of(solution.prompt_tokens, solution.completion_tokens),
            solve=SolveResponse.of(solution, strategy, self._models.model_name),
        )

    async def _stream_solve(
        self, request: ChatCompletionRequest, strategy: Strategy, question: str, options: SolveOptions, request_id: str
    ) -> AsyncIterator[str]:
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        transcript = Transcript(pieces.put_nowait)

        async def solve() -> Solution:
            try:
                solution = await self._solver.solve(question, options, request_id, transcript)
                transcript.conclude(solution)
                return solution
            finally:
                pieces.put_nowait(None)

        task = asyncio.create_task(solve())
        first = await pieces.get()
        if first is None:
            await task  # failed before saying anything: let the error be an HTTP error
        return self._stream_pieces(request, strategy, task, first, pieces)

    async def _stream_pieces(
        self,
        request: ChatCompletionRequest,
        strategy: Strategy,
        task: asyncio.Task[Solution],
        piece: str | None,
        pieces: asyncio.Queue[str | None],
    ) -> AsyncIterator[str]:
        header = _ChunkHeader(request)
        try:
            yield header.event([ChatStreamChoice(index=0, delta=DeltaMessage(role="assistant", content=""))])
            while piece is not None:
                yield header.event([ChatStreamChoice(index=0, delta=DeltaMessage(content=piece))])
                piece = await pieces.get()
            try:
                solution = await task
            except (EngineInputError, EngineUnavailable) as error:
                yield engine_error_event(error)
            else:
                self._metrics.record_solution(solution, strategy)
                finish_reason = solution.finish_reason
                yield header.event([ChatStreamChoice(index=0, delta=DeltaMessage(), finish_reason=finish_reason)])
                if request.include_usage:
                    yield header.event([], usage=Usage.of(solution.prompt_tokens, solution.completion_tokens))
            yield DONE
        finally:
            task.cancel()  # the client left: stop generating for it


def _logprobs(request: ChatCompletionRequest, logprobs: Sequence[TokenLogprob]) -> ChatLogprobs | None:
    """Only a client that asked gets them: for the others ``logprobs`` stays null, as OpenAI's."""
    return ChatLogprobs.of(logprobs) if request.logprobs else None


class _ChunkHeader:
    """What every chunk of one streamed response shares, and whether it carries ``usage``: only a
    stream that asked for it (null until its last chunk), as OpenAI's."""

    def __init__(self, request: ChatCompletionRequest) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = request.model
        self._leave_out = frozenset() if request.include_usage else frozenset({"usage"})

    def event(self, choices: list[ChatStreamChoice], usage: Usage | None = None) -> str:
        chunk = ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=choices, usage=usage)
        return event(chunk, self._leave_out)
