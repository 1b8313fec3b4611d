"""The solve strategies. ``hybrid`` is the MAmmoTH paper's: a program of thought first, run in
the sandbox; a chain of thought when the program gives no answer.

    question ─ PoT prompt ─ generate ─ extract program ─ run in sandbox ─ answer? ── yes ─→ done
                                                                         │ no: fallback reason
             ─ CoT prompt ─ generate ─ extract answer ───────────────────────────────────→ done

With ``race`` the chain of thought starts beside the program instead of after it and is halted as
soon as the program answers: a fallback then costs no wait, at the price of the chain's tokens
generated until the program's answer. ``pot`` and ``cot`` are either half alone. ``tir``
(tool-integrated reasoning, as Qwen2.5-Math evaluates it) lets the model read its code's real
output and go on, round after round, with the same chain-of-thought fallback (raced, too). ``vote``
samples programs and chains of thought together and takes the answer most of them agree on,
stopping as soon as the rest cannot change it.

Many questions share the engine's continuous batching concurrently; nothing here serialises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from potcot.answers import Grader, chain_of_thought_answer, cheap_verdict, extract_program, program_answer
from potcot.answers.parse import last_python_block
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server import prompts
from potcot.server.engines import Engine, EngineInputError, EngineUnavailable, Generation, SamplingOptions
from potcot.server.prompts import Prompt, PromptStyle, Rationale
from potcot.server.settings import DEFAULT_MAX_TOKENS
from potcot.server.voting import Tally, Vote

if TYPE_CHECKING:
    from potcot.server.settings import EngineSettings, SolveDefaults


class Strategy(enum.StrEnum):
    HYBRID = "hybrid"  # PoT, then CoT if the program gives no answer
    POT = "pot"
    COT = "cot"
    TIR = "tir"  # tool-integrated reasoning, then CoT if it states no answer
    VOTE = "vote"  # self-consistency over programs and chains of thought together


# A tool-integrated rationale's most rounds (code blocks run), and a vote's most samples of each
# rationale, when a request names none.
DEFAULT_MAX_ROUNDS = 4
DEFAULT_SAMPLES = 8
# The most of each a request may ask for: past these it is a mistake, and admission would refuse it.
MAX_ROUNDS = 16
MAX_SAMPLES = 32
# A vote samples when the request gives no temperature: greedy samples would all be the same.
VOTE_TEMPERATURE = 0.7


def max_generations(strategy: Strategy, max_rounds: int = DEFAULT_MAX_ROUNDS, samples: int = DEFAULT_SAMPLES) -> int:
    """The most generations one solve can ask of the engine: what admission charges for it."""
    if strategy is Strategy.TIR:
        return max_rounds + 1  # every round, then the chain-of-thought fallback
    if strategy is Strategy.VOTE:
        return 2 * samples
    return 2 if strategy is Strategy.HYBRID else 1


# Why a program of thought gave no answer, besides the sandbox's own non-ok statuses.
NO_PROGRAM = "no_program"
NO_ANSWER = "no_answer"
NOT_AN_OPTION = "not_an_option"
ROUNDS_EXHAUSTED = "rounds_exhausted"  # tool-integrated reasoning still wanted to run code
# A vote's later rounds draw this many more samples of each rationale at once.
VOTE_ROUND_SAMPLES = 2
# The most characters of a program's output read back to the model, as Qwen2.5-Math's evaluation caps it.
MAX_TOOL_OUTPUT_CHARS = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class SolveOptions:
    strategy: Strategy = Strategy.HYBRID
    choices: Sequence[str] | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0  # greedy: a solve is reproducible unless asked otherwise
    seed: int | None = None
    max_rounds: int = DEFAULT_MAX_ROUNDS
    samples: int = DEFAULT_SAMPLES
    # A vote stops once its leader cannot be overtaken; off only to measure what that saves.
    stop_early: bool = True
    # A client's stop sequences: every generation of the solve ends at them, beside the prompt's own.
    stop: tuple[str, ...] = ()
    # hybrid and tir: the chain-of-thought fallback starts at once, beside the first rationale.
    race: bool = False

    @property
    def max_generations(self) -> int:
        return max_generations(self.strategy, self.max_rounds, self.samples)

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
        max_rounds: int | None = None,
        samples: int | None = None,
        stop: Sequence[str] = (),
        race: bool | None = None,
    ) -> SolveOptions:
        """What a request asked for, the configured defaults for what it left out: every default
        of a solve is decided here, once. Requests reach it through one conversion,
        ``schema.SolveParameters.solve_options``, so that every way of solving (``/solve``, chat,
        ``potcot solve``, ``potcot bench``) answers alike. A solve is greedy unless asked
        otherwise; a vote samples."""
        if temperature is None:
            temperature = VOTE_TEMPERATURE if strategy is Strategy.VOTE else 0.0
        return cls(
            strategy,
            choices,
            max_tokens or defaults.max_tokens,
            temperature,
            seed,
            max_rounds or DEFAULT_MAX_ROUNDS,
            samples or DEFAULT_SAMPLES,
            stop=tuple(stop),
            race=defaults.race if race is None else race,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ToolRound:
    """One round of tool-integrated reasoning: what the model wrote, the code block it ended with
    and what running it gave, and the output block potcot wrote back (None: the model was done)."""

    text: str
    program: str | None = None
    execution: ExecutionResult | None = None
    output: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One rationale: what the model wrote, what running it gave, and the answer if any. A batch of
    samples drawn at once counts its tokens on its first sample. ``completion_tokens`` counts
    ``wasted_tokens`` too: those of generations that broke off (an upstream died) and were begun
    again from nothing."""

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
    rounds: tuple[ToolRound, ...] = ()
    wasted_tokens: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Solution:
    answer: str | None
    # Strict extraction: a program's answer as is; a chain of thought's only if it states or boxes
    # it (no falling back to its last number). For multiple choice, a letter.
    strict_answer: str | None
    answered_by: Rationale | None  # the rationale that produced the answer
    fallback_reason: str | None  # why the program of thought was not used, when it was tried
    attempts: tuple[Attempt, ...]
    total_s: float
    votes: tuple[Vote, ...] = ()  # a vote's distinct answers, most votes first
    # A race's chain of thought, set aside when the first rationale answered (halted, or done
    # first): no part of the answer, but its tokens were generated and count in the usage.
    set_aside: tuple[Attempt, ...] = ()

    @property
    def generated(self) -> tuple[Attempt, ...]:
        """Every attempt the engine generated, a race's set-aside one included: what usage counts."""
        return (*self.attempts, *self.set_aside)

    @property
    def prompt_tokens(self) -> int:
        return sum(attempt.prompt_tokens for attempt in self.generated)

    @property
    def completion_tokens(self) -> int:
        return sum(attempt.completion_tokens for attempt in self.generated)

    @property
    def wasted_tokens(self) -> int:
        return sum(attempt.wasted_tokens for attempt in self.generated)

    @property
    def generation_s(self) -> float:
        return sum(attempt.generation_s for attempt in self.attempts)

    @property
    def execution_s(self) -> float:
        executions = [attempt.execution for attempt in self.attempts if not attempt.rounds]
        executions += [turn.execution for attempt in self.attempts for turn in attempt.rounds]
        return sum(execution.duration_s for execution in executions if execution is not None)

    @property
    def deciding_attempt(self) -> Attempt | None:
        """The attempt the answer comes from: a vote's first sample of the winner; otherwise the
        last attempt, which answered, or failed last."""
        if self.votes:
            return next((attempt for attempt in self.attempts if attempt.answer == self.answer), None)
        return self.attempts[-1] if self.attempts else None

    @property
    def finish_reason(self) -> str:
        """The solve's, as OpenAI's ``finish_reason`` says it: ``length`` when the attempt that
        decided the answer was cut by the token budget, else ``stop``."""
        attempt = self.deciding_attempt
        return "length" if attempt is not None and attempt.finish_reason == "length" else "stop"

    @property
    def confidence(self) -> float | None:
        """A vote's winning share of all valid votes."""
        total = sum(vote.count for vote in self.votes)
        return self.votes[0].count / total if total else None


class SolveObserver(Protocol):
    """Sees a solve as it happens, for streaming responses."""

    def on_text(self, rationale: Rationale, text: str) -> None: ...

    def on_execution(self, result: ExecutionResult) -> None: ...

    def on_tool_output(self, block: str) -> None:
        """The output block tool-integrated reasoning writes back after a code block ran."""

    def on_fallback(self, reason: str | None) -> None: ...


class Solver:
    def __init__(
        self,
        engine: Engine,
        sandbox: Sandbox,
        style: PromptStyle,
        program_timeout_s: float,
        grader: Grader | None = None,
    ) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.style = style
        self.program_timeout_s = program_timeout_s
        self._grader = grader  # a vote's equivalence of answers; without one, only cheap verdicts

    @classmethod
    def for_settings(
        cls, engine: Engine, sandbox: Sandbox, settings: EngineSettings, grader: Grader | None = None
    ) -> Solver:
        """The solver as ``potcot serve`` configures it; ``potcot solve`` and the offline benchmark
        build theirs here too, so that every mode answers alike. Programs get the sandbox's own
        time limit."""
        style = prompts.resolve_style(settings.prompt_style, engine.model_name, engine.has_chat_template)
        return cls(engine, sandbox, style, sandbox.limits.timeout_s, grader)

    async def solve(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None = None
    ) -> Solution:
        started = time.perf_counter()
        if options.strategy is Strategy.VOTE:
            return await self._vote(question, options, request_id, started)
        if options.strategy is Strategy.COT:
            return _solution([await self._chain_of_thought(question, options, request_id, observer)], None, started)
        if options.race and options.strategy is not Strategy.POT:
            return await self._race(question, options, request_id, observer, started)
        first = await self._first_rationale(question, options, request_id, observer)
        if first.answer is not None or options.strategy is Strategy.POT:
            return _solution([first], None, started)
        _fall_back(first, observer)
        fallback = await self._chain_of_thought(question, options, request_id, observer)
        return _solution([first, fallback], first.failure, started)

    async def _race(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None, started: float
    ) -> Solution:
        """The fallback begun beside the first rationale: the engine batches the two, and the
        chain of thought's text reaches the observer only once it is the fallback. When the first
        answers, the chain is halted, and what it had generated is counted."""
        halt, held = asyncio.Event(), _HeldBack(observer)
        async with _beside(self._chain_of_thought(question, options, request_id, held, halt)) as fallback:
            first = await self._first_rationale(question, options, request_id, observer)
            if first.answer is not None:
                halt.set()
                return _solution([first], None, started, set_aside=await _set_aside(fallback))
            _fall_back(first, observer)
            held.release()
            return _solution([first, await fallback], first.failure, started)

    async def _first_rationale(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None
    ) -> Attempt:
        if options.strategy is Strategy.TIR:
            return await self._tool_integrated(question, options, request_id, observer)
        return await self._program_of_thought(question, options, request_id, observer)

    async def _program_of_thought(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None
    ) -> Attempt:
        prompt = prompts.program_of_thought(question, self.style, options.choices)
        attempt, _ = await self._generate(Rationale.POT, prompt, options, f"{request_id}-pot", observer)
        return await self._judge_program(attempt, options, observer)

    async def _judge_program(self, attempt: Attempt, options: SolveOptions, observer: SolveObserver | None) -> Attempt:
        """A program of thought's attempt with its program run and its answer read, or why not."""
        program = extract_program(attempt.completion)
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
        self,
        question: str,
        options: SolveOptions,
        request_id: str,
        observer: SolveObserver | None,
        halt: asyncio.Event | None = None,
    ) -> Attempt:
        prompt = prompts.chain_of_thought(question, self.style, options.choices)
        attempt, _ = await self._generate(Rationale.COT, prompt, options, f"{request_id}-cot", observer, halt)
        return _judge_chain_of_thought(attempt, options)

    async def _tool_integrated(
        self, question: str, options: SolveOptions, request_id: str, observer: SolveObserver | None
    ) -> Attempt:
        """Rounds of generation that stop where a code block's output belongs; potcot runs the
        block and writes its real output back, and the model goes on reading it."""
        prompt = prompts.tool_integrated(question, self.style, options.choices)
        reply, rounds, attempts = "", [], []
        for index in range(options.max_rounds):
            turn_prompt = dataclasses.replace(prompt, continuation=reply)
            attempt, _ = await self._generate(Rationale.TIR, turn_prompt, options, f"{request_id}-tir{index}", observer)
            attempts.append(attempt)
            turn = await self._tool_round(attempt, observer)
            rounds.append(turn)
            reply += turn.text + (turn.output or "")
            if turn.output is None:
                break
        final = rounds[-1]
        exhausted = final.output is not None  # the last round still ended in code to run
        answer = None if exhausted else chain_of_thought_answer(final.text, options.choices, lenient=False)
        failure = (ROUNDS_EXHAUSTED if exhausted else NO_ANSWER) if answer is None else None
        return Attempt(
            rationale=Rationale.TIR,
            completion=reply,
            finish_reason=attempts[-1].finish_reason,
            prompt_tokens=sum(attempt.prompt_tokens for attempt in attempts),
            completion_tokens=sum(attempt.completion_tokens for attempt in attempts),
            wasted_tokens=sum(attempt.wasted_tokens for attempt in attempts),
            generation_s=sum(attempt.generation_s for attempt in attempts),
            program=final.program,
            execution=final.execution,
            answer=answer,
            strict_answer=answer,
            failure=failure,
            rounds=tuple(rounds),
        )

    async def _tool_round(self, attempt: Attempt, observer: SolveObserver | None) -> ToolRound:
        """One round's text, cut where an output block begins: a model's own output block is
        invented, never read. A round that ends in a code block has it run."""
        text, fence, _ = attempt.completion.partition(prompts.TIR_OUTPUT_FENCE)
        wants_output = bool(fence) or (attempt.finish_reason == "stop" and text.rstrip().endswith("```"))
        program = last_python_block(text) if wants_output else None
        if program is None:
            return ToolRound(text)
        execution = await self.sandbox.arun(program, timeout=self.program_timeout_s)
        block = output_block(execution, text)
        if observer is not None:
            observer.on_tool_output(block)
        return ToolRound(text, program, execution, block)

    async def _vote(self, question: str, options: SolveOptions, request_id: str, started: float) -> Solution:
        """Self-consistency over both rationales: a program and a chain of thought first; when
        they agree, that is the answer. Else more of both, in rounds, until ``samples`` of each
        or until the leader cannot be overtaken."""
        tally = Tally(lambda first, second: self._same_answer(first, second, options.choices))
        attempts: list[Attempt] = []
        drawn = 0
        while drawn < options.samples:
            batch = 1 if drawn == 0 else min(VOTE_ROUND_SAMPLES, options.samples - drawn)
            sampled = await self._sample_both(question, options, f"{request_id}-vote{drawn}", batch, drawn)
            attempts += sampled
            drawn += batch
            for attempt in sampled:
                if attempt.answer is not None:
                    await asyncio.to_thread(tally.add, attempt.answer)
            decided = tally.decided(votes_to_come=2 * (options.samples - drawn)) or _first_pair_agrees(tally, drawn)
            if decided and options.stop_early:
                break
        return _vote_solution(tally.votes, attempts, started)

    async def _sample_both(
        self, question: str, options: SolveOptions, request_id: str, n: int, first: int
    ) -> list[Attempt]:
        """``n`` programs of thought (run) and ``n`` chains of thought, drawn together; the samples of
        one rationale share their prompt, so the engine reuses its prefix."""
        pot = prompts.program_of_thought(question, self.style, options.choices)
        cot = prompts.chain_of_thought(question, self.style, options.choices)
        programs, chains = await asyncio.gather(
            self._samples(Rationale.POT, pot, options, f"{request_id}-pot", n, first),
            self._samples(Rationale.COT, cot, options, f"{request_id}-cot", n, first),
        )
        judged = await asyncio.gather(*(self._judge_program(attempt, options, None) for attempt in programs))
        return [*judged, *(_judge_chain_of_thought(attempt, options) for attempt in chains)]

    def _same_answer(self, first: str, second: str, choices: Sequence[str] | None) -> bool:
        if self._grader is not None:
            return self._grader.match(first, second, choices)
        return cheap_verdict(first, second, choices) is True

    async def _samples(
        self, rationale: Rationale, prompt: Prompt, options: SolveOptions, request_id: str, n: int, first: int
    ) -> list[Attempt]:
        """``n`` samples of one prompt: one request for ``n`` of them, so the engine shares the
        prompt; with a seed, one request per sample, each seeded by its place in the vote
        (``first`` onwards), since samples under one seed would all be the same sample."""
        sampling = SamplingOptions(
            max_tokens=options.max_tokens, temperature=options.temperature, n=n, stop=options.stop
        )
        if options.seed is None:
            return await self._draw(rationale, prompt, sampling, request_id)
        seeded = [dataclasses.replace(sampling, n=1, seed=options.seed + first + index) for index in range(n)]
        draws = await asyncio.gather(
            *(self._draw(rationale, prompt, one, f"{request_id}-{index}") for index, one in enumerate(seeded))
        )
        return [attempt for draw in draws for attempt in draw]

    async def _draw(
        self, rationale: Rationale, prompt: Prompt, sampling: SamplingOptions, request_id: str
    ) -> list[Attempt]:
        started = time.perf_counter()
        generation = await self.engine.generate_afresh(prompt, sampling, request_id)
        elapsed = time.perf_counter() - started
        return [
            Attempt(
                rationale=rationale,
                completion=text,
                finish_reason=finish_reason,
                prompt_tokens=generation.prompt_tokens if index == 0 else 0,
                completion_tokens=generation.completion_tokens if index == 0 else 0,
                wasted_tokens=generation.wasted_tokens if index == 0 else 0,
                generation_s=elapsed if index == 0 else 0.0,
            )
            for index, (text, finish_reason) in enumerate(zip(generation.texts, generation.finish_reasons, strict=True))
        ]

    async def _generate(
        self,
        rationale: Rationale,
        prompt: Prompt,
        options: SolveOptions,
        request_id: str,
        observer: SolveObserver | None,
        halt: asyncio.Event | None = None,
    ) -> tuple[Attempt, Generation]:
        sampling = SamplingOptions(
            max_tokens=options.max_tokens, temperature=options.temperature, seed=options.seed, stop=options.stop
        )
        on_text = (lambda text: observer.on_text(rationale, text)) if observer is not None else None
        started = time.perf_counter()
        generation = await self.engine.generate_afresh(prompt, sampling, request_id, on_text, halt)
        attempt = Attempt(
            rationale=rationale,
            completion=generation.texts[0],
            finish_reason=generation.finish_reasons[0],
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            wasted_tokens=generation.wasted_tokens,
            generation_s=time.perf_counter() - started,
        )
        return attempt, generation


def _fall_back(first: Attempt, observer: SolveObserver | None) -> None:
    if observer is not None:
        observer.on_fallback(first.failure)


class _HeldBack:
    """An observer's view of a raced chain of thought: its text is kept until the chain becomes
    the fallback, so that a stream tells the solve in the order a sequential one would."""

    def __init__(self, observer: SolveObserver | None) -> None:
        self._observer = observer
        self._held: list[tuple[Rationale, str]] | None = []

    def on_text(self, rationale: Rationale, text: str) -> None:
        if self._held is not None:
            self._held.append((rationale, text))
        elif self._observer is not None:
            self._observer.on_text(rationale, text)

    def release(self) -> None:
        """From now on, text passes straight through, beginning with what was held."""
        held, self._held = self._held or [], None
        for rationale, text in held:
            self.on_text(rationale, text)

    def on_execution(self, result: ExecutionResult) -> None:
        if self._observer is not None:
            self._observer.on_execution(result)

    def on_tool_output(self, block: str) -> None:
        if self._observer is not None:
            self._observer.on_tool_output(block)

    def on_fallback(self, reason: str | None) -> None:
        if self._observer is not None:
            self._observer.on_fallback(reason)


@contextlib.asynccontextmanager
async def _beside(work: Coroutine[Any, Any, Attempt]) -> AsyncIterator[asyncio.Task[Attempt]]:
    """``work`` running beside the body; cancelled if the body leaves without it (it failed, or
    the solve itself was cancelled), so that no generation outlives its solve."""
    task = asyncio.ensure_future(work)
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _set_aside(fallback: asyncio.Task[Attempt]) -> tuple[Attempt, ...]:
    """A raced chain of thought once it is halted, for its cost; nothing if it had failed, since
    the answer does not rest on it."""
    try:
        return (await fallback,)
    except (EngineInputError, EngineUnavailable):
        return ()


def _judge_chain_of_thought(attempt: Attempt, options: SolveOptions) -> Attempt:
    answer = chain_of_thought_answer(attempt.completion, options.choices)
    strict = chain_of_thought_answer(attempt.completion, options.choices, lenient=False)
    return dataclasses.replace(attempt, answer=answer, strict_answer=strict, failure=None if answer else NO_ANSWER)


def output_block(execution: ExecutionResult, text: str) -> str:
    """What a code block's run gives back to the model, as Qwen2.5-Math's evaluation writes it:
    its output, or the last line of its error; on a line of its own after the block."""
    shown = execution.stdout.strip() if execution.ok else (execution.error or execution.status.value).splitlines()[-1]
    if len(shown) > MAX_TOOL_OUTPUT_CHARS:
        shown = shown[:MAX_TOOL_OUTPUT_CHARS] + "..."
    separator = "" if text.endswith("\n") else "\n"
    return f"{separator}{prompts.TIR_OUTPUT_FENCE}\n{shown}\n```\n"


def _first_pair_agrees(tally: Tally, drawn: int) -> bool:
    """A program and a chain of thought that agree are rarely both wrong: two samples suffice."""
    return drawn == 1 and tally.total == 2 and len(tally.votes) == 1


def _vote_solution(votes: tuple[Vote, ...], attempts: list[Attempt], started: float) -> Solution:
    winner = votes[0].answer if votes else None
    first = next((attempt for attempt in attempts if winner is not None and attempt.answer == winner), None)
    return Solution(
        answer=winner,
        strict_answer=winner,
        answered_by=first.rationale if first is not None else None,
        fallback_reason=None,
        attempts=tuple(attempts),
        total_s=time.perf_counter() - started,
        votes=votes,
    )


def _solution(
    attempts: list[Attempt], fallback_reason: str | None, started: float, set_aside: tuple[Attempt, ...] = ()
) -> Solution:
    final = attempts[-1]
    return Solution(
        answer=final.answer,
        strict_answer=final.strict_answer,
        answered_by=final.rationale if final.answer is not None else None,
        fallback_reason=fallback_reason,
        attempts=tuple(attempts),
        total_s=time.perf_counter() - started,
        set_aside=set_aside,
    )
