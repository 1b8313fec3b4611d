"""Every branch of the hybrid solver, with a scripted engine and the real sandbox."""

import pytest

from potcot.sandbox import Sandbox
from potcot.server.prompts import PromptStyle, Rationale
from potcot.server.solver import NO_ANSWER, NO_PROGRAM, NOT_AN_OPTION, Solution, SolveOptions, Solver, Strategy
from tests.server.scripted import ScriptedEngine

pytestmark = pytest.mark.anyio

PROGRAM_42 = "```python\nanswer = 6 * 7\nprint('The answer is', answer)\n```"
CHAIN_7 = "3 plus 4 is 7. The answer is 7."


async def solve(sandbox: Sandbox, *completions: str, **options: object) -> tuple[Solution, ScriptedEngine]:
    engine = ScriptedEngine(*completions)
    solver = Solver(engine, sandbox, PromptStyle.CHAT, program_timeout_s=2.0)
    return await solver.solve("What is it?", SolveOptions(**options), "request"), engine


async def test_program_answers(sandbox: Sandbox) -> None:
    solution, engine = await solve(sandbox, PROGRAM_42)
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("42", Rationale.POT, None)
    (attempt,) = solution.attempts
    assert attempt.program == "answer = 6 * 7\nprint('The answer is', answer)"
    assert attempt.execution.stdout == "The answer is 42\n"
    assert len(engine.prompts) == 1


FALLBACKS = [
    ("no program", "I think it is seven.", NO_PROGRAM),
    ("syntax error", "```python\nprint(1 +\n```", "syntax_error"),
    ("runtime error", "```python\nprint(1 / 0)\n```", "runtime_error"),
    ("forbidden", "```python\nimport os\nprint(os.getcwd())\n```", "forbidden"),
    ("timeout", "```python\nwhile True:\n    pass\n```", "timeout"),
    ("nothing printed", "```python\nx = 5\n```", NO_ANSWER),
    ("only whitespace printed", "```python\nprint('   ')\n```", NO_ANSWER),
]


@pytest.mark.parametrize(("completion", "reason"), [f[1:] for f in FALLBACKS], ids=[f[0] for f in FALLBACKS])
async def test_failed_program_falls_back_to_chain_of_thought(sandbox: Sandbox, completion: str, reason: str) -> None:
    solution, engine = await solve(sandbox, completion, CHAIN_7)
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("7", Rationale.COT, reason)
    assert [attempt.rationale for attempt in solution.attempts] == [Rationale.POT, Rationale.COT]
    assert solution.attempts[0].failure == reason
    assert "step by step" in engine.prompts[1].messages[0].content


async def test_pot_strategy_never_falls_back(sandbox: Sandbox) -> None:
    solution, engine = await solve(sandbox, "no code here", CHAIN_7, strategy=Strategy.POT)
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == (None, None, None)
    assert solution.attempts[0].failure == NO_PROGRAM
    assert len(engine.prompts) == 1


async def test_cot_strategy_skips_the_program(sandbox: Sandbox) -> None:
    solution, engine = await solve(sandbox, CHAIN_7, strategy=Strategy.COT)
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("7", Rationale.COT, None)
    assert len(engine.prompts) == 1 and "```python" not in engine.prompts[0].messages[0].content


async def test_unanswered_chain_of_thought(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, "```python\nprint(1/0)\n```", "I cannot tell.")
    assert (solution.answer, solution.answered_by) == (None, None)
    assert solution.attempts[1].failure == NO_ANSWER


async def test_multiple_choice_maps_the_program_value_to_its_letter(sandbox: Sandbox) -> None:
    solution, engine = await solve(sandbox, "```python\nprint(15.0)\n```", choices=["12", "15", "18"])
    assert (solution.answer, solution.answered_by) == ("B", Rationale.POT)
    assert "(B) 15" in engine.prompts[0].messages[0].content


async def test_multiple_choice_value_that_is_no_option_falls_back(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, "```python\nprint(100)\n```", "So the answer is (C).", choices=["1", "2", "3"])
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("C", Rationale.COT, NOT_AN_OPTION)


async def test_sampling_options_reach_the_engine(sandbox: Sandbox) -> None:
    _, engine = await solve(sandbox, PROGRAM_42, max_tokens=99, temperature=0.5, seed=3)
    options = engine.options[0]
    assert (options.max_tokens, options.temperature, options.seed, options.n) == (99, 0.5, 3, 1)


async def test_usage_and_timings_add_up(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, "```python\nprint(1/0)\n```", CHAIN_7)
    assert solution.prompt_tokens == 14
    assert solution.completion_tokens == sum(len(a.completion) for a in solution.attempts)
    assert solution.total_s >= solution.generation_s + solution.execution_s > 0


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_text(self, rationale: Rationale, text: str) -> None:
        self.events.append(("text", rationale))

    def on_execution(self, result: object) -> None:
        self.events.append(("execution", result.status))

    def on_tool_output(self, block: str) -> None:
        self.events.append(("tool output", block))

    def on_fallback(self, reason: str | None) -> None:
        self.events.append(("fallback", reason))


async def test_observer_sees_the_solve_in_order(sandbox: Sandbox) -> None:
    recorder = Recorder()
    solver = Solver(ScriptedEngine("```python\nprint(1/0)\n```", CHAIN_7), sandbox, PromptStyle.CHAT, 2.0)
    await solver.solve("q", SolveOptions(), "request", recorder)
    assert [kind for kind, _ in recorder.events] == ["text", "text", "execution", "fallback", "text", "text"]
    assert recorder.events[3] == ("fallback", "runtime_error")


STRICT_ANSWERS = [
    ("a program's answer is its strict answer", (PROGRAM_42,), {}, ("42", "42")),
    ("a stated answer", ("```python\nprint(1/0)\n```", CHAIN_7), {}, ("7", "7")),
    ("only a last number", ("```python\nprint(1/0)\n```", "3 plus 4 makes 7"), {}, ("7", None)),
    ("a boxed answer", (r"So $\boxed{7}$",), {"strategy": Strategy.COT}, ("7", "7")),
    ("a stated letter", ("So the answer is (B) 15.",), {"strategy": Strategy.COT, "choices": ["12", "15"]}, ("B", "B")),
    (
        "a last number for multiple choice",
        ("It is 15",),
        {"strategy": Strategy.COT, "choices": ["12", "15"]},
        ("B", None),
    ),
    ("no answer", ("no code here",), {"strategy": Strategy.POT}, (None, None)),
]


@pytest.mark.parametrize(
    ("completions", "options", "answers"), [s[1:] for s in STRICT_ANSWERS], ids=[s[0] for s in STRICT_ANSWERS]
)
async def test_the_solution_carries_the_lenient_and_the_strict_answer(
    sandbox: Sandbox, completions: tuple[str, ...], options: dict[str, object], answers: tuple[str | None, ...]
) -> None:
    solution, _ = await solve(sandbox, *completions, **options)
    assert (solution.answer, solution.strict_answer) == answers


async def test_a_program_whose_answer_is_empty_has_no_answer(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, "```python\nprint('**')\n```", strategy=Strategy.POT)
    assert solution.answer is None and solution.attempts[0].failure == NO_ANSWER
