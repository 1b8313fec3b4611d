"""A solve as data: what a caller asks for (``SolveParameters``, ``SolveRequest``; the same fields as
the flags of ``potcot solve`` and ``potcot bench``, ``SolveFlags``) and what it gets back
(``SolveResponse``, with its whole trace). The same models serve ``/solve`` over HTTP, a solve in
this process and a benchmark's saved replies, so they live with the solver, below the web server.

Bounds follow the engines: a count, a seed or a budget past what vLLM accepts is refused here,
where the request is read, rather than failing in vLLM's serializer as a 500.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints
from pydantic_core import PydanticCustomError

from potcot.sandbox import ExecutionResult
from potcot.server.settings import SolveDefaults, choice_of
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

# --- bounds -----------------------------------------------------------------------------------
# Strict: a JSON ``true`` or ``2.5`` where a count is expected is a client's mistake, not a 1 or a 2.

# vLLM's own range for a seed (a torch.long); past it, its serializer raises OverflowError.
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
# No context is this long; the model's real context is checked where it is known (``ModelRegistry``).
MAX_TOKENS_BOUND = 2**31 - 1
# A solve's bounds, once, read from text: the flags of ``potcot solve`` and ``potcot bench`` take
# these, so that a command refuses what ``/solve`` would refuse.
SeedValue = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]
RoundCount = Annotated[int, Field(ge=1, le=MAX_ROUNDS)]
SampleCount = Annotated[int, Field(ge=1, le=MAX_SAMPLES)]
TemperatureValue = Annotated[float, Field(ge=0, le=2)]

Seed = Annotated[SeedValue, Strict()]
TokenBudget = Annotated[int, Field(ge=1, le=MAX_TOKENS_BOUND, strict=True)]
Rounds = Annotated[RoundCount, Strict()]
Samples = Annotated[SampleCount, Strict()]
Temperature = Annotated[TemperatureValue, Strict()]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# --- requests -----------------------------------------------------------------------------------

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


class SolveParameters(BaseModel):
    """How a question is to be solved: the fields of ``/solve`` besides the question and the model.
    Like vLLM's request models, which build their own sampling parameters, they build the solver's
    options themselves (``solve_options``); ``/solve``, chat's solving ids, ``potcot solve`` and
    ``potcot bench`` all go through that one conversion, so one request is solved alike by each.
    Unknown fields are ignored, as vLLM does."""

    model_config = ConfigDict(extra="ignore")

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
    def generations(self) -> int:
        """The most generations this solve may run: its weight against the server's capacity."""
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
    answered_by: str | None = Field(
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
            answered_by=solution.answered_by,
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


# --- the same fields as flags ------------------------------------------------------------------

if TYPE_CHECKING:  # a type checker sees the enum, which is what the field holds
    StrategyChoice = Strategy
else:
    StrategyChoice = choice_of(Strategy)


def as_solve_says(field: str) -> str | None:
    """A flag's help, the ``/solve`` field's own description: one account of each field."""
    return SolveParameters.model_fields[field].description


class SolveFlags(BaseModel):
    """The fields of ``/solve`` as flags of ``potcot solve`` and ``potcot bench``, with the
    protocol's names and bounds; ``--max-tokens`` and ``--race`` are the solve defaults'
    (``SolverSettings``), the budget and race of a solve in this process. Flags only: no variable
    sets them."""

    strategy: StrategyChoice = Field(Strategy.HYBRID, description=as_solve_says("strategy"))
    temperature: TemperatureValue | None = Field(None, description=as_solve_says("temperature"))
    seed: SeedValue | None = Field(None, description=as_solve_says("seed"))
    max_rounds: RoundCount | None = Field(None, description=as_solve_says("max_rounds"))
    samples: SampleCount | None = Field(None, description=as_solve_says("samples"))

    def solve_parameters(self) -> SolveParameters:
        """The ``/solve`` fields this command was given, and only those: a server's defaults decide
        the rest, and in this process the command's own settings do (they are the server's)."""
        given = self.model_fields_set & SolveParameters.model_fields.keys()
        return SolveParameters.model_validate(self.model_dump(include=given))
