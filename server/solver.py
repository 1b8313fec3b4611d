"""The hybrid solver of the MAmmoTH paper: a program of thought first, run in the sandbox; a chain
of thought when the program gives no answer.

    question ─ PoT prompt ─ generate ─ extract program ─ run in sandbox ─ answer? ── yes ─→ done
                                                                         │ no: fallback reason
             ─ CoT prompt ─ generate ─ extract answer ───────────────────────────────────→ done

Many questions share the engine's continuous batching concurrently; nothing here serialises them.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from potcot.answers import chain_of_thought_answer, extract_program, program_answer
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server import prompts
from potcot.server.engines import Engine, Generation, SamplingOptions
from potcot.server.prompts import Prompt, PromptStyle, Rationale
from potcot.server.settings import DEFAULT_MAX_TOKENS

if TYPE_CHECKING:
    from potcot.server.settings import EngineSettings, SolveDefaults


class Strategy(enum.StrEnum):
    HYBRID = "hybrid"  # PoT, then CoT if the program gives no answer
    POT = "pot"
    COT = "cot"

    @property
    def max_generations(self) -> int:
        """The most generations one solve can ask of the engine: what admission charges for it."""
        return 2 if self is Strategy.HYBRID else 1


# Why a program of thought gave no answer, besides the sandbox's own non-ok statuses.
NO_PROGRAM = "no_program"
NO_ANSWER = "no_answer"
NOT_AN_OPTION = "not_an_option"


@dataclasses.dataclass(frozen=True, slots=True)
class SolveOptions:
    strategy: Strategy = Strategy.HYBRID
    choices: Sequence[str] | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0  # greedy: a solve is reproducible unless asked otherwise
    seed: int | None = None

    @classmethod
    def of(
        cls,
        defaults: SolveDefaults,
        strategy: Strategy,
        *,
        choices: Sequence[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> SolveOptions:
        """What a caller asked for, the configured defaults for what it left out: the one place
        every way of solving (``/solve``, chat, ``potcot solve``, the offline benchmark) builds
        its options, so that they all answer alike."""
        options = cls(strategy, choices, max_tokens or defaults.max_tokens, seed=seed)
        return options if temperature is None else dataclasses.replace(options, temperature=temperature)


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One rationale: what the model wrote, what running it gave, and the answer if any."""

    rationale: Rationale
    completion: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    generation_s: float
    program: str | None = None
    execution: ExecutionResult | None = None
    answer: str | None = None
    strict_answer: str | None = None  # a chain of thought's only if it states or boxes it
    failure: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Solution:
    answer: str | None
    # Strict extraction: a program's answer as is; a chain of thought's only if it states or boxes
    # it (no falling back to its last number). For multiple choice, a letter.
    strict_answer: str | None
    strategy: Rationale | None  # the rationale that produced the answer
    fallback_reason: str | None  # why the program of thought was not used, when it was tried
    attempts: tuple[Attempt, ...]
    total_s: float

    @property
    def prompt_tokens(self) -> int:
        return sum(attempt.prompt_tokens for attempt in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(attempt.completion_tokens for attempt in self.attempts)

    @property
    def generation_s(self) -> float:
        return sum(attempt.generation_s for attempt in self.attempts)

    @property
    def execution_s(self) -> float:
        return sum(attempt.execution.duration_s for attempt in self.attempts if attempt.execution)


class SolveObserver(Protocol):
    """Sees a solve as it happens, for streaming responses."""

    def on_text(self, rationale: Rationale, text: str) -> None: ...

    def on_execution(self, result: ExecutionResult) -> None: ...

    def on_fallback(self, reason: str | None) -> None: ...


class Solver:
    def __init__(self, engine: Engine, sandbox: Sandbox, style: PromptStyle, program_timeout_s: float) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.style = style
        self.program_timeout_s = program_timeout_s

    @classmethod
    def for_settings(cls, engine: Engine, sandbox: Sandbox, settings: EngineSettings) -> Solver:
        """The solver as ``potcot serve`` configures it; ``potcot solve`` and the offline benchmark
        build theirs here too, so that every mode answers alike. Programs get the sandbox's own
        time limit."""
        style = prompts.resolve_style(settings.prompt_style, engine.model_name, engine.has_chat_template)
        return cls(engine, sandbox, style, sandbox.limits.timeout_s)

    async def solve(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None = None
    ) -> Solution:
        started = time.perf_counter()
        attempts: list[Attempt] = []
        fallback_reason = None
        if options.strategy is not Strategy.COT:
            program_of_thought = await self._program_of_thought(question, options, request_id, observer)
            attempts.append(program_of_thought)
            if program_of_thought.answer is not None or options.strategy is Strategy.POT:
                return _solution(attempts, None, started)
            fallback_reason = program_of_thought.failure
            if observer is not None:
                observer.on_fallback(fallback_reason)
        attempts.append(await self._chain_of_thought(question, options, request_id, observer))
        return _solution(attempts, fallback_reason, started)

    async def _program_of_thought(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None
    ) -> Attempt:
        prompt = prompts.program_of_thought(question, self.style, options.choices)
        attempt, generation = await self._generate(Rationale.POT, prompt, options, f"{request_id}-pot", observer)
        program = extract_program(generation.texts[0])
        if program is None:
            return dataclasses.replace(attempt, failure=NO_PROGRAM)
        execution = await self.sandbox.arun(program, timeout=self.program_timeout_s)
        if observer is not None:
            observer.on_execution(execution)
        attempt = dataclasses.replace(attempt, program=program, execution=execution)
        if not execution.ok:
            return dataclasses.replace(attempt, failure=execution.status.value)
        if execution.answer is None:
            return dataclasses.replace(attempt, failure=NO_ANSWER)
        answer = program_answer(execution.answer, options.choices)
        if answer is None:
            return dataclasses.replace(attempt, failure=NOT_AN_OPTION if options.choices else NO_ANSWER)
        return dataclasses.replace(attempt, answer=answer, strict_answer=answer)

    async def _chain_of_thought(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None
    ) -> Attempt:
        prompt = prompts.chain_of_thought(question, self.style, options.choices)
        attempt, generation = await self._generate(Rationale.COT, prompt, options, f"{request_id}-cot", observer)
        answer = chain_of_thought_answer(generation.texts[0], options.choices)
        strict = chain_of_thought_answer(generation.texts[0], options.choices, lenient=False)
        return dataclasses.replace(attempt, answer=answer, strict_answer=strict, failure=None if answer else NO_ANSWER)

    async def _generate(
        self,
        rationale: Rationale,
        prompt: Prompt,
        options: SolveOptions,
        request_id: str,
        observer: SolveObserver | None,
    ) -> tuple[Attempt, Generation]:
        sampling = SamplingOptions(max_tokens=options.max_tokens, temperature=options.temperature, seed=options.seed)
        on_text = (lambda text: observer.on_text(rationale, text)) if observer is not None else None
        started = time.perf_counter()
        generation = await self.engine.generate(prompt, sampling, request_id, on_text)
        attempt = Attempt(
            rationale=rationale,
            completion=generation.texts[0],
            finish_reason=generation.finish_reasons[0],
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            generation_s=time.perf_counter() - started,
        )
        return attempt, generation


def _solution(attempts: list[Attempt], fallback_reason: str | None, started: float) -> Solution:
    final = attempts[-1]
    return Solution(
        answer=final.answer,
        strict_answer=final.strict_answer,
        strategy=final.rationale if final.answer is not None else None,
        fallback_reason=fallback_reason,
        attempts=tuple(attempts),
        total_s=time.perf_counter() - started,
    )
