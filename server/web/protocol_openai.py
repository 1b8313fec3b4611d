"""OpenAI's API as potcot serves it: chat and text completions, whole and streamed, and the model
list. Each request field is honoured, passed to the engine, refused unless it asks for nothing
(``REFUSED_FIELDS``) or advisory (``IGNORED_FIELDS``); docs/api.md has the table. Responses follow
OpenAI's published schemas field for field: required fields are always present, null where OpenAI
sends null (``refusal``, a chunk's ``finish_reason``), so that clients generated from the schemas
read them; ``tests/server/openai_spec`` checks them against the schemas themselves.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from potcot.server.engines.base import JsonOutput, PromptLogprobs, SamplingOptions, TokenLogprob
from potcot.server.prompts import ChatMessage, Prompt
from potcot.server.schema import (
    MAX_TOKENS_BOUND,
    Seed,
    SolveParameters,
    SolveResponse,
    Temperature,
    TokenBudget,
    Usage,
    new_id,
)
from potcot.server.solver import Strategy, max_generations
from potcot.server.web.protocol import Choices, Request, TokenId, now, one_of

# OpenAI's log-probability for a token too unlikely to tell: JSON has no -Infinity.
LOGPROB_FLOOR = -9999.0
PROMPT_FORMS = "a string, an array of strings, an array of token ids (integers from 0), or an array of such arrays"
StopSequences = Annotated[str | list[str] | None, one_of("a string, an array of at most 4 strings, or null")]
ToolChoice = Annotated[str | dict[str, Any] | None, one_of("a string, an object, or null")]


# A solving id is the model's id, this separator, and a strategy: ``NAME:hybrid``.
SOLVING_ID_SEPARATOR = ":"


def strategy_named_by(model_id: str) -> Strategy | None:
    """The strategy a ``NAME:strategy`` id names, whatever NAME is (the model registry checks NAME)."""
    _, separator, suffix = model_id.rpartition(SOLVING_ID_SEPARATOR)
    try:
        return Strategy(suffix) if separator else None
    except ValueError:
        return None


def _finite(logprob: float) -> float:
    return max(logprob, LOGPROB_FLOOR)


# --- shared -------------------------------------------------------------------------------------


class StreamOptions(BaseModel):
    include_usage: StrictBool = False
    # Advisory: potcot pads no chunk, so there is no obfuscation to turn on or off.
    include_obfuscation: StrictBool | None = None


class SamplingRequest(Request):
    model: str
    n: Choices = 1
    stop: StopSequences = None
    max_tokens: TokenBudget | None = None
    temperature: Temperature = 1.0
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
    guided_json: Annotated[dict[str, Any] | str | None, one_of("an object, a string, or null")] = None
    guided_regex: str | None = None
    guided_choice: list[str] | None = None
    guided_grammar: str | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences")
        return stop

    @field_validator("stream_options")
    @classmethod
    def _only_when_streaming(cls, options: StreamOptions | None, info: ValidationInfo) -> StreamOptions | None:
        """As OpenAI and vLLM: options of a stream that was not asked for are a client's mistake."""
        if options is not None and info.data.get("stream") is not True:
            raise PydanticCustomError("stream_options", "stream_options can only be given with stream: true")
        return options

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        return () if self.stop is None else (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def sampling_options(self, max_tokens: int | None) -> SamplingOptions:
        return SamplingOptions(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            n=self.n,
            seed=self.seed,
            stop=self.stop_sequences,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
        )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=now)
    owned_by: str = "potcot"
    max_model_len: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- chat completions ---------------------------------------------------------------------------


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


# An assistant message's fields that replay a tool call or audio, which potcot cannot render.
REFUSED_MESSAGE_FIELDS: dict[str, tuple[object, ...]] = {"tool_calls": ([],), "function_call": (), "audio": ()}


class ChatMessageIn(Request):
    """One message of a chat: OpenAI's system, developer, user and assistant messages, of text.
    Tool and function messages are refused by their role."""

    refused_fields = REFUSED_MESSAGE_FIELDS

    role: Literal["system", "user", "assistant", "developer"]
    content: Annotated[str | list[TextPart], one_of("a string or an array of text parts")]
    # Advisory: the chat templates of the models potcot serves have no place for a participant's
    # name, nor for an earlier reply's refusal beside its content.
    name: str | None = None
    refusal: str | None = None
    # Refused unless they ask for nothing (REFUSED_MESSAGE_FIELDS).
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


def engine_messages(messages: Sequence[ChatMessageIn]) -> tuple[ChatMessage, ...]:
    """The messages as the model's chat template reads them. ``developer`` is what current OpenAI
    clients send for ``system``: rendered as a turn of its own, it would also leave the template
    adding its default system prompt, so the model would get two system prompts."""
    return tuple(
        ChatMessage("system" if message.role == "developer" else message.role, message.text) for message in messages
    )


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


class ChatCompletionRequest(SamplingRequest):
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
    tool_choice: ToolChoice = None
    functions: list[dict[str, Any]] | None = None
    function_call: ToolChoice = None
    prediction: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None
    web_search_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None

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
        messages = engine_messages(self.messages)
        if not self.continue_final_message:
            return Prompt(messages=messages)
        return Prompt(messages=messages[:-1], continuation=messages[-1].content)

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

    @property
    def generations(self) -> int:
        """The most generations this request may run, its weight against the server's capacity:
        ``n``, or for a solving id ``n`` solves at their strategy's worst case."""
        strategy = strategy_named_by(self.model)
        return self.n if strategy is None else max_generations(strategy) * self.n

    def solve_parameters(self, strategy: Strategy) -> SolveParameters:
        """A solving id's ``/solve`` fields, those chat can carry: the strategy its id names, the
        token budget, the seed, and the temperature only if given (chat's own default is 1; a
        solve is greedy unless asked otherwise). What chat cannot say (``choices``, ``max_rounds``,
        ``samples``, ``race``) is left to the server's defaults, as a ``/solve`` that omits it."""
        given: dict[str, Any] = {"strategy": strategy, "max_tokens": self.token_budget, "seed": self.seed}
        if "temperature" in self.model_fields_set:
            given["temperature"] = self.temperature
        return SolveParameters.model_validate(given)


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None

    @classmethod
    def of(cls, token: str, logprob: float) -> TopLogprob:
        return cls(token=token, logprob=_finite(logprob), bytes=list(token.encode()))


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChatLogprobs(BaseModel):
    """Chat's shape: one entry per generated token, each with its most likely alternatives. A model
    that refuses nothing has no refusal tokens: ``refusal`` is null."""

    content: list[ChatTokenLogprob] | None
    refusal: list[ChatTokenLogprob] | None = None

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
    refusal: str | None = None


class ChatChoice(BaseModel):
    index: int
    message: ChatMessageOut
    logprobs: ChatLogprobs | None = None
    finish_reason: str | None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: new_id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[ChatChoice]
    usage: Usage
    solve: SolveResponse | None = Field(
        None, description="potcot extension: the solve behind a hybrid answer", exclude_if=lambda value: value is None
    )


class DeltaMessage(BaseModel):
    """A chunk's new text; ``role`` only in a choice's first chunk, and a choice's last may be empty."""

    role: Literal["assistant"] | None = Field(None, exclude_if=lambda value: value is None)
    content: str | None = Field(None, exclude_if=lambda value: value is None)


class ChatStreamChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: ChatLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One chunk of a streamed chat completion. ``usage`` is sent only with ``stream_options:
    {include_usage: true}``: null in every chunk but the last, which has no choices."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatStreamChoice]
    usage: Usage | None = None


# --- text completions ---------------------------------------------------------------------------


class CompletionRequest(SamplingRequest):
    prompt: Annotated[str | list[str] | list[TokenId] | list[list[TokenId]], one_of(PROMPT_FORMS)]
    # 0 only with echo: the prompt's own log-probabilities and no completion, as lm-evaluation-harness asks.
    max_tokens: Annotated[int, Field(ge=0, le=MAX_TOKENS_BOUND, strict=True)] | None = 16
    logprobs: Annotated[int, Field(ge=0, le=5, strict=True)] | None = None
    echo: StrictBool | None = None
    # Refused unless they ask for nothing (REFUSED_FIELDS).
    best_of: Choices | None = None
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _non_empty(cls, prompt: str | list[str] | list[int] | list[list[int]]) -> object:
        if isinstance(prompt, list) and not prompt:
            raise PydanticCustomError("empty_prompt", "must not be an empty array")
        if isinstance(prompt, list) and any(isinstance(item, list) and not item for item in prompt):
            raise PydanticCustomError("empty_prompt", "a prompt of token ids needs at least one")
        return prompt

    @property
    def generations(self) -> int:
        """Its weight against the server's capacity: ``n`` completions of each prompt."""
        return len(self.prompts) * self.n

    @property
    def prompts(self) -> list[Prompt]:
        """One engine prompt per prompt: text, or token ids (a list of ints is one prompt)."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [Prompt(text=prompt)]
        if all(isinstance(item, int) for item in prompt):
            return [Prompt(token_ids=tuple(item for item in prompt if isinstance(item, int)))]
        return [
            Prompt(text=item) if isinstance(item, str) else Prompt(token_ids=tuple(item))
            for item in prompt
            if isinstance(item, str | list)
        ]

    def sampling_options(self, max_tokens: int | None) -> SamplingOptions:
        """The echoed prompt's log-probabilities are asked for with the completion's: the same ``k``."""
        prompt_logprobs = self.logprobs if self.echo else None
        return dataclasses.replace(
            super().sampling_options(max_tokens), logprobs=self.logprobs, prompt_logprobs=prompt_logprobs
        )


class CompletionLogprobs(BaseModel):
    """Completions' shape: parallel lists, one entry per token: the echoed prompt's (the first has
    no log-probability: nothing comes before it), then the generated ones. ``text_offset`` counts from
    the start of the choice's text, carrying on across stream chunks. Each ``top_logprobs`` entry
    holds the ``k`` likeliest tokens and the chosen one, so at most ``k + 1``, as OpenAI's."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]

    @classmethod
    def of(
        cls, logprobs: Sequence[TokenLogprob], offset: int = 0, prompt: PromptLogprobs | None = None
    ) -> CompletionLogprobs:
        rows: list[tuple[str, float | None, dict[str, float] | None]] = []
        if prompt is not None:
            rows.append((prompt.first_token, None, None))
            rows += [_completion_row(entry) for entry in prompt.rest]
        rows += [_completion_row(entry) for entry in logprobs]
        offsets = []
        for token, _, _ in rows:
            offsets.append(offset)
            offset += len(token)
        return cls(
            tokens=[token for token, _, _ in rows],
            token_logprobs=[logprob for _, logprob, _ in rows],
            top_logprobs=[top for _, _, top in rows],
            text_offset=offsets,
        )


def _completion_row(entry: TokenLogprob) -> tuple[str, float, dict[str, float]]:
    top = {token: _finite(logprob) for token, logprob in entry.top}
    top.setdefault(entry.token, _finite(entry.logprob))
    return entry.token, _finite(entry.logprob), top


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None


class CompletionResponse(BaseModel):
    """A text completion, whole or one chunk of a stream (OpenAI's one shape for both). A stream's
    ``usage`` comes only in its last chunk, with ``stream_options: {include_usage: true}``: OpenAI's
    schema has no null for it, so other chunks leave it out, as vLLM's do."""

    id: str = Field(default_factory=lambda: new_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = Field(None, exclude_if=lambda value: value is None)
