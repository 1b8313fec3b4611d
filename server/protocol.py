"""What crosses HTTP that is potcot's own (``/solve``), and what every protocol shares: the request
base class, integer bounds, the fields refused, and errors in OpenAI's shape. OpenAI's API is in
``protocol_openai``, vLLM's tokenizer endpoints in ``protocol_tokenize``.

Field bounds follow OpenAI's API reference, so a value OpenAI would reject is a 400 here too, and
every integer is bounded to what the engines accept: an unbounded one reached vLLM's serializer and
failed there as a 500. OpenAI's fields that potcot does not implement are declared, and refused
unless they ask for nothing (``REFUSED_FIELDS``): a client that asked for a tool call must not get
a plain completion as if it had been honoured. Advisory fields (``IGNORED_FIELDS``: bookkeeping and
hints that change no output) and fields unknown to OpenAI are ignored, as vLLM does.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from potcot.sandbox import ExecutionResult
from potcot.server.settings import SolveDefaults
from potcot.server.solver import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_SAMPLES,
    MAX_ROUNDS,
    MAX_SAMPLES,
    VOTE_TEMPERATURE,
    Attempt,
    Solution,
    SolveOptions,
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
# No vocabulary is this large; the engine checks the model's own.
MAX_TOKEN_ID = 2**31 - 1

# A solve's bounds, once, read from text: the flags of ``potcot solve`` and ``potcot bench`` take
# these, so that a command refuses what ``/solve`` would refuse.
SeedValue = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]
RoundCount = Annotated[int, Field(ge=1, le=MAX_ROUNDS)]
SampleCount = Annotated[int, Field(ge=1, le=MAX_SAMPLES)]
TemperatureValue = Annotated[float, Field(ge=0, le=2)]

Seed = Annotated[SeedValue, Strict()]
TokenBudget = Annotated[int, Field(ge=1, le=MAX_TOKENS_BOUND, strict=True)]
Choices = Annotated[int, Field(ge=1, le=MAX_CHOICES, strict=True)]
Rounds = Annotated[RoundCount, Strict()]
Samples = Annotated[SampleCount, Strict()]
Temperature = Annotated[TemperatureValue, Strict()]
TokenId = Annotated[int, Field(ge=0, le=MAX_TOKEN_ID, strict=True)]


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
    "web_search_options": (),
    "moderation": (),
    "reasoning_effort": ("none",),
    "verbosity": (),
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
# Advisory fields: bookkeeping and hints that change no output, accepted and ignored, as vLLM does
# (prompt caching is vLLM's own, automatic). Documentation only: like any field unknown to OpenAI,
# they are simply not read.
IGNORED_FIELDS = frozenset(
    {
        "user",
        "metadata",
        "store",
        "service_tier",
        "parallel_tool_calls",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
    }
)


def _asks_for_nothing(value: object, inert: tuple[object, ...]) -> bool:
    """``None`` or one of the field's inert values, of the same type: 0 is not ``False``."""
    return value is None or any(type(value) is type(candidate) and value == candidate for candidate in inert)


class Request(BaseModel):
    """The base of every request body: unknown fields ignored (as vLLM does), and the fields of
    ``refused_fields`` that a model declares refused unless they ask for nothing."""

    model_config = ConfigDict(extra="ignore")
    refused_fields: ClassVar[Mapping[str, tuple[object, ...]]] = REFUSED_FIELDS

    @field_validator("*")
    @classmethod
    def _refuse_unimplemented(cls, value: object, info: ValidationInfo) -> object:
        """One check for every refused field a model declares; it runs only on fields the client
        sent, so an absent one is never refused."""
        inert = cls.refused_fields.get(info.field_name or "")
        if inert is None or _asks_for_nothing(value, inert):
            return value
        raise PydanticCustomError("unsupported_field", "not supported by this server; leave it out or send null")


def one_of(accepted: str) -> WrapValidator:
    """A union field's error as one sentence that says what the field accepts, instead of pydantic's
    problem with every branch (``prompt.str: ...; prompt.list[str].0: ...``)."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("union_type", "must be {accepted}", {"accepted": accepted}) from None

    return WrapValidator(validate)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


# --- errors -----------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    """OpenAI's error: ``code`` is one of OpenAI's codes (``model_not_found``) where one fits, else
    null; never the HTTP status, which the response already carries."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


# What each error status means, for the OpenAPI document: the statuses the server really answers.
_ERROR_STATUSES: dict[int, str] = {
    400: "Malformed JSON, a missing or wrong field, a value out of range, a field the server does not "
    "implement, or a prompt past the model's context",
    401: "No valid API key, when keys are configured",
    404: "An unknown model",
    405: "A method the path does not take (with Allow)",
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
Question = Annotated[NonEmptyText, Field(max_length=20_000)]
# One option letter each, A to Z.
AnswerChoices = Annotated[list[NonEmptyText], Field(min_length=2, max_length=26)]


class SolveParameters(Request):
    """How a question is to be solved: the fields of ``/solve`` besides the question and the model.
    Like vLLM's request models, which build their own sampling parameters, they build the solver's
    options themselves (``solve_options``); ``/solve``, chat's solving ids, ``potcot solve`` and
    ``potcot bench`` all go through that one conversion, so one request is solved alike by each."""

    strategy: Strategy = Field(Strategy.HYBRID, description="hybrid, pot, cot, tir or vote")
    choices: AnswerChoices | None = Field(
        None, description="the options of a multiple-choice question; the answer is then an option letter"
    )
    max_tokens: TokenBudget | None = Field(
        None, description="generation budget of each attempt; default: the server's --max-tokens"
    )
    temperature: Temperature | None = Field(
        None, description=f"sampling temperature; default: 0 (greedy), {VOTE_TEMPERATURE} for vote"
    )
    seed: Seed | None = Field(None, description="sampling seed; a vote seeds each sample by its place")
    max_rounds: Rounds | None = Field(
        None, description=f"tir: the most code blocks run before the fallback; default {DEFAULT_MAX_ROUNDS}"
    )
    samples: Samples | None = Field(
        None, description=f"vote: the most samples of each rationale; default {DEFAULT_SAMPLES}"
    )
    race: bool | None = Field(
        None,
        strict=True,
        description="hybrid and tir: start the chain of thought beside the first rationale, halted when that "
        "answers; default: the server's --race",
    )

    def solve_options(self, defaults: SolveDefaults, *, stop: Sequence[str] = ()) -> SolveOptions:
        """The options asked for, ``defaults`` (the server's settings, or a command's) deciding what
        was left out. ``stop``: a chat request's stop sequences, which ``/solve`` has no field for."""
        return SolveOptions.of(
            defaults,
            self.strategy,
            choices=self.choices,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=self.seed,
            max_rounds=self.max_rounds,
            samples=self.samples,
            stop=stop,
            race=self.race,
        )

    @property
    def max_generations(self) -> int:
        return max_generations(self.strategy, self.max_rounds or DEFAULT_MAX_ROUNDS, self.samples or DEFAULT_SAMPLES)


class SolveRequest(SolveParameters):
    question: Question = Field(description="the problem text")
    model: str | None = Field(None, description="the plain model id; default: the served model")

    def body(self) -> dict[str, Any]:
        """What a client sends for this request: only the fields it was given, so that the server's
        own defaults (``--max-tokens``, ``--race``) decide the rest, as they would for any client."""
        return self.model_dump(mode="json", exclude_unset=True, exclude_none=True)


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
    total_s: float = Field(description="the solve, from start to answer")
    generation_s: float = Field(
        description="every attempt's generation time added up: where generations overlap (a race, a vote's "
        "samples) it can exceed total_s"
    )
    execution_s: float = Field(description="every program's run in the sandbox, added up")


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
    set_aside: list[AttemptRecord] | None = Field(
        None,
        description="race: the chain of thought begun beside the first rationale and halted when that answered "
        "(finish_reason abort); its tokens count in usage",
        exclude_if=lambda value: value is None,
    )
    usage: SolveUsage
    timings: Timings

    @classmethod
    def of(cls, solution: Solution, requested: Strategy, model: str) -> SolveResponse:
        return cls(
            id=new_id("solve"),
            model=model,
            answer=solution.answer,
            strict_answer=solution.strict_answer,
            strategy=solution.strategy,
            requested_strategy=requested,
            fallback_reason=solution.fallback_reason,
            attempts=[AttemptRecord.of(attempt) for attempt in solution.attempts],
            votes=[VoteRecord(answer=vote.answer, count=vote.count) for vote in solution.votes] or None,
            confidence=solution.confidence,
            set_aside=[AttemptRecord.of(attempt) for attempt in solution.set_aside] or None,
            usage=SolveUsage.of(solution.prompt_tokens, solution.completion_tokens, solution.wasted_tokens),
            timings=Timings(
                total_s=solution.total_s, generation_s=solution.generation_s, execution_s=solution.execution_s
            ),
        )


class Health(BaseModel):
    status: Literal["ok"] = "ok"
