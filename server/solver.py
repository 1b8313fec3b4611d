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

from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server import answers, prompts
from potcot.server.engines import Engine, Generation, SamplingOptions
from potcot.server.prompts import Prompt, PromptStyle, Rationale

if TYPE_CHECKING:
    from potcot.server.settings import ServerSettings


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
    max_tokens: int = 768
    temperature: float = 0.0
    seed: int | None = None


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
    failure: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Solution:
    answer: str | None
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
    def for_settings(cls, engine: Engine, sandbox: Sandbox, settings: ServerSettings) -> Solver:
        """The solver as ``potcot serve`` configures it; ``potcot solve`` and the offline benchmark
        build theirs here too, so that every mode answers alike."""
        style = prompts.resolve_style(settings.prompt_style, engine.model_name, engine.has_chat_template)
        return cls(engine, sandbox, style, settings.sandbox_timeout)

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
        program = answers.extract_program(generation.texts[0])
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
        answer = answers.clean_program_answer(execution.answer)
        if options.choices:
            answer = answers.to_choice(answer, options.choices) or answers.to_choice(execution.answer, options.choices)
        return dataclasses.replace(attempt, answer=answer, failure=None if answer else NOT_AN_OPTION)

    async def _chain_of_thought(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None
    ) -> Attempt:
        prompt = prompts.chain_of_thought(question, self.style, options.choices)
        attempt, generation = await self._generate(Rationale.COT, prompt, options, f"{request_id}-cot", observer)
        answer = answers.extract_answer(generation.texts[0], options.choices)
        if options.choices:
            answer = answers.to_choice(answer, options.choices)
        return dataclasses.replace(attempt, answer=answer, failure=None if answer else NO_ANSWER)

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
        strategy=final.rationale if final.answer is not None else None,
        fallback_reason=fallback_reason,
        attempts=tuple(attempts),
        total_s=time.perf_counter() - started,
    )
