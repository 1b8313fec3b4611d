"""Everything that crosses HTTP: ``/solve`` and the OpenAI-compatible API, as pydantic models.

Field bounds follow OpenAI's API reference, so a value OpenAI would reject is a 400 here too, and
every integer is bounded to what the engines accept: an unbounded one reached vLLM's serializer and
failed there as a 500. OpenAI's fields that potcot does not implement are declared, and refused
unless they ask for nothing (``REFUSED_FIELDS``): a client that asked for a tool call must not get
a plain completion as if it had been honoured. Bookkeeping fields
(``IGNORED_FIELDS``) and fields unknown to OpenAI are ignored, as vLLM does.
"""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from potcot.sandbox import ExecutionResult
from potcot.server.engines.base import JsonOutput, SamplingOptions, TokenLogprob
from potcot.server.prompts import ChatMessage, Prompt
from potcot.server.solver import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_SAMPLES,
    MAX_ROUNDS,
    MAX_SAMPLES,
    VOTE_TEMPERATURE,
    Attempt,
    Solution,
    Strategy,
    ToolRound,
    max_generations,
)

# --- integer bounds ----------------------------------------------------------------------------
# Strict: a JSON ``true`` or ``2.5`` where a count is expected is a client's mistake, not a 1 or a 2.

# vLLM's own range for a seed (a torch.long); past it, its serializer raises OverflowError.
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
# No context is this long; the model's real context is checked where it is known (``ModelRegistry``).
MAX_TOKENS_BOUND = 2**31 - 1
MAX_CHOICES = 16

Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX, strict=True)]
TokenBudget = Annotated[int, Field(ge=1, le=MAX_TOKENS_BOUND, strict=True)]
Choices = Annotated[int, Field(ge=1, le=MAX_CHOICES, strict=True)]
Rounds = Annotated[int, Field(ge=1, le=MAX_ROUNDS, strict=True)]
Samples = Annotated[int, Field(ge=1, le=MAX_SAMPLES, strict=True)]


# --- fields potcot does not implement ----------------------------------------------------------

# Each with the values that ask for nothing; any other value is a 400 that names the field.
REFUSED_FIELDS: dict[str, tuple[object, ...]] = {
    "tools": ([],),
    "tool_choice": ("none", "auto"),
    "functions": ([],),
    "function_call": ("none", "auto"),
    "logit_bias": ({},),
    "prediction": (),
    "audio": (),
    "modalities": (["text"],),
    "echo": (False,),
    "best_of": (1,),
    "suffix": ("",),
    # vLLM's extensions that change what is generated.
    "top_k": (-1, 0),
    "min_p": (0.0,),
    "repetition_penalty": (1.0,),
    "min_tokens": (0,),
    "structured_outputs": (),
    "guided_json": (),
    "guided_regex": (),
    "guided_choice": (),
    "guided_grammar": (),
}
# Bookkeeping that changes no output: accepted and ignored, as vLLM does. Documentation only: like
# any field unknown to OpenAI, they are simply not read.
IGNORED_FIELDS = frozenset({"user", "metadata", "store", "service_tier", "parallel_tool_calls"})


def _asks_for_nothing(value: object, inert: tuple[object, ...]) -> bool:
    """``None`` or one of the field's inert values, of the same type: 0 is not ``False``."""
    return value is None or any(type(value) is type(candidate) and value == candidate for candidate in inert)


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*")
    @classmethod
    def _refuse_unimplemented(cls, value: object, info: ValidationInfo) -> object:
        """One check for every field of ``REFUSED_FIELDS`` a model declares; it runs only on
        fields the client sent, so an absent one is never refused."""
        inert = REFUSED_FIELDS.get(info.field_name or "")
        if inert is None or _asks_for_nothing(value, inert):
            return value
        raise PydanticCustomError("unsupported_field", "not supported by this server; leave it out or send null")


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


# What each error status means, for the OpenAPI document: the statuses the server really answers.
_ERROR_STATUSES: dict[int, str] = {
    400: "Malformed JSON, a missing or wrong field, a value out of range, a field the server does not "
    "implement, or a prompt past the model's context",
    401: "No valid API key, when keys are configured",
    404: "An unknown model",
    413: "A request body over the size limit",
    502: "An upstream server (--engine openai) broke off mid-generation; what it had written is not a reply",
    503: "The model is still loading, the engine cannot serve, or the server is at capacity (with Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI's account of a route's errors, all in OpenAI's shape: the statuses it answers, and
    ``default`` for an unexpected one (a 500). ``default`` also keeps FastAPI from documenting its
    422, which this server never answers (validation errors are 400s, as OpenAI's)."""
    documented: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": _ERROR_STATUSES[status]} for status in statuses
    }
    documented["default"] = {"model": ErrorResponse, "description": "An unexpected error"}
    return documented


def streamed(chunk: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI's account of a route that streams with ``stream: true``: ``text/event-stream``
    beside the JSON of a whole response."""
    stream = {
        "type": "string",
        "description": f"Server-sent events: `data: {{{chunk.__name__} as JSON}}` lines, then `data: [DONE]`; "
        "an error met after the stream began is one `data: {ErrorResponse as JSON}` event",
    }
    return {200: {"content": {"text/event-stream": {"schema": stream}}}}


# --- /solve -----------------------------------------------------------------------------------

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def is_blank(text: str) -> bool:
    """Nothing a model could read: only whitespace, NULs and other control or format characters."""
    return all(char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


def _visible(text: str) -> str:
    if is_blank(text):
        raise PydanticCustomError("blank_text", "must have a visible character, not only control characters")
    return text


NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_visible)]


class SolveRequest(_Request):
    question: NonEmptyText = Field(max_length=20_000)
    strategy: Strategy = Strategy.HYBRID
    choices: list[NonEmptyText] | None = Field(None, min_length=2, max_length=26)
    max_tokens: TokenBudget | None = None
    temperature: float | None = Field(
        None, ge=0, le=2, strict=True, description=f"default: 0 (greedy); {VOTE_TEMPERATURE} for vote"
    )
    seed: Seed | None = None
    model: str | None = None
    max_rounds: Rounds | None = Field(
        None, description=f"tir: the most code blocks run before the fallback; default {DEFAULT_MAX_ROUNDS}"
    )
    samples: Samples | None = Field(
        None, description=f"vote: the most samples of each rationale; default {DEFAULT_SAMPLES}"
    )

    @property
    def max_generations(self) -> int:
        return max_generations(self.strategy, self.max_rounds or DEFAULT_MAX_ROUNDS, self.samples or DEFAULT_SAMPLES)


class Execution(BaseModel):
    status: str
    stdout: str
    answer: str | None
    error: str | None
    duration_s: float

    @classmethod
    def of(cls, result: ExecutionResult) -> Execution:
        return cls(**result.to_dict())


class RoundRecord(BaseModel):
    text: str = Field(description="what the model wrote in this round")
    program: str | None = Field(description="the code block the round ended with, which potcot ran")
    execution: Execution | None
    output: str | None = Field(description="the output block potcot wrote back; null: the model was done")

    @classmethod
    def of(cls, turn: ToolRound) -> RoundRecord:
        execution = Execution.of(turn.execution) if turn.execution else None
        return cls(text=turn.text, program=turn.program, execution=execution, output=turn.output)


class AttemptRecord(BaseModel):
    rationale: str
    completion: str
    finish_reason: str | None
    program: str | None
    execution: Execution | None
    answer: str | None
    failure: str | None
    rounds: list[RoundRecord] | None = Field(
        None, description="tir: every round", exclude_if=lambda value: value is None
    )

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
            rounds=[RoundRecord.of(turn) for turn in attempt.rounds] if attempt.rounds else None,
        )


class VoteRecord(BaseModel):
    answer: str
    count: int


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


class SolveUsage(Usage):
    wasted_tokens: int = Field(
        0,
        description=(
            "of completion_tokens, those of generations that broke off when an upstream server failed "
            "and were begun again from nothing"
        ),
    )

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int, wasted_tokens: int = 0) -> SolveUsage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            wasted_tokens=wasted_tokens,
        )


class Timings(BaseModel):
    total_s: float
    generation_s: float
    execution_s: float


class SolveResponse(BaseModel):
    id: str
    model: str
    answer: str | None = Field(
        description="the answer, as MAmmoTH's evaluation extracts it: a chain of thought that states none "
        "answers with its last number; for multiple choice, an option letter"
    )
    strict_answer: str | None = Field(
        description="the answer under strict extraction: a program's as is, a chain of thought's only if it "
        "states or boxes it; for multiple choice, an option letter"
    )
    strategy: str | None = Field(
        description="the rationale that produced the answer: pot, cot or tir (for vote: the first that gave it)"
    )
    requested_strategy: Strategy
    fallback_reason: str | None
    attempts: list[AttemptRecord] = Field(description="every rationale drawn, a vote's samples included")
    votes: list[VoteRecord] | None = Field(
        None,
        description="vote: each distinct answer with its votes, most first",
        exclude_if=lambda value: value is None,
    )
    confidence: float | None = Field(
        None, description="vote: the winner's share of all valid votes", exclude_if=lambda value: value is None
    )
    usage: SolveUsage
    timings: Timings

    @classmethod
    def of(cls, solution: Solution, requested: Strategy, model: str) -> SolveResponse:
        return cls(
            id=_id("solve"),
            model=model,
            answer=solution.answer,
            strict_answer=solution.strict_answer,
            strategy=solution.strategy,
            requested_strategy=requested,
            fallback_reason=solution.fallback_reason,
            attempts=[AttemptRecord.of(attempt) for attempt in solution.attempts],
            votes=[VoteRecord(answer=vote.answer, count=vote.count) for vote in solution.votes] or None,
            confidence=solution.confidence,
            usage=SolveUsage.of(solution.prompt_tokens, solution.completion_tokens, solution.wasted_tokens),
            timings=Timings(
                total_s=solution.total_s, generation_s=solution.generation_s, execution_s=solution.execution_s
            ),
        )


# --- OpenAI: shared -----------------------------------------------------------------------------


class _SamplingRequest(_Request):
    model: str
    n: Choices = 1
    stop: str | list[str] | None = Field(None)
    max_tokens: TokenBudget | None = None
    temperature: float = Field(1.0, ge=0, le=2, strict=True)
    top_p: float = Field(1.0, gt=0, le=1, strict=True)
    seed: Seed | None = None
    presence_penalty: float = Field(0.0, ge=-2, le=2, strict=True)
    frequency_penalty: float = Field(0.0, ge=-2, le=2, strict=True)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    # Refused unless they ask for nothing (REFUSED_FIELDS); declared so that the schema shows them.
    logit_bias: dict[str, float] | None = None
    top_k: Annotated[int, Field(ge=-1, le=MAX_TOKENS_BOUND, strict=True)] | None = None
    min_p: float | None = Field(None, ge=0, le=1, strict=True)
    repetition_penalty: float | None = Field(None, gt=0, le=2, strict=True)
    min_tokens: Annotated[int, Field(ge=0, le=MAX_TOKENS_BOUND, strict=True)] | None = None
    structured_outputs: dict[str, Any] | None = None
    guided_json: dict[str, Any] | str | None = None
    guided_regex: str | None = None
    guided_choice: list[str] | None = None
    guided_grammar: str | None = None

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
    include_usage: StrictBool = False


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "potcot"
    max_model_len: int | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


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


class JsonSchemaFormat(BaseModel):
    name: str = Field("response", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    json_schema: dict[str, Any] = Field(alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(BaseModel):
    """OpenAI's ``response_format``: plain text, any JSON object (JSON mode), or JSON that matches
    a schema (structured outputs), which the engine enforces while it generates."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_for_its_type(self) -> ResponseFormat:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("json_schema is required with type 'json_schema', and only with it")
        return self

    def json_output(self) -> JsonOutput | None:
        if self.type == "text":
            return None
        if self.json_schema is None:
            return JsonOutput()
        return JsonOutput(schema=json.dumps(self.json_schema.json_schema))


class ChatCompletionRequest(_SamplingRequest):
    messages: list[ChatMessageIn] = Field(min_length=1)
    # vLLM's extension: the last (assistant) message is the start of the reply, which the model continues.
    continue_final_message: StrictBool = False
    add_generation_prompt: StrictBool = True
    max_completion_tokens: TokenBudget | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20, strict=True)] | None = None
    # Refused unless they ask for nothing (REFUSED_FIELDS).
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None

    @model_validator(mode="after")
    def _continue_an_assistant_message(self) -> ChatCompletionRequest:
        """As vLLM: a reply is either started afresh or continued, and only an assistant's."""
        if self.continue_final_message == self.add_generation_prompt:
            raise PydanticCustomError(
                "continuation", "continue_final_message needs add_generation_prompt false, and only it allows that"
            )
        if self.continue_final_message and self.messages[-1].role != "assistant":
            raise PydanticCustomError("continuation", "continue_final_message needs a final assistant message")
        return self

    def prompt(self) -> Prompt:
        """The engine's prompt: the messages, and the reply to continue, if any."""
        messages = [ChatMessage(message.role, message.text) for message in self.messages]
        if not self.continue_final_message:
            return Prompt(messages=tuple(messages))
        return Prompt(messages=tuple(messages[:-1]), continuation=messages[-1].content)

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs_with_logprobs(cls, top_logprobs: int | None, info: ValidationInfo) -> int | None:
        """As OpenAI: alternatives come only with the chosen tokens' log-probabilities."""
        if top_logprobs is not None and info.data.get("logprobs") is not True:
            raise PydanticCustomError("logprobs_required", "top_logprobs requires logprobs to be true")
        return top_logprobs

    @property
    def token_budget_field(self) -> str:
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"

    def sampling_options(self, max_tokens: int | None) -> SamplingOptions:
        json_output = self.response_format.json_output() if self.response_format else None
        logprobs = (self.top_logprobs or 0) if self.logprobs else None
        return dataclasses.replace(super().sampling_options(max_tokens), json_output=json_output, logprobs=logprobs)

    @property
    def token_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None

    @classmethod
    def of(cls, token: str, logprob: float) -> TopLogprob:
        return cls(token=token, logprob=logprob, bytes=list(token.encode()))


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChatLogprobs(BaseModel):
    """Chat's shape: one entry per generated token, each with its most likely alternatives."""

    content: list[ChatTokenLogprob] | None

    @classmethod
    def of(cls, logprobs: Sequence[TokenLogprob]) -> ChatLogprobs:
        return cls(
            content=[
                ChatTokenLogprob(
                    **TopLogprob.of(entry.token, entry.logprob).model_dump(),
                    top_logprobs=[TopLogprob.of(token, logprob) for token, logprob in entry.top],
                )
                for entry in logprobs
            ]
        )


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: str | None
    logprobs: ChatLogprobs | None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: _id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: Usage
    solve: SolveResponse | None = Field(
        None, description="potcot extension: the solve behind a hybrid answer", exclude_if=lambda value: value is None
    )


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatStreamChoice(BaseModel):
    index: int
    delta: DeltaMessage
    finish_reason: str | None = None
    logprobs: ChatLogprobs | None = None


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
    max_tokens: TokenBudget | None = 16
    logprobs: Annotated[int, Field(ge=0, le=5, strict=True)] | None = None
    # Refused unless they ask for nothing (REFUSED_FIELDS).
    echo: StrictBool | None = None
    best_of: Choices | None = None
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _non_empty(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and not prompt:
            raise ValueError("prompt must not be an empty list")
        return prompt

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt

    def sampling_options(self, max_tokens: int | None) -> SamplingOptions:
        return dataclasses.replace(super().sampling_options(max_tokens), logprobs=self.logprobs)


class CompletionLogprobs(BaseModel):
    """Completions' shape: parallel lists, one entry per generated token. ``text_offset`` counts
    from the start of the choice's text (there is no ``echo``), carrying on across stream chunks."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]

    @classmethod
    def of(cls, logprobs: Sequence[TokenLogprob], offset: int = 0) -> CompletionLogprobs:
        offsets = []
        for entry in logprobs:
            offsets.append(offset)
            offset += len(entry.token)
        return cls(
            tokens=[entry.token for entry in logprobs],
            token_logprobs=[entry.logprob for entry in logprobs],
            top_logprobs=[dict(entry.top) for entry in logprobs],
            text_offset=offsets,
        )


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str | None
    logprobs: CompletionLogprobs | None = None


class CompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: _id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = Field(None, exclude_if=lambda value: value is None)


ChatCompletionRequest.model_rebuild()
CompletionRequest.model_rebuild()
