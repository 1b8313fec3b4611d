"""A scripted engine, for deterministic unit tests of the solver's branches and the HTTP layer.
Integration tests use the real engine (``test_integration.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from fastapi.testclient import TestClient

from potcot.server.engines import (
    ChoiceDelta,
    Engine,
    EngineInputError,
    GenerationChunk,
    PromptLogprobs,
    SamplingOptions,
    Tokenization,
    TokenLogprob,
)
from potcot.server.prompts import Prompt
from potcot.server.settings import EngineSettings
from potcot.server.web.app import build_app
from potcot.server.web.settings import ServerSettings

# The scripted tokenizer: each character a token, its code point the id.
VOCABULARY = 50_000


def scripted_text(prompt: Prompt) -> str:
    """The text a scripted prompt stands for: token ids read back as characters."""
    if prompt.token_ids is not None:
        return "".join(chr(token_id) for token_id in prompt.token_ids)
    return prompt.text if prompt.text is not None else "".join(m.content for m in prompt.messages or ())


class ScriptedEngine(Engine):
    """Answers each prompt with the next scripted completion (``n`` of them when asked for ``n``),
    in two chunks, and records what it was asked. Its tokenizer makes each character a token, whose
    id is its code point; asked for log-probabilities, it gives each token -0.5
    (``scripted_logprobs``), the prompt's too."""

    def __init__(self, *completions: str, model_name: str = "scripted-model", max_model_len: int = 4096) -> None:
        self.completions = list(completions)
        # How each generation ends, in turn ("stop" once they run out): "length" plays a cut one.
        self.finish_reasons: list[str] = []
        self.prompts: list[Prompt] = []
        self.options: list[SamplingOptions] = []
        self.request_ids: list[str] = []
        self.model_name = model_name
        self.max_model_len = max_model_len
        self.has_chat_template = True
        self.release = asyncio.Event()
        self.release.set()

    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        if len(scripted_text(prompt)) > self.max_model_len:
            raise EngineInputError(f"prompt longer than {self.max_model_len}")
        self.prompts.append(prompt)
        self.options.append(options)
        self.request_ids.append(request_id)
        texts = [self.completions.pop(0) if self.completions else "" for _ in range(options.n)]
        await self.release.wait()
        reason = self.finish_reasons.pop(0) if self.finish_reasons else "stop"
        halves = [_halves(index, text, options.logprobs, reason) for index, text in enumerate(texts)]
        yield GenerationChunk(
            tuple(first for first, _ in halves),
            prompt_tokens=7,
            completion_tokens=len(texts[0]) // 2,
            prompt_logprobs=_prompt_logprobs(scripted_text(prompt), options.prompt_logprobs),
        )
        yield GenerationChunk(tuple(second for _, second in halves), prompt_tokens=7, completion_tokens=len(texts[0]))

    async def tokenize(
        self, prompt: Prompt, *, add_special_tokens: bool, add_generation_prompt: bool = True, strings: bool = False
    ) -> Tokenization:
        text = scripted_text(prompt) + prompt.continuation
        return Tokenization([ord(char) for char in text], list(text) if strings else None)

    async def detokenize(self, token_ids: Sequence[int]) -> str:
        past = [token_id for token_id in token_ids if token_id >= VOCABULARY]
        if past:
            raise EngineInputError(f"token id {past[0]} is past the vocabulary of {VOCABULARY} tokens")
        return "".join(chr(token_id) for token_id in token_ids)

    async def tokenizer_info(self) -> dict[str, Any]:
        return {"tokenizer_class": "ScriptedTokenizer", "eos_token": "\x03", "bos_token": None, "pad_token": None}

    async def check_health(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _prompt_logprobs(text: str, alternatives: int | None) -> PromptLogprobs | None:
    if alternatives is None or not text:
        return None
    return PromptLogprobs(text[0], scripted_logprobs(text[1:], alternatives))


def _halves(index: int, text: str, logprobs: int | None, reason: str) -> tuple[ChoiceDelta, ChoiceDelta]:
    half = len(text) // 2
    first, second = ChoiceDelta(index, text[:half]), ChoiceDelta(index, text[half:], reason)
    if logprobs is None:
        return first, second
    return (
        ChoiceDelta(index, first.text, None, scripted_logprobs(first.text, logprobs)),
        ChoiceDelta(index, second.text, reason, scripted_logprobs(second.text, logprobs)),
    )


def scripted_logprobs(text: str, alternatives: int) -> tuple[TokenLogprob, ...]:
    """Each character a token of log-probability -0.5, and its alternatives itself then ``alt1``,
    ``alt2``...: the values a test can predict for any text."""
    top = [(f"alt{rank}", -0.5 * (rank + 1)) for rank in range(alternatives)]
    return tuple(TokenLogprob(char, -0.5, tuple([(char, -0.5), *top[1:]][:alternatives])) for char in text)


class KeyedByIdEngine(ScriptedEngine):
    """Answers each prompt with its own scripted answer, and, as vLLM does, keeps its requests in
    flight in a table keyed by request id: two requests under one id get one answer, so a test sees
    whether every request reached it under an id of its own. Holds every request until ``expected``
    have arrived, so that they are in flight together."""

    def __init__(self, answers: dict[str, str], expected: int) -> None:
        super().__init__()
        self.answers = answers
        self.expected = expected
        self.in_flight: dict[str, str] = {}
        self.all_arrived = asyncio.Event()

    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        self.request_ids.append(request_id)
        question = prompt.text if prompt.text is not None else (prompt.messages or ())[-1].content
        self.in_flight[request_id] = self.answers[question]
        if len(self.request_ids) >= self.expected:
            self.all_arrived.set()
        await asyncio.wait_for(self.all_arrived.wait(), timeout=30)
        text = self.in_flight[request_id]
        yield GenerationChunk((ChoiceDelta(0, text, "stop"),), prompt_tokens=7, completion_tokens=len(text))


def client_for(engine: Engine, settings: ServerSettings, *, raise_server_exceptions: bool = True) -> TestClient:
    """The app as ``potcot serve`` builds it, on ``engine``; use it as a context manager, which runs
    the app's start-up and shutdown."""

    async def factory(_: EngineSettings) -> Engine:
        return engine

    return TestClient(build_app(settings, factory), raise_server_exceptions=raise_server_exceptions)
