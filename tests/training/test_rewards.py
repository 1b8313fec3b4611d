"""GRPO's rewards, a table of cases each: programs run in the real sandbox and graded by the real
grader, as the solver and the benchmarks judge them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from potcot.answers import Grader
from potcot.sandbox import ExecutionResult, Sandbox
from potcot.server.prompts import Rationale
from potcot.training.rewards import (
    ChainOfThoughtReward,
    ProgramReward,
    RewardLedger,
    ToolIntegratedReward,
    final_round,
    format_reward,
    judge_chain_of_thought,
    judge_programs,
    judge_tool_integrated,
    text_of,
    well_formed,
)

CHOICES = ["12", "42", "7"]


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    with Grader(workers=1) as pool:
        yield pool


class CountingSandbox:
    """The real sandbox, counting the batches it is given."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.batches: list[int] = []

    def run_many(self, codes: Sequence[str], timeout: float | None = None) -> list[ExecutionResult]:
        codes = list(codes)
        self.batches.append(len(codes))
        return self.sandbox.run_many(codes, timeout=timeout)


# completion, reference, choices, outcome
PROGRAMS = [
    pytest.param("```python\nprint(6 * 7)\n```", "42", None, "right", id="right program"),
    pytest.param("```python\ntotal = 6 * 7\nprint(f'Total: {total}')\n```", "42", None, "right", id="labelled print"),
    pytest.param("x1 = 6\nx2 = 7\nprint(x1 * x2)", "42", None, "right", id="bare code, as MAmmoTH writes it"),
    pytest.param("```python\nprint(6 * 7 - 1)\n```", "42", None, "wrong_answer", id="wrong answer"),
    pytest.param("```python\nprint(6 / 0)\n```", "42", None, "runtime_error", id="crashing program"),
    pytest.param("```python\nimport os\nprint(os.getcwd())\n```", "42", None, "forbidden", id="forbidden import"),
    pytest.param("```python\nwhile True:\n    pass\n```", "42", None, "timeout", id="timeout"),
    pytest.param("```python\nprint(6 *\n```", "42", None, "syntax_error", id="syntax error"),
    pytest.param("```python\nx = 6 * 7\n```", "42", None, "no_answer", id="prints nothing"),
    pytest.param("Six sevens are 42. The answer is 42.", "42", None, "no_program", id="no program"),
    pytest.param("```python\nprint(6 * 7)\n```", "B", CHOICES, "right", id="multiple choice: the value of option B"),
    pytest.param("```python\nprint(99)\n```", "B", CHOICES, "not_an_option", id="multiple choice: no option"),
]


@pytest.mark.parametrize(("completion", "reference", "choices", "outcome"), PROGRAMS)
def test_a_programs_answer_is_run_read_and_graded_as_the_solver_does(
    completion: str, reference: str, choices: list[str] | None, outcome: str, sandbox: Sandbox, grader: Grader
) -> None:
    (verdict,) = judge_programs([completion], [reference], [choices], sandbox, grader, timeout_s=1.0)
    assert verdict.outcome == outcome
    assert verdict.reward == (1.0 if outcome == "right" else 0.0)


# completion, reference, choices, outcome
CHAINS = [
    pytest.param("6 times 7 is 42.\nThe answer is 42.", "42", None, "right", id="The answer is"),
    pytest.param("So the total is $\\boxed{42}$.", "42", None, "right", id="boxed answer"),
    pytest.param("She pays $1,200 in all. The answer is $1,200.", "1200", None, "right", id="as numbers compare"),
    pytest.param("The answer is 41.", "42", None, "wrong_answer", id="wrong answer"),
    pytest.param("6 times 7 makes 42", "42", None, "no_answer", id="a last number states nothing"),
    pytest.param("", "42", None, "no_answer", id="empty"),
    pytest.param("42 is option (B). The answer is (B).", "B", CHOICES, "right", id="multiple-choice letter"),
    pytest.param("The answer is 42.", "B", CHOICES, "right", id="multiple choice: an option's value"),
    pytest.param("The answer is C.", "B", CHOICES, "wrong_answer", id="multiple choice: another letter"),
]


@pytest.mark.parametrize(("completion", "reference", "choices", "outcome"), CHAINS)
def test_a_chain_of_thought_is_graded_on_the_answer_it_states(
    completion: str, reference: str, choices: list[str] | None, outcome: str, grader: Grader
) -> None:
    assert judge_chain_of_thought(completion, reference, choices, grader).outcome == outcome


TIR_RIGHT = (
    "Let's compute this with a program.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\nThe answer is $\\boxed{42}$."
)
TIR_EXHAUSTED = "Let's compute.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\n"


# completion, reference, outcome
TOOL_INTEGRATED = [
    pytest.param(TIR_RIGHT, "42", "right", id="right"),
    pytest.param(TIR_RIGHT.replace("boxed{42}", "boxed{41}"), "42", "wrong_answer", id="wrong answer"),
    pytest.param(TIR_EXHAUSTED, "42", "rounds_exhausted", id="rounds ran out"),
    pytest.param(TIR_RIGHT.replace("The answer is $\\boxed{42}$.", "Done."), "42", "no_answer", id="no stated answer"),
    pytest.param("The answer is $\\boxed{42}$.", "42", "right", id="no code: graded all the same"),
    pytest.param(
        "```python\nprint(6 * 7)\n```\n```output\nThe answer is 41\n```\nSo $\\boxed{42}$.",
        "42",
        "right",
        id="the output's own statement is not the answer",
    ),
]


@pytest.mark.parametrize(("completion", "reference", "outcome"), TOOL_INTEGRATED)
def test_a_tool_integrated_rollout_is_graded_on_its_last_round(
    completion: str, reference: str, outcome: str, grader: Grader
) -> None:
    final, exhausted = final_round(completion)
    assert judge_tool_integrated(final, exhausted, reference, None, grader).outcome == outcome


# completion, rationale, choices, well formed
FORMATS = [
    pytest.param("```python\nprint(1)\n```", Rationale.POT, None, True, id="pot: a program"),
    pytest.param("The answer is 1.", Rationale.POT, None, False, id="pot: text"),
    pytest.param("So 1. The answer is 1.", Rationale.COT, None, True, id="cot: states its answer"),
    pytest.param("It is \\boxed{2}", Rationale.COT, None, True, id="cot: boxes its answer"),
    pytest.param("So it is 1", Rationale.COT, None, False, id="cot: states nothing"),
    pytest.param("(A) it is. The answer is (A).", Rationale.COT, CHOICES, True, id="cot: a letter"),
    pytest.param(TIR_RIGHT, Rationale.TIR, None, True, id="tir: code, output, answer"),
    pytest.param("The answer is $\\boxed{42}$.", Rationale.TIR, None, False, id="tir: no code run"),
    pytest.param(TIR_EXHAUSTED, Rationale.TIR, None, False, id="tir: no answer after the output"),
]


@pytest.mark.parametrize(("completion", "rationale", "choices", "expected"), FORMATS)
def test_the_format_term_rewards_the_shape_not_the_answer(
    completion: str, rationale: Rationale, choices: list[str] | None, expected: bool
) -> None:
    assert well_formed(completion, rationale, choices) is expected


def test_the_program_reward_runs_a_steps_programs_in_one_batch_and_scores_only_programs(
    sandbox: Sandbox, grader: Grader
) -> None:
    counting = CountingSandbox(sandbox)
    ledger = RewardLedger()
    reward = ProgramReward(counting, grader, timeout_s=2.0, ledger=ledger)  # type: ignore[arg-type]
    metrics: list[tuple[str, float]] = []
    completions = ["```python\nprint(42)\n```", "The answer is 42.", "```python\nprint(1/0)\n```", "no code here"]
    rewards = reward(
        prompts=["q"] * 4,
        completions=completions,
        answer=["42"] * 4,
        rationale=["pot", "cot", "pot", "pot"],
        choices=[None] * 4,
        log_metric=lambda name, value: metrics.append((name, value)),
    )
    assert rewards == [1.0, None, 0.0, 0.0]
    assert counting.batches == [2]  # the two programs, together; no program was no run
    assert dict(metrics) == {
        "accuracy/pot": pytest.approx(1 / 3),
        "sandbox/pot/right": pytest.approx(1 / 3),
        "sandbox/pot/runtime_error": pytest.approx(1 / 3),
        "sandbox/pot/no_program": pytest.approx(1 / 3),
    }
    assert ledger.counts() == {"pot": {"no_program": 1, "right": 1, "runtime_error": 1}}
    assert reward.__name__ == "pot"


def test_the_chain_of_thought_and_tool_rewards_score_their_own_rows(grader: Grader) -> None:
    ledger = RewardLedger()
    columns: dict[str, Any] = {"prompts": ["q"] * 3, "answer": ["42"] * 3, "rationale": ["cot", "tir", "pot"]}
    completions = ["The answer is 42.", TIR_RIGHT, "print(42)"]
    cot = ChainOfThoughtReward(grader, ledger)(completions=completions, **columns)
    tir = ToolIntegratedReward(grader, ledger)(completions=completions, tool_outcomes=[[], ["ok"], []], **columns)
    assert cot == [1.0, None, None]
    assert tir == [None, 1.0, None]
    assert ledger.counts() == {"cot": {"right": 1}, "tir": {"right": 1}, "tir_calls": {"ok": 1}}


def test_the_format_reward_reads_chat_completions() -> None:
    chat = [[{"role": "assistant", "content": "```python\nprint(1)\n```"}], [{"role": "assistant", "content": "hm"}]]
    assert text_of(chat[0]) == "```python\nprint(1)\n```"
    assert format_reward(prompts=["q", "q"], completions=chat, rationale=["pot", "cot"]) == [1.0, 0.0]
