"""Everything that crosses HTTP: ``/solve`` and the OpenAI-compatible API, as pydantic models.

Field bounds follow OpenAI's API reference, so a value OpenAI would reject is a 400 here too.
Unknown fields are ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sandbox import ExecutionResult
from server.engines.base import SamplingOptions
from server.solver import Attempt, Solution, Strategy


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# --- errors -----------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(BaseModel):
    error: ErrorInfo


# --- /solve -----------------------------------------------------------------------------------

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class SolveRequest(_Request):
    question: NonEmptyText = Field(max_length=20_000)
    strategy: Strategy = Strategy.HYBRID
    choices: list[NonEmptyText] | None = Field(None, min_length=2, max_length=26)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int | None = None
    model: str | None = None


class Execution(BaseModel):
    status: str
    stdout: str
    answer: str | None
    error: str | None
    duration_s: float

    @classmethod
    def of(cls, result: ExecutionResult) -> Execution:
        return cls(**result.to_dict())


class AttemptRecord(BaseModel):
    rationale: str
    completion: str
    finish_reason: str | None
    program: str | None
    execution: Execution | None
    answer: str | None
    failure: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptRecord:
        return cls(
            rationale=attempt.rationale,
            completion=attempt.completion,
            finish_reason=attempt.finish_reason,
            program=attempt.program,
            execution=Execution.of(attempt.execution) if attempt.execution else None,
            answer=attempt.answer,
            failure=attempt.failure,
        )


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


class Timings(BaseModel):
    total_s: float
    generation_s: float
    execution_s: float


class SolveResponse(BaseModel):
    id: str
    model: str
    answer: str | None
    strategy: str | None = Field(description="the rationale that produced the answer: pot or cot")
    requested_strategy: Strategy
    fallback_reason: str | None
    attempts: list[AttemptRecord]
    usage: Usage
    timings: Timings

    @classmethod
    def of(cls, solution: Solution, requested: Strategy, model: str) -> SolveResponse:
        return cls(
            id=_id("solve"),
            model=model,
            answer=solution.answer,
            strategy=solution.strategy,
            requested_strategy=requested,
            fallback_reason=solution.fallback_reason,
            attempts=[AttemptRecord.of(attempt) for attempt in solution.attempts],
            usage=Usage.of(solution.prompt_tokens, solution.completion_tokens),
            timings=Timings(
                total_s=solution.total_s, generation_s=solution.generation_s, execution_s=solution.execution_s
            ),
        )


# --- OpenAI: shared -----------------------------------------------------------------------------


class _SamplingRequest(_Request):
    model: str
    n: int = Field(1, ge=1, le=16)
    stop: str | list[str] | None = Field(None)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = None
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    stream: bool = False
    stream_options: StreamOptions | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences")
        return stop

    def sampling_options(self, max_tokens: int | None) -> SamplingOptions:
        stop = () if self.stop is None else (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        return SamplingOptions(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            n=self.n,
            seed=self.seed,
            stop=stop,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
        )


class StreamOptions(BaseModel):
    include_usage: bool = False


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "potcot"
    max_model_len: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- OpenAI: chat completions -----------------------------------------------------------------


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[TextPart]

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


class ChatCompletionRequest(_SamplingRequest):
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    @property
    def token_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: str | None
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: _id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: Usage
    solve: SolveResponse | None = Field(None, description="potcot extension: the solve behind a hybrid answer")


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatStreamChoice(BaseModel):
    index: int
    delta: DeltaMessage
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatStreamChoice]
    usage: Usage | None = None


# --- OpenAI: completions ----------------------------------------------------------------------


class CompletionRequest(_SamplingRequest):
    prompt: str | list[str]
    max_tokens: int | None = Field(16, ge=1)

    @field_validator("prompt")
    @classmethod
    def _non_empty(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and not prompt:
            raise ValueError("prompt must not be an empty list")
        return prompt

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str | None
    logprobs: None = None


class CompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: _id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


ChatCompletionRequest.model_rebuild()
CompletionRequest.model_rebuild()
