"""The one small interface every engine implements: stream a generation for a prompt.

The solver and the OpenAI-compatible endpoints only see this; whether the model runs in this
process (``VllmEngine``) or on remote servers (``OpenAIEngine``) is a deployment choice.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from typing import Any

from potcot.server.prompts import Prompt

# The finish reason of a choice cut short by its caller before the engine finished it.
HALTED = "abort"
# How often a generation that broke off is started again before its failure is the caller's.
GENERATION_TRIES = 3


class EngineInputError(ValueError):
    """The request cannot be served as asked: a prompt longer than the context, messages the
    chat template refuses, sampling values the engine rejects. The client's to fix. ``status``: the
    HTTP status that says so, 400 unless an upstream server said otherwise (a 404 for an endpoint it
    does not serve)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class EngineUnavailable(RuntimeError):
    """The engine cannot serve right now: every upstream server is down, or the engine died."""


class GenerationInterrupted(EngineUnavailable):
    """The engine failed after its output had begun (a server died under the request). What it had
    produced is never joined to another server's generation, which would be a text neither server
    wrote, so the caller starts again from nothing or reports the failure. ``completion_tokens``:
    what the lost generation had cost."""

    def __init__(self, message: str, completion_tokens: int) -> None:
        super().__init__(message)
        self.completion_tokens = completion_tokens


@dataclasses.dataclass(frozen=True, slots=True)
class JsonOutput:
    """Generation constrained to JSON (structured outputs): any JSON object, or, with ``schema``
    (a JSON Schema as JSON text), an object that matches it."""

    schema: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SamplingOptions:
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    json_output: JsonOutput | None = None
    # None: no log-probabilities; k: each generated token's, and the k most likely at its place.
    logprobs: int | None = None
    # The same for the prompt's tokens (each given the ones before it): what ``echo`` shows.
    prompt_logprobs: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token's log-probability, with the most likely tokens at its place (at most
    the k asked for, most likely first), in neither OpenAI shape: each endpoint renders its own."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class PromptLogprobs:
    """The prompt's tokens with their log-probabilities. The first token has none, since nothing
    comes before it: only its text."""

    first_token: str
    rest: tuple[TokenLogprob, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Tokenization:
    """A prompt as the model reads it: its token ids, and, when asked for, each token as a string."""

    ids: list[int]
    strings: list[str] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ChoiceDelta:
    index: int
    text: str
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class GenerationChunk:
    """New text since the previous chunk, per choice, with running token counts."""

    deltas: tuple[ChoiceDelta, ...]
    prompt_tokens: int
    completion_tokens: int
    # In the first chunk, when ``SamplingOptions.prompt_logprobs`` asked for them.
    prompt_logprobs: PromptLogprobs | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Generation:
    texts: list[str]
    finish_reasons: list[str | None]
    prompt_tokens: int
    completion_tokens: int
    # Per choice, every generated token's log-probability; empty unless they were asked for.
    logprobs: list[list[TokenLogprob]] = dataclasses.field(default_factory=list)
    # Of ``completion_tokens``, those of earlier tries that broke off and were thrown away.
    wasted_tokens: int = 0
    prompt_logprobs: PromptLogprobs | None = None


class Engine(abc.ABC):
    model_name: str
    max_model_len: int
    has_chat_template: bool

    @abc.abstractmethod
    def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        """Generate, yielding text as it is produced. Closing the iterator early cancels the
        generation, which is how a client that disconnects frees the model.

        The model reads ``prompt.continuation`` as the start of its reply and goes on from there;
        the text yielded is only what it adds, so a caller joins the two itself."""

    @abc.abstractmethod
    async def tokenize(
        self, prompt: Prompt, *, add_special_tokens: bool, add_generation_prompt: bool = True, strings: bool = False
    ) -> Tokenization:
        """The prompt's tokens, as a generation would read it (a chat through the model's template,
        with its generation prompt unless told not, then its continuation)."""

    @abc.abstractmethod
    async def detokenize(self, token_ids: Sequence[int]) -> str:
        """The text of these tokens; ``EngineInputError`` for an id past the vocabulary."""

    @abc.abstractmethod
    async def tokenizer_info(self) -> dict[str, Any]:
        """The tokenizer's configuration (``eos_token``, ``chat_template``, ...) and its class."""

    @abc.abstractmethod
    async def check_health(self) -> None:
        """Raise ``EngineUnavailable`` if the engine cannot serve."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def generate(
        self,
        prompt: Prompt,
        options: SamplingOptions,
        request_id: str,
        on_text: Callable[[str], object] | None = None,
        halt: asyncio.Event | None = None,
    ) -> Generation:
        """The whole generation; ``on_text`` sees the first choice's text as it arrives. Setting
        ``halt`` cuts it short: the engine stops generating, and what it had written comes back
        with finish reason ``abort`` (vLLM's word) and its tokens counted."""
        collected = _Collected(options.n, on_text)
        reading = collected.read(self.stream(prompt, options, request_id))
        if halt is None:
            await reading
            return collected.generation(halted=False)
        return collected.generation(halted=await _unless_halted(halt, reading))

    async def generate_afresh(
        self,
        prompt: Prompt,
        options: SamplingOptions,
        request_id: str,
        on_text: Callable[[str], object] | None = None,
        halt: asyncio.Event | None = None,
    ) -> Generation:
        """``generate``, started again from nothing when it breaks off midway, up to
        ``GENERATION_TRIES`` times in all: one whole generation, never two joined, with what the
        lost ones cost counted in. Text already shown through ``on_text`` cannot be taken back, so
        then the interruption is the caller's."""
        wasted = 0
        for retry in range(GENERATION_TRIES - 1):
            shown = _ShownText(on_text)
            try:
                generation = await self.generate(prompt, options, _try_id(request_id, retry), shown, halt)
                return _costing(generation, wasted)
            except GenerationInterrupted as interrupted:
                wasted += interrupted.completion_tokens
                if shown.any:
                    raise
        last = GENERATION_TRIES - 1
        return _costing(await self.generate(prompt, options, _try_id(request_id, last), on_text, halt), wasted)


class _Collected:
    """A generation's choices put together from its chunks as they come, so that what had come
    is there even when the reading is cut short."""

    def __init__(self, n: int, on_text: Callable[[str], object] | None) -> None:
        self._on_text = on_text
        self.texts = [""] * n
        self.finish_reasons: list[str | None] = [None] * n
        self.logprobs: list[list[TokenLogprob]] = [[] for _ in range(n)]
        self.prompt_tokens = self.completion_tokens = 0
        self.prompt_logprobs: PromptLogprobs | None = None

    async def read(self, chunks: AsyncGenerator[GenerationChunk, None]) -> None:
        async for chunk in chunks:
            self.prompt_logprobs = self.prompt_logprobs or chunk.prompt_logprobs
            for delta in chunk.deltas:
                self.texts[delta.index] += delta.text
                self.finish_reasons[delta.index] = delta.finish_reason or self.finish_reasons[delta.index]
                self.logprobs[delta.index].extend(delta.logprobs)
                if self._on_text is not None and delta.index == 0 and delta.text:
                    self._on_text(delta.text)
            self.prompt_tokens, self.completion_tokens = chunk.prompt_tokens, chunk.completion_tokens

    def generation(self, *, halted: bool) -> Generation:
        """What came; when halted, each choice the engine had not finished says so."""
        return Generation(
            self.texts,
            [reason or HALTED for reason in self.finish_reasons] if halted else self.finish_reasons,
            self.prompt_tokens,
            self.completion_tokens,
            self.logprobs,
            prompt_logprobs=self.prompt_logprobs,
        )


async def _unless_halted(halt: asyncio.Event, work: Coroutine[Any, Any, None]) -> bool:
    """``work`` until it ends or ``halt`` is set; whether it was cut short. Cancelling a generation's reading closes its
    stream, which is how an engine frees the model (vLLM aborts the request)."""
    task = asyncio.ensure_future(work)
    halted = asyncio.ensure_future(halt.wait())
    try:
        await asyncio.wait({task, halted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in (task, halted):
            waiting.cancel()
        await asyncio.gather(task, halted, return_exceptions=True)
    if task.cancelled():
        return True
    task.result()
    return False


class _ShownText:
    """Passes text on to ``on_text`` and remembers whether any was."""

    def __init__(self, on_text: Callable[[str], object] | None) -> None:
        self._on_text = on_text
        self.any = False

    def __call__(self, text: str) -> None:
        if self._on_text is not None:
            self.any = True
            self._on_text(text)


def _try_id(request_id: str, retry: int) -> str:
    """Each try its own id: an engine may still be cancelling the one before."""
    return f"{request_id}-retry{retry}" if retry else request_id


def _costing(generation: Generation, wasted: int) -> Generation:
    total = generation.completion_tokens + wasted
    return dataclasses.replace(generation, completion_tokens=total, wasted_tokens=wasted)
