"""The racing hybrid: the chain of thought begun beside the program, halted when the program
answers, and a solve that reads as the sequential one when it falls back. A scripted engine and
the real sandbox; the real engine's halting is in ``test_integration.py``."""

import asyncio
from collections.abc import AsyncGenerator

import pytest

from potcot.sandbox import Sandbox
from potcot.server.engines import EngineUnavailable, GenerationChunk, SamplingOptions
from potcot.server.prompts import Prompt, PromptStyle, Rationale
from potcot.server.settings import SolveDefaults
from potcot.server.solver import Solution, SolveOptions, Solver, Strategy
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import ScriptedEngine, client_for
from tests.server.test_solver import CHAIN_7, FALLBACKS, PROGRAM_42, Recorder

pytestmark = pytest.mark.anyio

RACE = SolveOptions(race=True)
SETTINGS = ServerSettings(sandbox_workers=1)


class HeldChainEngine(ScriptedEngine):
    """A scripted engine that holds each chain of thought after its first chunk until
    ``chains_may_end`` is set, as a real one still generating would, and records the generations
    cut short. ``failing`` request ids fail the way a dead upstream does."""

    def __init__(self, *completions: str, failing: str = "") -> None:
        super().__init__(*completions)
        self.chains_may_end = asyncio.Event()
        self.cut: list[str] = []
        self.failing = failing

    async def stream(
        self, prompt: Prompt, options: SamplingOptions, request_id: str
    ) -> AsyncGenerator[GenerationChunk, None]:
        if self.failing and request_id.endswith(self.failing):
            await asyncio.sleep(0)  # the other rationale's generation begins meanwhile
            raise EngineUnavailable("every upstream is down")
        try:
            async for chunk in super().stream(prompt, options, request_id):
                yield chunk
                if request_id.endswith("-cot"):
                    await self.chains_may_end.wait()
        except asyncio.CancelledError:
            self.cut.append(request_id)
            raise


async def race(sandbox: Sandbox, engine: ScriptedEngine, options: SolveOptions = RACE, observer=None) -> Solution:
    solver = Solver(engine, sandbox, PromptStyle.CHAT, program_timeout_s=2.0)
    return await solver.solve("What is it?", options, "request", observer)


async def test_a_program_that_answers_halts_the_chain_of_thought(sandbox: Sandbox) -> None:
    engine = HeldChainEngine(PROGRAM_42, CHAIN_7)
    solution = await race(sandbox, engine)
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("42", Rationale.POT, None)
    assert [attempt.rationale for attempt in solution.attempts] == [Rationale.POT]
    (halted,) = solution.set_aside
    assert (halted.rationale, halted.finish_reason) == (Rationale.COT, "abort")
    assert halted.completion == CHAIN_7[: len(CHAIN_7) // 2]
    assert engine.cut == ["request-cot"]
    assert solution.completion_tokens == len(PROGRAM_42) + len(CHAIN_7) // 2
    assert solution.prompt_tokens == 14


async def test_both_prompts_start_before_the_program_runs(sandbox: Sandbox) -> None:
    engine = HeldChainEngine(PROGRAM_42, CHAIN_7)
    await race(sandbox, engine)
    assert engine.request_ids == ["request-pot", "request-cot"]
    assert "step by step" in engine.prompts[1].messages[0].content


async def test_a_chain_of_thought_done_first_is_set_aside_whole(sandbox: Sandbox) -> None:
    engine = HeldChainEngine(PROGRAM_42, CHAIN_7)
    engine.chains_may_end.set()
    solution = await race(sandbox, engine)
    assert solution.answer == "42"
    assert [(attempt.completion, attempt.finish_reason) for attempt in solution.set_aside] in ([], [(CHAIN_7, "stop")])


@pytest.mark.parametrize(("completion", "reason"), [f[1:] for f in FALLBACKS], ids=[f[0] for f in FALLBACKS])
async def test_a_fallback_reads_as_the_sequential_one(sandbox: Sandbox, completion: str, reason: str) -> None:
    solutions = []
    for options in (SolveOptions(), RACE):
        engine = HeldChainEngine(completion, CHAIN_7)
        engine.chains_may_end.set()
        solutions.append(await race(sandbox, engine, options))
    sequential, raced = solutions
    assert (raced.answer, raced.answered_by, raced.fallback_reason) == ("7", Rationale.COT, reason)
    assert [(a.rationale, a.completion, a.failure) for a in raced.attempts] == [
        (a.rationale, a.completion, a.failure) for a in sequential.attempts
    ]
    assert (raced.set_aside, raced.completion_tokens) == ((), sequential.completion_tokens)


async def test_the_observer_sees_a_raced_fallback_in_the_sequential_order(sandbox: Sandbox) -> None:
    recorder = Recorder()
    engine = HeldChainEngine("```python\nprint(1/0)\n```", CHAIN_7)
    engine.chains_may_end.set()
    await race(sandbox, engine, observer=recorder)
    assert recorder.events == [
        ("text", Rationale.POT),
        ("text", Rationale.POT),
        ("execution", recorder.events[2][1]),
        ("fallback", "runtime_error"),
        ("text", Rationale.COT),
        ("text", Rationale.COT),
    ]


async def test_the_observer_never_sees_a_halted_chain_of_thought(sandbox: Sandbox) -> None:
    recorder = Recorder()
    await race(sandbox, HeldChainEngine(PROGRAM_42, CHAIN_7), observer=recorder)
    assert [kind for kind, rationale in recorder.events if rationale == Rationale.COT] == []


async def test_a_failed_first_rationale_cancels_the_chain_of_thought(sandbox: Sandbox) -> None:
    engine = HeldChainEngine(CHAIN_7, failing="-pot")
    solver = Solver(engine, sandbox, PromptStyle.CHAT, program_timeout_s=2.0)
    with pytest.raises(EngineUnavailable):
        await solver.solve("What is it?", RACE, "request")
    assert engine.cut == ["request-cot"]


async def test_a_failed_chain_of_thought_leaves_the_programs_answer(sandbox: Sandbox) -> None:
    solution = await race(sandbox, HeldChainEngine(PROGRAM_42, failing="-cot"))
    assert (solution.answer, solution.set_aside) == ("42", ())


async def test_a_cancelled_solve_cancels_both_generations(sandbox: Sandbox) -> None:
    """A client that leaves while the program runs: the chain of thought beside it stops too."""
    engine = HeldChainEngine("```python\nwhile True:\n    pass\n```", CHAIN_7)
    solve = asyncio.ensure_future(race(sandbox, engine))
    while len(engine.request_ids) < 2:
        await asyncio.sleep(0.01)
    solve.cancel()
    with pytest.raises(asyncio.CancelledError):
        await solve
    assert engine.cut == ["request-cot"]


async def test_tool_integrated_reasoning_races_too(sandbox: Sandbox) -> None:
    engine = HeldChainEngine("2 and 5 make 7. The answer is 7.", CHAIN_7)
    solution = await race(sandbox, engine, SolveOptions(strategy=Strategy.TIR, race=True))
    assert (solution.answer, solution.answered_by) == ("7", Rationale.TIR)
    assert [attempt.rationale for attempt in solution.set_aside] == [Rationale.COT]


@pytest.mark.parametrize("strategy", [Strategy.POT, Strategy.COT])
async def test_strategies_without_a_fallback_do_not_race(sandbox: Sandbox, strategy: Strategy) -> None:
    engine = HeldChainEngine(PROGRAM_42, CHAIN_7)
    engine.chains_may_end.set()
    solution = await race(sandbox, engine, SolveOptions(strategy=strategy, race=True))
    assert (len(engine.request_ids), solution.set_aside) == (1, ())


RACE_OPTIONS = [
    ("the server's default when the request does not say", True, None, True),
    ("off by default", False, None, False),
    ("a request that asks", False, True, True),
    ("a request that declines", True, False, False),
]


@pytest.mark.parametrize(
    ("default", "asked", "expected"), [c[1:] for c in RACE_OPTIONS], ids=[c[0] for c in RACE_OPTIONS]
)
def test_race_is_the_requests_or_the_servers(default: bool, asked: bool | None, expected: bool) -> None:
    options = SolveOptions.of(SolveDefaults(race=default), Strategy.HYBRID, race=asked)
    assert options.race is expected


def test_solve_reports_the_set_aside_chain_of_thought() -> None:
    engine = HeldChainEngine(PROGRAM_42, CHAIN_7)
    with client_for(engine, SETTINGS) as client:
        body = client.post("/solve", json={"question": "What is it?", "race": True}).json()
    assert body["answer"] == "42" and [attempt["rationale"] for attempt in body["attempts"]] == ["pot"]
    (halted,) = body["set_aside"]
    assert (halted["rationale"], halted["finish_reason"]) == ("cot", "abort")
    assert body["usage"]["completion_tokens"] == len(PROGRAM_42) + len(CHAIN_7) // 2


def test_race_must_be_a_boolean() -> None:
    with client_for(ScriptedEngine(), SETTINGS) as client:
        response = client.post("/solve", json={"question": "What is it?", "race": "yes"})
    assert response.status_code == 400 and "race" in response.text
