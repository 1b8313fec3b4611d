"""Every branch of tool-integrated reasoning and of the vote, with a scripted engine and the real
sandbox; the HTTP layer on top of them."""

import json
from collections.abc import Iterator

import pytest

from potcot.answers import Grader
from potcot.sandbox import Sandbox
from potcot.server.prompts import TIR_INSTRUCTION, TIR_OUTPUT_FENCE, PromptStyle, Rationale
from potcot.server.schema import SolveRequest
from potcot.server.settings import SolveDefaults
from potcot.server.solver import (
    NO_ANSWER,
    ROUNDS_EXHAUSTED,
    VOTE_TEMPERATURE,
    Solution,
    SolveOptions,
    Solver,
    Strategy,
)
from potcot.server.web.protocol_openai import ChatCompletionRequest, CompletionRequest
from potcot.server.web.settings import ServerSettings
from tests.server.scripted import ScriptedEngine, client_for
from tests.server.test_solver import Recorder

pytestmark = pytest.mark.anyio

CHAIN_7 = "3 plus 4 is 7. The answer is 7."


def program(code: str, before: str = "Let me compute it.") -> str:
    """A round that ends in a code block, as generation stops where its output belongs."""
    return f"{before}\n```python\n{code}\n```\n"


def pot(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    with Grader(workers=1) as equivalence:
        yield equivalence


async def solve(
    sandbox: Sandbox, *completions: str, grader: Grader | None = None, **options: object
) -> tuple[Solution, ScriptedEngine]:
    engine = ScriptedEngine(*completions)
    solver = Solver(engine, sandbox, PromptStyle.CHAT, program_timeout_s=2.0, grader=grader)
    return await solver.solve("What is it?", SolveOptions(**options), "request"), engine


# --- tool-integrated reasoning ------------------------------------------------------------------


async def test_an_error_is_read_back_and_repaired(sandbox: Sandbox) -> None:
    solution, engine = await solve(
        sandbox,
        program("print(6 * 7 / 0)"),
        program("print(6 * 7)", before="That divided by zero; again."),
        "So the answer is $\\boxed{42}$.",
        strategy=Strategy.TIR,
    )
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("42", Rationale.TIR, None)
    (attempt,) = solution.attempts
    first, second, last = attempt.rounds
    assert first.execution.status == "runtime_error"
    assert first.output == f"{TIR_OUTPUT_FENCE}\nline 1: ZeroDivisionError: division by zero\n```\n"
    assert second.output == f"{TIR_OUTPUT_FENCE}\n42\n```\n"
    assert last.program is None and last.output is None
    # Each round continues the same reply: the earlier rounds and their real outputs.
    assert [prompt.continuation for prompt in engine.prompts] == [
        "",
        first.text + first.output,
        first.text + first.output + second.text + second.output,
    ]
    assert attempt.completion == engine.prompts[-1].continuation + last.text


async def test_the_prompt_is_qwen_tir_and_stops_where_the_output_belongs(sandbox: Sandbox) -> None:
    _, engine = await solve(sandbox, "It is $\\boxed{3}$.", strategy=Strategy.TIR)
    (prompt,) = engine.prompts
    assert prompt.messages[0].content == f"What is it?\n\n{TIR_INSTRUCTION}"
    assert TIR_OUTPUT_FENCE in prompt.stop


async def test_an_invented_output_block_is_never_read(sandbox: Sandbox) -> None:
    invented = program("print(6 * 7)") + f"{TIR_OUTPUT_FENCE}\n999\n```\nThe answer is $\\boxed{{999}}$."
    solution, engine = await solve(sandbox, invented, "Then $\\boxed{42}$.", strategy=Strategy.TIR)
    assert solution.answer == "42"
    (first, _) = solution.attempts[0].rounds
    assert first.output == f"{TIR_OUTPUT_FENCE}\n42\n```\n"
    assert "999" not in engine.prompts[1].continuation


async def test_rounds_exhausted_fall_back_to_chain_of_thought(sandbox: Sandbox) -> None:
    solution, engine = await solve(
        sandbox, program("print(1)"), program("print(2)"), CHAIN_7, strategy=Strategy.TIR, max_rounds=2
    )
    assert (solution.answer, solution.answered_by, solution.fallback_reason) == ("7", Rationale.COT, ROUNDS_EXHAUSTED)
    assert [attempt.rationale for attempt in solution.attempts] == [Rationale.TIR, Rationale.COT]
    assert len(solution.attempts[0].rounds) == 2
    assert len(engine.prompts) == 3


async def test_a_reply_that_states_no_answer_falls_back(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, "I am not sure about 5 or 6.", CHAIN_7, strategy=Strategy.TIR)
    assert (solution.answer, solution.fallback_reason) == ("7", NO_ANSWER)


async def test_an_answer_in_the_program_output_alone_is_not_the_answer(sandbox: Sandbox) -> None:
    """The model must state the answer after reading the output (DeepSeekMath: 57.5% against 46.6%)."""
    solution, _ = await solve(
        sandbox, program("print('\\\\boxed{5}')"), "Hmm.", CHAIN_7, strategy=Strategy.TIR, max_rounds=2
    )
    assert solution.attempts[0].failure == NO_ANSWER
    assert solution.answer == "7"


# --- vote ---------------------------------------------------------------------------------------


async def test_a_program_and_a_chain_that_agree_decide_at_once(sandbox: Sandbox) -> None:
    solution, engine = await solve(sandbox, pot("print(6 * 7)"), "The answer is 42.", strategy=Strategy.VOTE)
    assert solution.answer == "42"
    assert [(vote.answer, vote.count) for vote in solution.votes] == [("42", 2)]
    assert solution.confidence == 1.0
    assert [attempt.rationale for attempt in solution.attempts] == [Rationale.POT, Rationale.COT]
    assert [options.n for options in engine.options] == [1, 1]


async def test_a_vote_goes_to_its_samples(sandbox: Sandbox) -> None:
    solution, engine = await solve(
        sandbox,
        pot("print(42)"),
        "The answer is 7.",
        *(pot("print(42)"), pot("print(41)")),
        *("The answer is 7.", "The answer is 42."),
        strategy=Strategy.VOTE,
        samples=3,
    )
    assert [(vote.answer, vote.count) for vote in solution.votes] == [("42", 3), ("7", 2), ("41", 1)]
    assert solution.answer == "42"
    assert solution.confidence == pytest.approx(0.5)
    assert len(solution.attempts) == 6
    assert [options.n for options in engine.options] == [1, 1, 2, 2]


async def test_a_vote_stops_once_the_leader_cannot_be_overtaken(sandbox: Sandbox) -> None:
    solution, engine = await solve(
        sandbox,
        pot("print(5)"),
        "The answer is 6.",
        *(pot("print(5)"), pot("print(5)")),
        *("The answer is 5.", "The answer is 5."),
        strategy=Strategy.VOTE,
        samples=4,
    )
    assert [(vote.answer, vote.count) for vote in solution.votes] == [("5", 5), ("6", 1)]
    assert len(engine.prompts) == 4  # 3 of each drawn; the 4th could not change the winner


async def test_a_tie_goes_to_the_answer_seen_first(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, pot("print(5)"), "The answer is 6.", strategy=Strategy.VOTE, samples=1)
    assert [(vote.answer, vote.count) for vote in solution.votes] == [("5", 1), ("6", 1)]
    assert (solution.answer, solution.answered_by) == ("5", Rationale.POT)


async def test_failed_samples_cast_no_vote(sandbox: Sandbox) -> None:
    solution, _ = await solve(sandbox, pot("print(1 / 0)"), "The answer is 6.", strategy=Strategy.VOTE, samples=1)
    assert [(vote.answer, vote.count) for vote in solution.votes] == [("6", 1)]
    assert solution.attempts[0].failure == "runtime_error"


async def test_equivalent_answers_in_different_forms_are_one_answer(sandbox: Sandbox, grader: Grader) -> None:
    solution, _ = await solve(
        sandbox, pot("print(0.5)"), "The answer is $\\frac{1}{2}$.", grader=grader, strategy=Strategy.VOTE
    )
    assert [vote.count for vote in solution.votes] == [2]
    assert len(solution.attempts) == 2


def test_a_vote_samples_unless_told_otherwise() -> None:
    defaults = SolveDefaults()
    assert SolveOptions.of(defaults, Strategy.VOTE).temperature == VOTE_TEMPERATURE
    assert SolveOptions.of(defaults, Strategy.VOTE, temperature=0.0).temperature == 0.0
    assert SolveOptions.of(defaults, Strategy.HYBRID).temperature == 0.0


# --- over HTTP ----------------------------------------------------------------------------------


WEIGHTS = [
    ({"question": "q", "strategy": "tir"}, 5),
    ({"question": "q", "strategy": "tir", "max_rounds": 2}, 3),
    ({"question": "q", "strategy": "vote"}, 16),
    ({"question": "q", "strategy": "vote", "samples": 3}, 6),
]


@pytest.mark.parametrize(("body", "weight"), WEIGHTS)
def test_admission_charges_a_solve_its_most_generations(body: dict[str, object], weight: int) -> None:
    assert SolveRequest.model_validate(body).generations == weight


OPENAI_WEIGHTS = [
    (CompletionRequest, {"model": "m", "prompt": "a"}, 1),
    (CompletionRequest, {"model": "m", "prompt": ["a", "b", "c"], "n": 2}, 6),
    (CompletionRequest, {"model": "m", "prompt": [[1, 2], [3]], "n": 3}, 6),
    (ChatCompletionRequest, {"model": "m", "messages": [{"role": "user", "content": "q"}], "n": 3}, 3),
    (ChatCompletionRequest, {"model": "m:hybrid", "messages": [{"role": "user", "content": "q"}]}, 2),
    (ChatCompletionRequest, {"model": "m:vote", "messages": [{"role": "user", "content": "q"}], "n": 2}, 32),
    (ChatCompletionRequest, {"model": "m:nonsense", "messages": [{"role": "user", "content": "q"}]}, 1),
]


@pytest.mark.parametrize(("model", "body", "weight"), OPENAI_WEIGHTS)
def test_admission_charges_an_openai_request_its_generations(
    model: type[CompletionRequest | ChatCompletionRequest], body: dict[str, object], weight: int
) -> None:
    assert model.model_validate(body).generations == weight


def test_solve_returns_rounds_votes_and_confidence() -> None:
    engine = ScriptedEngine(program("print(6 * 7)"), "So $\\boxed{42}$.", pot("print(42)"), "The answer is 42.")
    with client_for(engine, ServerSettings()) as client:
        tir = client.post("/solve", json={"question": "What is it?", "strategy": "tir"}).json()
        vote = client.post("/solve", json={"question": "What is it?", "strategy": "vote", "samples": 2}).json()
    assert (tir["answer"], tir["answered_by"], len(tir["attempts"][0]["rounds"])) == ("42", "tir", 2)
    assert tir["attempts"][0]["rounds"][0]["output"] == f"{TIR_OUTPUT_FENCE}\n42\n```\n"
    assert (vote["answer"], vote["votes"], vote["confidence"]) == ("42", [{"answer": "42", "count": 2}], 1.0)
    assert "votes" not in tir and "rounds" not in vote["attempts"][0]


@pytest.mark.parametrize("field", ["max_rounds", "samples"])
@pytest.mark.parametrize("value", [0, 1000, "3", 2.5])
def test_out_of_bounds_knobs_are_400s(field: str, value: object) -> None:
    with client_for(ScriptedEngine(), ServerSettings()) as client:
        response = client.post("/solve", json={"question": "What is it?", "strategy": "vote", field: value})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field


def _streamed_text(body: str) -> str:
    chunks = [json.loads(line[len("data: ") :]) for line in body.splitlines() if line.startswith("data: {")]
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])


@pytest.mark.parametrize("stream", [False, True])
def test_chat_with_the_tir_and_vote_ids(stream: bool) -> None:
    engine = ScriptedEngine(program("print(6 * 7)"), "So $\\boxed{42}$.", pot("print(5)"), "The answer is 5.")
    question = [{"role": "user", "content": "What is it?"}]
    with client_for(engine, ServerSettings()) as client:
        ids = [card["id"] for card in client.get("/v1/models").json()["data"]]
        replies = [
            client.post("/v1/chat/completions", json={"model": model, "messages": question, "stream": stream})
            for model in ("scripted-model:tir", "scripted-model:vote")
        ]
    assert {"scripted-model:tir", "scripted-model:vote"} <= set(ids)
    assert [reply.status_code for reply in replies] == [200, 200]
    tir, vote = (
        _streamed_text(reply.text) if stream else reply.json()["choices"][0]["message"]["content"] for reply in replies
    )
    assert "```output\n42\n```" in tir and tir.endswith("The answer is 42.")
    assert "Votes over 2 samples: 5 (2)." in vote and vote.endswith("The answer is 5.")


async def test_a_streamed_tir_solve_shows_each_output_block_as_the_model_reads_it(sandbox: Sandbox) -> None:
    recorder = Recorder()
    solver = Solver(ScriptedEngine(program("print(2)"), "So $\\boxed{2}$."), sandbox, PromptStyle.CHAT, 2.0)
    await solver.solve("What is it?", SolveOptions(strategy=Strategy.TIR), "request", recorder)
    assert [kind for kind, _ in recorder.events] == ["text", "text", "tool output", "text", "text"]
    assert recorder.events[2] == ("tool output", f"{TIR_OUTPUT_FENCE}\n2\n```\n")


CONTINUATIONS = [
    ("continues the assistant's reply", {"continue_final_message": True, "add_generation_prompt": False}, 200),
    ("a fresh reply after an assistant message", {}, 200),
    ("both at once", {"continue_final_message": True}, 400),
    ("no generation prompt and no continuation", {"add_generation_prompt": False}, 400),
]


@pytest.mark.parametrize(("flags", "status"), [c[1:] for c in CONTINUATIONS], ids=[c[0] for c in CONTINUATIONS])
def test_the_chat_passthrough_continues_a_reply_as_vllm_does(flags: dict[str, bool], status: int) -> None:
    """So that a potcot replica can be the upstream of another one's tool-integrated reasoning."""
    engine = ScriptedEngine("more")
    messages = [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "1, 2,"}]
    with client_for(engine, ServerSettings()) as client:
        response = client.post("/v1/chat/completions", json={"model": "scripted-model", "messages": messages, **flags})
    assert response.status_code == status, response.text
    if status == 200 and flags:
        (prompt,) = engine.prompts
        assert ([m.role for m in prompt.messages], prompt.continuation) == (["user"], "1, 2,")
    elif status == 200:
        assert engine.prompts[0].continuation == ""


def test_solving_models_continue_no_reply() -> None:
    messages = [{"role": "user", "content": "What is it?"}, {"role": "assistant", "content": "It is"}]
    body = {"model": "scripted-model:tir", "messages": messages, "continue_final_message": True}
    with client_for(ScriptedEngine(), ServerSettings()) as client:
        response = client.post("/v1/chat/completions", json={**body, "add_generation_prompt": False})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "continue_final_message"


async def test_without_the_early_stop_a_vote_draws_all_its_samples(sandbox: Sandbox) -> None:
    agreeing = [pot("print(42)"), "The answer is 42."] * 2
    solution, engine = await solve(sandbox, *agreeing, strategy=Strategy.VOTE, samples=2, stop_early=False)
    assert [(vote.answer, vote.count) for vote in solution.votes] == [("42", 4)]
    assert len(engine.prompts) == 4


async def test_a_seeded_vote_seeds_every_sample_differently(sandbox: Sandbox) -> None:
    """Under one seed, samples would all be the same sample: a seeded vote would count one sample k times."""
    completions = [pot("print(5)"), "The answer is 6.", *(pot("print(5)"),) * 2, *("The answer is 6.",) * 2]
    _, engine = await solve(sandbox, *completions, strategy=Strategy.VOTE, samples=3, seed=10)
    seeds = sorted(options.seed for options in engine.options)
    assert seeds == [10, 10, 11, 11, 12, 12]  # per rationale: 10, 11, 12
    assert all(options.n == 1 for options in engine.options)
    assert len(set(engine.request_ids)) == len(engine.request_ids)
