"""The one small interface every engine implements: stream a generation for a prompt.

The solver and the OpenAI-compatible endpoints only see this; whether the model runs in this
process (``VllmEngine``) or on remote servers (``OpenAIEngine``) is a deployment choice.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncGenerator, Callable

from potcot.server.prompts import Prompt


class EngineInputError(ValueError):
    """The request cannot be served as asked: a prompt longer than the context, messages the
    chat template refuses, sampling values the engine rejects. The client's to fix."""


class EngineUnavailable(RuntimeError):
    """The engine cannot serve right now: every upstream server is down, or the engine died."""


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


@dataclasses.dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token's log-probability, with the most likely tokens at its place (at most
    the k asked for, most likely first), in neither OpenAI shape: each endpoint renders its own."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


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


@dataclasses.dataclass(frozen=True, slots=True)
class Generation:
    texts: list[str]
    finish_reasons: list[str | None]
    prompt_tokens: int
    completion_tokens: int
    # Per choice, every generated token's log-probability; empty unless they were asked for.
    logprobs: list[list[TokenLogprob]] = dataclasses.field(default_factory=list)


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
    ) -> Generation:
        """The whole generation; ``on_text`` sees the first choice's text as it arrives."""
        texts = [""] * options.n
        finish_reasons: list[str | None] = [None] * options.n
        logprobs: list[list[TokenLogprob]] = [[] for _ in range(options.n)]
        prompt_tokens = completion_tokens = 0
        async for chunk in self.stream(prompt, options, request_id):
            for delta in chunk.deltas:
                texts[delta.index] += delta.text
                finish_reasons[delta.index] = delta.finish_reason or finish_reasons[delta.index]
                logprobs[delta.index].extend(delta.logprobs)
                if on_text is not None and delta.index == 0 and delta.text:
                    on_text(delta.text)
            prompt_tokens, completion_tokens = chunk.prompt_tokens, chunk.completion_tokens
        return Generation(texts, finish_reasons, prompt_tokens, completion_tokens, logprobs)
